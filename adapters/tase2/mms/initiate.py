"""MMS Initiate request/response bodies, the CBB bit strings and the negotiation rule."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from adapters.tase2.asn1.ber import decode_tlv, encode_integer, tlv
from adapters.tase2.mms.data import BitString, bits_content, read_bits
from adapters.tase2.mms.errors import MmsDecodeError
from adapters.tase2.mms.fields import Buffer, read_int

__all__ = [
    "TASE2_PARAMETER_CBB",
    "TASE2_SERVICES",
    "InitiateRequest",
    "InitiateResponse",
    "ParameterCbb",
    "ServiceSupport",
    "decode_initiate_request",
    "decode_initiate_response",
    "encode_initiate_request",
    "encode_initiate_response",
    "intersect_bits",
    "negotiate",
    "parameter_cbb",
    "services_supported",
]


class ParameterCbb(IntEnum):
    """ParameterSupportOptions bit numbers (11 bits on the wire)."""

    STR1 = 0
    STR2 = 1
    VNAM = 2
    VALT = 3
    VADR = 4
    VSCA = 5
    TPY = 6
    VLIS = 7
    REAL = 8
    CEI = 10


class ServiceSupport(IntEnum):
    """ServiceSupportOptions bit numbers (85 bits on the wire)."""

    STATUS = 0
    GET_NAME_LIST = 1
    IDENTIFY = 2
    RENAME = 3
    READ = 4
    WRITE = 5
    GET_VARIABLE_ACCESS_ATTRIBUTES = 6
    DEFINE_NAMED_VARIABLE = 7
    DEFINE_SCATTERED_ACCESS = 8
    GET_SCATTERED_ACCESS_ATTRIBUTES = 9
    DELETE_VARIABLE_ACCESS = 10
    DEFINE_NAMED_VARIABLE_LIST = 11
    GET_NAMED_VARIABLE_LIST_ATTRIBUTES = 12
    DELETE_NAMED_VARIABLE_LIST = 13
    DEFINE_NAMED_TYPE = 14
    GET_NAMED_TYPE_ATTRIBUTES = 15
    DELETE_NAMED_TYPE = 16
    INPUT = 17
    OUTPUT = 18
    TAKE_CONTROL = 19
    RELINQUISH_CONTROL = 20
    DEFINE_SEMAPHORE = 21
    DELETE_SEMAPHORE = 22
    REPORT_SEMAPHORE_STATUS = 23
    REPORT_POOL_SEMAPHORE_STATUS = 24
    REPORT_SEMAPHORE_ENTRY_STATUS = 25
    INITIATE_DOWNLOAD_SEQUENCE = 26
    DOWNLOAD_SEGMENT = 27
    TERMINATE_DOWNLOAD_SEQUENCE = 28
    INITIATE_UPLOAD_SEQUENCE = 29
    UPLOAD_SEGMENT = 30
    TERMINATE_UPLOAD_SEQUENCE = 31
    REQUEST_DOMAIN_DOWNLOAD = 32
    REQUEST_DOMAIN_UPLOAD = 33
    LOAD_DOMAIN_CONTENT = 34
    STORE_DOMAIN_CONTENT = 35
    DELETE_DOMAIN = 36
    GET_DOMAIN_ATTRIBUTES = 37
    CREATE_PROGRAM_INVOCATION = 38
    DELETE_PROGRAM_INVOCATION = 39
    START = 40
    STOP = 41
    RESUME = 42
    RESET = 43
    KILL = 44
    GET_PROGRAM_INVOCATION_ATTRIBUTES = 45
    OBTAIN_FILE = 46
    DEFINE_EVENT_CONDITION = 47
    DELETE_EVENT_CONDITION = 48
    GET_EVENT_CONDITION_ATTRIBUTES = 49
    REPORT_EVENT_CONDITION_STATUS = 50
    ALTER_EVENT_CONDITION_MONITORING = 51
    TRIGGER_EVENT = 52
    DEFINE_EVENT_ACTION = 53
    DELETE_EVENT_ACTION = 54
    GET_EVENT_ACTION_ATTRIBUTES = 55
    REPORT_EVENT_ACTION_STATUS = 56
    DEFINE_EVENT_ENROLLMENT = 57
    DELETE_EVENT_ENROLLMENT = 58
    ALTER_EVENT_ENROLLMENT = 59
    REPORT_EVENT_ENROLLMENT_STATUS = 60
    GET_EVENT_ENROLLMENT_ATTRIBUTES = 61
    ACKNOWLEDGE_EVENT_NOTIFICATION = 62
    GET_ALARM_SUMMARY = 63
    GET_ALARM_ENROLLMENT_SUMMARY = 64
    READ_JOURNAL = 65
    WRITE_JOURNAL = 66
    INITIALIZE_JOURNAL = 67
    REPORT_JOURNAL_STATUS = 68
    CREATE_JOURNAL = 69
    DELETE_JOURNAL = 70
    GET_CAPABILITY_LIST = 71
    FILE_OPEN = 72
    FILE_READ = 73
    FILE_CLOSE = 74
    FILE_RENAME = 75
    FILE_DELETE = 76
    FILE_DIRECTORY = 77
    UNSOLICITED_STATUS = 78
    INFORMATION_REPORT = 79
    EVENT_NOTIFICATION = 80
    ATTACH_TO_EVENT_CONDITION = 81
    ATTACH_TO_SEMAPHORE = 82
    CONCLUDE = 83
    CANCEL = 84


def parameter_cbb(*options: ParameterCbb) -> BitString:
    """An 11-bit ParameterSupportOptions with ``options`` set."""
    return BitString.from_bits(11, options)


def services_supported(*services: ServiceSupport) -> BitString:
    """An 85-bit ServiceSupportOptions with ``services`` set."""
    return BitString.from_bits(85, services)


TASE2_PARAMETER_CBB = parameter_cbb(
    ParameterCbb.STR1, ParameterCbb.STR2, ParameterCbb.VNAM, ParameterCbb.VALT, ParameterCbb.VLIS
)
"""``F1 00``: arrays, structures, named variables, alternate access, named variable lists."""

TASE2_SERVICES = services_supported(
    ServiceSupport.GET_NAME_LIST,
    ServiceSupport.IDENTIFY,
    ServiceSupport.READ,
    ServiceSupport.WRITE,
    ServiceSupport.GET_VARIABLE_ACCESS_ATTRIBUTES,
    ServiceSupport.DEFINE_NAMED_VARIABLE_LIST,
    ServiceSupport.GET_NAMED_VARIABLE_LIST_ATTRIBUTES,
    ServiceSupport.DELETE_NAMED_VARIABLE_LIST,
    ServiceSupport.INFORMATION_REPORT,
    ServiceSupport.CONCLUDE,
    ServiceSupport.CANCEL,
)
"""The minimal TASE.2 service set (``6E 1C 00 00 00 00 00 00 00 01 18``)."""


@dataclass(slots=True, frozen=True)
class InitiateRequest:
    """Initiate-RequestPDU: what the calling side proposes."""

    max_serv_outstanding_calling: int = 5
    max_serv_outstanding_called: int = 5
    local_detail: int | None = 65000
    nesting_level: int | None = 10
    version: int = 1
    parameter_cbb: BitString = TASE2_PARAMETER_CBB
    services_supported: BitString = TASE2_SERVICES


@dataclass(slots=True, frozen=True)
class InitiateResponse:
    """Initiate-ResponsePDU: the negotiated values and the called side's services."""

    max_serv_outstanding_calling: int = 5
    max_serv_outstanding_called: int = 5
    local_detail: int | None = 65000
    nesting_level: int | None = 10
    version: int = 1
    parameter_cbb: BitString = TASE2_PARAMETER_CBB
    services_supported: BitString = TASE2_SERVICES


