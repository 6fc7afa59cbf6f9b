"""TCP role apart from MMS role, at the MMS layer: :meth:`MmsServer.call` (the server opens
the connection and initiates the association) with :class:`MmsListener` (the client listens,
answers the AARQ and then sends the requests); silent and refused connections."""

from __future__ import annotations

import asyncio
import logging

import pytest

from adapters.tase2.iso.acse import AuthenticationDecision, AuthenticationRequest, UserDiagnostic
from adapters.tase2.mms.aio.listener import MmsListener
from adapters.tase2.mms.aio.server import MmsServer, OutboundCall
from adapters.tase2.mms.association import AssociationConfig, CloseReason
from adapters.tase2.mms.names import ObjectName
from tests.support import eventually
from tests.support.tase2.mms_model import DOMAIN, TestHandler

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
