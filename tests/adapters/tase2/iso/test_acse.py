"""ACSE APDUs: Annex A AARQ/AARE, AP-titles and AE-qualifiers both ways, authentication."""

from __future__ import annotations

import contextlib
import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.tase2.iso import AcseError
from adapters.tase2.iso.acse import (
    PASSWORD_MECHANISM,
    Aare,
    Aarq,
    Abrt,
    AcseApdu,
    AssociateResult,
    AuthenticationDecision,
    AuthenticationRequest,
    AuthenticationValue,
    Rlre,
    Rlrq,
    UserDiagnostic,
    accept_all,
    authenticate,
    check_ap_title,
    decode_apdu,
    encode_apdu,
    password_authenticator,
)
from adapters.tase2.iso.presentation import decode_accept, decode_connect
from adapters.tase2.iso.session import decode_spdu
from tests.support.tase2 import annex_a


def aarq_bytes() -> bytes:
    """The AARQ inside the Annex A association request."""
    cn = decode_spdu(annex_a.tsdu_of(annex_a.ASSOCIATE_REQUEST))
    return decode_connect(cn.user_data).user_data[0].value  # type: ignore[union-attr]


def aare_bytes() -> bytes:
    """The AARE inside the Annex A association response."""
    ac = decode_spdu(annex_a.tsdu_of(annex_a.ASSOCIATE_RESPONSE))
    return decode_accept(ac.user_data).user_data[0].value  # type: ignore[union-attr]


def test_annex_a_aarq_fields() -> None:
    aarq = decode_apdu(aarq_bytes())
    assert aarq == Aarq(
        user_information=annex_a.INITIATE_REQUEST,
        called_ap_title="1.1.1.999.1",
        called_ae_qualifier=12,
        calling_ap_title="1.1.1.999",
        calling_ae_qualifier=12,
    )
    assert encode_apdu(aarq) == aarq_bytes()


def test_annex_a_aare_fields() -> None:
    aare = decode_apdu(aare_bytes())
    assert aare == Aare(result=AssociateResult.ACCEPTED, user_information=annex_a.INITIATE_RESPONSE)
    assert encode_apdu(aare) == aare_bytes()


def test_responding_ap_title_and_ae_qualifier() -> None:
    aare = Aare(responding_ap_title="1.3.9999.7", responding_ae_qualifier=-3)
    raw = encode_apdu(aare)
    assert b"\xa4\x06\x06\x04\x2b\xce\x0f\x07\xa5\x03\x02\x01\xfd" in raw
    assert decode_apdu(raw) == aare


def test_password_fields_as_libiec61850_sends_them() -> None:
    aarq = Aarq(
        user_information=b"\xa8\x00",
        mechanism=PASSWORD_MECHANISM,
        authentication=AuthenticationValue.password("top secret"),
    )
    raw = encode_apdu(aarq)
    assert b"\x8a\x02\x04\x80\x8b\x03\x52\x03\x01\xac\x0c\x80\x0atop secret" in raw
    assert decode_apdu(raw) == aarq


def test_release_and_abort_apdus() -> None:
    assert encode_apdu(Rlrq()) == b"\x62\x03\x80\x01\x00"
    assert encode_apdu(Rlre(reason=None)) == b"\x63\x00"
    assert encode_apdu(Abrt(source=1)) == b"\x64\x03\x80\x01\x01"
    assert decode_apdu(b"\x64\x06\x80\x01\x00\x81\x01\x02") == Abrt(0, 2)


def test_unknown_fields_and_other_ap_title_forms_are_skipped() -> None:
    # implementation-information [29] (9D) and an AP-title in form 1 (a Name, 30 ...)
    raw = bytes.fromhex("60 13 a1 07 06 05 28ca220203 a2 02 30 00 9d 04 74657374")
    assert decode_apdu(raw) == Aarq(called_ap_title=None)


@pytest.mark.parametrize(
    ("hex_data", "words"),
    [
        ("65 00", "unknown ACSE APDU"),
        ("61 00", "without result"),
        ("64 00", "without abort-source"),
        ("60 04 ac 02 85 00", "authentication-value"),
        ("60 04 be 02 28 00", "without encoding"),
        ("60 05 a1 03 06 01 80", "truncated OBJECT IDENTIFIER"),
    ],
)
def test_malformed_apdus(hex_data: str, words: str) -> None:
    with pytest.raises(AcseError, match=words) as info:
        decode_apdu(bytes.fromhex(hex_data))
    assert info.value.layer == "acse"


# --------------------------------------------------------------------------- authenticator hook


def bilateral_table_check(request: AuthenticationRequest, /) -> AuthenticationDecision:
    """An authenticator as a server would write one: match the peer against its tables."""
    if (request.calling_ap_title, request.calling_ae_qualifier) == ("1.1.1.999", 12):
        return AuthenticationDecision.accept()
    return AuthenticationDecision.reject(UserDiagnostic.CALLING_AP_TITLE_NOT_RECOGNIZED)


