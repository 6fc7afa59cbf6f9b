"""The association state machine, sans-IO: byte strings in, byte strings out.

An initiator and a responder talk to each other in memory; the responder also answers the
reference's Annex A association request byte for byte.
"""

from __future__ import annotations

import pytest

from adapters.tase2.asn1.ber import tlv
from adapters.tase2.iso import acse, presentation, session, stack
from adapters.tase2.mms.access import VariableEntry, VariableList
from adapters.tase2.mms.association import (
    Association,
    AssociationClosed,
    AssociationConfig,
    AssociationError,
    AssociationEstablished,
    AssociationRequested,
    AssociationState,
    CloseReason,
    ConcludeRefused,
    ConcludeRequested,
    Event,
    OutstandingLimitError,
    PduReceived,
    PduTooLargeError,
    ResponseUndecodable,
    Role,
    TransportConnected,
)
from adapters.tase2.mms.data import OctetString
from adapters.tase2.mms.names import ObjectName
from adapters.tase2.mms.pdu import (
    ConcludeError,
    ConfirmedError,
    ConfirmedRequest,
    ConfirmedResponse,
    InitiateResponse,
    Reject,
    RejectType,
    Unconfirmed,
    decode_pdu,
    encode_pdu,
)
from adapters.tase2.mms.service_error import (
    ConcludeCode,
    ErrorClass,
    ServiceCode,
    ServiceError,
)
from adapters.tase2.mms.services import (
    IdentifyRequest,
    IdentifyResponse,
    InformationReport,
    ReadRequest,
)
from tests.support.tase2 import annex_a
from tests.support.tase2.associations import mms_tsdu_frames, pair, pump, sent_pdus

IDENTIFY = ConfirmedRequest(1, IdentifyRequest())


# --------------------------------------------------------------------------- establishment


def test_association_life_cycle_in_memory() -> None:
    client = Association(
        Role.INITIATOR, AssociationConfig(local_ap_title="1.1.1.999", local_ae_qualifier=12)
    )
    server = Association(
        Role.RESPONDER, AssociationConfig(max_pdu_size=32000, max_serv_outstanding_calling=3)
    )
    assert client.state is AssociationState.IDLE
    client.start()
    ev_client, ev_server = pump(client, server)
    assert isinstance(ev_client[0], TransportConnected)
    assert isinstance(ev_server[0], TransportConnected)
    request = ev_server[1]
    assert isinstance(request, AssociationRequested)
    assert request.aarq.calling_ap_title == "1.1.1.999"
    assert request.aarq.calling_ae_qualifier == 12
    assert request.initiate.local_detail == 65000
    assert server.state is AssociationState.ASSOCIATING
    params = server.accept()
    assert params.max_pdu_size == 32000
    assert params.max_serv_outstanding_calling == 3
    ev_client, _ = pump(client, server)
    established = ev_client[0]
    assert isinstance(established, AssociationEstablished)
    assert established.parameters.max_pdu_size == 32000
    assert client.request_limit == 3 and server.indication_limit == 3
    assert client.state is server.state is AssociationState.ASSOCIATED

    client.send_pdu(IDENTIFY)
    _, ev_server = pump(client, server)
    assert ev_server == [PduReceived(IDENTIFY)]
    server.send_pdu(ConfirmedResponse(1, IdentifyResponse("v", "m", "r")))
    ev_client, _ = pump(client, server)
    assert isinstance(ev_client[0], PduReceived)
    assert client.outstanding_sent == 0 and server.outstanding_received == 0

    client.conclude()
    assert client.state is AssociationState.RELEASING
    ev_client, ev_server = pump(client, server)
    assert ev_server[0] == ConcludeRequested()
    assert ev_server[-1] == AssociationClosed(CloseReason.RELEASED, "released by peer")
    assert ev_client[-1].reason is CloseReason.RELEASED  # type: ignore[union-attr]
    assert client.closed and server.closed


def test_responder_answers_the_reference_request() -> None:
    server = Association(Role.RESPONDER)
    events = server.receive_bytes(annex_a.COTP_CR)
    assert events == [TransportConnected(8192)]
    cc = server.data_to_send()
    assert cc == annex_a.COTP_CC
    events = server.receive_bytes(annex_a.ASSOCIATE_REQUEST)
    assert isinstance(events[0], AssociationRequested)
    assert events[0].aarq.called_ap_title == "1.1.1.999.1"
    server.accept()
    receiver = stack.TransportReceiver()
    (tsdu,) = receiver.feed(server.data_to_send())
    assert isinstance(tsdu, stack.TsduReceived)
    confirm = stack.unwrap(tsdu.data)
    assert isinstance(confirm, stack.AssociateConfirm)
    assert confirm.aare.result == acse.AssociateResult.ACCEPTED
    assert confirm.spdu.responding_selector == b"\x00\x01"
    initiate = decode_pdu(confirm.aare.user_information or b"")
    assert isinstance(initiate, InitiateResponse)
    assert initiate.local_detail == 65000
    assert initiate.max_serv_outstanding_calling == 5


