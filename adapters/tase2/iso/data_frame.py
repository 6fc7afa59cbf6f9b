"""Data TSDUs that fill one TPKT frame, recognised and built by their bytes.

The fast path of an established association: nearly every request of the data phase is a
single TPKT frame holding one COTP DT with end-of-TSDU, the session Give-Tokens and Data
Transfer SPDUs (``01 00 01 00``) and a P-DATA with one single-ASN1-type PDV (the PDU)::

    03 00 LL LL  02 F0 80  01 00 01 00  61 L  30 L  [06 02 51 01]  02 01 ctx  A0 L  <PDU>

:func:`frame_pdu` finds the PDU in such a frame at fixed places instead of decoding layer
by layer, and :func:`data_frame` builds the same framing around an answer. A frame of any
other form is not recognised (None) and goes through
:class:`~adapters.tase2.iso.stack.TransportReceiver` and :func:`~adapters.tase2.iso.stack.unwrap`,
which say what is wrong with it.
"""

from __future__ import annotations

from functools import cache

from adapters.tase2.asn1.ber import definite_span, encode_integer, tlv
from adapters.tase2.iso.presentation import encode_data
from adapters.tase2.iso.tpkt import HEADER_SIZE, MIN_TPKT_LENGTH

__all__ = ["data_frame", "frame_length", "frame_pdu"]

_DT_EOT = b"\x02\xf0\x80"
_TOKENS_DATA = b"\x01\x00\x01\x00"
_BER_SYNTAX = b"\x06\x02\x51\x01"
_PREFIX = _DT_EOT + _TOKENS_DATA
_PDU_OFFSET = HEADER_SIZE + len(_PREFIX)  # the fully-encoded-data ``61`` element


def frame_length(data: bytes, pos: int) -> int:
    """The length of the TPKT frame starting at ``pos``, or 0 when its header is not all
    there or is not a TPKT header (``03 00`` and at least the COTP DT header)."""
    if len(data) - pos < HEADER_SIZE or data[pos] != 3 or data[pos + 1] != 0:
        return 0
    length = (data[pos + 2] << 8) | data[pos + 3]
    return length if length >= MIN_TPKT_LENGTH else 0


def frame_pdu(data: bytes, pos: int, end: int, context_id: int) -> tuple[int, int] | None:
    """Where the PDU of presentation context ``context_id`` lies in the whole TPKT frame
    ``data[pos:end]``: ``(start, end)``, or None when the frame has another form."""
    if data[pos + HEADER_SIZE : pos + _PDU_OFFSET] != _PREFIX:
        return None
    p = pos + _PDU_OFFSET
    if p >= end or data[p] != 0x61:
        return None
    cs, ce = definite_span(data, p + 1, end)
    if ce != end or cs >= end or data[cs] != 0x30:
        return None
    cs, ce = definite_span(data, cs + 1, end)
    if ce != end:
        return None
    if data[cs : cs + 4] == _BER_SYNTAX:
        cs += 4
    identifier = _context_identifier(context_id)
    if not data.startswith(identifier, cs):
        return None
    p = cs + len(identifier)
    if p >= end or data[p] != 0xA0:
        return None
    cs, ce = definite_span(data, p + 1, end)
    if ce != end or cs >= end or data[cs] & 0x1F == 0x1F:
        return None
    return (cs, ce) if definite_span(data, cs + 1, ce)[1] == ce else None  # one element


@cache
def _context_identifier(context_id: int) -> bytes:
    """The presentation-context-identifier element of ``context_id`` (``02 01 03``; an id
    of 128 or more takes two octets, ``02 02 00 C9``)."""
    return tlv(0x02, encode_integer(context_id))


def data_frame(pdu: bytes, context_id: int) -> bytes:
    """The single TPKT frame carrying ``pdu`` in presentation context ``context_id``
    (as :func:`~adapters.tase2.iso.stack.wrap_data` and one DT-TPDU); the caller makes
    sure it fits the negotiated TPDU size."""
    body = _TOKENS_DATA + encode_data(context_id, pdu)
    total = HEADER_SIZE + len(_DT_EOT) + len(body)
    return bytes((3, 0, total >> 8, total & 0xFF)) + _DT_EOT + body
