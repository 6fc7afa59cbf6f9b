"""The asyncio MMS server on loopback, driven by our own client (see the interop tests for
libiec61850): service dispatch, concurrency, authentication, hooks and many associations."""

from __future__ import annotations

import asyncio
import logging

import pytest

from adapters.tase2.iso import acse, stack
from adapters.tase2.mms.access import VariableEntry, VariableList
from adapters.tase2.mms.aio.client import MmsAssociationError, MmsClient
from adapters.tase2.mms.aio.server import AssociationContext, MmsServer
from adapters.tase2.mms.association import AssociationConfig, CloseReason, PreparedRead
from adapters.tase2.mms.data import (
    DataAccessError,
    Float32,
    Integer,
    OctetString,
    VisibleString,
    encode_access_result,
)
from adapters.tase2.mms.names import ObjectName, Scope
from adapters.tase2.mms.pdu import ConfirmedRequest, encode_pdu
from adapters.tase2.mms.service_error import AccessCode, DefinitionCode, ErrorClass, MmsServiceError
from adapters.tase2.mms.services import InformationReport, ObjectClass, ReadRequest, ReadResponse
from tests.support import eventually
from tests.support.tase2 import annex_a
from tests.support.tase2.mms_model import DOMAIN, REALQ_TYPE, TestHandler, realq

pytestmark = [pytest.mark.timeout(60), pytest.mark.both_loops]  # the gateway runs on uvloop

CLIENT = AssociationConfig(local_ap_title="1.1.1.999", local_ae_qualifier=12)
POWER = ObjectName.dom(DOMAIN, "Power")


async def test_services_through_the_server() -> None:
    handler = TestHandler(page_size=2)
    async with MmsServer(handler, port=0) as server:
        client = await MmsClient.connect("127.0.0.1", server.port, config=CLIENT)
        ident = await client.identify()
        assert ident.model == "test-model"
        assert await client.get_name_list(ObjectClass.DOMAIN) == [DOMAIN]
        names = await client.get_name_list(ObjectClass.NAMED_VARIABLE, Scope.DOMAIN, DOMAIN)
        assert names == ["Counter", "Label", "Power", "Setpoint"]  # two pages of two
        assert await client.get_name_list(ObjectClass.NAMED_VARIABLE) == ["Bilateral_Table_ID"]
        assert await client.get_variable_access_attributes(POWER) == REALQ_TYPE
        assert await client.read(POWER, ObjectName.vmd("Nope")) == (
            realq(123.5, 0x20),
            DataAccessError.OBJECT_NON_EXISTENT,
        )
        setpoint = ObjectName.dom(DOMAIN, "Setpoint")
        assert await client.write(setpoint, Float32(4.5)) is None
        assert await client.write(setpoint, Integer(4)) is DataAccessError.TYPE_INCONSISTENT
        assert await client.read(setpoint) == (Float32(4.5),)
        ds = ObjectName.dom(DOMAIN, "DS1")
        await client.define_named_variable_list(ds, [POWER, setpoint])
        with pytest.raises(MmsServiceError) as info:
            await client.define_named_variable_list(ds, [POWER])
        assert info.value.error.error_class is ErrorClass.DEFINITION
        assert info.value.error.code == DefinitionCode.OBJECT_EXISTS
        attrs = await client.get_named_variable_list_attributes(ds)
        assert [e.name for e in attrs.variables] == [POWER, setpoint]
        assert await client.read_list(ds) == (realq(123.5, 0x20), Float32(4.5))
        assert await client.get_name_list(
            ObjectClass.NAMED_VARIABLE_LIST, Scope.DOMAIN, DOMAIN
        ) == ["DS1"]
        deleted = await client.delete_named_variable_list(ds)
        assert (deleted.matched, deleted.deleted) == (1, 1)
        with pytest.raises(MmsServiceError) as info:
            await client.get_variable_access_attributes(ObjectName.vmd("Nope"))
        assert info.value.error.code == AccessCode.OBJECT_NON_EXISTENT
        await client.conclude()
        assert client.close_reason is CloseReason.RELEASED