def test_refusal_reaches_the_initiator_as_rejected() -> None:
    client = Association(Role.INITIATOR)
    server = Association(Role.RESPONDER)
    client.start()
    pump(client, server)
    server.refuse(acse.UserDiagnostic.CALLING_AP_TITLE_NOT_RECOGNIZED)
    assert server.close_reason is CloseReason.REFUSED
    ev_client, _ = pump(client, server)
    assert isinstance(ev_client[-1], AssociationClosed)
    assert ev_client[-1].reason is CloseReason.REJECTED
    assert "diagnostic 3" in ev_client[-1].detail


# A DT TPDU whose session SPDU is one octet: well framed, malformed above COTP.
BAD_DT = bytes.fromhex("03 00 00 08 02 f0 80 ff")


def test_frames_behind_the_request_wait_for_the_decision() -> None:
    server = Association(Role.RESPONDER)
    events = server.receive_bytes(annex_a.COTP_CR + annex_a.ASSOCIATE_REQUEST + BAD_DT)
    assert [type(e) for e in events] == [TransportConnected, AssociationRequested]
    assert server.receive_bytes(BAD_DT) == []  # still held, still pending
    assert server.state is AssociationState.ASSOCIATING
    server.accept()
    assert server.data_to_send()  # the CC and the AARE
    (closed,) = server.resume()
    assert isinstance(closed, AssociationClosed)
    assert closed.reason is CloseReason.PROTOCOL_ERROR
    assert closed.detail.startswith("session: ") and "offset 0" in closed.detail


def test_a_refused_request_drops_what_followed_it() -> None:
    server = Association(Role.RESPONDER)
    server.receive_bytes(annex_a.COTP_CR + annex_a.ASSOCIATE_REQUEST + BAD_DT)
    server.refuse(acse.UserDiagnostic.CALLING_AP_TITLE_NOT_RECOGNIZED)
    assert server.close_reason is CloseReason.REFUSED
    assert server.resume() == []


def test_a_request_pipelined_behind_the_aarq_is_served_after_accept() -> None:
    read = annex_a.MMS_PDUS["Read ICC1/Next_DSTransfer_Set"]
    server = Association(Role.RESPONDER)
    events = server.receive_bytes(
        annex_a.COTP_CR + annex_a.ASSOCIATE_REQUEST + mms_tsdu_frames(read)[:9]
    )
    assert isinstance(events[-1], AssociationRequested)
    assert server.receive_bytes(mms_tsdu_frames(read)[9:]) == []
    server.accept()
    (got,) = server.resume()
    assert isinstance(got, PduReceived) and isinstance(got.pdu, ConfirmedRequest)
    assert server.resume() == []


def test_a_flood_while_the_request_is_pending_is_bounded() -> None:
    server = Association(Role.RESPONDER, AssociationConfig(max_pdu_size=1024, max_tsdu_size=2048))
    server.receive_bytes(annex_a.COTP_CR + annex_a.ASSOCIATE_REQUEST)
    for _ in range(10):
        server.receive_bytes(bytes(1000))
    server.accept()
    events = server.resume()
    assert isinstance(events[-1], AssociationClosed)
    assert events[-1].reason is CloseReason.PROTOCOL_ERROR


def test_aarq_without_initiate_is_refused() -> None:
    server = Association(Role.RESPONDER)
    server.receive_bytes(annex_a.COTP_CR)
    server.data_to_send()
    tsdu = stack.wrap_aarq(acse.Aarq(user_information=b"\x30\x00"))
    events = server.receive_bytes(b"".join(stack.tsdu_frames(tsdu, 8192)))
    assert events[-1] == AssociationClosed(CloseReason.REFUSED, events[-1].detail)  # type: ignore[union-attr]
    assert server.data_to_send()  # the RF( CPR( AARE rejected ) )


