"""ACSE (ISO 8650 / X.227): AARQ, AARE, RLRQ, RLRE, ABRT, plus the authenticator hook.

AP-titles are handled in their object-identifier form (form 2) and AE-qualifiers in their
integer form (form 2), which is what ICCP peers use to identify each other. Other forms are
skipped on input (the field then reads as None). The MMS PDU carried in user-information is
opaque bytes here.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

from adapters.tase2.asn1.ber import (
    BerError,
    decode_bit_string,
    decode_integer,
    decode_oid,
    decode_tlv,
    encode_integer,
    encode_oid,
    iter_tlv,
    tlv,
)
from adapters.tase2.iso.errors import AcseError

__all__ = [
    "MMS_APPLICATION_CONTEXT",
    "PASSWORD_MECHANISM",
    "Aare",
    "Aarq",
    "AbortSource",
    "Abrt",
    "AcseApdu",
    "AssociateResult",
    "AuthenticationDecision",
    "AuthenticationRequest",
    "AuthenticationValue",
    "Authenticator",
    "ProviderDiagnostic",
    "Rlre",
    "Rlrq",
    "UserDiagnostic",
    "accept_all",
    "authenticate",
    "check_ap_title",
    "check_password",
    "decode_apdu",
    "encode_apdu",
    "password_authenticator",
]

MMS_APPLICATION_CONTEXT = "1.0.9506.2.3"
PASSWORD_MECHANISM = "2.2.3.1"
MMS_USER_INFORMATION_CONTEXT = 3
"""Indirect reference (presentation context id) of the MMS PDU in user-information."""

# ACSE-requirements BIT STRING with bit 0 (authentication) set, as libiec61850 sends it
_AUTHENTICATION_REQUIRED = b"\x04\x80"

_AP_TITLE = re.compile(r"[0-2](\.(0|[1-9][0-9]*))+")


def check_ap_title(text: str) -> str:
    """An AP-title as a setting gives it: the object-identifier form (form 2) in dotted
    arcs, e.g. ``1.1.1.999``. Returns it without surrounding blanks; raises ValueError
    when it is not one."""
    title = text.strip()
    if not _AP_TITLE.fullmatch(title):
        raise ValueError(f"AP-title {text!r} is not a dotted OID like 1.1.1.999")
    try:
        encode_oid(title)
    except ValueError:
        raise ValueError(
            f"AP-title {text!r} cannot be encoded: under arc 0 or 1 the second arc must be "
            "below 40 (X.690)"
        ) from None
    return title


class AssociateResult(IntEnum):
    """AARE result."""

    ACCEPTED = 0
    REJECTED_PERMANENT = 1
    REJECTED_TRANSIENT = 2


class UserDiagnostic(IntEnum):
    """AARE result-source-diagnostic, acse-service-user alternative."""

    NULL = 0
    NO_REASON_GIVEN = 1
    APPLICATION_CONTEXT_NAME_NOT_SUPPORTED = 2
    CALLING_AP_TITLE_NOT_RECOGNIZED = 3
    CALLING_AP_INVOCATION_ID_NOT_RECOGNIZED = 4
    CALLING_AE_QUALIFIER_NOT_RECOGNIZED = 5
    CALLING_AE_INVOCATION_ID_NOT_RECOGNIZED = 6
    CALLED_AP_TITLE_NOT_RECOGNIZED = 7
    CALLED_AP_INVOCATION_ID_NOT_RECOGNIZED = 8
    CALLED_AE_QUALIFIER_NOT_RECOGNIZED = 9
    CALLED_AE_INVOCATION_ID_NOT_RECOGNIZED = 10
    AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNIZED = 11
    AUTHENTICATION_MECHANISM_NAME_REQUIRED = 12
    AUTHENTICATION_FAILURE = 13
    AUTHENTICATION_REQUIRED = 14


class ProviderDiagnostic(IntEnum):
    """AARE result-source-diagnostic, acse-service-provider alternative."""

    NULL = 0
    NO_REASON_GIVEN = 1
    NO_COMMON_ACSE_VERSION = 2


class AbortSource(IntEnum):
    """ABRT abort-source."""

    SERVICE_USER = 0
    SERVICE_PROVIDER = 1


DIAGNOSTIC_SOURCE_USER = 1
DIAGNOSTIC_SOURCE_PROVIDER = 2


@dataclass(frozen=True, slots=True)
class AuthenticationValue:
    """Authentication-value CHOICE: ``kind`` 0 charstring (password), 1 bitstring,
    2 external, 3 other; ``value`` is the content of that alternative."""

    kind: int
    value: bytes

    @classmethod
    def password(cls, password: bytes | str) -> AuthenticationValue:
        """A charstring value holding ``password``."""
        raw = password.encode() if isinstance(password, str) else password
        return cls(0, raw)


@dataclass(frozen=True, slots=True)
class Aarq:
    """A-ASSOCIATE request. ``user_information`` is the MMS Initiate-Request PDU."""

    user_information: bytes | None = None
    application_context: str = MMS_APPLICATION_CONTEXT
    called_ap_title: str | None = None
    called_ae_qualifier: int | None = None
    called_ap_invocation_id: int | None = None
    called_ae_invocation_id: int | None = None
    calling_ap_title: str | None = None
    calling_ae_qualifier: int | None = None
    calling_ap_invocation_id: int | None = None
    calling_ae_invocation_id: int | None = None
    mechanism: str | None = None
    authentication: AuthenticationValue | None = None
    user_information_context_id: int = MMS_USER_INFORMATION_CONTEXT


@dataclass(frozen=True, slots=True)
class Aare:
    """A-ASSOCIATE response. ``user_information`` is the MMS Initiate-Response (or error)."""

    result: int = AssociateResult.ACCEPTED
    diagnostic: int = UserDiagnostic.NULL
    diagnostic_source: int = DIAGNOSTIC_SOURCE_USER
    user_information: bytes | None = None
    application_context: str = MMS_APPLICATION_CONTEXT
    responding_ap_title: str | None = None
    responding_ae_qualifier: int | None = None
    responding_ap_invocation_id: int | None = None
    responding_ae_invocation_id: int | None = None
    mechanism: str | None = None
    authentication: AuthenticationValue | None = None
    user_information_context_id: int = MMS_USER_INFORMATION_CONTEXT


@dataclass(frozen=True, slots=True)
class Rlrq:
    """A-RELEASE request (reason 0 normal, 1 urgent, 30 user-defined)."""

    reason: int | None = 0
    user_information: bytes | None = None


@dataclass(frozen=True, slots=True)
class Rlre:
    """A-RELEASE response (reason 0 normal, 1 not-finished, 30 user-defined)."""

    reason: int | None = 0
    user_information: bytes | None = None


@dataclass(frozen=True, slots=True)
class Abrt:
    """A-ABORT (source 0 service-user, 1 service-provider)."""

    source: int = AbortSource.SERVICE_USER
    diagnostic: int | None = None
    user_information: bytes | None = None


AcseApdu = Aarq | Aare | Rlrq | Rlre | Abrt


# --------------------------------------------------------------------------- authenticator hook


@dataclass(frozen=True, slots=True)
class AuthenticationRequest:
    """What an authenticator sees of an incoming AARQ (and of the TLS session, if any)."""

    calling_ap_title: str | None
    calling_ae_qualifier: int | None
    called_ap_title: str | None
    called_ae_qualifier: int | None
    mechanism: str | None
    authentication: AuthenticationValue | None
    peer_certificate: bytes | None = None
    """DER certificate of the TLS peer, when the association runs over TLS."""
    peer_address: str | None = None
    """IP address the association comes from (TASE.2 bilateral tables may restrict it)."""


@dataclass(frozen=True, slots=True)
class AuthenticationDecision:
    """Accept, or reject with an ACSE service-user diagnostic for the AARE."""

    accepted: bool
    diagnostic: int = UserDiagnostic.NULL
    reason: str = ""
    """Why, in words, for the server's log line (never sent to the peer)."""

    @classmethod
    def accept(cls) -> AuthenticationDecision:
        """The decision that lets the association proceed."""
        return cls(True, UserDiagnostic.NULL)

    @classmethod
    def reject(cls, diagnostic: int, reason: str = "") -> AuthenticationDecision:
        """A refusal carrying ``diagnostic`` (e.g. 3 calling AP-title not recognized)."""
        return cls(False, diagnostic, reason)


