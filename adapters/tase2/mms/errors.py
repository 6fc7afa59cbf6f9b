"""Exceptions of the MMS layer, under one root :class:`MmsError`.

:class:`MmsDecodeError` is bad input bytes, :class:`MmsEncodeError` an unencodable value,
and the service errors (:mod:`.service_error`), the association and its asyncio shells
add their own subclasses.
"""

from __future__ import annotations

from adapters.tase2.asn1.ber import BerError

__all__ = ["MmsDecodeError", "MmsEncodeError", "MmsError"]


class MmsError(Exception):
    """Root of every MMS-layer error."""


class MmsDecodeError(MmsError, BerError):
    """Malformed or unsupported MMS input.

    ``field`` names the PDU/field being decoded, ``offset`` is the absolute byte offset of
    the problem and ``invoke_id`` is set when the invokeID of a confirmed PDU was already
    decoded (so a server can answer with a RejectPDU that names it).
    """

    def __init__(
        self, message: str, offset: int, field: str = "MMS", invoke_id: int | None = None
    ) -> None:
        super().__init__(f"{field}: {message}", offset)
        self.field = field
        self.invoke_id = invoke_id


class MmsEncodeError(MmsError, ValueError):
    """A value cannot be encoded as MMS (out of range, wrong size, illegal characters)."""
