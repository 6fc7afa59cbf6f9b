"""Top-level MMSpdu: confirmed request/response/error, unconfirmed, reject, cancel,
initiate and conclude, with ``encode_pdu`` / ``decode_pdu``.

There is no MMS abort PDU: an MMS abort is carried by the ACSE ABRT of the association.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import TypeAlias, TypeVar

from adapters.tase2.asn1.ber import BerError, code_name, decode_tlv, encode_integer, named, tlv
from adapters.tase2.mms.errors import MmsDecodeError, MmsEncodeError
from adapters.tase2.mms.fields import Buffer, read_int, read_uint, uint_tlv
from adapters.tase2.mms.initiate import (
    InitiateRequest,
    InitiateResponse,
    decode_initiate_request,
    decode_initiate_response,
    encode_initiate_request,
    encode_initiate_response,
)
from adapters.tase2.mms.service_error import (
    ServiceError,
    decode_service_error,
    encode_service_error,
)
from adapters.tase2.mms.services import (
    ConfirmedServiceRequest,
    ConfirmedServiceResponse,
    InformationReport,
    OtherService,
    decode_information_report,
    decode_request,
    decode_response,
    encode_information_report,
    encode_request,
    encode_response,
    request_name,
    response_name,
)

__all__ = [
    "REJECT_CODES",
    "REJECT_KINDS",
    "CancelError",
    "CancelErrorReject",
    "CancelRequest",
    "CancelRequestReject",
    "CancelResponse",
    "CancelResponseReject",
    "ConcludeError",
    "ConcludeErrorReject",
    "ConcludeRequest",
    "ConcludeRequestReject",
    "ConcludeResponse",
    "ConcludeResponseReject",
    "ConfirmedError",
    "ConfirmedErrorReject",
    "ConfirmedRequest",
    "ConfirmedRequestReject",
    "ConfirmedResponse",
    "ConfirmedResponseReject",
    "InitiateError",
    "InitiateRequest",
    "InitiateResponse",
    "MmsPdu",
    "PduErrorReject",
    "Reject",
    "RejectType",
    "Unconfirmed",
    "UnconfirmedReject",
    "decode_pdu",
    "encode_confirmed_response",
    "encode_pdu",
    "reject_code",
]

_MAX_INVOKE_ID = (1 << 32) - 1


class RejectType(IntEnum):
    """Which kind of PDU a RejectPDU rejects (the rejectReason choice number)."""

    CONFIRMED_REQUEST = 1
    CONFIRMED_RESPONSE = 2
    CONFIRMED_ERROR = 3
    UNCONFIRMED = 4
    PDU_ERROR = 5
    CANCEL_REQUEST = 6
    CANCEL_RESPONSE = 7
    CANCEL_ERROR = 8
    CONCLUDE_REQUEST = 9
    CONCLUDE_RESPONSE = 10
    CONCLUDE_ERROR = 11


class ConfirmedRequestReject(IntEnum):
    """rejectReason codes of a rejected confirmed-request PDU."""

    OTHER = 0
    UNRECOGNIZED_SERVICE = 1
    UNRECOGNIZED_MODIFIER = 2
    INVALID_INVOKE_ID = 3
    INVALID_ARGUMENT = 4
    INVALID_MODIFIER = 5
    MAX_SERV_OUTSTANDING_EXCEEDED = 6
    MAX_RECURSION_EXCEEDED = 8
    VALUE_OUT_OF_RANGE = 9


class ConfirmedResponseReject(IntEnum):
    """rejectReason codes of a rejected confirmed-response PDU."""

    OTHER = 0
    UNRECOGNIZED_SERVICE = 1
    INVALID_INVOKE_ID = 2
    INVALID_RESULT = 3
    MAX_RECURSION_EXCEEDED = 5
    VALUE_OUT_OF_RANGE = 6


class ConfirmedErrorReject(IntEnum):
    """rejectReason codes of a rejected confirmed-error PDU."""

    OTHER = 0
    UNRECOGNIZED_SERVICE = 1
    INVALID_INVOKE_ID = 2
    INVALID_SERVICE_ERROR = 3
    VALUE_OUT_OF_RANGE = 4


class UnconfirmedReject(IntEnum):
    """rejectReason codes of a rejected unconfirmed PDU."""

    OTHER = 0
    UNRECOGNIZED_SERVICE = 1
    INVALID_ARGUMENT = 2
    MAX_RECURSION_EXCEEDED = 3
    VALUE_OUT_OF_RANGE = 4


class PduErrorReject(IntEnum):
    """rejectReason codes of a rejected pdu-error PDU."""

    UNKNOWN_PDU_TYPE = 0
    INVALID_PDU = 1
    ILLEGAL_ACSE_MAPPING = 2


class CancelRequestReject(IntEnum):
    """rejectReason codes of a rejected cancel-request PDU."""

    OTHER = 0
    INVALID_INVOKE_ID = 1


class CancelResponseReject(IntEnum):
    """rejectReason codes of a rejected cancel-response PDU."""

    OTHER = 0
    INVALID_INVOKE_ID = 1


class CancelErrorReject(IntEnum):
    """rejectReason codes of a rejected cancel-error PDU."""

    OTHER = 0
    INVALID_INVOKE_ID = 1
    INVALID_SERVICE_ERROR = 2
    VALUE_OUT_OF_RANGE = 3


class ConcludeRequestReject(IntEnum):
    """rejectReason codes of a rejected conclude-request PDU."""

    OTHER = 0
    INVALID_ARGUMENT = 1


class ConcludeResponseReject(IntEnum):
    """rejectReason codes of a rejected conclude-response PDU."""

    OTHER = 0
    INVALID_RESULT = 1


class ConcludeErrorReject(IntEnum):
    """rejectReason codes of a rejected conclude-error PDU."""

    OTHER = 0
    INVALID_SERVICE_ERROR = 1
    VALUE_OUT_OF_RANGE = 2


REJECT_CODES: dict[RejectType, type[IntEnum]] = {
    RejectType.CONFIRMED_REQUEST: ConfirmedRequestReject,
    RejectType.CONFIRMED_RESPONSE: ConfirmedResponseReject,
    RejectType.CONFIRMED_ERROR: ConfirmedErrorReject,
    RejectType.UNCONFIRMED: UnconfirmedReject,
    RejectType.PDU_ERROR: PduErrorReject,
    RejectType.CANCEL_REQUEST: CancelRequestReject,
    RejectType.CANCEL_RESPONSE: CancelResponseReject,
    RejectType.CANCEL_ERROR: CancelErrorReject,
    RejectType.CONCLUDE_REQUEST: ConcludeRequestReject,
    RejectType.CONCLUDE_RESPONSE: ConcludeResponseReject,
    RejectType.CONCLUDE_ERROR: ConcludeErrorReject,
}
"""Reject reason codes by PDU kind, as named in ISO 9506-2."""

REJECT_KINDS: dict[type[IntEnum], RejectType] = {v: k for k, v in REJECT_CODES.items()}
"""The PDU kind each reject code enum belongs to."""


def reject_code(kind: RejectType, code: int) -> IntEnum | int:
    """``code`` as its named member for ``kind``, else the integer (liberal decoding)."""
    return named(REJECT_CODES[kind], code)


def _asn1_name(code: IntEnum) -> str:
    """A reject code as ISO 9506-2 spells it (``invalid-invokeID``)."""
    text = code_name(code)
    return text.replace("invoke-id", "invokeID").replace("service-error", "serviceError")


@dataclass(slots=True, frozen=True)
class ConfirmedRequest:
    """confirmed-RequestPDU [0]: a service request with the requester's invokeID."""

    invoke_id: int
    service: ConfirmedServiceRequest


