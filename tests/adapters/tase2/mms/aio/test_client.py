"""The asyncio MMS client: invoke-id futures, the outstanding limit, timeouts, the
connection-lost signal and the negotiated PDU size."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from adapters.tase2.iso.acse import (
    DIAGNOSTIC_SOURCE_USER,
    AssociateResult,
    AuthenticationDecision,
    AuthenticationRequest,
    UserDiagnostic,
)
from adapters.tase2.mms.aio.client import (
    MmsAssociationError,
    MmsClient,
    MmsConnectionLost,
    MmsRequestTimeout,
)
from adapters.tase2.mms.aio.server import MmsServer
from adapters.tase2.mms.association import AssociationConfig, CloseReason, PduTooLargeError
from adapters.tase2.mms.data import DataAccessError, OctetString
from adapters.tase2.mms.names import ObjectName
from tests.support import eventually
from tests.support.tase2.mms_model import DOMAIN, TestHandler, realq

pytestmark = [pytest.mark.timeout(60), pytest.mark.both_loops]  # the gateway runs on uvloop

POWER = ObjectName.dom(DOMAIN, "Power")


async def test_outstanding_requests_never_exceed_the_negotiated_limit() -> None:
    handler = TestHandler(read_delay=0.05)
    in_flight = 0
    peak = 0
    original = handler.read

    async def counting_read(ctx, request):  # type: ignore[no-untyped-def]
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            return await original(ctx, request)
        finally:
            in_flight -= 1

    handler.read = counting_read  # type: ignore[method-assign]
    cfg = AssociationConfig(max_serv_outstanding_calling=3)
    async with MmsServer(handler, port=0) as server:
        client = await MmsClient.connect("127.0.0.1", server.port, config=cfg)
        assert client.parameters.max_serv_outstanding_calling == 3
        results = await asyncio.gather(*(client.read(POWER) for _ in range(12)))
        assert len(results) == 12
        assert peak == 3
        await client.conclude()


async def test_request_timeout_and_late_answer() -> None:
    handler = TestHandler(read_delay=0.5)
    async with MmsServer(handler, port=0) as server:
        client = await MmsClient.connect("127.0.0.1", server.port, request_timeout=0.1)
        with pytest.raises(MmsRequestTimeout):
            await client.read(POWER)
        handler.read_delay = 0.0
        await asyncio.sleep(0.6)  # the late answer arrives and is dropped
        assert await client.read(POWER) == (realq(123.5, 0x20),)
        await client.conclude()


async def test_a_cancel_that_meets_the_answer_is_not_swallowed() -> None:
    """Stopping a client while an answer arrives stops it (asyncio.wait_for on 3.11 would
    hand back the answer and lose the cancel: an adapter that never stops)."""
    handler = TestHandler(read_delay=5.0)
    async with MmsServer(handler, port=0) as server:
        client = await MmsClient.connect("127.0.0.1", server.port)
        task = asyncio.create_task(client.read(POWER))
        await eventually(lambda: client._pending, what="the request sent")
        (answer,) = client._pending.values()
        answer.set_exception(MmsConnectionLost("the answer, in the same loop step"))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await client.abort()


async def test_connection_lost_fails_every_outstanding_request() -> None:
    handler = TestHandler(read_delay=5.0)
    async with MmsServer(handler, port=0) as server:
        client = await MmsClient.connect("127.0.0.1", server.port)
        tasks = [asyncio.create_task(client.read(POWER)) for _ in range(4)]
        await asyncio.sleep(0.2)
        ctx = server.associations[0]
        await ctx.abort()
        done, _ = await asyncio.wait(tasks, timeout=3.0)
        assert len(done) == 4
        assert all(isinstance(t.exception(), MmsConnectionLost) for t in tasks)
        await client.wait_closed(1.0)
        assert client.close_reason is CloseReason.PEER_ABORTED
        with pytest.raises(MmsConnectionLost):
            await client.identify()


async def test_oversize_request_raises_before_sending() -> None:
    async with MmsServer(
        TestHandler(), port=0, config=AssociationConfig(max_pdu_size=256)
    ) as server:
        client = await MmsClient.connect("127.0.0.1", server.port)
        assert client.parameters.max_pdu_size == 256
        with pytest.raises(PduTooLargeError):
            await client.write(POWER, OctetString(bytes(300)))
        assert await client.read(POWER) == (realq(123.5, 0x20),)  # the association is fine
        await client.conclude()


async def test_connect_failures_are_typed() -> None:
    with pytest.raises(MmsAssociationError):
        await MmsClient.connect("127.0.0.1", 1, connect_timeout=2.0)

    # a TCP server that never answers: the association times out
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(100)
        await asyncio.sleep(2.0)
        writer.close()

    srv = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        with pytest.raises(MmsAssociationError):
            await MmsClient.connect("127.0.0.1", port, connect_timeout=0.3)
    finally:
        srv.close()
        await srv.wait_closed()


async def test_report_callback() -> None:
    from adapters.tase2.mms.access import VariableEntry, VariableList
    from adapters.tase2.mms.services import InformationReport

    got: list[InformationReport] = []
    async with MmsServer(TestHandler(), port=0) as server:
        client = await MmsClient.connect("127.0.0.1", server.port, on_information_report=got.append)
        report = InformationReport(VariableList((VariableEntry(POWER),)), (realq(1.0),))
        await server.associations[0].send_information_report(report)
        for _ in range(100):
            if got:
                break
            await asyncio.sleep(0.01)
        assert got == [report]
        async with client:
            pass
        assert client.close_reason is CloseReason.RELEASED


async def test_last_received_moves_with_answers_and_reports_only() -> None:
    from adapters.tase2.mms.access import VariableEntry, VariableList
    from adapters.tase2.mms.services import InformationReport

    handler = TestHandler()
    got: list[InformationReport] = []
    async with MmsServer(handler, port=0) as server:
        before = time.monotonic()
        client = await MmsClient.connect(
            "127.0.0.1", server.port, request_timeout=0.2, on_information_report=got.append
        )
        associated = client.last_received
        assert before <= associated <= time.monotonic()  # the association's answer

        sent = time.monotonic()
        await client.read(POWER)
        answered = client.last_received
        assert answered >= sent > associated

        handler.read_delay = 1.0  # no answer within the request timeout: no news
        with pytest.raises(MmsRequestTimeout):
            await client.read(POWER)
        assert client.last_received == answered

        sent = time.monotonic()
        report = InformationReport(VariableList((VariableEntry(POWER),)), (realq(1.0),))
        await server.associations[0].send_information_report(report)
        for _ in range(100):
            if got:
                break
            await asyncio.sleep(0.01)
        assert got == [report]
        assert client.last_received >= sent
        await client.abort()


async def test_a_refused_association_carries_the_servers_aare() -> None:
    def refuse(request: AuthenticationRequest) -> AuthenticationDecision:
        return AuthenticationDecision.reject(UserDiagnostic.CALLING_AP_TITLE_NOT_RECOGNIZED)

    cfg = AssociationConfig(local_ap_title="1.1.1.999", local_ae_qualifier=12)
    async with MmsServer(TestHandler(), port=0, authenticator=refuse) as server:
        with pytest.raises(MmsAssociationError) as caught:
            await MmsClient.connect("127.0.0.1", server.port, config=cfg)
    exc = caught.value
    assert exc.reason is CloseReason.REJECTED
    assert exc.aare is not None
    assert exc.aare.result == AssociateResult.REJECTED_PERMANENT
    assert exc.aare.diagnostic == UserDiagnostic.CALLING_AP_TITLE_NOT_RECOGNIZED
    assert exc.aare.diagnostic_source == DIAGNOSTIC_SOURCE_USER


LABEL = ObjectName.dom(DOMAIN, "Label")


def stop_reading(server: MmsServer, client: MmsClient) -> asyncio.Transport:
    """The server's end of its only connection, no longer read (a server that hangs), with
    small socket buffers between them."""
    (conn,) = server._connections
    transport = conn.link._transport
    assert transport is not None and client._link._transport is not None
    transport.pause_reading()
    transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sending = client._link._transport.get_extra_info("socket")
    sending.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    return transport


async def writes_waiting(
    client: MmsClient, count: int
) -> list[asyncio.Task[DataAccessError | None]]:
    """``count`` Writes of 60 kB started, once the client's writes back up."""
    big = OctetString(b"y" * 60_000)
    tasks = [asyncio.create_task(client.write(LABEL, big)) for _ in range(count)]
    await eventually(lambda: client._link._write_paused, 5.0, "the client's writes back up")
    return tasks


