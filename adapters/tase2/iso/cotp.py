"""COTP class 0 (ISO 8073 / RFC 905) TPDUs: CR, CC, DT, DR, ER; segmentation and reassembly."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from adapters.tase2.asn1.ber import named
from adapters.tase2.iso.errors import CotpError

__all__ = [
    "DEFAULT_TPDU_SIZE",
    "MAX_TPDU_SIZE",
    "ConnectionConfirm",
    "ConnectionRequest",
    "DataTpdu",
    "DisconnectReason",
    "DisconnectRequest",
    "ErrorCause",
    "Tpdu",
    "TpduError",
    "TsduReassembler",
    "accept_connection",
    "agreed_tpdu_size",
    "decode_tpdu",
    "encode_tpdu",
    "negotiate_tpdu_size",
    "segment_tsdu",
]

CR, CC, DR, DT, ER = 0xE0, 0xD0, 0x80, 0xF0, 0x70

PARAM_TPDU_SIZE = 0xC0
PARAM_CALLING_TSAP = 0xC1
PARAM_CALLED_TSAP = 0xC2
PARAM_PREFERRED_MAX_TPDU_SIZE = 0xF0
PARAM_REJECTED_TPDU = 0xC1  # ER variable part
PARAM_ADDITIONAL_INFORMATION = 0xE0  # DR variable part

DEFAULT_TPDU_SIZE = 128
"""ISO 8073 default when a CR carries no TPDU-size parameter."""
MAX_TPDU_SIZE = 65536
_MIN_SIZE_CODE, _MAX_SIZE_CODE = 7, 16


class DisconnectReason(IntEnum):
    """DR-TPDU reason codes (class 0 uses DR only to refuse a CR)."""

    UNSPECIFIED = 0x00
    CONGESTION_AT_TSAP = 0x01
    SESSION_NOT_ATTACHED = 0x02
    ADDRESS_UNKNOWN = 0x03
    NORMAL = 0x80
    REMOTE_CONGESTION = 0x81
    NEGOTIATION_FAILED = 0x82
    DUPLICATE_SOURCE_REFERENCE = 0x83
    MISMATCHED_REFERENCES = 0x84
    PROTOCOL_ERROR = 0x85
    REFERENCE_OVERFLOW = 0x87
    CONNECTION_REFUSED = 0x88
    HEADER_OR_PARAMETER_LENGTH_INVALID = 0x8A


class ErrorCause(IntEnum):
    """ER-TPDU reject causes."""

    UNSPECIFIED = 0x00
    INVALID_PARAMETER_CODE = 0x01
    INVALID_TPDU_TYPE = 0x02
    INVALID_PARAMETER_VALUE = 0x03


@dataclass(frozen=True, slots=True)
class ConnectionRequest:
    """CR-TPDU. ``tpdu_size`` in octets (None: parameter absent, meaning 128)."""

    src_ref: int = 1
    calling_tsap: bytes | None = b"\x00\x01"
    called_tsap: bytes | None = b"\x00\x01"
    tpdu_size: int | None = 8192
    preferred_max_tpdu_size: int | None = None
    class_option: int = 0
    dst_ref: int = 0


@dataclass(frozen=True, slots=True)
class ConnectionConfirm:
    """CC-TPDU. ``dst_ref`` is the SRC-REF of the CR being confirmed."""

    dst_ref: int
    src_ref: int = 1
    calling_tsap: bytes | None = b"\x00\x01"
    called_tsap: bytes | None = b"\x00\x01"
    tpdu_size: int | None = 8192
    preferred_max_tpdu_size: int | None = None
    class_option: int = 0


@dataclass(frozen=True, slots=True)
class DataTpdu:
    """DT-TPDU: one segment of a TSDU; ``eot`` marks the last segment."""

    data: bytes
    eot: bool = True


@dataclass(frozen=True, slots=True)
class DisconnectRequest:
    """DR-TPDU (refusal of a CR in class 0)."""

    dst_ref: int
    src_ref: int
    reason: DisconnectReason | int = DisconnectReason.UNSPECIFIED
    additional_information: bytes | None = None
    user_data: bytes = b""


@dataclass(frozen=True, slots=True)
class TpduError:
    """ER-TPDU reporting a TPDU the sender could not accept."""

    dst_ref: int
    cause: ErrorCause | int = ErrorCause.UNSPECIFIED
    rejected_tpdu: bytes | None = None


Tpdu = ConnectionRequest | ConnectionConfirm | DataTpdu | DisconnectRequest | TpduError


# --------------------------------------------------------------------------- encoding


def _size_code(size: int) -> int:
    code = size.bit_length() - 1
    if size != 1 << code or not _MIN_SIZE_CODE <= code <= _MAX_SIZE_CODE:
        raise ValueError(f"TPDU size {size} is not a power of two in 128..65536")
    return code


def _param(code: int, value: bytes) -> bytes:
    if len(value) > 255:
        raise ValueError(f"COTP parameter 0x{code:02X} longer than 255 octets")
    return bytes((code, len(value))) + value


def _connect_params(
    tpdu_size: int | None,
    calling: bytes | None,
    called: bytes | None,
    preferred: int | None,
) -> bytes:
    parts = []
    if tpdu_size is not None:
        parts.append(bytes((PARAM_TPDU_SIZE, 1, _size_code(tpdu_size))))
    if called is not None:
        parts.append(_param(PARAM_CALLED_TSAP, called))
    if calling is not None:
        parts.append(_param(PARAM_CALLING_TSAP, calling))
    if preferred is not None:
        units = preferred // 128
        parts.append(_param(PARAM_PREFERRED_MAX_TPDU_SIZE, units.to_bytes(4, "big").lstrip(b"\0")))
    return b"".join(parts)


def _with_li(fixed_and_params: bytes, user_data: bytes = b"") -> bytes:
    li = len(fixed_and_params)
    if li > 254:
        raise ValueError("COTP header longer than 254 octets")
    return bytes((li,)) + fixed_and_params + user_data


def encode_tpdu(tpdu: Tpdu) -> bytes:
    """Encode one TPDU (without TPKT framing)."""
    if isinstance(tpdu, DataTpdu):
        return (b"\x02\xf0\x80" if tpdu.eot else b"\x02\xf0\x00") + tpdu.data
    if isinstance(tpdu, ConnectionRequest):
        head = bytes(
            (CR, tpdu.dst_ref >> 8, tpdu.dst_ref & 0xFF, tpdu.src_ref >> 8, tpdu.src_ref & 0xFF)
        )
        params = _connect_params(
            tpdu.tpdu_size, tpdu.calling_tsap, tpdu.called_tsap, tpdu.preferred_max_tpdu_size
        )
        return _with_li(head + bytes((tpdu.class_option,)) + params)
    if isinstance(tpdu, ConnectionConfirm):
        head = bytes(
            (CC, tpdu.dst_ref >> 8, tpdu.dst_ref & 0xFF, tpdu.src_ref >> 8, tpdu.src_ref & 0xFF)
        )
        params = _connect_params(
            tpdu.tpdu_size, tpdu.calling_tsap, tpdu.called_tsap, tpdu.preferred_max_tpdu_size
        )
        return _with_li(head + bytes((tpdu.class_option,)) + params)
    if isinstance(tpdu, DisconnectRequest):
        head = bytes(
            (
                DR,
                tpdu.dst_ref >> 8,
                tpdu.dst_ref & 0xFF,
                tpdu.src_ref >> 8,
                tpdu.src_ref & 0xFF,
                tpdu.reason,
            )
        )
        if tpdu.additional_information is not None:
            head += _param(PARAM_ADDITIONAL_INFORMATION, tpdu.additional_information)
        return _with_li(head, tpdu.user_data)
    head = bytes((ER, tpdu.dst_ref >> 8, tpdu.dst_ref & 0xFF, tpdu.cause))
    if tpdu.rejected_tpdu is not None:
        head += _param(PARAM_REJECTED_TPDU, tpdu.rejected_tpdu)
    return _with_li(head)


def segment_tsdu(tsdu: bytes, tpdu_size: int) -> list[bytes]:
    """Cut one TSDU into DT-TPDUs of at most ``tpdu_size`` octets; only the last has EOT."""
    room = tpdu_size - 3
    if room <= 0:
        raise ValueError(f"TPDU size {tpdu_size} leaves no room for data")
    n = len(tsdu)
    if n <= room:
        return [b"\x02\xf0\x80" + tsdu]
    view = memoryview(tsdu)
    out = [b"\x02\xf0\x00" + view[i : i + room] for i in range(0, n - room, room)]
    last = ((n - 1) // room) * room
    out.append(b"\x02\xf0\x80" + view[last:])
    return out


# --------------------------------------------------------------------------- decoding


def _ref(data: bytes, pos: int) -> int:
    return (data[pos] << 8) | data[pos + 1]


def _find_param(data: bytes, pos: int, end: int, code: int, kind: str) -> bytes | None:
    """Value of the last ``code`` parameter in the variable part ``[pos, end)``, if any."""
    value: bytes | None = None
    while pos < end:
        if pos + 2 > end or pos + 2 + data[pos + 1] > end:
            raise CotpError(f"truncated {kind} parameter", pos, ErrorCause.INVALID_PARAMETER_VALUE)
        if data[pos] == code:
            value = data[pos + 2 : pos + 2 + data[pos + 1]]
        pos += 2 + data[pos + 1]
    return value


def _decode_connect_params(
    data: bytes, pos: int, end: int
) -> tuple[int | None, bytes | None, bytes | None, int | None]:
    """Variable part of CR/CC: (tpdu_size, calling_tsap, called_tsap, preferred_max)."""
    size: int | None = None
    calling: bytes | None = None
    called: bytes | None = None
    preferred: int | None = None
    while pos < end:
        if pos + 2 > end:
            raise CotpError("truncated parameter", pos, ErrorCause.INVALID_PARAMETER_VALUE)
        code, length = data[pos], data[pos + 1]
        vs, ve = pos + 2, pos + 2 + length
        if ve > end:
            raise CotpError(
                f"parameter 0x{code:02X} length {length} overruns the header",
                pos + 1,
                ErrorCause.INVALID_PARAMETER_VALUE,
            )
        if code == PARAM_TPDU_SIZE:
            if length != 1 or not _MIN_SIZE_CODE <= data[vs] <= _MAX_SIZE_CODE:
                raise CotpError(
                    "invalid TPDU size parameter", vs, ErrorCause.INVALID_PARAMETER_VALUE
                )
            size = 1 << data[vs]
        elif code == PARAM_CALLING_TSAP:
            calling = data[vs:ve]
        elif code == PARAM_CALLED_TSAP:
            called = data[vs:ve]
        elif code == PARAM_PREFERRED_MAX_TPDU_SIZE and 1 <= length <= 4:
            preferred = int.from_bytes(data[vs:ve], "big") * 128
        pos = ve
    return size, calling, called, preferred


def decode_tpdu(data: bytes) -> Tpdu:
    """Decode one TPDU (the payload of one TPKT)."""
    n = len(data)
    if n < 2:
        raise CotpError("TPDU shorter than 2 octets", 0, ErrorCause.UNSPECIFIED)
    li = data[0]
    if li == 255 or li + 1 > n:
        raise CotpError(f"length indicator {li} exceeds the {n - 1} octets left", 0)
    end = li + 1
    kind = data[1] & 0xF0
    if kind == DT:
        if li < 2:
            raise CotpError("DT header shorter than 2 octets", 0)
        return DataTpdu(data[end:], bool(data[2] & 0x80))
    if kind in (CR, CC):
        if li < 6:
            raise CotpError(f"{'CR' if kind == CR else 'CC'} header shorter than 6 octets", 0)
        size, calling, called, preferred = _decode_connect_params(data, 7, end)
        if kind == CR:
            return ConnectionRequest(
                _ref(data, 4), calling, called, size, preferred, data[6], _ref(data, 2)
            )
        return ConnectionConfirm(
            _ref(data, 2), _ref(data, 4), calling, called, size, preferred, data[6]
        )
    if kind == DR:
        if li < 6:
            raise CotpError("DR header shorter than 6 octets", 0)
        info = _find_param(data, 7, end, PARAM_ADDITIONAL_INFORMATION, "DR")
        reason = named(DisconnectReason, data[6])
        return DisconnectRequest(_ref(data, 2), _ref(data, 4), reason, info, data[end:])
    if kind == ER:
        if li < 4:
            raise CotpError("ER header shorter than 4 octets", 0)
        rejected = _find_param(data, 5, end, PARAM_REJECTED_TPDU, "ER")
        return TpduError(_ref(data, 2), named(ErrorCause, data[4]), rejected)
    raise CotpError(f"unsupported TPDU type 0x{data[1]:02X}", 1, ErrorCause.INVALID_TPDU_TYPE)


# --------------------------------------------------------------------------- negotiation


def negotiate_tpdu_size(requested: int | None, own_max: int = 8192) -> int:
    """TPDU size a responder confirms: the offer (128 when absent) capped at ``own_max``."""
    offer = DEFAULT_TPDU_SIZE if requested is None else requested
    return min(offer, own_max)


def accept_connection(
    cr: ConnectionRequest, own_ref: int = 1, own_max_tpdu_size: int = 8192
) -> ConnectionConfirm:
    """The CC answering ``cr``: TSAPs echoed unchanged, TPDU size negotiated down if needed.

    The CC always confirms class 0 (the only class over RFC 1006); an initiator that
    proposed another class and cannot live with class 0 disconnects.
    """
    return ConnectionConfirm(
        dst_ref=cr.src_ref,
        src_ref=own_ref,
        calling_tsap=cr.calling_tsap,
        called_tsap=cr.called_tsap,
        tpdu_size=negotiate_tpdu_size(cr.tpdu_size, own_max_tpdu_size),
        class_option=0,
    )


def agreed_tpdu_size(requested: int | None, confirmed: int | None) -> int:
    """TPDU size an initiator uses after the CC: the confirmed size, never above its offer.

    A CC without the parameter is read as accepting the offer (unconfirmed in the field;
    our own CC always carries it).
    """
    offer = DEFAULT_TPDU_SIZE if requested is None else requested
    return offer if confirmed is None else min(offer, confirmed)


class TsduReassembler:
    """Join DT segments into TSDUs, refusing any TSDU larger than ``max_tsdu_size``."""

    __slots__ = ("_parts", "_size", "max_tsdu_size")

    def __init__(self, max_tsdu_size: int = 1 << 20) -> None:
        self.max_tsdu_size = max_tsdu_size
        self._parts: list[bytes] = []
        self._size = 0

    @property
    def pending(self) -> int:
        """Octets received in segments of a TSDU whose last segment has not arrived."""
        return self._size

    def feed(self, dt: DataTpdu) -> bytes | None:
        """Add one DT; return the whole TSDU when this was its last segment, else None."""
        size = self._size + len(dt.data)
        if size > self.max_tsdu_size:
            self._parts.clear()
            self._size = 0
            raise CotpError(f"TSDU larger than {self.max_tsdu_size} octets", size)
        if dt.eot:
            if not self._parts:
                return dt.data
            self._parts.append(dt.data)
            tsdu = b"".join(self._parts)
            self._parts.clear()
            self._size = 0
            return tsdu
        self._parts.append(dt.data)
        self._size = size
        return None