async def test_slow_requests_do_not_block_the_connection() -> None:
    handler = TestHandler(read_delay=0.3)
    async with MmsServer(handler, port=0) as server:
        client = await MmsClient.connect("127.0.0.1", server.port, config=CLIENT)
        results = await asyncio.gather(*(client.read(POWER) for _ in range(5)))
        assert handler.most_reads_in_flight == 5  # all five were served at once
        assert all(r == (realq(123.5, 0x20),) for r in results)
        await client.conclude()


async def test_authenticator_refuses_and_end_hook_runs() -> None:
    ended: list[tuple[str | None, CloseReason]] = []

    def on_end(ctx: AssociationContext, reason: CloseReason, detail: str) -> None:
        ended.append((ctx.ap_title, reason))

    auth = acse.password_authenticator({"1.1.1.999": b"secret"})
    async with MmsServer(
        TestHandler(), port=0, authenticator=auth, on_association_end=on_end
    ) as server:
        with pytest.raises(MmsAssociationError) as info:
            await MmsClient.connect("127.0.0.1", server.port, config=CLIENT)
        assert info.value.reason is CloseReason.REJECTED
        cfg = AssociationConfig(local_ap_title="1.1.1.999", password=b"secret")
        client = await MmsClient.connect("127.0.0.1", server.port, config=cfg)
        assert len(server.associations) == 1
        ctx = server.associations[0]
        assert ctx.ap_title == "1.1.1.999"
        ctx.data["transfer_sets"] = ["DSTS1"]
        await client.abort()
        for _ in range(100):
            if ended:
                break
            await asyncio.sleep(0.02)
    assert ended == [("1.1.1.999", CloseReason.CONNECTION_LOST)] or ended == [
        ("1.1.1.999", CloseReason.PEER_ABORTED)
    ]


async def test_reports_reach_the_client() -> None:
    async with MmsServer(TestHandler(), port=0) as server:
        client = await MmsClient.connect("127.0.0.1", server.port, config=CLIENT)
        spec = VariableList((VariableEntry(POWER),))
        ctx = server.associations[0]
        for i in range(3):
            await ctx.send_information_report(InformationReport(spec, (realq(float(i)),)))
        received = []
        async for report in client.reports():
            received.append(report.results[0])
            if len(received) == 3:
                break
        assert received == [realq(0.0), realq(1.0), realq(2.0)]
        await client.conclude()


async def test_many_concurrent_associations() -> None:
    # 20 at once from one address: more than the default per-source pre-association limit
    async with MmsServer(TestHandler(), port=0, max_pending_per_source=32) as server:
        clients = await asyncio.gather(
            *(MmsClient.connect("127.0.0.1", server.port, config=CLIENT) for _ in range(20))
        )
        assert len(server.associations) == 20
        results = await asyncio.gather(*(c.read(POWER) for c in clients))
        assert len(results) == 20
        await asyncio.gather(*(c.conclude() for c in clients))
        for _ in range(100):
            if not server.associations:
                break
            await asyncio.sleep(0.02)
        assert server.associations == ()


async def test_association_timeout_closes_silent_connections() -> None:
    async with MmsServer(TestHandler(), port=0, association_timeout=0.3) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        data = await asyncio.wait_for(reader.read(100), 3.0)
        assert data == b""  # closed by the server
        writer.close()


async def test_stop_aborts_live_associations() -> None:
    server = MmsServer(TestHandler(), port=0)
    await server.start()
    client = await MmsClient.connect("127.0.0.1", server.port, config=CLIENT)
    await server.stop()
    await client.wait_closed(3.0)
    assert client.close_reason in (CloseReason.PEER_ABORTED, CloseReason.CONNECTION_LOST)


# --------------------------------------------------------------------------- hostile input

BAD_TPKTS = {
    "bad version": bytes.fromhex("04 00 00 08 02 f0 80 ff"),
    "bad length": bytes.fromhex("03 00 00 05 02"),
    "bad session SPDU": bytes.fromhex("03 00 00 08 02 f0 80 ff"),
    "bad presentation PPDU": bytes.fromhex("03 00 00 0b 02 f0 80 01 00 01 00"),
}


