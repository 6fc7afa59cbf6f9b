"""Which calling server a passive ``tase2-client`` accepts (sans-IO).

A passive client (``connect: {mode: passive}``) listens and its ICCP server calls in; the
AARQ then comes from the server and the client judges it the way a server judges its
callers against a bilateral table: :func:`check_caller` accepts it only when

* no other association of this client is up (diagnostic 1, *no reason given*);
* it calls this client's ``local_ap_title``/``local_ae_qualifier`` when the AARQ names
  one (7 *called AP-title* / 9 *called AE-qualifier not recognized*);
* it comes with the configured ``remote_ap_title``/``remote_ae_qualifier`` (3 / 5);
* its TLS certificate fits ``connect.certificate`` (13 *authentication-failure*; 14
  *authentication-required* without TLS);
* it carries the ``password`` (14 without one, 11 for another mechanism, 13 wrong).

The calling address was checked against ``connect.allow`` before (by the listener).
"""

from __future__ import annotations

from adapters.tase2.client.settings import Tase2ClientSettings
from adapters.tase2.iso.acse import (
    AuthenticationDecision,
    AuthenticationRequest,
    UserDiagnostic,
    check_password,
)

__all__ = ["check_caller"]


def check_caller(
    settings: Tase2ClientSettings, request: AuthenticationRequest, *, busy: bool = False
) -> AuthenticationDecision:
    """Accept or refuse (with its ACSE diagnostic and a reason) a calling server."""
    reject = AuthenticationDecision.reject
    if busy:
        return reject(UserDiagnostic.NO_REASON_GIVEN, "an association with the server is up")
    own, own_ae = settings.local_ap_title, settings.local_ae_qualifier
    if own is not None and request.called_ap_title not in (None, own):
        return reject(
            UserDiagnostic.CALLED_AP_TITLE_NOT_RECOGNIZED,
            f"called AP-title {request.called_ap_title} is not ours ({own})",
        )
    if own_ae is not None and request.called_ae_qualifier not in (None, own_ae):
        return reject(
            UserDiagnostic.CALLED_AE_QUALIFIER_NOT_RECOGNIZED,
            f"called AE-qualifier {request.called_ae_qualifier} is not ours ({own_ae})",
        )
    expected, expected_ae = settings.remote_ap_title, settings.remote_ae_qualifier
    if expected is not None and request.calling_ap_title != expected:
        return reject(
            UserDiagnostic.CALLING_AP_TITLE_NOT_RECOGNIZED,
            f"calling AP-title {request.calling_ap_title} is not remote_ap_title {expected}",
        )
    if expected_ae is not None and request.calling_ae_qualifier != expected_ae:
        return reject(
            UserDiagnostic.CALLING_AE_QUALIFIER_NOT_RECOGNIZED,
            f"calling AE-qualifier {request.calling_ae_qualifier} is not "
            f"remote_ae_qualifier {expected_ae}",
        )
    rule = settings.connect.certificate
    if rule is not None:
        why = rule.refusal(request.peer_certificate)
        if why is not None:
            diagnostic = (
                UserDiagnostic.AUTHENTICATION_REQUIRED
                if request.peer_certificate is None
                else UserDiagnostic.AUTHENTICATION_FAILURE
            )
            return reject(diagnostic, f"connect.certificate: {why}")
    if settings.password is not None:
        decision = check_password(request, settings.password.encode())
        if not decision.accepted:
            return decision
    return AuthenticationDecision.accept()