class Authenticator(Protocol):
    """Decides whether an association request may proceed."""

    def __call__(self, request: AuthenticationRequest, /) -> AuthenticationDecision: ...


def accept_all(request: AuthenticationRequest, /) -> AuthenticationDecision:
    """Authenticator that accepts every peer (for tests and open labs)."""
    return AuthenticationDecision.accept()


def password_authenticator(
    passwords: Mapping[str | None, bytes],
) -> Callable[[AuthenticationRequest], AuthenticationDecision]:
    """Authenticator checking the password for the calling AP-title.

    ``passwords`` maps a calling AP-title (dotted OID, or None for "any peer") to its password.
    """

    def check(request: AuthenticationRequest, /) -> AuthenticationDecision:
        expected = passwords.get(request.calling_ap_title, passwords.get(None))
        if expected is None:
            return AuthenticationDecision.reject(UserDiagnostic.CALLING_AP_TITLE_NOT_RECOGNIZED)
        return check_password(request, expected)

    return check


def check_password(request: AuthenticationRequest, expected: bytes) -> AuthenticationDecision:
    """Accept when the AARQ carries the password mechanism and ``expected`` as its
    charstring authentication-value; else the refusal with its ACSE diagnostic
    (authentication-required, mechanism-name-not-recognized, authentication-failure)."""
    if request.mechanism is None or request.authentication is None:
        return AuthenticationDecision.reject(
            UserDiagnostic.AUTHENTICATION_REQUIRED, "no ACSE authentication-value (password)"
        )
    if request.mechanism != PASSWORD_MECHANISM:
        return AuthenticationDecision.reject(
            UserDiagnostic.AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNIZED,
            f"authentication mechanism {request.mechanism} is not the password mechanism",
        )
    auth = request.authentication
    if auth.kind != 0 or not hmac.compare_digest(auth.value, expected):
        return AuthenticationDecision.reject(
            UserDiagnostic.AUTHENTICATION_FAILURE, "wrong ACSE password"
        )
    return AuthenticationDecision.accept()