def _tracebacks(records: list[logging.LogRecord]) -> list[str]:
    return [r.getMessage() for r in records if r.exc_info or r.levelno >= logging.ERROR]


async def _read_to_end(reader: asyncio.StreamReader) -> bytes:
    data = b""
    for _ in range(50):
        chunk = await asyncio.wait_for(reader.read(65536), 5.0)
        if not chunk:
            return data
        data += chunk
    raise AssertionError("the server did not close the connection")


@pytest.mark.parametrize("bad", BAD_TPKTS.values(), ids=BAD_TPKTS.keys())
@pytest.mark.parametrize("accept", [True, False], ids=["accepted", "refused"])
async def test_cr_aarq_and_a_bad_tpkt_in_one_send_close_cleanly(
    caplog: pytest.LogCaptureFixture, bad: bytes, accept: bool
) -> None:
    caplog.set_level(logging.INFO)
    ended: list[tuple[CloseReason, str]] = []
    auth = acse.accept_all if accept else acse.password_authenticator({})
    async with MmsServer(
        TestHandler(),
        port=0,
        authenticator=auth,
        on_association_end=lambda ctx, reason, detail: ended.append((reason, detail)),
    ) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(annex_a.COTP_CR + annex_a.ASSOCIATE_REQUEST + bad)
        await _read_to_end(reader)
        writer.close()
        await eventually(lambda: not server._connections, 5.0, "the connection to end")
        ended_first = list(ended)
        if accept:  # the server serves on
            client = await MmsClient.connect("127.0.0.1", server.port, config=CLIENT)
            await client.conclude()
    assert _tracebacks(caplog.records) == []
    decided = bad[:2] == b"\x03\x00" and len(bad) >= 7  # framing errors end it before the AARQ
    if decided and accept:  # accepted, then ended by the bad frame
        assert [reason for reason, _ in ended_first] == [CloseReason.PROTOCOL_ERROR]
    elif decided:
        assert any("refused" in r.getMessage() for r in caplog.records)
    else:
        assert ended_first == []
        assert any("tpkt: " in r.getMessage() for r in caplog.records)


async def test_protocol_errors_before_association_are_one_line_naming_layer_offset_peer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with MmsServer(TestHandler(), port=0) as server:
        for _ in range(20):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(annex_a.COTP_CR + bytes.fromhex("03 00 00 08 02 f0 80 ff"))
            await _read_to_end(reader)
            writer.close()
        await eventually(lambda: not server._connections, 5.0, "the connections to end")
    lines = [r.getMessage() for r in caplog.records if "before association" in r.getMessage()]
    assert len(lines) == 5  # occurrences 1, 2, 4, 8 and 16 from 127.0.0.1
    assert "peer=127.0.0.1:" in lines[0] and "session: " in lines[0] and "offset 0" in lines[0]
    assert lines[-1].endswith("[16 so far from this address]")


# --------------------------------------------------------------------------- time-outs, limits


async def test_a_silent_connection_is_closed_as_a_time_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with MmsServer(TestHandler(), port=0, association_timeout=0.2) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        assert await _read_to_end(reader) == b""
        writer.close()
        await eventually(lambda: not server._connections, 5.0, "the connection to end")
    (line,) = [r.getMessage() for r in caplog.records if "before association" in r.getMessage()]
    assert "association not completed in time" in line, line


async def test_an_idle_association_ends_as_a_time_out() -> None:
    ended: list[tuple[CloseReason, str]] = []
    async with MmsServer(
        TestHandler(),
        port=0,
        idle_timeout=0.2,
        on_association_end=lambda ctx, reason, detail: ended.append((reason, detail)),
    ) as server:
        client = await MmsClient.connect("127.0.0.1", server.port, config=CLIENT)
        await eventually(lambda: ended, 5.0, "the idle time-out")
        await client.abort()
    assert ended == [(CloseReason.LOCAL_ABORT, "idle timeout")]


