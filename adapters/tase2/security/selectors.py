"""OSI selectors (T-, S-, P-selector) of one end of an association, as configured.

Written in hex in the YAML (``tsap: "0001"``, ``session: "0001"``, ``presentation:
"00000001"``), the defaults being what libiec61850 and most ICCP products use. An empty
string is an absent selector.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator

__all__ = ["OsiSelectors"]


class OsiSelectors(BaseModel):
    """T-selector (TSAP), session selector and presentation selector, in hex."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tsap: str = "0001"
    session: str = "0001"
    presentation: str = "00000001"

    @field_validator("tsap", "session", "presentation")
    @classmethod
    def _hex(cls, value: str) -> str:
        compact = value.replace(" ", "").replace(":", "")
        try:
            raw = bytes.fromhex(compact)
        except ValueError:
            raise ValueError(f"selector {value!r} is not hex (e.g. 0001)") from None
        if len(raw) > 16:
            raise ValueError(f"selector {value!r} is longer than 16 octets")
        return compact.lower()

    def octets(self) -> tuple[bytes, bytes, bytes]:
        """(TSAP, session selector, presentation selector) as bytes."""
        return (
            bytes.fromhex(self.tsap),
            bytes.fromhex(self.session),
            bytes.fromhex(self.presentation),
        )