def _encode(msg: InitiateRequest | InitiateResponse) -> bytes:
    body = b""
    if msg.local_detail is not None:
        body += tlv(0x80, encode_integer(msg.local_detail))
    body += tlv(0x81, encode_integer(msg.max_serv_outstanding_calling))
    body += tlv(0x82, encode_integer(msg.max_serv_outstanding_called))
    if msg.nesting_level is not None:
        body += tlv(0x83, encode_integer(msg.nesting_level))
    detail = (
        tlv(0x80, encode_integer(msg.version))
        + tlv(0x81, bits_content(msg.parameter_cbb.nbits, msg.parameter_cbb.data))
        + tlv(0x82, bits_content(msg.services_supported.nbits, msg.services_supported.data))
    )
    return body + tlv(0xA4, detail)


def encode_initiate_request(msg: InitiateRequest) -> bytes:
    """Content octets of an Initiate-RequestPDU (the caller adds tag ``A8``)."""
    return _encode(msg)


def encode_initiate_response(msg: InitiateResponse) -> bytes:
    """Content octets of an Initiate-ResponsePDU (the caller adds tag ``A9``)."""
    return _encode(msg)


def decode_initiate_request(data: Buffer, start: int, end: int) -> InitiateRequest:
    """Decode Initiate-RequestPDU content; unknown fields are skipped."""
    return _decode(data, start, end, "Initiate-Request")


