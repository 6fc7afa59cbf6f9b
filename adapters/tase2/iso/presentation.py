"""Presentation layer (ISO 8823 / X.226), normal mode kernel: CP, CPA, CPR, ARU, ARP, P-DATA.

Contexts are identified by abstract-syntax OID (ACSE and MMS); the identifiers are whatever
odd integers the initiator chose, so a responder learns them from the CP with
:func:`negotiate_contexts`. User data is always fully-encoded, transfer syntax BER.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import ParamSpec, TypeVar

from adapters.tase2.asn1.ber import (
    BerError,
    decode_integer,
    decode_oid,
    decode_tlv,
    encode_integer,
    encode_oid,
    named,
    tlv,
)
from adapters.tase2.asn1.ber import iter_tlv as _iter
from adapters.tase2.iso.errors import PresentationError

__all__ = [
    "ACSE_ABSTRACT_SYNTAX",
    "BER_TRANSFER_SYNTAX",
    "MMS_ABSTRACT_SYNTAX",
    "AbortReason",
    "AcceptPpdu",
    "ConnectPpdu",
    "ContextDefinition",
    "ContextNegotiation",
    "ContextResult",
    "PresentationDataValue",
    "ProviderAbortPpdu",
    "ProviderReason",
    "RefusePpdu",
    "RefuseReason",
    "Result",
    "UserAbortPpdu",
    "decode_abort",
    "decode_accept",
    "decode_connect",
    "decode_data",
    "decode_refuse",
    "decode_user_data",
    "default_contexts",
    "encode_abort",
    "encode_accept",
    "encode_connect",
    "encode_data",
    "encode_refuse",
    "encode_user_data",
    "negotiate_contexts",
]

ACSE_ABSTRACT_SYNTAX = "2.2.1.0.1"
MMS_ABSTRACT_SYNTAX = "1.0.9506.2.1"
BER_TRANSFER_SYNTAX = "2.1.1"

_BER_OID = encode_oid(BER_TRANSFER_SYNTAX)
_NORMAL_MODE = b"\xa0\x03\x80\x01\x01"
DEFAULT_SELECTOR = b"\x00\x00\x00\x01"

SINGLE_ASN1_TYPE = 0
OCTET_ALIGNED = 1
ARBITRARY = 2


class Result(IntEnum):
    """Presentation context definition result values."""

    ACCEPTANCE = 0
    USER_REJECTION = 1
    PROVIDER_REJECTION = 2


class ProviderReason(IntEnum):
    """Provider reasons of one context result (``Result-list`` provider-reason, X.226)."""

    NOT_SPECIFIED = 0
    ABSTRACT_SYNTAX_NOT_SUPPORTED = 1
    TRANSFER_SYNTAXES_NOT_SUPPORTED = 2
    LOCAL_LIMIT_EXCEEDED = 3


class RefuseReason(IntEnum):
    """``Provider-reason`` of a CPR-PPDU (X.226): why the provider refused the connection."""

    REASON_NOT_SPECIFIED = 0
    TEMPORARY_CONGESTION = 1
    LOCAL_LIMIT_EXCEEDED = 2
    CALLED_PRESENTATION_ADDRESS_UNKNOWN = 3
    PROTOCOL_VERSION_NOT_SUPPORTED = 4
    DEFAULT_CONTEXT_NOT_SUPPORTED = 5
    USER_DATA_NOT_READABLE = 6
    NO_PSAP_AVAILABLE = 7


class AbortReason(IntEnum):
    """``Abort-reason`` of an ARP-PPDU (X.226)."""

    REASON_NOT_SPECIFIED = 0
    UNRECOGNIZED_PPDU = 1
    UNEXPECTED_PPDU = 2
    UNEXPECTED_SESSION_SERVICE_PRIMITIVE = 3
    UNRECOGNIZED_PPDU_PARAMETER = 4
    UNEXPECTED_PPDU_PARAMETER = 5
    INVALID_PPDU_PARAMETER_VALUE = 6


@dataclass(frozen=True, slots=True)
class ContextDefinition:
    """One proposed presentation context: identifier, abstract syntax, transfer syntaxes."""

    context_id: int
    abstract_syntax: str
    transfer_syntaxes: tuple[str, ...] = (BER_TRANSFER_SYNTAX,)


@dataclass(frozen=True, slots=True)
class ContextResult:
    """The responder's answer to one proposed context (same order as the proposal)."""

    result: Result | int = Result.ACCEPTANCE
    transfer_syntax: str | None = BER_TRANSFER_SYNTAX
    provider_reason: ProviderReason | int | None = None


