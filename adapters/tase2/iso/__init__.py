"""ISO upper layers for MMS (sans-IO): TPKT, COTP class 0, session, presentation, ACSE.

Each layer is a module of dataclass PDUs with ``encode_*`` / ``decode_*`` functions; malformed
input raises a subclass of :class:`IsoError` naming the layer and the offset. :mod:`.stack`
nests and un-nests whole TSDUs so that association code stays thin.
"""

from adapters.tase2.iso.errors import (
    AcseError,
    CotpError,
    IsoError,
    PresentationError,
    SessionError,
    TpktError,
)

__all__ = [
    "AcseError",
    "CotpError",
    "IsoError",
    "PresentationError",
    "SessionError",
    "TpktError",
]
