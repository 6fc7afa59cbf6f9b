"""Presentation PPDUs: CP/CPA from Annex A, context negotiation by OID, P-DATA, aborts."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.tase2.iso import PresentationError
from adapters.tase2.iso.presentation import (
    ACSE_ABSTRACT_SYNTAX,
    BER_TRANSFER_SYNTAX,
    MMS_ABSTRACT_SYNTAX,
    AcceptPpdu,
    ConnectPpdu,
    ContextDefinition,
    ContextResult,
    PresentationDataValue,
    ProviderAbortPpdu,
    ProviderReason,
    RefusePpdu,
    Result,
    UserAbortPpdu,
    decode_abort,
    decode_accept,
    decode_connect,
    decode_data,
    decode_refuse,
    decode_user_data,
    default_contexts,
    encode_abort,
    encode_accept,
    encode_connect,
    encode_data,
    encode_refuse,
    encode_user_data,
    negotiate_contexts,
)
from adapters.tase2.iso.session import decode_spdu
from tests.support.tase2 import annex_a


def cp_bytes() -> bytes:
    """The CP-type inside the Annex A association request."""
    return decode_spdu(annex_a.tsdu_of(annex_a.ASSOCIATE_REQUEST)).user_data  # type: ignore[union-attr]


def test_annex_a_cp_decodes_to_its_fields() -> None:
    cp = decode_connect(cp_bytes())
    assert cp.calling_selector == cp.called_selector == b"\x00\x00\x00\x01"
    assert cp.contexts == default_contexts(1, 3)
    assert len(cp.user_data) == 1
    assert cp.user_data[0].context_id == 1
    assert cp.user_data[0].value[:2] == b"\x60\x55"  # the AARQ
    assert encode_connect(cp) == cp_bytes()


def test_annex_a_cpa_decodes_and_re_encodes() -> None:
    cpa_raw = decode_spdu(annex_a.tsdu_of(annex_a.ASSOCIATE_RESPONSE)).user_data  # type: ignore[union-attr]
    cpa = decode_accept(cpa_raw)
    assert cpa.results == (ContextResult(), ContextResult())
    assert cpa.responding_selector == b"\x00\x00\x00\x01"
    assert cpa.user_data[0].value[:2] == b"\x61\x46"  # the AARE
    assert encode_accept(cpa) == cpa_raw


def test_contexts_are_negotiated_by_oid_whatever_ids_the_initiator_chose() -> None:
    proposed = (
        ContextDefinition(7, MMS_ABSTRACT_SYNTAX),
        ContextDefinition(9, "1.2.3.4"),
        ContextDefinition(5, ACSE_ABSTRACT_SYNTAX, ("1.2.3", BER_TRANSFER_SYNTAX)),
        ContextDefinition(11, MMS_ABSTRACT_SYNTAX, ("1.2.3",)),
    )
    negotiation = negotiate_contexts(proposed)
    assert negotiation.mms_context_id == 7
    assert negotiation.acse_context_id == 5
    assert [r.result for r in negotiation.results] == [
        Result.ACCEPTANCE,
        Result.PROVIDER_REJECTION,
        Result.ACCEPTANCE,
        Result.PROVIDER_REJECTION,
    ]
    assert negotiation.results[1].provider_reason == ProviderReason.ABSTRACT_SYNTAX_NOT_SUPPORTED


def test_p_data_wraps_one_mms_pdu() -> None:
    pdu = b"\x8b\x00"  # Conclude-Request
    assert encode_data(3, pdu) == annex_a.CONCLUDE_TSDU[4:]
    assert decode_data(annex_a.CONCLUDE_TSDU[4:]) == PresentationDataValue(3, pdu)


def test_p_data_with_transfer_syntax_name_and_indefinite_lengths() -> None:
    raw = bytes.fromhex("6180 3080 06025101 020103 a080 8b00 0000 0000 0000")
    assert decode_data(raw) == PresentationDataValue(3, b"\x8b\x00", BER_TRANSFER_SYNTAX)


def test_several_pdvs_in_one_user_data() -> None:
    pdvs = (PresentationDataValue(1, b"\x62\x00"), PresentationDataValue(3, b"\x8b\x00"))
    raw = encode_user_data(pdvs)
    assert decode_user_data(raw) == pdvs
    with pytest.raises(PresentationError, match="one PDV"):
        decode_data(raw)


def test_refuse_and_aborts_round_trip() -> None:
    cpr = RefusePpdu(
        results=(ContextResult(Result.PROVIDER_REJECTION, None, 1),),
        user_data=(PresentationDataValue(1, b"\x61\x00"),),
        provider_reason=0,
    )
    assert decode_refuse(encode_refuse(cpr)) == cpr
    aru = UserAbortPpdu((PresentationDataValue(1, b"\x64\x03\x80\x01\x00"),))
    assert encode_abort(aru) == bytes.fromhex("a00e 610c 300a 020101 a005 6403800100")
    assert decode_abort(encode_abort(aru)) == aru
    arp = ProviderAbortPpdu(reason=1, event=2)
    assert encode_abort(arp) == bytes.fromhex("3006800101810102")
    assert decode_abort(encode_abort(arp)) == arp


@pytest.mark.parametrize(
    ("hex_data", "words"),
    [
        ("31 05 a0 03 80 01 00", "normal mode"),
        ("31 02 a2 00", "mode-selector"),
        ("31 05 a0 03 80 01 01", "normal-mode-parameters"),
        ("30 00", "expected tag 0x31"),
        ("31 05 a0 03 80 01 01 00", "trailing"),
        ("31 07 a0 03 80 01 01 a2 05", "exceeds"),
    ],
)
def test_malformed_cp(hex_data: str, words: str) -> None:
    with pytest.raises(PresentationError, match=words) as info:
        decode_connect(bytes.fromhex(hex_data))
    assert info.value.layer == "presentation"


def test_simply_encoded_data_is_refused() -> None:
    with pytest.raises(PresentationError, match="simply-encoded"):
        decode_user_data(b"\x60\x01\x00")


oids = st.sampled_from(
    [ACSE_ABSTRACT_SYNTAX, MMS_ABSTRACT_SYNTAX, BER_TRANSFER_SYNTAX, "1.3.9999.1"]
)
inner_pdus = st.binary(max_size=40).map(lambda b: b"\x30" + bytes((len(b),)) + b)
pdvs = st.builds(PresentationDataValue, st.integers(1, 127), inner_pdus, st.none() | oids)
octet_pdvs = st.builds(
    PresentationDataValue, st.integers(1, 127), st.binary(max_size=20), st.none() | oids, st.just(1)
)
contexts = st.builds(
    ContextDefinition, st.integers(0, 300), oids, st.lists(oids, max_size=3).map(tuple)
)
results = st.builds(
    ContextResult, st.integers(0, 2), st.none() | oids, st.none() | st.integers(0, 3)
)
user_data = st.lists(pdvs | octet_pdvs, max_size=3).map(tuple)
selectors = st.none() | st.binary(max_size=8)
ppdus = st.one_of(
    st.builds(
        ConnectPpdu, st.lists(contexts, max_size=3).map(tuple), user_data, selectors, selectors
    ),
    st.builds(AcceptPpdu, st.lists(results, max_size=3).map(tuple), user_data, selectors),
    st.builds(
        RefusePpdu,
        st.lists(results, min_size=1, max_size=3).map(tuple),
        user_data,
        selectors,
        st.none() | st.integers(0, 5),
    ),
    st.builds(UserAbortPpdu, user_data),
    st.builds(ProviderAbortPpdu, st.none() | st.integers(0, 6), st.none() | st.integers(0, 20)),
)

ENCODERS = {
    ConnectPpdu: (encode_connect, decode_connect),
    AcceptPpdu: (encode_accept, decode_accept),
    RefusePpdu: (encode_refuse, decode_refuse),
    UserAbortPpdu: (encode_abort, decode_abort),
    ProviderAbortPpdu: (encode_abort, decode_abort),
}
DECODERS = (decode_connect, decode_accept, decode_refuse, decode_abort, decode_user_data)


@given(ppdus)
def test_every_ppdu_round_trips(ppdu: object) -> None:
    encode, decode = ENCODERS[type(ppdu)]
    assert decode(encode(ppdu)) == ppdu  # type: ignore[operator]


@given(user_data.filter(bool))
def test_user_data_round_trips(pdvs: tuple[PresentationDataValue, ...]) -> None:
    assert decode_user_data(encode_user_data(pdvs)) == pdvs


@given(st.binary(max_size=120))
def test_random_bytes_raise_only_presentation_error(data: bytes) -> None:
    for decode in DECODERS:
        with contextlib.suppress(PresentationError):
            decode(data)


@given(ppdus, st.data())
def test_mutated_ppdus_raise_only_presentation_error(ppdu: object, data: st.DataObject) -> None:
    raw = bytearray(ENCODERS[type(ppdu)][0](ppdu))  # type: ignore[operator]
    for _ in range(data.draw(st.integers(1, 3))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    mutated = bytes(raw[: data.draw(st.integers(0, len(raw)))])
    for decode in DECODERS:
        with contextlib.suppress(PresentationError):
            decode(mutated)


def test_length_claiming_two_gigabytes_fails_fast() -> None:
    with pytest.raises(PresentationError, match="exceeds") as info:
        decode_user_data(b"\x61\x84\x7f\xff\xff\xff\x30\x00")
    assert info.value.offset == 1