@dataclass(frozen=True, slots=True)
class PresentationDataValue:
    """One PDV of fully-encoded user data.

    For single-ASN1-type ``value`` is the complete inner PDU (e.g. an AARQ or MMS PDU);
    for octet-aligned / arbitrary it is the content of the octet / bit string.
    """

    context_id: int
    value: bytes
    transfer_syntax: str | None = None
    encoding: int = SINGLE_ASN1_TYPE


@dataclass(frozen=True, slots=True)
class ConnectPpdu:
    """CP-type (normal mode), carried in session CN."""

    contexts: tuple[ContextDefinition, ...]
    user_data: tuple[PresentationDataValue, ...] = ()
    calling_selector: bytes | None = DEFAULT_SELECTOR
    called_selector: bytes | None = DEFAULT_SELECTOR
    presentation_requirements: bytes | None = None
    user_session_requirements: bytes | None = None


@dataclass(frozen=True, slots=True)
class AcceptPpdu:
    """CPA-PPDU (normal mode), carried in session AC."""

    results: tuple[ContextResult, ...]
    user_data: tuple[PresentationDataValue, ...] = ()
    responding_selector: bytes | None = DEFAULT_SELECTOR
    presentation_requirements: bytes | None = None
    user_session_requirements: bytes | None = None


@dataclass(frozen=True, slots=True)
class RefusePpdu:
    """CPR-PPDU (normal mode), carried in session RF."""

    results: tuple[ContextResult, ...] = ()
    user_data: tuple[PresentationDataValue, ...] = ()
    responding_selector: bytes | None = DEFAULT_SELECTOR
    provider_reason: RefuseReason | int | None = None


@dataclass(frozen=True, slots=True)
class UserAbortPpdu:
    """ARU-PPDU (normal mode): user abort, usually carrying an ACSE ABRT."""

    user_data: tuple[PresentationDataValue, ...] = ()


@dataclass(frozen=True, slots=True)
class ProviderAbortPpdu:
    """ARP-PPDU: abort by the presentation provider."""

    reason: AbortReason | int | None = None
    event: int | None = None


@dataclass(frozen=True, slots=True)
class ContextNegotiation:
    """Outcome of :func:`negotiate_contexts`: per-context results and accepted ids by OID."""

    results: tuple[ContextResult, ...]
    accepted: dict[str, int] = field(default_factory=dict)

    @property
    def acse_context_id(self) -> int | None:
        """Identifier the initiator chose for ACSE, if accepted."""
        return self.accepted.get(ACSE_ABSTRACT_SYNTAX)

    @property
    def mms_context_id(self) -> int | None:
        """Identifier the initiator chose for MMS, if accepted."""
        return self.accepted.get(MMS_ABSTRACT_SYNTAX)


def default_contexts(acse_id: int = 1, mms_id: int = 3) -> tuple[ContextDefinition, ...]:
    """The two contexts an MMS initiator proposes: ACSE and MMS, both BER."""
    return (
        ContextDefinition(acse_id, ACSE_ABSTRACT_SYNTAX),
        ContextDefinition(mms_id, MMS_ABSTRACT_SYNTAX),
    )