def _decode(data: Buffer, start: int, end: int, field: str) -> InitiateRequest:
    ints: dict[int, int] = {}
    version: int | None = None
    cbb: BitString | None = None
    services: BitString | None = None
    p = start
    while p < end:
        tag, cs, ce, p = decode_tlv(data, p, end)
        if 0x80 <= tag <= 0x83:
            ints[tag] = read_int(data, cs, ce, f"{field} [{tag - 0x80}]")
        elif tag == 0xA4:
            q = cs
            while q < ce:
                dtag, dcs, dce, q = decode_tlv(data, q, ce)
                if dtag == 0x80:
                    version = read_int(data, dcs, dce, f"{field} version")
                elif dtag == 0x81:
                    cbb = BitString(
                        *read_bits(data, dcs, dce, "bit string", f"{field} parameterCBB")
                    )
                elif dtag == 0x82:
                    services = BitString(
                        *read_bits(data, dcs, dce, "bit string", f"{field} servicesSupported")
                    )
    if 0x81 not in ints or 0x82 not in ints:
        raise MmsDecodeError("missing maxServOutstanding", start, field)
    if version is None or cbb is None or services is None:
        raise MmsDecodeError("missing or incomplete init detail [4]", start, field)
    return InitiateRequest(
        ints[0x81], ints[0x82], ints.get(0x80), ints.get(0x83), version, cbb, services
    )


def decode_initiate_response(data: Buffer, start: int, end: int) -> InitiateResponse:
    """Decode Initiate-ResponsePDU content; unknown fields are skipped."""
    r = _decode(data, start, end, "Initiate-Response")
    return InitiateResponse(
        r.max_serv_outstanding_calling,
        r.max_serv_outstanding_called,
        r.local_detail,
        r.nesting_level,
        r.version,
        r.parameter_cbb,
        r.services_supported,
    )


def intersect_bits(a: BitString, b: BitString) -> BitString:
    """Bitwise AND of two bit strings, as long as ``a``."""
    data = bytes(x & y for x, y in zip(a.data, b.data.ljust(len(a.data), b"\0"), strict=False))
    return BitString(a.nbits, data)


def negotiate(request: InitiateRequest, own: InitiateResponse) -> InitiateResponse:
    """The responder's answer: minimum of sizes/counts/nesting, CBBs ANDed, own services.

    ``own`` holds the responder's limits (its local_detail, outstanding counts, nesting level,
    version, parameter CBB and services supported).
    """

    def lower(a: int | None, b: int | None) -> int | None:
        if a is None:
            return b
        return a if b is None else min(a, b)

    return InitiateResponse(
        min(request.max_serv_outstanding_calling, own.max_serv_outstanding_calling),
        min(request.max_serv_outstanding_called, own.max_serv_outstanding_called),
        lower(request.local_detail, own.local_detail),
        lower(request.nesting_level, own.nesting_level),
        min(request.version, own.version),
        intersect_bits(own.parameter_cbb, request.parameter_cbb),
        own.services_supported,
    )
