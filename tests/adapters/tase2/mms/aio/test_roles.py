"""TCP role apart from MMS role, at the MMS layer: :meth:`MmsServer.call` (the server opens
the connection and initiates the association) with :class:`MmsListener` (the client listens,
answers the AARQ and then sends the requests); silent and refused connections."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from pathlib import Path

import pytest

from adapters.tase2.iso.acse import AuthenticationDecision, AuthenticationRequest, UserDiagnostic
from adapters.tase2.mms.aio.listener import MmsListener
from adapters.tase2.mms.aio.server import MmsServer, OutboundCall
from adapters.tase2.mms.aio.tls_context import build_endpoint
from adapters.tase2.mms.association import AssociationConfig, CloseReason
from adapters.tase2.mms.names import ObjectName
from tests.support import eventually
from tests.support.tase2.mms_model import DOMAIN, TestHandler
from tests.support.tls import TestPki

pytestmark = [pytest.mark.timeout(60), pytest.mark.both_loops]

SERVER = AssociationConfig(
    local_ap_title="1.1.1.999.1",
    local_ae_qualifier=12,
    remote_ap_title="1.1.1.999",
    remote_ae_qualifier=12,
    password=b"pw",
)
CLIENT = AssociationConfig(local_ap_title="1.1.1.999", local_ae_qualifier=12)


def password_pw(request: AuthenticationRequest, /) -> AuthenticationDecision:
    auth = request.authentication
    if auth is None or auth.value != b"pw":
        return AuthenticationDecision.reject(UserDiagnostic.AUTHENTICATION_FAILURE, "bad pw")
    return AuthenticationDecision.accept()


async def test_the_calling_server_serves_the_listening_client() -> None:
    handler = TestHandler()
    server = MmsServer(handler, port=0)  # never started: it only calls
    seen: list[AuthenticationRequest] = []

    def verify(request: AuthenticationRequest, /) -> AuthenticationDecision:
        seen.append(request)
        return AuthenticationDecision.accept()

    async with MmsListener(port=0, config=CLIENT, authenticator=password_pw) as listener:
        call = asyncio.create_task(
            server.call("127.0.0.1", listener.port, OutboundCall(SERVER, verify))
        )
        client = await asyncio.wait_for(listener.accept(), 5.0)
        # the listener answered the AARQ, and it is the MMS requester now
        assert client.association.aarq is not None
        assert client.association.aarq.calling_ap_title == "1.1.1.999.1"
        identity = await client.identify()
        assert identity.model == "test-model"
        (value,) = await client.read(ObjectName.dom(DOMAIN, "Power"))
        assert value is not None
        assert "identify" in handler.calls
        # the server saw the AARE's AP-title (the listener's own) and its address
        (request,) = seen
        assert request.calling_ap_title == "1.1.1.999"
        assert request.peer_address == "127.0.0.1"
        assert len(server.associations) == 1
        await client.conclude()
        result = await asyncio.wait_for(call, 5.0)
    assert result.established and "released" in result.detail
    assert client.close_reason is CloseReason.RELEASED


async def test_a_refused_call_and_a_peer_the_server_does_not_accept() -> None:
    server = MmsServer(TestHandler(), port=0)
    wrong = AssociationConfig(local_ap_title="1.1.1.999.1", password=b"nope")
    async with MmsListener(port=0, config=CLIENT, authenticator=password_pw) as listener:
        result = await server.call("127.0.0.1", listener.port, OutboundCall(wrong))
        assert not result.established
        assert "diagnostic 13" in result.detail
        assert listener.refused == {"diagnostic-13": 1}

        def refuse(request: AuthenticationRequest, /) -> AuthenticationDecision:
            return AuthenticationDecision.reject(UserDiagnostic.NO_REASON_GIVEN, "not my peer")

        call = asyncio.create_task(
            server.call("127.0.0.1", listener.port, OutboundCall(SERVER, refuse))
        )
        client = await asyncio.wait_for(listener.accept(), 5.0)
        await client.wait_closed(5.0)  # the server aborted it
        result = await asyncio.wait_for(call, 5.0)
        assert not result.established and "not my peer" in result.detail
    nobody = await server.call("127.0.0.1", listener.port, OutboundCall(SERVER), connect_timeout=2)
    assert not nobody.established and nobody.detail.startswith("cannot connect to 127.0.0.1:")


async def test_a_silent_connection_is_closed_after_the_association_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with MmsListener(port=0, config=CLIENT, association_timeout=0.3) as listener:
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        data = await asyncio.wait_for(reader.read(100), 5.0)
        assert data == b""  # closed by the listener
        writer.close()
        await eventually(lambda: "closed before association" in caplog.text, 2.0)
    assert "no association request within 0.3s" in caplog.text


async def test_a_call_cancelled_in_its_tls_handshake_leaves_no_association(
    tmp_path: Path,
) -> None:
    """Stopping while an outbound TLS handshake is under way (the caller task cancelled, as
    Tase2Server.stop does) aborts the connection: the listener never sees an association
    from a stopped server."""
    pki = TestPki(tmp_path)
    ep = build_endpoint(pki.settings(pki.identity("a")), server_side=True)
    async with MmsListener(port=0, config=CLIENT, tls=ep) as listener:

        async def slow_proxy(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            ur, uw = await asyncio.open_connection("127.0.0.1", listener.port)

            async def pump(
                src: asyncio.StreamReader, dst: asyncio.StreamWriter, delay: float
            ) -> None:
                while data := await src.read(65536):
                    await asyncio.sleep(delay)
                    dst.write(data)
                    await dst.drain()
                dst.close()

            await asyncio.gather(pump(r, uw, 1.0), pump(ur, w, 0), return_exceptions=True)

        proxy = await asyncio.start_server(slow_proxy, "127.0.0.1", 0)
        try:
            port = proxy.sockets[0].getsockname()[1]
            server = MmsServer(TestHandler(), port=0)
            cep = build_endpoint(pki.settings(pki.identity("b")), server_side=False)
            call = OutboundCall(dataclasses.replace(SERVER, password=None))
            task = asyncio.create_task(server.call("127.0.0.1", port, call, tls=cep))
            await asyncio.sleep(0.3)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await server.stop()
            with pytest.raises(TimeoutError):
                client = await asyncio.wait_for(listener.accept(), 6.0)
                await client.abort()
            assert not server.associations and server._handshaking() == 0
        finally:
            proxy.close()


@pytest.mark.parametrize("version", ["1.2", "1.3"])
async def test_a_listener_refusing_the_callers_certificate_is_a_tls_failure(
    tmp_path: Path, version: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Under TLS 1.3 the refusal of the caller's certificate comes after its handshake:
    the call still reports the TLS failure (not 'connection lost'), in one line."""
    caplog.set_level(logging.WARNING, logger="adapters.tase2.mms.aio.server")
    pki, stranger = TestPki(tmp_path / "pki"), TestPki(tmp_path / "stranger")
    ep = build_endpoint(pki.settings(pki.identity("listener")), server_side=True)
    async with MmsListener(port=0, config=CLIENT, tls=ep) as listener:
        server = MmsServer(TestHandler(), port=0)
        cep = build_endpoint(
            stranger.settings(stranger.identity("caller"), ca=pki.ca_file, max_version=version),
            server_side=False,
        )
        result = await server.call("127.0.0.1", listener.port, OutboundCall(SERVER), tls=cep)
        assert not result.established
        assert result.detail.startswith("TLS "), result.detail
        assert "unknown-ca" in result.detail or "bad-certificate" in result.detail, result.detail
        assert server.tls_failures, server.tls_failures
        ours = [r for r in caplog.records if r.name == "adapters.tase2.mms.aio.server"]
        assert not [r for r in ours if r.levelno >= logging.WARNING]  # the caller logs it