def negotiate_contexts(
    proposed: Iterable[ContextDefinition],
    supported: Iterable[str] = (ACSE_ABSTRACT_SYNTAX, MMS_ABSTRACT_SYNTAX),
) -> ContextNegotiation:
    """Accept each proposed context whose abstract syntax is supported with BER."""
    wanted = set(supported)
    results: list[ContextResult] = []
    accepted: dict[str, int] = {}
    for ctx in proposed:
        if ctx.abstract_syntax not in wanted or ctx.abstract_syntax in accepted:
            results.append(
                ContextResult(
                    Result.PROVIDER_REJECTION, None, ProviderReason.ABSTRACT_SYNTAX_NOT_SUPPORTED
                )
            )
        elif BER_TRANSFER_SYNTAX not in ctx.transfer_syntaxes:
            results.append(
                ContextResult(
                    Result.PROVIDER_REJECTION, None, ProviderReason.TRANSFER_SYNTAXES_NOT_SUPPORTED
                )
            )
        else:
            results.append(ContextResult())
            accepted[ctx.abstract_syntax] = ctx.context_id
    return ContextNegotiation(tuple(results), accepted)


# --------------------------------------------------------------------------- encoding


def encode_data(context_id: int, pdu: bytes) -> bytes:
    """P-DATA user data with one single-ASN1-type PDV: ``61 L 30 L 02 01 id A0 L pdu``."""
    return tlv(0x61, tlv(0x30, tlv(0x02, encode_integer(context_id)) + tlv(0xA0, pdu)))


def _encode_pdv(pdv: PresentationDataValue) -> bytes:
    body = b"" if pdv.transfer_syntax is None else tlv(0x06, encode_oid(pdv.transfer_syntax))
    body += tlv(0x02, encode_integer(pdv.context_id))
    tag = (0xA0, 0x81, 0x82)[pdv.encoding]
    return tlv(0x30, body + tlv(tag, pdv.value))


def encode_user_data(pdvs: Iterable[PresentationDataValue]) -> bytes:
    """Fully-encoded-data ``61 L`` holding one PDV-list per value."""
    return tlv(0x61, b"".join(_encode_pdv(p) for p in pdvs))


def _context_item(ctx: ContextDefinition) -> bytes:
    syntaxes = b"".join(tlv(0x06, encode_oid(ts)) for ts in ctx.transfer_syntaxes)
    return tlv(
        0x30,
        tlv(0x02, encode_integer(ctx.context_id))
        + tlv(0x06, encode_oid(ctx.abstract_syntax))
        + tlv(0x30, syntaxes),
    )


def _result_item(res: ContextResult) -> bytes:
    body = tlv(0x80, encode_integer(res.result))
    if res.transfer_syntax is not None:
        body += tlv(0x81, encode_oid(res.transfer_syntax))
    if res.provider_reason is not None:
        body += tlv(0x82, encode_integer(res.provider_reason))
    return tlv(0x30, body)


def _opt(tag: int, value: bytes | None) -> bytes:
    return b"" if value is None else tlv(tag, value)


def encode_connect(cp: ConnectPpdu) -> bytes:
    """CP-type: ``31 L A0 03 80 01 01 A2 L ...``."""
    normal = (
        _opt(0x81, cp.calling_selector)
        + _opt(0x82, cp.called_selector)
        + tlv(0xA4, b"".join(_context_item(c) for c in cp.contexts))
        + _opt(0x88, cp.presentation_requirements)
        + _opt(0x89, cp.user_session_requirements)
    )
    if cp.user_data:
        normal += encode_user_data(cp.user_data)
    return tlv(0x31, _NORMAL_MODE + tlv(0xA2, normal))