@dataclass(slots=True, frozen=True)
class ConfirmedResponse:
    """confirmed-ResponsePDU [1]: the positive answer to invokeID."""

    invoke_id: int
    service: ConfirmedServiceResponse


@dataclass(slots=True, frozen=True)
class ConfirmedError:
    """confirmed-ErrorPDU [2]: the negative answer to invokeID."""

    invoke_id: int
    error: ServiceError
    modifier_position: int | None = None


@dataclass(slots=True, frozen=True)
class Unconfirmed:
    """unconfirmed-PDU [3]: an InformationReport, or another unconfirmed service kept raw."""

    service: InformationReport | OtherService


@dataclass(slots=True, frozen=True)
class Reject:
    """rejectPDU [4]: a PDU could not be processed (``code`` per REJECT_CODES[kind])."""

    kind: RejectType
    code: IntEnum | int
    original_invoke_id: int | None = None

    @property
    def reason(self) -> str:
        """Readable reason, e.g. ``confirmed-request/unrecognized-service``."""
        code = reject_code(self.kind, self.code)
        name = _asn1_name(code) if isinstance(code, IntEnum) else str(code)
        return f"{code_name(self.kind)}/{name}"


@dataclass(slots=True, frozen=True)
class CancelRequest:
    """cancel-RequestPDU [5]: cancel the outstanding request ``invoke_id``."""

    invoke_id: int