def test_a_connect_without_the_mms_context_is_refused_with_local_limit_exceeded() -> None:
    server = Association(Role.RESPONDER)
    server.receive_bytes(annex_a.COTP_CR)
    server.data_to_send()
    cp = presentation.ConnectPpdu(
        contexts=(presentation.ContextDefinition(1, presentation.ACSE_ABSTRACT_SYNTAX),),
        user_data=(presentation.PresentationDataValue(1, acse.encode_apdu(acse.Aarq())),),
    )
    connect = session.encode_spdu(session.ConnectSpdu(presentation.encode_connect(cp)))
    events = server.receive_bytes(b"".join(stack.tsdu_frames(connect, 8192)))
    assert isinstance(events[-1], AssociationClosed)
    assert events[-1].reason is CloseReason.REFUSED
    (tsdu,) = stack.TransportReceiver().feed(server.data_to_send())
    assert isinstance(tsdu, stack.TsduReceived)
    refused = stack.unwrap(tsdu.data)
    assert isinstance(refused, stack.AssociateRefused) and refused.ppdu is not None
    reason = refused.ppdu.provider_reason
    assert reason is presentation.RefuseReason.LOCAL_LIMIT_EXCEEDED  # X.226: 2, not 3


def test_garbage_before_association_closes() -> None:
    server = Association(Role.RESPONDER)
    events = server.receive_bytes(b"\x04\x00\x00\x10" + bytes(12))
    assert events == [AssociationClosed(CloseReason.PROTOCOL_ERROR, events[0].detail)]  # type: ignore[union-attr]
    assert server.receive_bytes(annex_a.COTP_CR) == []


def test_methods_refuse_wrong_states() -> None:
    client = Association(Role.INITIATOR)
    with pytest.raises(AssociationError):
        client.send_pdu(IDENTIFY)
    with pytest.raises(AssociationError):
        client.accept()
    with pytest.raises(AssociationError):
        client.conclude()
    client.start()
    with pytest.raises(AssociationError):
        client.start()


# --------------------------------------------------------------------------- data phase


def test_oversize_outgoing_pdu_raises_before_sending() -> None:
    client, server = pair(server_cfg=AssociationConfig(max_pdu_size=200))
    big = Unconfirmed(
        InformationReport(
            VariableList((VariableEntry(ObjectName.vmd("X")),)), (OctetString(bytes(300)),)
        )
    )
    with pytest.raises(PduTooLargeError) as info:
        server.send_pdu(big)
    assert info.value.limit == 200
    assert server.data_to_send() == b""
    with pytest.raises(PduTooLargeError):
        client.send_pdu(big)


def test_oversize_incoming_request_gets_pdu_size_error() -> None:
    _, server = pair(server_cfg=AssociationConfig(max_pdu_size=200))
    raw = encode_pdu(ConfirmedRequest(9, IdentifyRequest()))
    padded = tlv(0xA0, b"\x02\x01\x09\x82\x00" + b"")  # same request, then pad inside a TLV
    assert decode_pdu(padded) == decode_pdu(raw)
    name = ObjectName.vmd("A" * 30)
    huge = ConfirmedRequest(
        9, ReadRequest(VariableList(tuple(VariableEntry(name) for _ in range(8))))
    )
    events = server.receive_bytes(mms_tsdu_frames(encode_pdu(huge)))
    assert events == []
    assert sent_pdus(server) == [
        ConfirmedError(9, ServiceError(ErrorClass.SERVICE, ServiceCode.PDU_SIZE))
    ]


def test_undecodable_request_is_rejected_with_its_invoke_id() -> None:
    _, server = pair()
    bad_request = bytes.fromhex("a00a020107a405a103a00100")  # invokeID 7, broken Read
    assert server.receive_bytes(mms_tsdu_frames(bad_request)) == []
    assert sent_pdus(server) == [Reject(RejectType.CONFIRMED_REQUEST, 4, 7)]
    assert server.receive_bytes(mms_tsdu_frames(b"\x9f\x01\x00")) == []
    assert sent_pdus(server) == [Reject(RejectType.PDU_ERROR, 0, None)]
    assert server.receive_bytes(mms_tsdu_frames(b"\xa0\x02\x80\x00")) == []
    assert sent_pdus(server) == [Reject(RejectType.PDU_ERROR, 1, None)]
    assert server.state is AssociationState.ASSOCIATED


def test_unknown_service_and_limits_are_rejected() -> None:
    _, server = pair(server_cfg=AssociationConfig(max_serv_outstanding_calling=2))
    unknown = tlv(0xA0, b"\x02\x01\x05" + tlv(0x80, b"\x00"))  # status: not modelled
    server.receive_bytes(mms_tsdu_frames(unknown))
    assert sent_pdus(server) == [Reject(RejectType.CONFIRMED_REQUEST, 1, 5)]
    for iid in (1, 2, 3):
        server.receive_bytes(mms_tsdu_frames(encode_pdu(ConfirmedRequest(iid, IdentifyRequest()))))
    assert sent_pdus(server) == [Reject(RejectType.CONFIRMED_REQUEST, 6, 3)]
    server.receive_bytes(mms_tsdu_frames(encode_pdu(ConfirmedRequest(1, IdentifyRequest()))))
    assert sent_pdus(server) == [Reject(RejectType.CONFIRMED_REQUEST, 3, 1)]
    # a Conclude with requests unanswered is refused
    server.receive_bytes(mms_tsdu_frames(b"\x8b\x00"))
    err = ServiceError(ErrorClass.CONCLUDE, ConcludeCode.FURTHER_COMMUNICATION_REQUIRED)
    assert sent_pdus(server) == [ConcludeError(err)]