async def test_a_tls_listener_checks_the_address_before_the_handshake(tmp_path: Path) -> None:
    """``allow`` is applied at TCP connect: a refused address costs no TLS handshake (the
    connection closes at once, no TLS failure is counted)."""
    pki = TestPki(tmp_path)
    ep = build_endpoint(pki.settings(pki.identity("a")), server_side=True)
    async with MmsListener(port=0, config=CLIENT, tls=ep, allow=lambda ip: False) as listener:
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        try:
            assert await asyncio.wait_for(reader.read(), 3.0) == b""
        finally:
            writer.close()
        assert listener.refused == {"address": 1}, listener.refused


async def test_silent_connections_do_not_lock_out_the_real_caller() -> None:
    """Idle sockets hold at most MAX_PENDING_PER_SOURCE places, and one silent past the
    grace time is closed to make room: the calling server still gets through."""
    from adapters.tase2.mms.aio.admission import SILENT_GRACE
    from adapters.tase2.mms.aio.listener import MAX_PENDING, MAX_PENDING_PER_SOURCE

    server = MmsServer(TestHandler(), port=0)
    async with MmsListener(port=0, config=CLIENT) as listener:
        idle = [
            await asyncio.open_connection("127.0.0.1", listener.port) for _ in range(MAX_PENDING)
        ]
        try:
            await eventually(
                lambda: listener.refused.get("pending", 0) == MAX_PENDING - MAX_PENDING_PER_SOURCE,
                3.0,
                "the idle connections beyond the per-source limit refused",
            )
            await asyncio.sleep(SILENT_GRACE + 0.2)
            call = asyncio.create_task(
                server.call("127.0.0.1", listener.port, OutboundCall(SERVER))
            )
            client = await asyncio.wait_for(listener.accept(), 5.0)
            await client.conclude()
            result = await asyncio.wait_for(call, 5.0)
            assert result.established, result
            # the oldest idle connection was closed for it
            assert await asyncio.wait_for(idle[0][0].read(), 3.0) == b""
        finally:
            for _, w in idle:
                w.close()