async def test_idle_sockets_from_one_source_do_not_lock_out_a_peer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with MmsServer(
        TestHandler(), port=0, association_timeout=60.0, max_connections=32
    ) as server:
        idle = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(64)]
        await eventually(
            lambda: sum(r.at_eof() for r, _ in idle) >= 64 - 16, 5.0, "refusals beyond 16"
        )
        client = await _connect_retrying(server.port)
        assert await client.identify()
        await client.conclude()
        for _, w in idle:
            w.close()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) <= 10, [r.getMessage() for r in warnings]


async def _connect_retrying(port: int) -> MmsClient:
    """Our client, retrying (bounded) as a real peer does while the server makes room."""
    for _ in range(100):
        try:
            return await MmsClient.connect("127.0.0.1", port, config=CLIENT, connect_timeout=5.0)
        except MmsAssociationError:
            await asyncio.sleep(0.1)
    raise AssertionError("never associated")


class AnsweringHandler(TestHandler):
    """Reads of ``Now`` answered at once (answer_now), everything else by the coroutines."""

    def __init__(self) -> None:
        super().__init__()
        self.at_once = 0

    def answer_now(self, ctx: AssociationContext, service: object) -> object | None:
        if not isinstance(service, ReadRequest) or not isinstance(service.spec, VariableList):
            return None
        item = service.spec.items[0].name.item
        if item == "Refused":
            raise MmsServiceError.of(ErrorClass.ACCESS, AccessCode.OBJECT_ACCESS_DENIED)
        if item == "Broken":
            raise RuntimeError("a bug in the handler")
        if item != "Now":
            return None
        self.at_once += 1
        return ReadResponse((Integer(self.at_once),))


async def test_a_handler_answers_at_once_what_it_can_and_the_rest_as_before(
    caplog: pytest.LogCaptureFixture,
) -> None:
    handler = AnsweringHandler()
    async with MmsServer(handler, port=0) as server:
        client = await MmsClient.connect("127.0.0.1", server.port)
        now = ObjectName.dom(DOMAIN, "Now")
        answers = await asyncio.gather(*(client.read(now) for _ in range(5)))
        assert sorted(a[0].value for a in answers) == [1, 2, 3, 4, 5]  # type: ignore[union-attr]
        assert await client.read(ObjectName.dom(DOMAIN, "Power")) == (realq(123.5, 0x20),)
        with pytest.raises(MmsServiceError) as refused:
            await client.read(ObjectName.dom(DOMAIN, "Refused"))
        assert refused.value.error.code == AccessCode.OBJECT_ACCESS_DENIED
        with pytest.raises(MmsServiceError) as broken:
            await client.read(ObjectName.dom(DOMAIN, "Broken"))
        assert broken.value.error.error_class is ErrorClass.SERVICE
        assert "handler failed on ReadRequest" in caplog.text
        assert await client.read(now) == (Integer(6),)  # the association lives on
        await client.conclude()


class OctetsHandler(TestHandler):
    """Reads of ``Big`` answered on the fast path (prepare_read) with ``size`` octets."""

    def __init__(self, size: int = 200) -> None:
        super().__init__()
        self.size = size
        self.fast = 0

    def prepare_read(self, ctx: AssociationContext, request: ReadRequest) -> PreparedRead | None:
        spec = request.spec
        if not isinstance(spec, VariableList) or spec.items[0].name.item != "Big":
            return None
        return self.read

    def read(self) -> bytes:
        self.fast += 1
        return encode_access_result(OctetString(b"x" * self.size))


async def test_reads_answered_on_the_fast_path_keep_an_association_from_idling_out() -> None:
    ended: list[tuple[CloseReason, str]] = []
    handler = OctetsHandler()
    async with MmsServer(
        handler,
        port=0,
        idle_timeout=0.5,
        on_association_end=lambda ctx, reason, detail: ended.append((reason, detail)),
    ) as server:
        client = await MmsClient.connect("127.0.0.1", server.port, config=CLIENT)
        big = ObjectName.dom(DOMAIN, "Big")
        for _ in range(8):  # 1.6 s of Reads 0.2 s apart, all on the fast path
            assert await client.read(big) == (OctetString(b"x" * 200),)
            await asyncio.sleep(0.2)
        assert not ended and handler.fast == 8
        await eventually(lambda: ended, 5.0, "the idle time-out once the Reads stop")
        await client.abort()
    assert ended == [(CloseReason.LOCAL_ABORT, "idle timeout")]