def test_outgoing_limit_and_late_answers() -> None:
    client, server = pair(client_cfg=AssociationConfig(max_serv_outstanding_calling=1))
    client.send_pdu(ConfirmedRequest(client.new_invoke_id(), IdentifyRequest()))
    with pytest.raises(OutstandingLimitError):
        client.send_pdu(ConfirmedRequest(client.new_invoke_id(), IdentifyRequest()))
    pump(client, server)
    client.forget_request(1)
    server.send_pdu(ConfirmedResponse(1, IdentifyResponse("v", "m", "r")))
    ev_client, _ = pump(client, server)
    assert ev_client == []  # the late answer is dropped
    server.receive_bytes(b"")  # nothing happens on empty input
    # an answer nobody asked for is rejected
    bogus = ConfirmedResponse(42, IdentifyResponse("v", "m", "r"))
    client.receive_bytes(mms_tsdu_frames(encode_pdu(bogus)))
    assert sent_pdus(client) == [Reject(RejectType.CONFIRMED_RESPONSE, 2, 42)]


def test_undecodable_response_fails_its_request() -> None:
    client, server = pair()
    client.send_pdu(ConfirmedRequest(1, IdentifyRequest()))
    pump(client, server)
    events = client.receive_bytes(mms_tsdu_frames(bytes.fromhex("a108020101a203800141")))
    assert len(events) == 1 and isinstance(events[0], ResponseUndecodable)
    assert events[0].invoke_id == 1
    assert sent_pdus(client) == [Reject(RejectType.CONFIRMED_RESPONSE, 3, 1)]


def test_conclude_refused_returns_to_associated() -> None:
    client, _ = pair()
    client.conclude()
    client.data_to_send()
    err = ServiceError(ErrorClass.CONCLUDE, ConcludeCode.FURTHER_COMMUNICATION_REQUIRED)
    events = client.receive_bytes(mms_tsdu_frames(encode_pdu(ConcludeError(err))))
    assert events == [ConcludeRefused(err)]
    assert client.state is AssociationState.ASSOCIATED


def test_a_peer_that_concludes_then_closes_the_transport_has_released() -> None:
    # libiec61850's MmsConnection_conclude may close TCP before its ACSE release goes out
    client, server = pair()
    client.conclude()
    assert server.receive_bytes(client.data_to_send()) == [ConcludeRequested()]
    assert server.connection_lost("end of stream") == [
        AssociationClosed(CloseReason.RELEASED, "concluded by peer; transport closed")
    ]
    _, other = pair()
    assert other.connection_lost("end of stream")[0].reason is CloseReason.CONNECTION_LOST


def test_abort_both_ways() -> None:
    client, server = pair()
    client.abort()
    assert client.close_reason is CloseReason.LOCAL_ABORT
    _, ev_server = pump(client, server)
    assert ev_server == [AssociationClosed(CloseReason.PEER_ABORTED, "ABORT from peer")]
    client2, server2 = pair()
    assert server2.connection_lost("eof") == [AssociationClosed(CloseReason.CONNECTION_LOST, "eof")]
    assert server2.connection_lost("again") == []
    del client2


def test_segmented_tsdus_with_small_tpdus() -> None:
    client, server = pair(client_cfg=AssociationConfig(tpdu_size=128))
    report = Unconfirmed(
        InformationReport(
            VariableList((VariableEntry(ObjectName.vmd("X")),)), (OctetString(bytes(1000)),)
        )
    )
    server.send_pdu(report)
    raw = server.data_to_send()
    assert raw.count(b"\x02\xf0\x00") >= 8
    events: list[Event] = []
    for i in range(0, len(raw), 7):  # dribble the bytes in
        events.extend(client.receive_bytes(raw[i : i + 7]))
    assert events == [PduReceived(report)]


def test_release_without_conclude_and_unexpected_disconnect() -> None:
    client, server = pair()
    client.release()
    ev_client, ev_server = pump(client, server)
    assert ev_server[-1].reason is CloseReason.RELEASED  # type: ignore[union-attr]
    assert ev_client[-1].reason is CloseReason.RELEASED  # type: ignore[union-attr]
    client, server = pair()
    disconnect = b"".join(stack.tsdu_frames(stack.wrap_release_response(), 8192))
    events = server.receive_bytes(disconnect)
    assert events[-1].reason is CloseReason.PROTOCOL_ERROR  # type: ignore[union-attr]
