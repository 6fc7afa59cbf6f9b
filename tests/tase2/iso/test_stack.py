"""Whole-stack helpers: what association code does on each side, with the Annex A frames."""

from __future__ import annotations

import contextlib
from types import SimpleNamespace

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


def test_responder_side_of_the_annex_a_association(annex_a: SimpleNamespace) -> None:
    server = TransportReceiver()
    # 1. COTP connect
    (cr,) = server.feed(annex_a.cotp_cr)
    assert isinstance(cr, ConnectionRequest)
    assert tpdu_frame(accept_connection(cr)) == annex_a.cotp_cc
    # 2. association request, delivered in awkward TCP chunks
    events = []
    for i in range(0, len(annex_a.associate_request), 50):
        events += server.feed(annex_a.associate_request[i : i + 50])
    (tsdu,) = events
    assert isinstance(tsdu, TsduReceived)
    indication = unwrap(tsdu.data)
    assert isinstance(indication, AssociateIndication)
    assert indication.aarq.calling_ap_title == "1.1.1.999"
    assert indication.aarq.user_information == annex_a.initiate_request
    # 3. the answer, byte for byte as in Annex A
    aare = Aare(user_information=annex_a.initiate_response)
    assert tsdu_frames(wrap_aare(aare, indication.negotiation), 8192) == [
        annex_a.associate_response
    ]


def test_initiator_side_of_the_annex_a_association(annex_a: SimpleNamespace) -> None:
    aarq = Aarq(
        user_information=annex_a.initiate_request,
        called_ap_title="1.1.1.999.1",
        called_ae_qualifier=12,
        calling_ap_title="1.1.1.999",
        calling_ae_qualifier=12,
    )
    assert tpdu_frame(ConnectionRequest()) == annex_a.cotp_cr
    assert tsdu_frames(wrap_aarq(aarq), 8192) == [annex_a.associate_request]
    client = TransportReceiver()
    assert isinstance(client.feed(annex_a.cotp_cc)[0], ConnectionConfirm)
    (tsdu,) = client.feed(annex_a.associate_response)
    confirm = unwrap(tsdu.data)  # type: ignore[union-attr]
    assert isinstance(confirm, AssociateConfirm)
    assert confirm.aare.result == AssociateResult.ACCEPTED
    assert confirm.aare.user_information == annex_a.initiate_response


def test_data_phase(annex_a: SimpleNamespace) -> None:
    tsdu = wrap_data(annex_a.get_name_list_domains, context_id=3)
    assert unwrap_data(tsdu) == DataIndication(3, annex_a.get_name_list_domains)
    assert unwrap(wrap_data(b"\x8b\x00", give_tokens=False)) == DataIndication(3, b"\x8b\x00")
    assert wrap_data(b"\x8b\x00") == annex_a.conclude_tsdu


def test_large_data_is_segmented_and_reassembled() -> None:
    pdu = b"\xa0\x82\x0f\xa0" + bytes(4000)
    frames = tsdu_frames(wrap_data(pdu), 1024)
    assert len(frames) == 4
    events = TransportReceiver().feed(b"".join(frames))
    assert [unwrap_data(e.data) for e in events] == [DataIndication(3, pdu)]  # type: ignore[union-attr]


def test_release(annex_a: SimpleNamespace) -> None:
    assert tsdu_frames(wrap_release_request(), 8192) == [annex_a.finish]
    assert tsdu_frames(wrap_release_response(), 8192) == [annex_a.disconnect]
    assert unwrap(annex_a.tsdu_of(annex_a.finish)) == ReleaseIndication(Rlrq(0))
    assert unwrap(annex_a.tsdu_of(annex_a.disconnect)) == ReleaseConfirm(Rlre(None))


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


# Annex A MMS PDUs: each travels as 03 00 LL LL 02 f0 80 01 00 01 00 61 L 30 L 02 01 03 a0 L <pdu>
ANNEX_A_MMS_PDUS = [
    "a02a020101a425a123a021301fa01da11b1a04494343311a134e6578745f44535472616e736665725f536574",
    "a123020101a41ea11ca21a8601018a04494343318a0f44535472616e7366657253657430 31",
    "a05d020102a558a01d301ba019a1171a04494343311a0f44535472616e7366657253657430 31a037a235a20e"
    "8601018a04494343318a034453318501008501 0a85010085010285013c840203e0830100830100 8301ff"
    "8301008301ff850100",
    "a00e020103a109a003800109a1028000",
    "a012020104a10da003800100a106810449434331",
    "a014020107ad0fa10da10b1a04494343311a03445331",
    "a023020108a41ea11ca01a3018a016a1141a04494343311a0c427265616b6572315f53424f",
    "a022020109a51da0163014a012a1101a04494343311a08427265616b657231a003850101",
    "a20a800107a205a003870103",
]


@pytest.mark.parametrize("pdu_hex", ANNEX_A_MMS_PDUS)
def test_annex_a_mms_pdus_in_their_data_frames(pdu_hex: str) -> None:
    pdu = bytes.fromhex(pdu_hex.replace(" ", ""))
    p_data = b"\x61" + bytes((len(pdu) + 7,)) + b"\x30" + bytes((len(pdu) + 5,))
    p_data += b"\x02\x01\x03\xa0" + bytes((len(pdu),)) + pdu
    expected = bytes((3, 0, 0, 4 + 3 + 4 + len(p_data))) + b"\x02\xf0\x80\x01\x00\x01\x00" + p_data
    assert tsdu_frames(wrap_data(pdu), 8192) == [expected]
    (event,) = TransportReceiver().feed(expected)
    assert unwrap_data(event.data) == DataIndication(3, pdu)  # type: ignore[union-attr]


def test_connect_needs_version_2_and_accepts_any_field_with_bit_2(
    annex_a: SimpleNamespace,
) -> None:
    tsdu = annex_a.tsdu_of(annex_a.associate_request)
    version_at = tsdu.index(b"\x16\x01\x02") + 2
    v1_and_v2 = tsdu[:version_at] + b"\x03" + tsdu[version_at + 1 :]
    assert isinstance(unwrap(v1_and_v2), AssociateIndication)
    v1_only = tsdu[:version_at] + b"\x01" + tsdu[version_at + 1 :]
    with pytest.raises(SessionError, match="version 2 not offered"):
        unwrap(v1_only)