async def test_a_peer_that_never_reads_its_answers_stops_being_read() -> None:
    handler = OctetsHandler(size=30_000)
    async with MmsServer(handler, port=0, config=AssociationConfig(tpdu_size=65531)) as server:
        client = await MmsClient.connect(
            "127.0.0.1", server.port, config=CLIENT, connect_timeout=5.0
        )
        request = ConfirmedRequest(
            1, ReadRequest(VariableList((VariableEntry(ObjectName.dom(DOMAIN, "Big")),)))
        )
        frame = b"".join(stack.tsdu_frames(stack.wrap_data(encode_pdu(request)), 8192))
        transport = client._link._transport  # the peer writes Reads behind the client's back
        assert transport is not None
        transport.pause_reading()  # ... and never reads what comes back
        (conn,) = server._connections
        for _ in range(20):  # until the socket buffers are full and the server stops reading
            transport.write(frame * 500)  # one invokeID: each is answered before the next
            await asyncio.sleep(0.05)
            if conn.link._read_paused:
                break
        assert conn.link._read_paused
        answered = handler.fast
        await asyncio.sleep(0.3)
        assert handler.fast == answered  # nothing more is read while the peer does not read
        assert conn.link._transport is not None
        assert conn.link._transport.get_write_buffer_size() < 1_000_000  # 256 KiB + one chunk
        await client.abort()


async def test_stopping_closes_the_connections_of_peers_that_do_not_read() -> None:
    handler = OctetsHandler(size=30_000)
    server = MmsServer(handler, port=0, config=AssociationConfig(tpdu_size=65531))
    await server.start()
    clients = [
        await MmsClient.connect("127.0.0.1", server.port, config=CLIENT, connect_timeout=5.0)
        for _ in range(3)
    ]
    request = ConfirmedRequest(
        1, ReadRequest(VariableList((VariableEntry(ObjectName.dom(DOMAIN, "Big")),)))
    )
    frame = b"".join(stack.tsdu_frames(stack.wrap_data(encode_pdu(request)), 8192))
    peers = [client._link._transport for client in clients]
    for transport in peers:  # each peer sends Reads and never reads what comes back
        assert transport is not None
        transport.pause_reading()
    conns = list(server._connections)
    for _ in range(20):  # until the socket buffers are full and the server stops reading
        for transport in peers:
            transport.write(frame * 500)  # type: ignore[union-attr]
        await asyncio.sleep(0.05)
        if all(c.link._read_paused for c in conns):
            break
    assert all(c.link._read_paused for c in conns)
    await server.stop(timeout=2.0)
    assert all(c.link._lost for c in conns)  # not waiting for ever to hand over the ABRT
    assert all(c.task is not None and c.task.done() for c in conns)
    for client in clients:
        await client.abort()


async def test_requests_are_read_and_answered_while_reports_keep_the_link_full() -> None:
    label = ObjectName.dom(DOMAIN, "Label")
    report = InformationReport(VariableList((VariableEntry(label),)), (OctetString(b"r" * 60_000),))
    async with MmsServer(TestHandler(), port=0) as server:
        client = await MmsClient.connect(
            "127.0.0.1",
            server.port,
            config=CLIENT,
            request_timeout=3.0,
            on_information_report=lambda _: None,
        )
        (conn,) = server._connections
        ctx = server.associations[0]

        async def reports() -> None:  # faster than the client takes them
            while True:
                await ctx.send_information_report(report)

        sender = asyncio.create_task(reports())
        try:
            await eventually(lambda: conn.link._write_paused, 5.0, "the reports fill the link")
            for _ in range(3):  # each time-out is 3 s
                assert await client.read(label) == (VisibleString("hello"),)
                await client.write(label, OctetString(b"w" * 60_000))
            assert conn.link._write_paused
        finally:
            sender.cancel()
        await client.abort()