def authenticate(
    aarq: Aarq,
    authenticator: Authenticator,
    peer_certificate: bytes | None = None,
    peer_address: str | None = None,
) -> AuthenticationDecision:
    """Run ``authenticator`` on ``aarq``; also rejects a non-MMS application context."""
    if aarq.application_context != MMS_APPLICATION_CONTEXT:
        return AuthenticationDecision.reject(UserDiagnostic.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED)
    return authenticator(
        AuthenticationRequest(
            calling_ap_title=aarq.calling_ap_title,
            calling_ae_qualifier=aarq.calling_ae_qualifier,
            called_ap_title=aarq.called_ap_title,
            called_ae_qualifier=aarq.called_ae_qualifier,
            mechanism=aarq.mechanism,
            authentication=aarq.authentication,
            peer_certificate=peer_certificate,
            peer_address=peer_address,
        )
    )


# --------------------------------------------------------------------------- encoding


def _explicit_oid(tag: int, oid: str | None) -> bytes:
    return b"" if oid is None else tlv(tag, tlv(0x06, encode_oid(oid)))


def _explicit_int(tag: int, value: int | None) -> bytes:
    return b"" if value is None else tlv(tag, tlv(0x02, encode_integer(value)))


def _user_information(pdu: bytes | None, context_id: int) -> bytes:
    """``BE L 28 L 02 01 <ctx> A0 L <pdu>``: one EXTERNAL, single-ASN1-type."""
    if pdu is None:
        return b""
    external = tlv(0x02, encode_integer(context_id)) + tlv(0xA0, pdu)
    return tlv(0xBE, tlv(0x28, external))


def _authentication(
    requirements_tag: int,
    mechanism_tag: int,
    value_tag: int,
    mechanism: str | None,
    auth: AuthenticationValue | None,
) -> bytes:
    if mechanism is None and auth is None:
        return b""
    out = tlv(requirements_tag, _AUTHENTICATION_REQUIRED)
    if mechanism is not None:
        out += tlv(mechanism_tag, encode_oid(mechanism))
    if auth is not None:
        inner_tag = (0x80, 0x81, 0xA2, 0xA3)[auth.kind]
        out += tlv(value_tag, tlv(inner_tag, auth.value))
    return out


