"""Every refusal in words: DataAccessErrors, MMS ServiceErrors and each ACSE diagnostic of
both sources, with the AP-titles and options that the explanation names."""

from __future__ import annotations

from adapters.tase2.iso.acse import (
    DIAGNOSTIC_SOURCE_PROVIDER,
    DIAGNOSTIC_SOURCE_USER,
    Aare,
    AssociateResult,
    ProviderDiagnostic,
    UserDiagnostic,
)
from adapters.tase2.mms.data import DataAccessError
from adapters.tase2.mms.service_error import (
    CODES_BY_CLASS,
    AccessCode,
    ErrorClass,
    ServiceError,
)
from adapters.tase2.tools.reasons import (
    AssociationIdentity,
    access_reason,
    association_reason,
    service_reason,
)

WHO = AssociationIdentity("1.1.1.999", 12, "1.1.1.999.1", 33)


def refused(diagnostic: int, source: int = DIAGNOSTIC_SOURCE_USER) -> Aare:
    return Aare(AssociateResult.REJECTED_PERMANENT, diagnostic, source)


def test_every_data_access_error_is_spelled_and_explained() -> None:
    texts = {e: access_reason(e) for e in DataAccessError}
    for error, text in texts.items():
        name = error.name.lower().replace("_", "-")
        assert text.startswith(f"{name} (") and "no explanation" not in text, text
    assert texts[DataAccessError.OBJECT_NON_EXISTENT] == (
        "object-non-existent (the server has no such object)"
    )


def test_every_service_error_class_is_spelled_and_explained() -> None:
    for error_class in ErrorClass:
        codes = CODES_BY_CLASS[error_class]
        code = next(iter(codes)) if codes is not None else 7
        text = service_reason(ServiceError(error_class, int(code)))
        assert "_" not in text.split(" (")[0] and text.endswith(")"), text
    text = service_reason(
        ServiceError(ErrorClass.ACCESS, AccessCode.OBJECT_NON_EXISTENT, None, "no ICC1/X")
    )
    assert text == "access/object-non-existent (the server has no such object: no ICC1/X)"


def test_every_acse_diagnostic_is_explained() -> None:
    user = {d: association_reason(refused(d), WHO) for d in UserDiagnostic}
    provider = {
        d: association_reason(refused(d, DIAGNOSTIC_SOURCE_PROVIDER), WHO)
        for d in ProviderDiagnostic
    }
    texts = [*user.values(), *provider.values()]
    assert len(set(texts)) == len(texts), "two diagnostics explained alike"
    for text in texts:
        assert "not a standard one" not in text and ": " in text, text
    assert user[UserDiagnostic.CALLING_AP_TITLE_NOT_RECOGNIZED] == (
        "ACSE diagnostic 3, calling AP-title not recognized: the server has no bilateral "
        "table for our AP-title 1.1.1.999 with AE-qualifier 12 (use --ap-title and "
        "--ae-qualifier)"
    )
    title_only = AssociationIdentity("1.1.1.999")
    assert association_reason(refused(3), title_only) == (
        "ACSE diagnostic 3, calling AP-title not recognized: the server has no bilateral "
        "table for our AP-title 1.1.1.999 (use --ap-title)"
    )
    assert "AE-qualifier 12" in user[UserDiagnostic.CALLING_AE_QUALIFIER_NOT_RECOGNIZED]
    assert "--ae-qualifier" in user[UserDiagnostic.CALLING_AE_QUALIFIER_NOT_RECOGNIZED]
    assert "1.1.1.999.1" in user[UserDiagnostic.CALLED_AP_TITLE_NOT_RECOGNIZED]
    assert "--remote-ae-qualifier" in user[UserDiagnostic.CALLED_AE_QUALIFIER_NOT_RECOGNIZED]
    assert provider[ProviderDiagnostic.NO_COMMON_ACSE_VERSION].startswith(
        "ACSE service-provider diagnostic 2, no common ACSE version: "
    )


def test_unknown_and_transient_refusals() -> None:
    assert association_reason(refused(99), WHO) == "ACSE diagnostic 99 (not a standard one)"
    transient = Aare(AssociateResult.REJECTED_TRANSIENT, UserDiagnostic.NO_REASON_GIVEN)
    assert association_reason(transient, WHO).endswith("transient: try again later")
    nobody = association_reason(
        refused(UserDiagnostic.CALLING_AP_TITLE_NOT_RECOGNIZED), AssociationIdentity()
    )
    assert nobody.endswith(
        "we sent no AP-title and the server's bilateral tables need one (use --ap-title)"
    )