def encode_accept(cpa: AcceptPpdu) -> bytes:
    """CPA-PPDU: ``31 L A0 03 80 01 01 A2 L [83 sel] A5 results [61 user-data]``."""
    normal = _opt(0x83, cpa.responding_selector) + tlv(
        0xA5, b"".join(_result_item(r) for r in cpa.results)
    )
    normal += _opt(0x88, cpa.presentation_requirements)
    normal += _opt(0x89, cpa.user_session_requirements)
    if cpa.user_data:
        normal += encode_user_data(cpa.user_data)
    return tlv(0x31, _NORMAL_MODE + tlv(0xA2, normal))


def encode_refuse(cpr: RefusePpdu) -> bytes:
    """CPR-PPDU (normal mode SEQUENCE ``30 L``)."""
    body = _opt(0x83, cpr.responding_selector)
    if cpr.results:
        body += tlv(0xA5, b"".join(_result_item(r) for r in cpr.results))
    if cpr.provider_reason is not None:
        body += tlv(0x8A, encode_integer(cpr.provider_reason))
    if cpr.user_data:
        body += encode_user_data(cpr.user_data)
    return tlv(0x30, body)


def encode_abort(ppdu: UserAbortPpdu | ProviderAbortPpdu) -> bytes:
    """ARU-PPDU ``A0 L [61 user-data]`` or ARP-PPDU ``30 L [80 reason] [81 event]``."""
    if isinstance(ppdu, UserAbortPpdu):
        return tlv(0xA0, encode_user_data(ppdu.user_data) if ppdu.user_data else b"")
    body = b""
    if ppdu.reason is not None:
        body += tlv(0x80, encode_integer(ppdu.reason))
    if ppdu.event is not None:
        body += tlv(0x81, encode_integer(ppdu.event))
    return tlv(0x30, body)


# --------------------------------------------------------------------------- decoding

_T = TypeVar("_T")
_P = ParamSpec("_P")


def _presentation_errors(decoder: Callable[_P, _T]) -> Callable[_P, _T]:
    """Make ``decoder`` report BER problems as :class:`PresentationError`."""

    @functools.wraps(decoder)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return decoder(*args, **kwargs)
        except BerError as exc:
            raise PresentationError(exc.message, exc.offset) from None

    return wrapper


def _expect(data: bytes, pos: int, end: int, tag: int, what: str) -> tuple[int, int, int]:
    t, cs, ce, nxt = decode_tlv(data, pos, end)
    if t != tag:
        raise PresentationError(f"{what}: expected tag 0x{tag:02X}, found 0x{t:02X}", pos)
    return cs, ce, nxt


def _pdv_list(data: bytes, cs: int, ce: int) -> PresentationDataValue:
    syntax: str | None = None
    ctx: int | None = None
    for tag, vs, ve, _ in _iter(data, cs, ce):
        if tag == 0x06:
            syntax = decode_oid(data, vs, ve)
        elif tag == 0x02:
            ctx = decode_integer(data, vs, ve)
        elif tag in (0xA0, 0x81, 0x82, 0xA1, 0xA2):
            if ctx is None:
                raise PresentationError("PDV without presentation-context-identifier", vs)
            encoding = tag & 0x1F
            if encoding == SINGLE_ASN1_TYPE:
                # the value must be exactly one complete inner element
                inner = decode_tlv(data, vs, ve)
                if inner[3] != ve:
                    raise PresentationError("single-ASN1-type holds more than one element", vs)
            return PresentationDataValue(ctx, data[vs:ve], syntax, encoding)
    raise PresentationError("PDV-list without presentation-data-values", cs)


def _user_data(data: bytes, cs: int, ce: int) -> tuple[PresentationDataValue, ...]:
    out = []
    for tag, vs, ve, _ in _iter(data, cs, ce):
        if tag == 0x30:
            out.append(_pdv_list(data, vs, ve))
        elif tag != 0:
            raise PresentationError(f"unexpected tag 0x{tag:02X} in fully-encoded-data", vs)
    return tuple(out)


def _user_data_field(data: bytes, tag: int, cs: int, ce: int) -> tuple[PresentationDataValue, ...]:
    if tag == 0x60:
        raise PresentationError("simply-encoded-data is not supported", cs)
    return _user_data(data, cs, ce)