def encode_apdu(apdu: AcseApdu) -> bytes:
    """Encode one ACSE APDU."""
    if isinstance(apdu, Aarq):
        body = (
            _explicit_oid(0xA1, apdu.application_context)
            + _explicit_oid(0xA2, apdu.called_ap_title)
            + _explicit_int(0xA3, apdu.called_ae_qualifier)
            + _explicit_int(0xA4, apdu.called_ap_invocation_id)
            + _explicit_int(0xA5, apdu.called_ae_invocation_id)
            + _explicit_oid(0xA6, apdu.calling_ap_title)
            + _explicit_int(0xA7, apdu.calling_ae_qualifier)
            + _explicit_int(0xA8, apdu.calling_ap_invocation_id)
            + _explicit_int(0xA9, apdu.calling_ae_invocation_id)
            + _authentication(0x8A, 0x8B, 0xAC, apdu.mechanism, apdu.authentication)
            + _user_information(apdu.user_information, apdu.user_information_context_id)
        )
        return tlv(0x60, body)
    if isinstance(apdu, Aare):
        source_tag = 0xA1 if apdu.diagnostic_source == DIAGNOSTIC_SOURCE_USER else 0xA2
        body = (
            _explicit_oid(0xA1, apdu.application_context)
            + _explicit_int(0xA2, apdu.result)
            + tlv(0xA3, _explicit_int(source_tag, apdu.diagnostic))
            + _explicit_oid(0xA4, apdu.responding_ap_title)
            + _explicit_int(0xA5, apdu.responding_ae_qualifier)
            + _explicit_int(0xA6, apdu.responding_ap_invocation_id)
            + _explicit_int(0xA7, apdu.responding_ae_invocation_id)
            + _authentication(0x88, 0x89, 0xAA, apdu.mechanism, apdu.authentication)
            + _user_information(apdu.user_information, apdu.user_information_context_id)
        )
        return tlv(0x61, body)
    if isinstance(apdu, Rlrq | Rlre):
        body = b"" if apdu.reason is None else tlv(0x80, encode_integer(apdu.reason))
        body += _user_information(apdu.user_information, MMS_USER_INFORMATION_CONTEXT)
        return tlv(0x62 if isinstance(apdu, Rlrq) else 0x63, body)
    body = tlv(0x80, encode_integer(apdu.source))
    if apdu.diagnostic is not None:
        body += tlv(0x81, encode_integer(apdu.diagnostic))
    body += _user_information(apdu.user_information, MMS_USER_INFORMATION_CONTEXT)
    return tlv(0x64, body)


# --------------------------------------------------------------------------- decoding


def _inner_oid(data: bytes, cs: int, ce: int) -> str | None:
    """Form-2 AP-title / context name inside an EXPLICIT tag; None for other forms."""
    tag, vs, ve, _ = decode_tlv(data, cs, ce)
    return decode_oid(data, vs, ve) if tag == 0x06 else None


def _inner_int(data: bytes, cs: int, ce: int) -> int | None:
    """Form-2 AE-qualifier / invocation id inside an EXPLICIT tag; None for other forms."""
    tag, vs, ve, _ = decode_tlv(data, cs, ce)
    return decode_integer(data, vs, ve) if tag == 0x02 else None


def _auth_value(data: bytes, cs: int, ce: int) -> AuthenticationValue:
    tag, vs, ve, _ = decode_tlv(data, cs, ce)
    kind = tag & 0x1F
    if tag & 0xC0 != 0x80 or kind > 3:
        raise AcseError(f"unknown authentication-value alternative 0x{tag:02X}", cs)
    return AuthenticationValue(kind, data[vs:ve])


def _external(data: bytes, cs: int, ce: int) -> tuple[int | None, bytes | None]:
    """The first EXTERNAL in user-information: (indirect-reference, encoded value)."""
    for tag, vs, ve, _ in iter_tlv(data, cs, ce):
        if tag != 0x28:
            continue
        ref: int | None = None
        for t, ivs, ive, _ in iter_tlv(data, vs, ve):
            if t == 0x02:
                ref = decode_integer(data, ivs, ive)
            elif t in (0xA0, 0x81, 0xA1):
                return ref, data[ivs:ive]
        raise AcseError("user-information EXTERNAL without encoding", vs)
    return None, None


@dataclass(slots=True)
class _Common:
    """Fields an AARQ and an AARE decode the same way (filled while scanning)."""

    application_context: str = ""
    mechanism: str | None = None
    authentication: AuthenticationValue | None = None
    user_information: bytes | None = None
    user_information_context_id: int = MMS_USER_INFORMATION_CONTEXT

    def take(self, data: bytes, tag: int, vs: int, ve: int, mech_tag: int, auth_tag: int) -> bool:
        """Consume a field common to AARQ and AARE; False when ``tag`` is not one of them."""
        if tag == 0xA1:
            self.application_context = _inner_oid(data, vs, ve) or ""
        elif tag == mech_tag:
            self.mechanism = decode_oid(data, vs, ve)
        elif tag == auth_tag:
            self.authentication = _auth_value(data, vs, ve)
        elif tag == mech_tag - 1:  # sender / responder ACSE requirements
            decode_bit_string(data, vs, ve)
        elif tag == 0xBE:
            ref, self.user_information = _external(data, vs, ve)
            if ref is not None:
                self.user_information_context_id = ref
        else:
            return False
        return True


