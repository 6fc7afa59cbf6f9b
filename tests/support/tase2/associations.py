"""Associations in memory: an initiator and a responder exchanging bytes, sans-IO."""

from __future__ import annotations

from adapters.tase2.iso import stack
from adapters.tase2.mms.association import (
    Association,
    AssociationConfig,
    AssociationEstablished,
    AssociationRequested,
    Event,
    Role,
)
from adapters.tase2.mms.pdu import decode_pdu


def pump(a: Association, b: Association) -> tuple[list[Event], list[Event]]:
    """Move bytes both ways until both are quiet; returns (events of a, events of b)."""
    ev_a: list[Event] = []
    ev_b: list[Event] = []
    for _ in range(20):
        out_a, out_b = a.data_to_send(), b.data_to_send()
        if not out_a and not out_b:
            break
        if out_a:
            ev_b.extend(b.receive_bytes(out_a))
        if out_b:
            ev_a.extend(a.receive_bytes(out_b))
    return ev_a, ev_b


def pair(
    client_cfg: AssociationConfig | None = None, server_cfg: AssociationConfig | None = None
) -> tuple[Association, Association]:
    """An associated initiator/responder pair."""
    client = Association(
        Role.INITIATOR, client_cfg or AssociationConfig(local_ap_title="1.1.1.999")
    )
    server = Association(Role.RESPONDER, server_cfg)
    client.start()
    _, ev_server = pump(client, server)
    assert isinstance(ev_server[-1], AssociationRequested)
    server.accept()
    ev_client, _ = pump(client, server)
    assert isinstance(ev_client[-1], AssociationEstablished)
    return client, server


def mms_tsdu_frames(pdu: bytes) -> bytes:
    """A raw MMS PDU as the data TPKTs a peer would send."""
    return b"".join(stack.tsdu_frames(stack.wrap_data(pdu), 8192))


def sent_pdus(assoc: Association) -> list[object]:
    """Decode the MMS PDUs queued by ``assoc`` (data TSDUs only)."""
    return decode_sent(assoc.data_to_send())


def decode_sent(data: bytes) -> list[object]:
    """Decode the MMS PDUs in ``data``, what an association sent (data TSDUs only)."""
    receiver = stack.TransportReceiver()
    out = []
    for ev in receiver.feed(data):
        assert isinstance(ev, stack.TsduReceived)
        out.append(decode_pdu(stack.unwrap_data(ev.data).pdu))
    return out