@_presentation_errors
def decode_user_data(data: bytes) -> tuple[PresentationDataValue, ...]:
    """Decode P-DATA user data (``61 L ...``) into its PDVs."""
    tag, cs, ce, nxt = decode_tlv(data, 0, len(data))
    if nxt != len(data):
        raise PresentationError("trailing octets after user data", nxt)
    if tag not in (0x60, 0x61):
        raise PresentationError(f"user data: unexpected tag 0x{tag:02X}", 0)
    return _user_data_field(data, tag, cs, ce)


def decode_data(data: bytes) -> PresentationDataValue:
    """Decode P-DATA user data that carries exactly one PDV (the usual MMS data case)."""
    pdvs = decode_user_data(data)
    if len(pdvs) != 1:
        raise PresentationError(f"expected one PDV, found {len(pdvs)}", 0)
    return pdvs[0]


def _check_mode(data: bytes, cs: int, ce: int) -> None:
    for tag, vs, ve, _ in _iter(data, cs, ce):
        if tag == 0x80:
            mode = decode_integer(data, vs, ve)
            if mode != 1:
                raise PresentationError(f"mode {mode} is not normal mode (1)", vs)
            return
    raise PresentationError("mode-selector without mode-value", cs)


def _context_list(data: bytes, cs: int, ce: int) -> tuple[ContextDefinition, ...]:
    out = []
    for tag, vs, ve, _ in _iter(data, cs, ce):
        if tag != 0x30:
            continue
        ctx: int | None = None
        abstract: str | None = None
        syntaxes: list[str] = []
        for t, ivs, ive, _ in _iter(data, vs, ve):
            if t == 0x02:
                ctx = decode_integer(data, ivs, ive)
            elif t == 0x06:
                abstract = decode_oid(data, ivs, ive)
            elif t == 0x30:
                syntaxes.extend(
                    decode_oid(data, svs, sve)
                    for st, svs, sve, _ in _iter(data, ivs, ive)
                    if st == 0x06
                )
        if ctx is None or abstract is None:
            raise PresentationError("context definition without identifier or abstract syntax", vs)
        out.append(ContextDefinition(ctx, abstract, tuple(syntaxes)))
    return tuple(out)


def _result_list(data: bytes, cs: int, ce: int) -> tuple[ContextResult, ...]:
    out = []
    for tag, vs, ve, _ in _iter(data, cs, ce):
        if tag != 0x30:
            continue
        result: Result | int | None = None
        syntax: str | None = None
        reason: ProviderReason | int | None = None
        for t, ivs, ive, _ in _iter(data, vs, ve):
            if t == 0x80:
                result = named(Result, decode_integer(data, ivs, ive))
            elif t == 0x81:
                syntax = decode_oid(data, ivs, ive)
            elif t == 0x82:
                reason = named(ProviderReason, decode_integer(data, ivs, ive))
        if result is None:
            raise PresentationError("context result without result value", vs)
        out.append(ContextResult(result, syntax, reason))
    return tuple(out)


def _connect_set(data: bytes, what: str) -> tuple[int, int]:
    """Check the outer ``31`` SET and its mode selector; return the normal-mode content span."""
    cs, ce, nxt = _expect(data, 0, len(data), 0x31, what)
    if nxt != len(data):
        raise PresentationError(f"trailing octets after {what}", nxt)
    normal: tuple[int, int] | None = None
    mode_seen = False
    for tag, vs, ve, _ in _iter(data, cs, ce):
        if tag == 0xA0:
            _check_mode(data, vs, ve)
            mode_seen = True
        elif tag == 0xA2:
            normal = (vs, ve)
    if not mode_seen:
        raise PresentationError(f"{what} without mode-selector", cs)
    if normal is None:
        raise PresentationError(f"{what} without normal-mode-parameters", cs)
    return normal