@dataclass(slots=True, frozen=True)
class CancelResponse:
    """cancel-ResponsePDU [6]."""

    invoke_id: int


@dataclass(slots=True, frozen=True)
class CancelError:
    """cancel-ErrorPDU [7]."""

    invoke_id: int
    error: ServiceError


@dataclass(slots=True, frozen=True)
class InitiateError:
    """initiate-ErrorPDU [10]."""

    error: ServiceError


@dataclass(slots=True, frozen=True)
class ConcludeRequest:
    """conclude-RequestPDU [11]."""


@dataclass(slots=True, frozen=True)
class ConcludeResponse:
    """conclude-ResponsePDU [12]."""


@dataclass(slots=True, frozen=True)
class ConcludeError:
    """conclude-ErrorPDU [13]."""

    error: ServiceError


MmsPdu: TypeAlias = (
    ConfirmedRequest
    | ConfirmedResponse
    | ConfirmedError
    | Unconfirmed
    | Reject
    | CancelRequest
    | CancelResponse
    | CancelError
    | InitiateRequest
    | InitiateResponse
    | InitiateError
    | ConcludeRequest
    | ConcludeResponse
    | ConcludeError
)
"""Any MMS PDU."""


# --------------------------------------------------------------------------- encoding


def encode_confirmed_response(invoke_id: int, service: bytes) -> bytes:
    """A Confirmed-Response PDU around an already encoded service response."""
    return tlv(0xA1, _invoke_id(invoke_id) + service)


def _invoke_id(value: int, tag: int = 0x02) -> bytes:
    if not 0 <= value <= _MAX_INVOKE_ID:
        raise MmsEncodeError(f"invokeID {value} is not an Unsigned32")
    return uint_tlv(tag, value, "invokeID")


