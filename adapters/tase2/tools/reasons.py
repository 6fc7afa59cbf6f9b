"""Why a server said no, in words: for ``iccp-gateway probe`` and anyone who shows an
operator a DataAccessError, an MMS ServiceError or a refused association.

Each function gives the code as ASN.1 spells it (``object-non-existent``, via
:func:`~adapters.tase2.asn1.ber.code_name`) followed by a short explanation in
parentheses; an association refusal explains its ACSE diagnostic with the AP-titles and
AE-qualifiers we used and the probe option that changes each.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from adapters.tase2.asn1.ber import code_name
from adapters.tase2.iso.acse import (
    DIAGNOSTIC_SOURCE_PROVIDER,
    Aare,
    AssociateResult,
    ProviderDiagnostic,
    UserDiagnostic,
)
from adapters.tase2.mms.data import DataAccessError
from adapters.tase2.mms.service_error import (
    AccessCode,
    DefinitionCode,
    ErrorClass,
    ResourceCode,
    ServiceCode,
    ServiceError,
)

__all__ = [
    "AssociationIdentity",
    "access_reason",
    "association_reason",
    "explain_access",
    "explain_service",
    "service_reason",
]

_ACCESS: Final[dict[DataAccessError, str]] = {
    DataAccessError.OBJECT_INVALIDATED: "the object's definition was deleted or changed",
    DataAccessError.HARDWARE_FAULT: "the server's device or source failed",
    DataAccessError.TEMPORARILY_UNAVAILABLE: "busy, selected by another peer, or tagged",
    DataAccessError.OBJECT_ACCESS_DENIED: "the bilateral table does not allow this access",
    DataAccessError.OBJECT_UNDEFINED: "the server does not define this object",
    DataAccessError.INVALID_ADDRESS: "the address does not designate an object",
    DataAccessError.TYPE_UNSUPPORTED: "the server does not support this type",
    DataAccessError.TYPE_INCONSISTENT: "the value is not of the object's type",
    DataAccessError.OBJECT_ATTRIBUTE_INCONSISTENT: "the value's components do not go together",
    DataAccessError.OBJECT_ACCESS_UNSUPPORTED: "the object cannot be accessed this way",
    DataAccessError.OBJECT_NON_EXISTENT: "the server has no such object",
    DataAccessError.OBJECT_VALUE_INVALID: "the value is out of the object's range",
}

_CLASSES: Final[dict[ErrorClass, str]] = {
    ErrorClass.VMD_STATE: "the server is not in a state to do it",
    ErrorClass.APPLICATION_REFERENCE: "the server cannot reach the application named",
    ErrorClass.DEFINITION: "the object's definition does not allow it",
    ErrorClass.RESOURCE: "the server is out of a resource or a configured limit",
    ErrorClass.SERVICE: "the request does not fit the server's service rules",
    ErrorClass.SERVICE_PREEMPT: "the server stopped serving the request",
    ErrorClass.TIME_RESOLUTION: "the server cannot keep the time resolution asked for",
    ErrorClass.ACCESS: "the server does not let us access the object",
    ErrorClass.INITIATE: "the server refused the MMS parameters we proposed",
    ErrorClass.CONCLUDE: "the server will not end the association yet",
    ErrorClass.CANCEL: "the server could not cancel the request",
    ErrorClass.FILE: "the file service failed",
    ErrorClass.OTHERS: "the server gave a reason of its own",
}

_CODES: Final[dict[tuple[ErrorClass, int], str]] = {
    (ErrorClass.ACCESS, AccessCode.OBJECT_NON_EXISTENT): "the server has no such object",
    (ErrorClass.ACCESS, AccessCode.OBJECT_ACCESS_DENIED): (
        "the bilateral table does not allow this access"
    ),
    (ErrorClass.ACCESS, AccessCode.OBJECT_ACCESS_UNSUPPORTED): (
        "the object exists but cannot be used this way"
    ),
    (ErrorClass.ACCESS, AccessCode.OBJECT_INVALIDATED): "the object's definition was deleted",
    (ErrorClass.DEFINITION, DefinitionCode.OBJECT_EXISTS): "an object of that name exists already",
    (ErrorClass.DEFINITION, DefinitionCode.OBJECT_UNDEFINED): "a named object is not defined",
    (ErrorClass.DEFINITION, DefinitionCode.TYPE_INCONSISTENT): "the types do not match",
    (ErrorClass.DEFINITION, DefinitionCode.TYPE_UNSUPPORTED): "the server lacks this type",
    (ErrorClass.RESOURCE, ResourceCode.CAPABILITY_UNAVAILABLE): (
        "a configured limit of the server is reached (data sets, members, transfer sets)"
    ),
    (ErrorClass.RESOURCE, ResourceCode.MEMORY_UNAVAILABLE): "the server is out of memory",
    (ErrorClass.SERVICE, ServiceCode.PDU_SIZE): "the request or its answer is too large",
    (ErrorClass.SERVICE, ServiceCode.OBJECT_STATE_CONFLICT): "the object is in use",
}


def explain_access(error: DataAccessError) -> str:
    """What a DataAccessError means, in words (``the server has no such object``)."""
    return _ACCESS.get(error, "no explanation known")


def access_reason(error: DataAccessError) -> str:
    """``object-non-existent (the server has no such object)``."""
    return f"{code_name(error)} ({explain_access(error)})"


def explain_service(error: ServiceError) -> str:
    """What an MMS ServiceError means, in words, with the server's own additional
    description when it sent one."""
    why = _CODES.get((error.error_class, error.code)) or _CLASSES[error.error_class]
    if error.additional_description:
        why += f": {error.additional_description}"
    return why


def service_reason(error: ServiceError) -> str:
    """``access/object-non-existent (the server has no such object)``."""
    return f"{error.spelled} ({explain_service(error)})"


@dataclass(frozen=True, slots=True)
class AssociationIdentity:
    """Who we said we were, and whom we called, in an association request."""

    ap_title: str | None = None
    ae_qualifier: int | None = None
    remote_ap_title: str | None = None
    remote_ae_qualifier: int | None = None


def _user_text(diagnostic: UserDiagnostic, who: AssociationIdentity) -> str:
    ours = f"our AP-title {who.ap_title}" if who.ap_title else "us (no AP-title sent)"
    ours_ae = f"AE-qualifier {who.ae_qualifier}" if who.ae_qualifier is not None else "none"
    theirs = who.remote_ap_title or "(none sent)"
    theirs_ae = who.remote_ae_qualifier if who.remote_ae_qualifier is not None else "(none sent)"
    d = UserDiagnostic
    texts: dict[UserDiagnostic, str] = {
        d.NULL: "the server refused without a diagnostic",
        d.NO_REASON_GIVEN: "the server gave no reason (check --ap-title, --ae-qualifier and "
        "the server's bilateral tables)",
        d.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED: "the server does not take the MMS "
        "application context: it may not be an MMS/ICCP server",
        d.CALLING_AP_TITLE_NOT_RECOGNIZED: (
            f"the server has no bilateral table for {ours} (use --ap-title)"
            if who.ap_title and who.ae_qualifier is None
            else f"the server has no bilateral table for {ours} with {ours_ae} "
            "(use --ap-title and --ae-qualifier)"
            if who.ap_title
            else "we sent no AP-title and the server's bilateral tables need one (use --ap-title)"
        ),
        d.CALLING_AP_INVOCATION_ID_NOT_RECOGNIZED: "the server does not accept our AP "
        "invocation identifier",
        d.CALLING_AE_QUALIFIER_NOT_RECOGNIZED: f"the server's table for {ours} has another "
        f"AE-qualifier than ours ({ours_ae}; use --ae-qualifier)",
        d.CALLING_AE_INVOCATION_ID_NOT_RECOGNIZED: "the server does not accept our AE "
        "invocation identifier",
        d.CALLED_AP_TITLE_NOT_RECOGNIZED: f"the server is not AP-title {theirs} "
        "(use --remote-ap-title with the server's own)",
        d.CALLED_AP_INVOCATION_ID_NOT_RECOGNIZED: "the server does not recognize the AP "
        "invocation identifier we called",
        d.CALLED_AE_QUALIFIER_NOT_RECOGNIZED: f"the server's AE-qualifier is not {theirs_ae} "
        "(use --remote-ae-qualifier)",
        d.CALLED_AE_INVOCATION_ID_NOT_RECOGNIZED: "the server does not recognize the AE "
        "invocation identifier we called",
        d.AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNIZED: "the server does not know the "
        "authentication mechanism we offered",
        d.AUTHENTICATION_MECHANISM_NAME_REQUIRED: "the server wants an authentication "
        "mechanism named (a password or a certificate)",
        d.AUTHENTICATION_FAILURE: "the server did not accept our credentials",
        d.AUTHENTICATION_REQUIRED: "the server requires authentication and we sent none",
    }
    return texts[diagnostic]


_PROVIDER: Final[dict[ProviderDiagnostic, str]] = {
    ProviderDiagnostic.NULL: "the server's ACSE refused without a diagnostic",
    ProviderDiagnostic.NO_REASON_GIVEN: "the server's ACSE refused without a reason",
    ProviderDiagnostic.NO_COMMON_ACSE_VERSION: "the server supports no ACSE version we offer",
}


def _spelled(code: IntEnum) -> str:
    words = code.name.lower().replace("_", " ")
    for plain, proper in (("ap title", "AP-title"), ("ae qualifier", "AE-qualifier")):
        words = words.replace(plain, proper)
    return words.replace("acse", "ACSE").replace(" id ", " identifier ")


def association_reason(aare: Aare, who: AssociationIdentity) -> str:
    """Why the server refused: ``ACSE diagnostic 3, calling AP-title not recognized: the
    server has no bilateral table for our AP-title 1.1.1.999 (use --ap-title)``."""
    source = "provider" if aare.diagnostic_source == DIAGNOSTIC_SOURCE_PROVIDER else "user"
    text: str
    if source == "provider":
        try:
            pcode = ProviderDiagnostic(aare.diagnostic)
        except ValueError:
            return f"ACSE service-provider diagnostic {aare.diagnostic} (not a standard one)"
        text = f"ACSE service-provider diagnostic {aare.diagnostic}, {_spelled(pcode)}: "
        text += _PROVIDER[pcode]
    else:
        try:
            ucode = UserDiagnostic(aare.diagnostic)
        except ValueError:
            return f"ACSE diagnostic {aare.diagnostic} (not a standard one)"
        text = f"ACSE diagnostic {aare.diagnostic}, {_spelled(ucode)}: {_user_text(ucode, who)}"
    if aare.result == AssociateResult.REJECTED_TRANSIENT:
        text += "; the server says this is transient: try again later"
    return text