@_presentation_errors
def decode_connect(data: bytes) -> ConnectPpdu:
    """Decode a CP-type (the user data of a session CN)."""
    cs, ce = _connect_set(data, "CP-type")
    calling = called = preq = ureq = None
    contexts: tuple[ContextDefinition, ...] = ()
    user: tuple[PresentationDataValue, ...] = ()
    for tag, vs, ve, _ in _iter(data, cs, ce):
        if tag == 0x81:
            calling = data[vs:ve]
        elif tag == 0x82:
            called = data[vs:ve]
        elif tag == 0xA4:
            contexts = _context_list(data, vs, ve)
        elif tag == 0x88:
            preq = data[vs:ve]
        elif tag == 0x89:
            ureq = data[vs:ve]
        elif tag in (0x60, 0x61):
            user = _user_data_field(data, tag, vs, ve)
    return ConnectPpdu(contexts, user, calling, called, preq, ureq)


@_presentation_errors
def decode_accept(data: bytes) -> AcceptPpdu:
    """Decode a CPA-PPDU (the user data of a session AC)."""
    cs, ce = _connect_set(data, "CPA-PPDU")
    responding = preq = ureq = None
    results: tuple[ContextResult, ...] = ()
    user: tuple[PresentationDataValue, ...] = ()
    for tag, vs, ve, _ in _iter(data, cs, ce):
        if tag == 0x83:
            responding = data[vs:ve]
        elif tag == 0xA5:
            results = _result_list(data, vs, ve)
        elif tag == 0x88:
            preq = data[vs:ve]
        elif tag == 0x89:
            ureq = data[vs:ve]
        elif tag in (0x60, 0x61):
            user = _user_data_field(data, tag, vs, ve)
    return AcceptPpdu(results, user, responding, preq, ureq)


@_presentation_errors
def decode_refuse(data: bytes) -> RefusePpdu:
    """Decode a CPR-PPDU (the user data of a session RF)."""
    cs, ce, nxt = _expect(data, 0, len(data), 0x30, "CPR-PPDU")
    if nxt != len(data):
        raise PresentationError("trailing octets after CPR-PPDU", nxt)
    responding: bytes | None = None
    reason: RefuseReason | int | None = None
    results: tuple[ContextResult, ...] = ()
    user: tuple[PresentationDataValue, ...] = ()
    for tag, vs, ve, _ in _iter(data, cs, ce):
        if tag == 0x83:
            responding = data[vs:ve]
        elif tag == 0xA5:
            results = _result_list(data, vs, ve)
        elif tag == 0x8A:
            reason = named(RefuseReason, decode_integer(data, vs, ve))
        elif tag in (0x60, 0x61):
            user = _user_data_field(data, tag, vs, ve)
    return RefusePpdu(results, user, responding, reason)


@_presentation_errors
def decode_abort(data: bytes) -> UserAbortPpdu | ProviderAbortPpdu:
    """Decode the user data of a session AB: ARU-PPDU (``A0``) or ARP-PPDU (``30``)."""
    tag, cs, ce, nxt = decode_tlv(data, 0, len(data))
    if nxt != len(data):
        raise PresentationError("trailing octets after abort PPDU", nxt)
    if tag == 0xA0:
        user: tuple[PresentationDataValue, ...] = ()
        for t, vs, ve, _ in _iter(data, cs, ce):
            if t in (0x60, 0x61):
                user = _user_data_field(data, t, vs, ve)
        return UserAbortPpdu(user)
    if tag == 0x30:
        reason: AbortReason | int | None = None
        event: int | None = None
        for t, vs, ve, _ in _iter(data, cs, ce):
            if t == 0x80:
                reason = named(AbortReason, decode_integer(data, vs, ve))
            elif t == 0x81:
                event = decode_integer(data, vs, ve)
        return ProviderAbortPpdu(reason, event)
    raise PresentationError(f"abort PPDU: unexpected tag 0x{tag:02X}", 0)