def encode_pdu(pdu: MmsPdu) -> bytes:
    """BER encoding of one MMS PDU."""
    if isinstance(pdu, ConfirmedRequest):
        return tlv(0xA0, _invoke_id(pdu.invoke_id) + encode_request(pdu.service))
    if isinstance(pdu, ConfirmedResponse):
        return encode_confirmed_response(pdu.invoke_id, encode_response(pdu.service))
    if isinstance(pdu, ConfirmedError):
        body = _invoke_id(pdu.invoke_id, 0x80)
        if pdu.modifier_position is not None:
            body += uint_tlv(0x81, pdu.modifier_position, "modifierPosition")
        return tlv(0xA2, body + tlv(0xA2, encode_service_error(pdu.error)))
    if isinstance(pdu, Unconfirmed):
        service = pdu.service
        if isinstance(service, InformationReport):
            return tlv(0xA3, tlv(0xA0, encode_information_report(service)))
        return tlv(0xA3, tlv(service.tag, service.content))
    if isinstance(pdu, Reject):
        body = b""
        if pdu.original_invoke_id is not None:
            body = _invoke_id(pdu.original_invoke_id, 0x80)
        return tlv(0xA4, body + tlv(0x80 | int(pdu.kind), encode_integer(pdu.code)))
    if isinstance(pdu, CancelRequest):
        return _invoke_id(pdu.invoke_id, 0x85)
    if isinstance(pdu, CancelResponse):
        return _invoke_id(pdu.invoke_id, 0x86)
    if isinstance(pdu, CancelError):
        return tlv(
            0xA7,
            _invoke_id(pdu.invoke_id, 0x80) + tlv(0xA1, encode_service_error(pdu.error)),
        )
    if isinstance(pdu, InitiateRequest):
        return tlv(0xA8, encode_initiate_request(pdu))
    if isinstance(pdu, InitiateResponse):
        return tlv(0xA9, encode_initiate_response(pdu))
    if isinstance(pdu, InitiateError):
        return tlv(0xAA, encode_service_error(pdu.error))
    if isinstance(pdu, ConcludeRequest):
        return b"\x8b\x00"
    if isinstance(pdu, ConcludeResponse):
        return b"\x8c\x00"
    if isinstance(pdu, ConcludeError):
        return tlv(0xAD, encode_service_error(pdu.error))
    raise MmsEncodeError(f"not an MMS PDU: {pdu!r}")


# --------------------------------------------------------------------------- decoding


def _read_invoke_id(data: Buffer, pos: int, end: int, tag: int, field: str) -> tuple[int, int]:
    t, cs, ce, nxt = decode_tlv(data, pos, end)
    if t != tag:
        raise MmsDecodeError(f"expected invokeID (0x{tag:02X}), got 0x{t:02X}", pos, field)
    value = read_uint(data, cs, ce, f"{field} invokeID")
    if value > _MAX_INVOKE_ID:
        raise MmsDecodeError(f"invokeID {value} is not an Unsigned32", cs, field)
    return value, nxt


def _skip_modifiers(data: Buffer, pos: int, end: int) -> int:
    if pos < end and data[pos] == 0x30:
        return decode_tlv(data, pos, end)[3]
    return pos


_S = TypeVar("_S")


def _confirmed_service(
    data: Buffer,
    cs: int,
    ce: int,
    f: str,
    kind: str,
    decode: Callable[[Buffer, int, int], tuple[_S, int]],
    name: Callable[[int], str],
    modifiers: bool,
) -> tuple[int, _S]:
    """InvokeID then one service element; decode errors inside carry the invokeID."""
    invoke_id, p = _read_invoke_id(data, cs, ce, 0x02, f)
    try:
        if modifiers:
            p = _skip_modifiers(data, p, ce)
        if p >= ce:
            raise MmsDecodeError(f"missing service {kind}", p, f)
        service, _ = decode(data, p, ce)
    except MmsDecodeError as exc:
        raise MmsDecodeError(exc.message, exc.offset, exc.field, invoke_id) from None
    except BerError as exc:
        field = f"{f} {name(data[p]) if p < ce else ''}"
        raise MmsDecodeError(exc.message, exc.offset, field, invoke_id) from None
    return invoke_id, service


def _confirmed_request(data: Buffer, cs: int, ce: int) -> ConfirmedRequest:
    invoke_id, service = _confirmed_service(
        data, cs, ce, "Confirmed-Request", "request", decode_request, request_name, True
    )
    return ConfirmedRequest(invoke_id, service)


def _confirmed_response(data: Buffer, cs: int, ce: int) -> ConfirmedResponse:
    invoke_id, service = _confirmed_service(
        data, cs, ce, "Confirmed-Response", "response", decode_response, response_name, False
    )
    return ConfirmedResponse(invoke_id, service)


def _confirmed_error(data: Buffer, cs: int, ce: int) -> ConfirmedError:
    f = "Confirmed-Error"
    invoke_id, p = _read_invoke_id(data, cs, ce, 0x80, f)
    modifier: int | None = None
    tag, vcs, vce, p = decode_tlv(data, p, ce)
    if tag == 0x81:
        modifier = read_uint(data, vcs, vce, "modifierPosition")
        tag, vcs, vce, p = decode_tlv(data, p, ce)
    if tag != 0xA2:
        raise MmsDecodeError("missing serviceError [2]", vcs, f, invoke_id)
    return ConfirmedError(invoke_id, decode_service_error(data, vcs, vce), modifier)


