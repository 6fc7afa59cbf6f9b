"""MMS ServiceError (confirmed-, initiate-, conclude- and cancel-error bodies) and its codes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from adapters.tase2.asn1.ber import decode_tlv, encode_integer, tlv
from adapters.tase2.mms.errors import MmsDecodeError, MmsError
from adapters.tase2.mms.fields import Buffer, decode_visible, encode_visible, read_int

__all__ = [
    "CODES_BY_CLASS",
    "AccessCode",
    "ApplicationReferenceCode",
    "CancelCode",
    "ConcludeCode",
    "DefinitionCode",
    "ErrorClass",
    "FileCode",
    "InitiateCode",
    "MmsServiceError",
    "ResourceCode",
    "ServiceCode",
    "ServiceError",
    "ServicePreemptCode",
    "TimeResolutionCode",
    "VmdStateCode",
    "decode_service_error",
    "encode_service_error",
]


class ErrorClass(IntEnum):
    """ServiceError errorClass; the value is the context tag number."""

    VMD_STATE = 0
    APPLICATION_REFERENCE = 1
    DEFINITION = 2
    RESOURCE = 3
    SERVICE = 4
    SERVICE_PREEMPT = 5
    TIME_RESOLUTION = 6
    ACCESS = 7
    INITIATE = 8
    CONCLUDE = 9
    CANCEL = 10
    FILE = 11
    OTHERS = 12


class VmdStateCode(IntEnum):
    """Codes of error class vmd-state."""

    OTHER = 0
    VMD_STATE_CONFLICT = 1
    VMD_OPERATIONAL_PROBLEM = 2
    DOMAIN_TRANSFER_PROBLEM = 3
    STATE_MACHINE_ID_INVALID = 4


class ApplicationReferenceCode(IntEnum):
    """Codes of error class application-reference."""

    OTHER = 0
    APPLICATION_UNREACHABLE = 1
    CONNECTION_LOST = 2
    APPLICATION_REFERENCE_INVALID = 3
    CONTEXT_UNSUPPORTED = 4


class DefinitionCode(IntEnum):
    """Codes of error class definition."""

    OTHER = 0
    OBJECT_UNDEFINED = 1
    INVALID_ADDRESS = 2
    TYPE_UNSUPPORTED = 3
    TYPE_INCONSISTENT = 4
    OBJECT_EXISTS = 5
    OBJECT_ATTRIBUTE_INCONSISTENT = 6


class ResourceCode(IntEnum):
    """Codes of error class resource."""

    OTHER = 0
    MEMORY_UNAVAILABLE = 1
    PROCESSOR_RESOURCE_UNAVAILABLE = 2
    MASS_STORAGE_UNAVAILABLE = 3
    CAPABILITY_UNAVAILABLE = 4
    CAPABILITY_UNKNOWN = 5


class ServiceCode(IntEnum):
    """Codes of error class service."""

    OTHER = 0
    PRIMITIVES_OUT_OF_SEQUENCE = 1
    OBJECT_STATE_CONFLICT = 2
    PDU_SIZE = 3
    CONTINUATION_INVALID = 4
    OBJECT_CONSTRAINT_CONFLICT = 5


class ServicePreemptCode(IntEnum):
    """Codes of error class service-preempt."""

    OTHER = 0
    TIMEOUT = 1
    DEADLOCK = 2
    CANCEL = 3


class TimeResolutionCode(IntEnum):
    """Codes of error class time-resolution."""

    OTHER = 0
    UNSUPPORTABLE_TIME_RESOLUTION = 1


class AccessCode(IntEnum):
    """Codes of error class access."""

    OTHER = 0
    OBJECT_ACCESS_UNSUPPORTED = 1
    OBJECT_NON_EXISTENT = 2
    OBJECT_ACCESS_DENIED = 3
    OBJECT_INVALIDATED = 4


class InitiateCode(IntEnum):
    """Codes of error class initiate."""

    OTHER = 0
    VERSION_INCOMPATIBLE = 1
    MAX_SEGMENT_INSUFFICIENT = 2
    MAX_SERVICES_OUTSTANDING_CALLING_INSUFFICIENT = 3
    MAX_SERVICES_OUTSTANDING_CALLED_INSUFFICIENT = 4
    SERVICE_CBB_INSUFFICIENT = 5
    PARAMETER_CBB_INSUFFICIENT = 6
    NESTING_LEVEL_INSUFFICIENT = 7


class ConcludeCode(IntEnum):
    """Codes of error class conclude."""

    OTHER = 0
    FURTHER_COMMUNICATION_REQUIRED = 1


class CancelCode(IntEnum):
    """Codes of error class cancel."""

    OTHER = 0
    INVOKE_ID_UNKNOWN = 1
    CANCEL_NOT_POSSIBLE = 2


class FileCode(IntEnum):
    """Codes of error class file."""

    OTHER = 0
    FILENAME_AMBIGUOUS = 1
    FILE_BUSY = 2
    FILENAME_SYNTAX_ERROR = 3
    CONTENT_TYPE_INVALID = 4
    POSITION_INVALID = 5
    FILE_ACCESS_DENIED = 6
    FILE_NON_EXISTENT = 7
    DUPLICATE_FILENAME = 8
    INSUFFICIENT_SPACE_IN_FILESTORE = 9


CODES_BY_CLASS: dict[ErrorClass, type[IntEnum] | None] = {
    ErrorClass.VMD_STATE: VmdStateCode,
    ErrorClass.APPLICATION_REFERENCE: ApplicationReferenceCode,
    ErrorClass.DEFINITION: DefinitionCode,
    ErrorClass.RESOURCE: ResourceCode,
    ErrorClass.SERVICE: ServiceCode,
    ErrorClass.SERVICE_PREEMPT: ServicePreemptCode,
    ErrorClass.TIME_RESOLUTION: TimeResolutionCode,
    ErrorClass.ACCESS: AccessCode,
    ErrorClass.INITIATE: InitiateCode,
    ErrorClass.CONCLUDE: ConcludeCode,
    ErrorClass.CANCEL: CancelCode,
    ErrorClass.FILE: FileCode,
    ErrorClass.OTHERS: None,
}
"""The code enumeration of each error class (``others`` is a bare INTEGER)."""


@dataclass(slots=True, frozen=True)
class ServiceError:
    """Why a confirmed service (or initiate/conclude/cancel) failed.

    ``service_specific`` keeps serviceSpecificInformation as (inner tag, raw content); for
    DeleteNamedVariableList (tag ``0x86``) the content is the Unsigned32 numberDeleted.
    """

    error_class: ErrorClass
    code: int
    additional_code: int | None = None
    additional_description: str | None = None
    service_specific: tuple[int, bytes] | None = None

    @property
    def code_name(self) -> str:
        """Symbolic name of ``code`` in its class, or the number."""
        enum = CODES_BY_CLASS.get(self.error_class)
        if enum is not None:
            try:
                return enum(self.code).name
            except ValueError:
                pass
        return str(self.code)

    @property
    def spelled(self) -> str:
        """``class/code`` as the ASN.1 value notation spells them: ``access/object-non-existent``
        (for log lines and operators)."""
        code = self.code_name.lower().replace("_", "-")
        return f"{self.error_class.name.lower().replace('_', '-')}/{code}"

    def __str__(self) -> str:
        return f"{self.error_class.name}/{self.code_name}"


def encode_service_error(err: ServiceError) -> bytes:
    """Content octets of a ServiceError (the caller supplies the outer tag)."""
    body = tlv(0xA0, tlv(0x80 | int(err.error_class), encode_integer(err.code)))
    if err.additional_code is not None:
        body += tlv(0x81, encode_integer(err.additional_code))
    if err.additional_description is not None:
        body += tlv(0x82, encode_visible(err.additional_description, "additionalDescription"))
    if err.service_specific is not None:
        inner_tag, raw = err.service_specific
        body += tlv(0xA3, tlv(inner_tag, raw))
    return body


def decode_service_error(data: Buffer, start: int, end: int) -> ServiceError:
    """Decode ServiceError content filling ``[start, end)``; unknown fields are skipped."""
    f = "ServiceError"
    tag, cs, ce, p = decode_tlv(data, start, end)
    if tag != 0xA0:
        raise MmsDecodeError(f"expected errorClass [0], got 0x{tag:02X}", start, f)
    ctag, ccs, cce, q = decode_tlv(data, cs, ce)
    if q != ce or not 0x80 <= ctag <= 0x8C:
        raise MmsDecodeError(f"unknown errorClass tag 0x{ctag:02X}", cs, f)
    err_class = ErrorClass(ctag - 0x80)
    code = read_int(data, ccs, cce, "ServiceError code")
    additional_code: int | None = None
    description: str | None = None
    specific: tuple[int, bytes] | None = None
    while p < end:
        tag, cs, ce, p = decode_tlv(data, p, end)
        if tag == 0x81:
            additional_code = read_int(data, cs, ce, "additionalCode")
        elif tag == 0x82:
            description = decode_visible(data, cs, ce)
        elif tag == 0xA3:
            stag, scs, sce, _ = decode_tlv(data, cs, ce)
            specific = (stag, bytes(data[scs:sce]))
    return ServiceError(err_class, code, additional_code, description, specific)


class MmsServiceError(MmsError):
    """A confirmed service failed with an MMS ServiceError.

    Server handlers raise it to answer with a confirmed-ErrorPDU; the client raises it when
    the peer answered with one.
    """

    def __init__(self, error: ServiceError, message: str = "") -> None:
        super().__init__(message or str(error))
        self.error = error

    @classmethod
    def of(cls, error_class: ErrorClass, code: int, message: str = "") -> MmsServiceError:
        """Shorthand: ``MmsServiceError.of(ErrorClass.ACCESS, AccessCode.OBJECT_NON_EXISTENT)``."""
        return cls(ServiceError(error_class, int(code)), message)
