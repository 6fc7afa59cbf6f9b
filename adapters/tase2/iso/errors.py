"""The one exception family for malformed input at any ISO upper layer."""

from __future__ import annotations

__all__ = [
    "AcseError",
    "CotpError",
    "IsoError",
    "PresentationError",
    "SessionError",
    "TpktError",
]


class IsoError(ValueError):
    """Malformed or unacceptable PDU at one ISO layer.

    ``layer`` names the layer (``"tpkt"``, ``"cotp"``, ``"session"``, ``"presentation"``,
    ``"acse"``); ``offset`` is the byte offset of the problem inside the PDU handed to that
    layer's decoder (for TPKT: inside the byte stream fed so far).
    """

    layer = "iso"

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{self.layer}: {message} (at offset {offset})")
        self.message = message
        self.offset = offset


class TpktError(IsoError):
    """Bad RFC 1006 framing (wrong version, length out of range)."""

    layer = "tpkt"


class CotpError(IsoError):
    """Malformed or unsupported COTP TPDU; ``cause`` is the ER-TPDU reject cause to send."""

    layer = "cotp"

    def __init__(self, message: str, offset: int, cause: int = 0) -> None:
        super().__init__(message, offset)
        self.cause = cause


class SessionError(IsoError):
    """Malformed or unacceptable session SPDU."""

    layer = "session"


class PresentationError(IsoError):
    """Malformed or unacceptable presentation PPDU."""

    layer = "presentation"


class AcseError(IsoError):
    """Malformed or unacceptable ACSE APDU."""

    layer = "acse"