def _unconfirmed(data: Buffer, cs: int, ce: int) -> Unconfirmed:
    tag, scs, sce, _ = decode_tlv(data, cs, ce)
    if tag == 0xA0:
        return Unconfirmed(decode_information_report(data, scs, sce))
    return Unconfirmed(OtherService(tag, bytes(data[scs:sce])))


def _reject(data: Buffer, cs: int, ce: int) -> Reject:
    f = "Reject"
    invoke_id: int | None = None
    p = cs
    if p < ce and data[p] == 0x80:
        invoke_id, p = _read_invoke_id(data, p, ce, 0x80, f)
    tag, rcs, rce, p = decode_tlv(data, p, ce)
    if not 0x81 <= tag <= 0x8B:
        raise MmsDecodeError(f"unknown rejectReason tag 0x{tag:02X}", rcs, f)
    kind = RejectType(tag - 0x80)
    code = reject_code(kind, read_int(data, rcs, rce, "rejectReason"))
    return Reject(kind, code, invoke_id)


def _cancel_error(data: Buffer, cs: int, ce: int) -> CancelError:
    invoke_id, p = _read_invoke_id(data, cs, ce, 0x80, "Cancel-Error")
    tag, vcs, vce, p = decode_tlv(data, p, ce)
    if tag != 0xA1:
        raise MmsDecodeError("missing serviceError [1]", vcs, "Cancel-Error", invoke_id)
    return CancelError(invoke_id, decode_service_error(data, vcs, vce))


def _plain_id(data: Buffer, cs: int, ce: int, field: str) -> int:
    value = read_uint(data, cs, ce, field)
    if value > _MAX_INVOKE_ID:
        raise MmsDecodeError(f"invokeID {value} is not an Unsigned32", cs, field)
    return value


def decode_pdu(data: Buffer, start: int = 0, end: int | None = None) -> MmsPdu:
    """Decode the MMS PDU filling ``data[start:end]``.

    Raises :class:`MmsDecodeError` (a :class:`BerError`) for anything malformed; when the
    invokeID of a confirmed request was readable it is in the error's ``invoke_id``.
    """
    stop = len(data) if end is None else end
    try:
        tag, cs, ce, nxt = decode_tlv(data, start, stop)
        if nxt != stop:
            raise MmsDecodeError(f"{stop - nxt} octets after the PDU", nxt, "MMSpdu")
        if tag == 0xA0:
            return _confirmed_request(data, cs, ce)
        if tag == 0xA1:
            return _confirmed_response(data, cs, ce)
        if tag == 0xA3:
            return _unconfirmed(data, cs, ce)
        if tag == 0xA2:
            return _confirmed_error(data, cs, ce)
        if tag == 0xA4:
            return _reject(data, cs, ce)
        if tag == 0x85:
            return CancelRequest(_plain_id(data, cs, ce, "Cancel-Request"))
        if tag == 0x86:
            return CancelResponse(_plain_id(data, cs, ce, "Cancel-Response"))
        if tag == 0xA7:
            return _cancel_error(data, cs, ce)
        if tag == 0xA8:
            return decode_initiate_request(data, cs, ce)
        if tag == 0xA9:
            return decode_initiate_response(data, cs, ce)
        if tag == 0xAA:
            return InitiateError(decode_service_error(data, cs, ce))
        if tag == 0x8B:
            return ConcludeRequest()
        if tag == 0x8C:
            return ConcludeResponse()
        if tag == 0xAD:
            return ConcludeError(decode_service_error(data, cs, ce))
        raise MmsDecodeError(f"unknown MMS PDU tag 0x{tag:02X}", start, "MMSpdu")
    except MmsDecodeError:
        raise
    except BerError as exc:
        raise MmsDecodeError(exc.message, exc.offset, "MMSpdu") from None