def _decode_aarq(data: bytes, cs: int, ce: int) -> Aarq:
    common = _Common()
    titles: dict[int, str | None] = {}
    numbers: dict[int, int | None] = {}
    for tag, vs, ve, _ in iter_tlv(data, cs, ce):
        if common.take(data, tag, vs, ve, 0x8B, 0xAC):
            continue
        if tag in (0xA2, 0xA6):
            titles[tag] = _inner_oid(data, vs, ve)
        elif tag in (0xA3, 0xA4, 0xA5, 0xA7, 0xA8, 0xA9):
            numbers[tag] = _inner_int(data, vs, ve)
    return Aarq(
        user_information=common.user_information,
        application_context=common.application_context,
        called_ap_title=titles.get(0xA2),
        called_ae_qualifier=numbers.get(0xA3),
        called_ap_invocation_id=numbers.get(0xA4),
        called_ae_invocation_id=numbers.get(0xA5),
        calling_ap_title=titles.get(0xA6),
        calling_ae_qualifier=numbers.get(0xA7),
        calling_ap_invocation_id=numbers.get(0xA8),
        calling_ae_invocation_id=numbers.get(0xA9),
        mechanism=common.mechanism,
        authentication=common.authentication,
        user_information_context_id=common.user_information_context_id,
    )


def _decode_aare(data: bytes, cs: int, ce: int) -> Aare:
    common = _Common()
    result: int | None = None
    source, diagnostic = DIAGNOSTIC_SOURCE_USER, 0
    title: str | None = None
    numbers: dict[int, int | None] = {}
    for tag, vs, ve, _ in iter_tlv(data, cs, ce):
        if common.take(data, tag, vs, ve, 0x89, 0xAA):
            continue
        if tag == 0xA2:
            result = _inner_int(data, vs, ve)
            if result is None:
                raise AcseError("AARE result is not an INTEGER", vs)
        elif tag == 0xA3:
            st, svs, sve, _ = decode_tlv(data, vs, ve)
            if st not in (0xA1, 0xA2):
                raise AcseError(f"unknown result-source-diagnostic 0x{st:02X}", vs)
            source = st & 0x1F
            diagnostic = _inner_int(data, svs, sve) or 0
        elif tag == 0xA4:
            title = _inner_oid(data, vs, ve)
        elif tag in (0xA5, 0xA6, 0xA7):
            numbers[tag] = _inner_int(data, vs, ve)
    if result is None:
        raise AcseError("AARE without result", cs)
    return Aare(
        result=result,
        diagnostic=diagnostic,
        diagnostic_source=source,
        user_information=common.user_information,
        application_context=common.application_context,
        responding_ap_title=title,
        responding_ae_qualifier=numbers.get(0xA5),
        responding_ap_invocation_id=numbers.get(0xA6),
        responding_ae_invocation_id=numbers.get(0xA7),
        mechanism=common.mechanism,
        authentication=common.authentication,
        user_information_context_id=common.user_information_context_id,
    )


def _decode_release_or_abort(data: bytes, apdu_tag: int, cs: int, ce: int) -> AcseApdu:
    first: int | None = None
    second: int | None = None
    user: bytes | None = None
    for tag, vs, ve, _ in iter_tlv(data, cs, ce):
        if tag == 0x80:
            first = decode_integer(data, vs, ve)
        elif tag == 0x81:
            second = decode_integer(data, vs, ve)
        elif tag == 0xBE:
            user = _external(data, vs, ve)[1]
    if apdu_tag == 0x62:
        return Rlrq(first, user)
    if apdu_tag == 0x63:
        return Rlre(first, user)
    if first is None:
        raise AcseError("ABRT without abort-source", cs)
    return Abrt(first, second, user)


def decode_apdu(data: bytes) -> AcseApdu:
    """Decode one ACSE APDU (AARQ, AARE, RLRQ, RLRE or ABRT)."""
    try:
        tag, cs, ce, nxt = decode_tlv(data, 0, len(data))
        if nxt != len(data):
            raise AcseError("trailing octets after the APDU", nxt)
        if tag == 0x60:
            return _decode_aarq(data, cs, ce)
        if tag == 0x61:
            return _decode_aare(data, cs, ce)
        if tag in (0x62, 0x63, 0x64):
            return _decode_release_or_abort(data, tag, cs, ce)
        raise AcseError(f"unknown ACSE APDU tag 0x{tag:02X}", 0)
    except BerError as exc:
        raise AcseError(exc.message, exc.offset) from None