async def test_a_request_time_out_counts_a_peer_that_does_not_read() -> None:
    async with MmsServer(TestHandler(), port=0) as server:
        client = await MmsClient.connect("127.0.0.1", server.port, request_timeout=0.5)
        transport = stop_reading(server, client)
        tasks = await writes_waiting(client, 3)
        async with asyncio.timeout(5.0):
            done = await asyncio.gather(*tasks, return_exceptions=True)
        assert [type(r) for r in done] == [MmsRequestTimeout] * 3
        assert client._pending == {}  # nothing left to be failed, unread, when the link ends
        transport.resume_reading()
        await client.abort()


async def test_a_request_cancelled_while_writes_wait_leaves_the_others_waiting() -> None:
    async with MmsServer(TestHandler(), port=0) as server:
        client = await MmsClient.connect("127.0.0.1", server.port, request_timeout=10.0)
        transport = stop_reading(server, client)
        *others, victim = await writes_waiting(client, 4)  # the last one waits to be written
        victim.cancel()
        await asyncio.sleep(0.1)
        transport.resume_reading()
        async with asyncio.timeout(5.0):
            done = await asyncio.gather(*others, return_exceptions=True)
        assert not any(isinstance(r, BaseException) for r in done), done
        assert victim.cancelled() and client._pending == {}
        await client.abort()


async def test_reports_are_read_while_the_clients_writes_wait() -> None:
    from adapters.tase2.mms.access import VariableEntry, VariableList
    from adapters.tase2.mms.services import InformationReport

    got: list[InformationReport] = []
    async with MmsServer(TestHandler(), port=0) as server:
        client = await MmsClient.connect(
            "127.0.0.1", server.port, request_timeout=10.0, on_information_report=got.append
        )
        transport = stop_reading(server, client)
        tasks = await writes_waiting(client, 3)
        report = InformationReport(VariableList((VariableEntry(POWER),)), (realq(1.0),))
        for _ in range(3):  # both ends write: the client still reads what comes
            await server.associations[0].send_information_report(report)
        await eventually(lambda: len(got) == 3, 5.0, "the reports, read while writes wait")
        transport.resume_reading()
        await asyncio.gather(*tasks, return_exceptions=True)
        await client.abort()
