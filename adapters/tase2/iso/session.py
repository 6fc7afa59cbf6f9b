"""Session layer (ISO 8327 / X.225), kernel + duplex functional units: SPDU encode and decode."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from adapters.tase2.asn1.ber import named
from adapters.tase2.iso.errors import SessionError

__all__ = [
    "VERSION_2",
    "AbortAcceptSpdu",
    "AbortSpdu",
    "AcceptSpdu",
    "ConnectSpdu",
    "DataSpdu",
    "DisconnectSpdu",
    "FinishSpdu",
    "NotFinishedSpdu",
    "RefuseReason",
    "RefuseSpdu",
    "Spdu",
    "decode_spdu",
    "encode_spdu",
    "negotiate_version",
]

# SPDU identifiers
SI_DATA = 0x01  # also GIVE TOKENS (category 0)
SI_NOT_FINISHED = 0x08
SI_FINISH = 0x09
SI_DISCONNECT = 0x0A
SI_REFUSE = 0x0C
SI_CONNECT = 0x0D
SI_ACCEPT = 0x0E
SI_ABORT = 0x19
SI_ABORT_ACCEPT = 0x1A

# parameter identifiers
PGI_CONNECTION_ID = 1
PGI_CONNECT_ACCEPT_ITEM = 5
PI_TRANSPORT_DISCONNECT = 17
PI_PROTOCOL_OPTIONS = 19
PI_SESSION_REQUIREMENTS = 20
PI_TSDU_MAX_SIZE = 21
PI_VERSION = 22
PI_REASON_CODE = 50
PI_CALLING_SELECTOR = 51
PI_CALLED_SELECTOR = 52
PGI_USER_DATA = 193
PGI_EXTENDED_USER_DATA = 194

VERSION_2 = 0x02
DUPLEX = 0x0002
MAX_CN_USER_DATA = 512
"""Largest CN user data sent in PGI 193; larger goes into Extended User Data (PGI 194)."""
_MAX_LI = 65535

# Transport Disconnect: TC released + user abort + no reason (what libiec61850 sends in AB)
ABORT_TRANSPORT_DISCONNECT = 0x0B


class RefuseReason(IntEnum):
    """Reason Code values of a REFUSE SPDU (X.225; value table unconfirmed by captures)."""

    USER_REJECTION = 0
    USER_CONGESTION = 1
    USER_REJECTION_WITH_DATA = 2
    SELECTOR_UNKNOWN = 0x81
    USER_NOT_ATTACHED = 0x82
    SPM_CONGESTION = 0x83
    VERSIONS_NOT_SUPPORTED = 0x84
    SPM_REJECTION = 0x85
    IMPLEMENTATION_RESTRICTION = 0x86


@dataclass(frozen=True, slots=True)
class ConnectSpdu:
    """CN: opens the session; ``user_data`` carries the presentation CP-type."""

    user_data: bytes
    calling_selector: bytes | None = b"\x00\x01"
    called_selector: bytes | None = b"\x00\x01"
    protocol_options: int = 0
    version: int = VERSION_2
    requirements: int | None = DUPLEX
    tsdu_max_size: bytes | None = None


@dataclass(frozen=True, slots=True)
class AcceptSpdu:
    """AC: accepts a CN; ``user_data`` carries the presentation CPA-PPDU."""

    user_data: bytes
    responding_selector: bytes | None = b"\x00\x01"
    protocol_options: int = 0
    version: int = VERSION_2
    requirements: int | None = DUPLEX
    tsdu_max_size: bytes | None = None


@dataclass(frozen=True, slots=True)
class RefuseSpdu:
    """RF: refuses a CN; user data (a CPR-PPDU) travels inside the Reason Code parameter."""

    user_data: bytes = b""
    reason: RefuseReason | int = RefuseReason.USER_REJECTION_WITH_DATA
    transport_disconnect: int | None = None
    version: int | None = VERSION_2
    requirements: int | None = None


@dataclass(frozen=True, slots=True)
class DataSpdu:
    """DT, preceded by an empty GIVE TOKENS when ``give_tokens`` (the usual ``01 00 01 00``)."""

    user_data: bytes
    give_tokens: bool = True


@dataclass(frozen=True, slots=True)
class FinishSpdu:
    """FN: orderly release request; ``user_data`` carries the ACSE RLRQ."""

    user_data: bytes = b""
    transport_disconnect: int | None = None


@dataclass(frozen=True, slots=True)
class DisconnectSpdu:
    """DN: answers FN; ``user_data`` carries the ACSE RLRE."""

    user_data: bytes = b""


@dataclass(frozen=True, slots=True)
class NotFinishedSpdu:
    """NF: release refused (negotiated release only; decoded for completeness)."""

    user_data: bytes = b""


@dataclass(frozen=True, slots=True)
class AbortSpdu:
    """AB: abort; ``user_data`` carries an ARU-PPDU (ACSE ABRT) or ARP-PPDU."""

    user_data: bytes = b""
    transport_disconnect: int | None = ABORT_TRANSPORT_DISCONNECT


@dataclass(frozen=True, slots=True)
class AbortAcceptSpdu:
    """AA: optional answer to AB."""


Spdu = (
    ConnectSpdu
    | AcceptSpdu
    | RefuseSpdu
    | DataSpdu
    | FinishSpdu
    | DisconnectSpdu
    | NotFinishedSpdu
    | AbortSpdu
    | AbortAcceptSpdu
)


def negotiate_version(offered: int) -> int:
    """Version a responder answers with: 2 when offered (any bit mask with 02 set)."""
    if not offered & VERSION_2:
        raise SessionError(f"session version 2 not offered (version field 0x{offered:02X})", 0)
    return VERSION_2


# --------------------------------------------------------------------------- encoding


def _li(n: int) -> bytes:
    if n < 255:
        return bytes((n,))
    if n > _MAX_LI:
        raise ValueError(f"session length {n} exceeds 65535")
    return bytes((0xFF, n >> 8, n & 0xFF))


def _p(code: int, value: bytes) -> bytes:
    return bytes((code,)) + _li(len(value)) + value


def _spdu(si: int, params: bytes) -> bytes:
    return bytes((si,)) + _li(len(params)) + params


def _connect_accept_item(protocol_options: int, version: int, tsdu: bytes | None) -> bytes:
    inner = _p(PI_PROTOCOL_OPTIONS, bytes((protocol_options,)))
    if tsdu is not None:
        inner += _p(PI_TSDU_MAX_SIZE, tsdu)
    inner += _p(PI_VERSION, bytes((version,)))
    return _p(PGI_CONNECT_ACCEPT_ITEM, inner)


def _requirements(req: int | None) -> bytes:
    return b"" if req is None else _p(PI_SESSION_REQUIREMENTS, req.to_bytes(2, "big"))


def encode_spdu(spdu: Spdu) -> bytes:
    """Encode one SPDU (a DataSpdu with give_tokens yields the GT+DT concatenation)."""
    if isinstance(spdu, DataSpdu):
        return (b"\x01\x00\x01\x00" if spdu.give_tokens else b"\x01\x00") + spdu.user_data
    if isinstance(spdu, ConnectSpdu):
        params = _connect_accept_item(spdu.protocol_options, spdu.version, spdu.tsdu_max_size)
        params += _requirements(spdu.requirements)
        if spdu.calling_selector is not None:
            params += _p(PI_CALLING_SELECTOR, spdu.calling_selector)
        if spdu.called_selector is not None:
            params += _p(PI_CALLED_SELECTOR, spdu.called_selector)
        if len(spdu.user_data) <= MAX_CN_USER_DATA:
            params += _p(PGI_USER_DATA, spdu.user_data)
        else:
            params += _p(PGI_EXTENDED_USER_DATA, spdu.user_data)
        return _spdu(SI_CONNECT, params)
    if isinstance(spdu, AcceptSpdu):
        params = _connect_accept_item(spdu.protocol_options, spdu.version, spdu.tsdu_max_size)
        params += _requirements(spdu.requirements)
        if spdu.responding_selector is not None:
            params += _p(PI_CALLED_SELECTOR, spdu.responding_selector)
        params += _p(PGI_USER_DATA, spdu.user_data)
        return _spdu(SI_ACCEPT, params)
    if isinstance(spdu, RefuseSpdu):
        params = b""
        if spdu.transport_disconnect is not None:
            params += _p(PI_TRANSPORT_DISCONNECT, bytes((spdu.transport_disconnect,)))
        params += _requirements(spdu.requirements)
        if spdu.version is not None:
            params += _p(PI_VERSION, bytes((spdu.version,)))
        params += _p(PI_REASON_CODE, bytes((spdu.reason,)) + spdu.user_data)
        return _spdu(SI_REFUSE, params)
    if isinstance(spdu, FinishSpdu):
        params = b""
        if spdu.transport_disconnect is not None:
            params += _p(PI_TRANSPORT_DISCONNECT, bytes((spdu.transport_disconnect,)))
        if spdu.user_data:
            params += _p(PGI_USER_DATA, spdu.user_data)
        return _spdu(SI_FINISH, params)
    if isinstance(spdu, DisconnectSpdu | NotFinishedSpdu):
        si = SI_DISCONNECT if isinstance(spdu, DisconnectSpdu) else SI_NOT_FINISHED
        return _spdu(si, _p(PGI_USER_DATA, spdu.user_data) if spdu.user_data else b"")
    if isinstance(spdu, AbortSpdu):
        params = b""
        if spdu.transport_disconnect is not None:
            params += _p(PI_TRANSPORT_DISCONNECT, bytes((spdu.transport_disconnect,)))
        if spdu.user_data:
            params += _p(PGI_USER_DATA, spdu.user_data)
        return _spdu(SI_ABORT, params)
    return _spdu(SI_ABORT_ACCEPT, b"")


# --------------------------------------------------------------------------- decoding


def _read_li(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """Length at ``pos`` (1- or 3-octet form) -> (length, position after it)."""
    if pos >= end:
        raise SessionError("truncated length", pos)
    n = data[pos]
    if n != 0xFF:
        return n, pos + 1
    if pos + 3 > end:
        raise SessionError("truncated 3-octet length", pos)
    return (data[pos + 1] << 8) | data[pos + 2], pos + 3


def _parse_params(data: bytes, pos: int, end: int, into: dict[int, tuple[int, int]]) -> None:
    while pos < end:
        code = data[pos]
        length, vs = _read_li(data, pos + 1, end)
        ve = vs + length
        if ve > end:
            raise SessionError(f"parameter {code} length {length} overruns its SPDU", pos + 1)
        if code in (PGI_CONNECTION_ID, PGI_CONNECT_ACCEPT_ITEM):
            _parse_params(data, vs, ve, into)
        else:
            into.setdefault(code, (vs, ve))
        pos = ve


def _byte(data: bytes, params: dict[int, tuple[int, int]], code: int) -> int | None:
    span = params.get(code)
    if span is None:
        return None
    vs, ve = span
    if ve - vs != 1:
        raise SessionError(f"parameter {code} must be 1 octet, is {ve - vs}", vs)
    return data[vs]


def _bytes(data: bytes, params: dict[int, tuple[int, int]], code: int) -> bytes | None:
    span = params.get(code)
    return None if span is None else data[span[0] : span[1]]


def _user_data(data: bytes, params: dict[int, tuple[int, int]]) -> bytes:
    span = params.get(PGI_USER_DATA) or params.get(PGI_EXTENDED_USER_DATA)
    return b"" if span is None else data[span[0] : span[1]]


def _requirements_value(data: bytes, params: dict[int, tuple[int, int]]) -> int | None:
    span = params.get(PI_SESSION_REQUIREMENTS)
    if span is None:
        return None
    vs, ve = span
    if ve - vs != 2:
        raise SessionError("session user requirements must be 2 octets", vs)
    return (data[vs] << 8) | data[vs + 1]


def _decode_data(data: bytes, end: int) -> DataSpdu:
    """``01 LI params [01 LI params] user-data``: GT+DT, or DT alone."""
    li, pos = _read_li(data, 1, end)
    pos += li
    if pos > end:
        raise SessionError(f"length {li} overruns the SPDU", 1)
    if pos < end and data[pos] == SI_DATA:
        li, pos = _read_li(data, pos + 1, end)
        pos += li
        if pos > end:
            raise SessionError(f"DATA TRANSFER length {li} overruns the TSDU", pos - li)
        return DataSpdu(data[pos:end], True)
    return DataSpdu(data[pos:end], False)


def decode_spdu(data: bytes) -> Spdu:
    """Decode the SPDU(s) of one TSDU."""
    end = len(data)
    if end < 2:
        raise SessionError("SPDU shorter than 2 octets", 0)
    si = data[0]
    if si == SI_DATA:
        return _decode_data(data, end)
    li, pos = _read_li(data, 1, end)
    if pos + li != end:
        raise SessionError(f"SPDU length {li} does not match the {end - pos} octets present", 1)
    params: dict[int, tuple[int, int]] = {}
    _parse_params(data, pos, end, params)
    if si == SI_CONNECT:
        return ConnectSpdu(
            user_data=_user_data(data, params),
            calling_selector=_bytes(data, params, PI_CALLING_SELECTOR),
            called_selector=_bytes(data, params, PI_CALLED_SELECTOR),
            protocol_options=_byte(data, params, PI_PROTOCOL_OPTIONS) or 0,
            version=_version(data, params),
            requirements=_requirements_value(data, params),
            tsdu_max_size=_bytes(data, params, PI_TSDU_MAX_SIZE),
        )
    if si == SI_ACCEPT:
        return AcceptSpdu(
            user_data=_user_data(data, params),
            responding_selector=_bytes(data, params, PI_CALLED_SELECTOR),
            protocol_options=_byte(data, params, PI_PROTOCOL_OPTIONS) or 0,
            version=_version(data, params),
            requirements=_requirements_value(data, params),
            tsdu_max_size=_bytes(data, params, PI_TSDU_MAX_SIZE),
        )
    if si == SI_REFUSE:
        reason_span = params.get(PI_REASON_CODE)
        reason: RefuseReason | int = RefuseReason.USER_REJECTION
        user_data = _user_data(data, params)
        if reason_span is not None and reason_span[1] > reason_span[0]:
            reason = named(RefuseReason, data[reason_span[0]])
            user_data = data[reason_span[0] + 1 : reason_span[1]] or user_data
        return RefuseSpdu(
            user_data=user_data,
            reason=reason,
            transport_disconnect=_byte(data, params, PI_TRANSPORT_DISCONNECT),
            version=_byte(data, params, PI_VERSION),
            requirements=_requirements_value(data, params),
        )
    if si == SI_FINISH:
        return FinishSpdu(_user_data(data, params), _byte(data, params, PI_TRANSPORT_DISCONNECT))
    if si == SI_DISCONNECT:
        return DisconnectSpdu(_user_data(data, params))
    if si == SI_NOT_FINISHED:
        return NotFinishedSpdu(_user_data(data, params))
    if si == SI_ABORT:
        return AbortSpdu(_user_data(data, params), _byte(data, params, PI_TRANSPORT_DISCONNECT))
    if si == SI_ABORT_ACCEPT:
        return AbortAcceptSpdu()
    raise SessionError(f"unsupported SPDU identifier {si}", 0)


def _version(data: bytes, params: dict[int, tuple[int, int]]) -> int:
    """Version Number PI; absent means version 1 (X.225 default)."""
    value = _byte(data, params, PI_VERSION)
    return 1 if value is None else value
