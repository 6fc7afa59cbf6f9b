"""Whole-stack helpers: what association code does on each side, with the Annex A frames."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.tase2.iso import IsoError, PresentationError, SessionError
from adapters.tase2.iso.acse import Aare, Aarq, Abrt, AssociateResult, Rlre, Rlrq, UserDiagnostic
from adapters.tase2.iso.cotp import ConnectionConfirm, ConnectionRequest, accept_connection
from adapters.tase2.iso.presentation import ContextDefinition, negotiate_contexts
from adapters.tase2.iso.stack import (
    AbortIndication,
    AssociateConfirm,
    AssociateIndication,
    AssociateRefused,
    DataIndication,
    ReleaseConfirm,
    ReleaseIndication,
    TransportReceiver,
    TsduReceived,
    tpdu_frame,
    tsdu_frames,
    unwrap,
    unwrap_data,
    wrap_aare,
    wrap_aarq,
    wrap_abort,
    wrap_data,
    wrap_refuse,
    wrap_release_request,
    wrap_release_response,
)
from tests.support.tase2 import annex_a


def test_responder_side_of_the_annex_a_association() -> None:
    server = TransportReceiver()
    # 1. COTP connect
    (cr,) = server.feed(annex_a.COTP_CR)
    assert isinstance(cr, ConnectionRequest)
    assert tpdu_frame(accept_connection(cr)) == annex_a.COTP_CC
    # 2. association request, delivered in awkward TCP chunks
    events = []
    for i in range(0, len(annex_a.ASSOCIATE_REQUEST), 50):
        events += server.feed(annex_a.ASSOCIATE_REQUEST[i : i + 50])
    (tsdu,) = events
    assert isinstance(tsdu, TsduReceived)
    indication = unwrap(tsdu.data)
    assert isinstance(indication, AssociateIndication)
    assert indication.aarq.calling_ap_title == "1.1.1.999"
    assert indication.aarq.user_information == annex_a.INITIATE_REQUEST
    # 3. the answer, byte for byte as in Annex A
    aare = Aare(user_information=annex_a.INITIATE_RESPONSE)
    assert tsdu_frames(wrap_aare(aare, indication.negotiation), 8192) == [
        annex_a.ASSOCIATE_RESPONSE
    ]


def test_initiator_side_of_the_annex_a_association() -> None:
    aarq = Aarq(
        user_information=annex_a.INITIATE_REQUEST,
        called_ap_title="1.1.1.999.1",
        called_ae_qualifier=12,
        calling_ap_title="1.1.1.999",
        calling_ae_qualifier=12,
    )
    assert tpdu_frame(ConnectionRequest()) == annex_a.COTP_CR
    assert tsdu_frames(wrap_aarq(aarq), 8192) == [annex_a.ASSOCIATE_REQUEST]
    client = TransportReceiver()
    assert isinstance(client.feed(annex_a.COTP_CC)[0], ConnectionConfirm)
    (tsdu,) = client.feed(annex_a.ASSOCIATE_RESPONSE)
    confirm = unwrap(tsdu.data)  # type: ignore[union-attr]
    assert isinstance(confirm, AssociateConfirm)
    assert confirm.aare.result == AssociateResult.ACCEPTED
    assert confirm.aare.user_information == annex_a.INITIATE_RESPONSE


def test_data_phase() -> None:
    tsdu = wrap_data(annex_a.GET_NAME_LIST_DOMAINS, context_id=3)
    assert unwrap_data(tsdu) == DataIndication(3, annex_a.GET_NAME_LIST_DOMAINS)
    assert unwrap(wrap_data(b"\x8b\x00", give_tokens=False)) == DataIndication(3, b"\x8b\x00")
    assert wrap_data(b"\x8b\x00") == annex_a.CONCLUDE_TSDU


def test_large_data_is_segmented_and_reassembled() -> None:
    pdu = b"\xa0\x82\x0f\xa0" + bytes(4000)
    frames = tsdu_frames(wrap_data(pdu), 1024)
    assert len(frames) == 4
    events = TransportReceiver().feed(b"".join(frames))
    assert [unwrap_data(e.data) for e in events] == [DataIndication(3, pdu)]  # type: ignore[union-attr]


def test_release() -> None:
    assert tsdu_frames(wrap_release_request(), 8192) == [annex_a.FINISH]
    assert tsdu_frames(wrap_release_response(), 8192) == [annex_a.DISCONNECT]
    assert unwrap(annex_a.tsdu_of(annex_a.FINISH)) == ReleaseIndication(Rlrq(0))
    assert unwrap(annex_a.tsdu_of(annex_a.DISCONNECT)) == ReleaseConfirm(Rlre(None))


def test_abort_and_refusal() -> None:
    assert unwrap(wrap_abort(Abrt(source=1))) == AbortIndication(abrt=Abrt(source=1))
    negotiation = negotiate_contexts([ContextDefinition(1, "2.2.1.0.1")])
    refused = unwrap(
        wrap_refuse(
            Aare(
                result=AssociateResult.REJECTED_PERMANENT,
                diagnostic=UserDiagnostic.CALLING_AP_TITLE_NOT_RECOGNIZED,
            ),
            negotiation,
        )
    )
    assert isinstance(refused, AssociateRefused)
    assert refused.aare is not None
    assert refused.aare.diagnostic == UserDiagnostic.CALLING_AP_TITLE_NOT_RECOGNIZED


def test_unexpected_content_is_a_typed_error() -> None:
    with pytest.raises(PresentationError, match="Rlrq"):
        unwrap(wrap_abort().replace(b"\x64\x03", b"\x62\x03"))


@given(st.binary(max_size=200))
def test_random_tsdus_raise_only_iso_errors(data: bytes) -> None:
    with contextlib.suppress(IsoError):
        unwrap(data)


SAMPLE_TSDUS = {
    "request": wrap_aarq(Aarq(b"\xa8\x00", calling_ap_title="1.2.3", calling_ae_qualifier=7)),
    "response": wrap_aare(
        Aare(user_information=b"\xa9\x00"),
        negotiate_contexts([ContextDefinition(1, "2.2.1.0.1")]),
    ),
    "data": wrap_data(b"\xa0\x03\x02\x01\x01"),
    "finish": wrap_release_request(),
    "abort": wrap_abort(),
}


@given(st.sampled_from(sorted(SAMPLE_TSDUS)), st.data())
def test_mutated_tsdus_raise_only_iso_errors(kind: str, data: st.DataObject) -> None:
    raw = bytearray(SAMPLE_TSDUS[kind])
    for _ in range(data.draw(st.integers(1, 3))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    with contextlib.suppress(IsoError):
        unwrap(bytes(raw[: data.draw(st.integers(0, len(raw)))]))


@given(st.binary(max_size=300))
def test_random_streams_raise_only_iso_errors(data: bytes) -> None:
    receiver = TransportReceiver(max_tpkt_length=512, max_tsdu_size=2048)
    with contextlib.suppress(IsoError):
        for event in receiver.feed(b"\x03\x00" + data):
            if isinstance(event, TsduReceived):
                unwrap(event.data)


@pytest.mark.parametrize("pdu", list(annex_a.MMS_PDUS.values()), ids=list(annex_a.MMS_PDUS))
def test_annex_a_mms_pdus_in_their_data_frames(pdu: bytes) -> None:
    p_data = b"\x61" + bytes((len(pdu) + 7,)) + b"\x30" + bytes((len(pdu) + 5,))
    p_data += b"\x02\x01\x03\xa0" + bytes((len(pdu),)) + pdu
    expected = bytes((3, 0, 0, 4 + 3 + 4 + len(p_data))) + b"\x02\xf0\x80\x01\x00\x01\x00" + p_data
    assert tsdu_frames(wrap_data(pdu), 8192) == [expected]
    (event,) = TransportReceiver().feed(expected)
    assert unwrap_data(event.data) == DataIndication(3, pdu)  # type: ignore[union-attr]


def test_connect_needs_version_2_and_accepts_any_field_with_bit_2() -> None:
    tsdu = annex_a.tsdu_of(annex_a.ASSOCIATE_REQUEST)
    version_at = tsdu.index(b"\x16\x01\x02") + 2
    v1_and_v2 = tsdu[:version_at] + b"\x03" + tsdu[version_at + 1 :]
    assert isinstance(unwrap(v1_and_v2), AssociateIndication)
    v1_only = tsdu[:version_at] + b"\x01" + tsdu[version_at + 1 :]
    with pytest.raises(SessionError, match="version 2 not offered"):
        unwrap(v1_only)