def test_authenticator_sees_ap_title_and_ae_qualifier() -> None:
    aarq = decode_apdu(aarq_bytes())
    assert isinstance(aarq, Aarq)
    assert authenticate(aarq, bilateral_table_check).accepted
    stranger = Aarq(calling_ap_title="1.2.3", calling_ae_qualifier=1)
    decision = authenticate(stranger, bilateral_table_check)
    assert decision == AuthenticationDecision(False, UserDiagnostic.CALLING_AP_TITLE_NOT_RECOGNIZED)


def test_authenticator_receives_the_tls_peer_certificate() -> None:
    seen: list[bytes | None] = []

    def by_certificate(request: AuthenticationRequest, /) -> AuthenticationDecision:
        seen.append(request.peer_certificate)
        return AuthenticationDecision.accept()

    authenticate(Aarq(), by_certificate, peer_certificate=b"0\x82...")
    assert seen == [b"0\x82..."]


def test_non_mms_application_context_is_rejected() -> None:
    decision = authenticate(Aarq(application_context="1.2.3"), accept_all)
    assert decision.diagnostic == UserDiagnostic.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED


def test_password_authenticator() -> None:
    check = password_authenticator({"1.1.1.999": b"top secret"})
    good = Aarq(
        calling_ap_title="1.1.1.999",
        mechanism=PASSWORD_MECHANISM,
        authentication=AuthenticationValue.password("top secret"),
    )
    assert authenticate(good, check).accepted
    wrong = Aarq(
        calling_ap_title="1.1.1.999",
        mechanism=PASSWORD_MECHANISM,
        authentication=AuthenticationValue.password("guess"),
    )
    assert authenticate(wrong, check).diagnostic == UserDiagnostic.AUTHENTICATION_FAILURE
    missing = Aarq(calling_ap_title="1.1.1.999")
    assert authenticate(missing, check).diagnostic == UserDiagnostic.AUTHENTICATION_REQUIRED
    unknown = Aarq(calling_ap_title="9.9")
    assert authenticate(unknown, check).diagnostic == UserDiagnostic.CALLING_AP_TITLE_NOT_RECOGNIZED


# --------------------------------------------------------------------------- properties

oids = st.builds(
    lambda a, b, rest: ".".join(map(str, [a, b, *rest])),
    st.integers(0, 2),
    st.integers(0, 39),
    st.lists(st.integers(0, 100_000), max_size=5),
)
opt_oid = st.none() | oids
opt_int = st.none() | st.integers(-(2**31), 2**31 - 1)
pdus = st.none() | st.binary(max_size=40).map(lambda b: b"\xa8" + bytes((len(b),)) + b)
auth = st.none() | st.builds(AuthenticationValue, st.integers(0, 3), st.binary(max_size=20))
apdus = st.one_of(
    st.builds(
        Aarq,
        pdus,
        oids,
        opt_oid,
        opt_int,
        opt_int,
        opt_int,
        opt_oid,
        opt_int,
        opt_int,
        opt_int,
        opt_oid,
        auth,
        st.integers(1, 127),
    ),
    st.builds(
        Aare,
        st.integers(0, 2),
        st.integers(0, 14),
        st.integers(1, 2),
        pdus,
        oids,
        opt_oid,
        opt_int,
        opt_int,
        opt_int,
        opt_oid,
        auth,
        st.integers(1, 127),
    ),
    st.builds(Rlrq, opt_int, pdus),
    st.builds(Rlre, opt_int, pdus),
    st.builds(Abrt, st.integers(0, 1), opt_int, pdus),
)


@given(apdus)
def test_every_apdu_round_trips(apdu: AcseApdu) -> None:
    if isinstance(apdu, Aarq | Aare) and apdu.user_information is None:
        # the indirect reference travels only together with user-information
        apdu = dataclasses.replace(apdu, user_information_context_id=3)
    assert decode_apdu(encode_apdu(apdu)) == apdu


@given(st.binary(max_size=120))
def test_random_bytes_raise_only_acse_error(data: bytes) -> None:
    with contextlib.suppress(AcseError):
        decode_apdu(data)


@given(apdus, st.data())
def test_mutated_apdus_raise_only_acse_error(apdu: AcseApdu, data: st.DataObject) -> None:
    raw = bytearray(encode_apdu(apdu))
    for _ in range(data.draw(st.integers(1, 3))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    with contextlib.suppress(AcseError):
        decode_apdu(bytes(raw[: data.draw(st.integers(0, len(raw)))]))


def test_length_claiming_two_gigabytes_fails_fast() -> None:
    with pytest.raises(AcseError, match="exceeds"):
        decode_apdu(b"\x60\x06\xbe\x84\x7f\xff\xff\xff")


def test_ap_titles_are_dotted_object_identifiers() -> None:
    assert check_ap_title(" 1.1.1.999 ") == "1.1.1.999"
    assert check_ap_title("2.0") == "2.0"
    for bad in ("", "1", "3.1", "1.01", "1..2", "not-an-oid", "1.2."):
        with pytest.raises(ValueError, match="is not a dotted OID"):
            check_ap_title(bad)
    assert check_ap_title("2.999.1") == "2.999.1"  # arc 2 takes any second arc
    with pytest.raises(ValueError, match="second arc must be below 40"):
        check_ap_title("1.50.1")  # it would load, then fail every association
