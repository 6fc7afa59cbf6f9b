"""The high-water mark of an `sql-source` adapter, with its overlap window (sans-IO).

Sequence order is not commit order: with concurrent writers, the row with seq 101 may
commit after the row with seq 102 was read. So each poll re-reads the rows with a mark
above `high - overlap`, and recognises the ones it has applied already by their identity
(key, mark): every row whose mark lands inside the window when it commits is applied once.
The identities of the window and the mark itself are what a restart needs
(`to_state`/`from_state`, JSON).

Marks are compared as numbers: a sequence as itself, a time as POSIX seconds (UTC; a
column without a time zone is read as UTC). The mark handed back to the database (`since`)
keeps the column's own representation (an integer, a datetime, a number of s or ms, ISO
text), so the comparison happens in the database's terms.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

__all__ = ["HighWaterMark", "MarkKind", "decode_raw", "encode_raw", "to_posix"]

MarkKind = Literal["sequence", "time"]
Identity = tuple[str | None, float]


def to_posix(value: object, unit: float = 1.0) -> float:
    """POSIX seconds of a time cell: a datetime (naive: UTC), a number of seconds (or of
    `1/unit` seconds: unit 1000 for ms), or ISO 8601 text. ValueError otherwise."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return float(value) / unit
    if isinstance(value, str):
        try:
            return float(value) / unit
        except ValueError:
            pass
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not a time") from None
        return to_posix(parsed)
    raise ValueError(f"{value!r} is not a time")


def _sequence(value: object) -> float:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float | Decimal):
        return int(value) if value == int(value) else float(value)
    if isinstance(value, str):
        text = value.strip()
        return int(text) if text.lstrip("-").isdigit() else float(text)
    raise ValueError(f"{value!r} is not a sequence number")


def encode_raw(value: object) -> Any:
    """A mark cell as JSON."""
    if isinstance(value, datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, Decimal):
        return {"decimal": str(value)}
    if value is None or isinstance(value, int | float | str):
        return value
    raise ValueError(f"a mark of type {type(value).__name__} cannot be kept")


def decode_raw(value: Any) -> object:
    """The mark cell that `encode_raw` wrote."""
    if isinstance(value, dict):
        if "datetime" in value:
            return datetime.fromisoformat(value["datetime"])
        if "decimal" in value:
            return Decimal(value["decimal"])
        raise ValueError(f"unknown mark {value!r}")
    return value


class HighWaterMark:
    """The highest mark applied, and the identities of the rows applied inside the window.

    `kind` is sequence or time; `overlap` is in sequence numbers or seconds; `unit` is how
    many of a numeric time mark's units make a second (1000 for ms).
    """

    def __init__(self, kind: MarkKind, overlap: float, unit: float = 1.0) -> None:
        self.kind = kind
        self.overlap = overlap
        self.unit = unit
        self.high: float | None = None
        self.high_raw: object = None
        self.seen: set[Identity] = set()

    def key(self, raw: object) -> float:
        """The number a mark cell compares as; ValueError for a cell that is no mark."""
        if raw is None:
            raise ValueError("the mark is NULL")
        return _sequence(raw) if self.kind == "sequence" else to_posix(raw, self.unit)

    @property
    def low(self) -> float | None:
        """Marks at or below this are never read again (None: read from the start)."""
        return None if self.high is None else self.high - self.overlap

    def since(self) -> object:
        """The mark cell a poll reads after: `high - overlap` in the column's own terms
        (None: no mark yet, read everything)."""
        raw = self.high_raw
        if raw is None:
            return None
        overlap = self.overlap
        if self.kind == "sequence":
            if isinstance(raw, int) and float(overlap).is_integer():
                return raw - int(overlap)
            if isinstance(raw, Decimal):
                return raw - Decimal(str(overlap))
            return _sequence(raw) - overlap
        if isinstance(raw, datetime):
            return raw - timedelta(seconds=overlap)
        if isinstance(raw, Decimal):
            return raw - Decimal(str(overlap * self.unit))
        if isinstance(raw, int | float):
            return raw - overlap * self.unit
        assert isinstance(raw, str)
        text = raw.strip()
        try:
            return float(text) - overlap * self.unit
        except ValueError:
            pass
        earlier = datetime.fromisoformat(text) - timedelta(seconds=overlap)
        sep = text[10] if len(text) > 10 and text[10] in " T" else "T"
        out = earlier.isoformat(sep=sep)
        if text.endswith("Z") and out.endswith("+00:00"):
            out = out[:-6] + "Z"
        return out

    def fresh(self, identity: Identity) -> bool:
        """Whether a row is new (not applied before); it then counts as applied."""
        if identity in self.seen:
            return False
        self.seen.add(identity)
        return True

    def advance(self, key: float, raw: object) -> None:
        """A row with mark `key` (cell `raw`) was read."""
        if self.high is None or key > self.high:
            self.high = key
            self.high_raw = raw

    def prune(self) -> None:
        """Forget the identities below the window (they are never read again)."""
        low = self.low
        if low is not None:
            self.seen = {i for i in self.seen if i[1] > low}

    def to_state(self) -> dict[str, Any]:
        """The mark and the window's identities as JSON."""
        return {
            "high": encode_raw(self.high_raw),
            "seen": sorted(([k, m] for k, m in self.seen), key=lambda i: (i[1], str(i[0]))),
        }

    def from_state(self, state: dict[str, Any]) -> None:
        """Restore what `to_state` wrote; ValueError when it cannot be understood."""
        raw = decode_raw(state.get("high"))
        seen: Iterable[Any] = state.get("seen") or []
        identities: set[Identity] = set()
        for item in seen:
            key, mark = item
            if not isinstance(mark, int | float) or not (key is None or isinstance(key, str)):
                raise ValueError(f"identity {item!r} is not (key, mark)")
            identities.add((key, mark))
        self.high_raw = raw
        self.high = None if raw is None else self.key(raw)
        self.seen = identities
