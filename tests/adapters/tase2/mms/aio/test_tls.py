"""MMS over TLS between our own client and server: mutual authentication, refusals with
their reasons (unknown CA, expired, revoked, pin mismatch), versions, resumption, reload."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import pytest

from adapters.tase2.mms.aio.client import MmsAssociationError, MmsClient
from adapters.tase2.mms.aio.server import MmsServer
from adapters.tase2.mms.aio.tls import TlsFailure
from adapters.tase2.mms.aio.tls_context import TlsEndpoint, build_endpoint
from adapters.tase2.mms.association import AssociationConfig, CloseReason
from adapters.tase2.mms.names import ObjectName
from tests.support import eventually
from tests.support.tase2.mms_model import DOMAIN, TestHandler, realq
from tests.support.tls import Identity, TestPki

pytestmark = [pytest.mark.timeout(60), pytest.mark.both_loops]

CLIENT = AssociationConfig(local_ap_title="1.1.1.999", local_ae_qualifier=12)
POWER = ObjectName.dom(DOMAIN, "Power")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki(tmp_path_factory.mktemp("pki"))


def server_tls(pki: TestPki, ident: Identity | None = None, **extra: object) -> TlsEndpoint:
    ident = ident or pki.identity("server")
    return build_endpoint(pki.settings(ident, **extra), server_side=True)  # type: ignore[arg-type]


def client_tls(pki: TestPki, ident: Identity, **extra: object) -> TlsEndpoint:
    return build_endpoint(pki.settings(ident, **extra), server_side=False)  # type: ignore[arg-type]


async def test_read_over_mutual_tls_both_versions(pki: TestPki) -> None:
    client_id = pki.identity("client")
    for version in ("1.2", "1.3"):
        async with MmsServer(TestHandler(), port=0, tls=server_tls(pki)) as server:
            tls = client_tls(pki, client_id, min_version=version, max_version=version)
            client = await MmsClient.connect("127.0.0.1", server.port, config=CLIENT, tls=tls)
            assert await client.read(POWER) == (realq(123.5, 0x20),)
            info = client.tls_info()
            assert info is not None and info["version"] == f"TLSv{version}"
            assert server.associations[0].peer_certificate is not None
            await client.conclude()
            assert client.close_reason is CloseReason.RELEASED
            assert server.tls_handshakes == 1


@pytest.mark.parametrize(
    ("case", "server_kind", "client_kind"),
    [
        ("unknown-ca", "unknown-ca", None),
        ("expired", "expired", None),
    ],
)
async def test_bad_client_certificate_is_refused_with_a_reason(
    pki: TestPki, caplog: pytest.LogCaptureFixture, case: str, server_kind: str, client_kind: None
) -> None:
    bad = pki.identity(f"client-{case}", expired=case == "expired", unknown_ca=case == "unknown-ca")
    caplog.set_level(logging.WARNING, "adapters.tase2.mms.aio.server")
    for version in ("1.2", "1.3"):
        failures: list[TlsFailure] = []
        async with MmsServer(TestHandler(), port=0, tls=server_tls(pki)) as server:
            tls = client_tls(pki, bad, min_version=version, max_version=version)
            with pytest.raises(MmsAssociationError) as info:
                await MmsClient.connect(
                    "127.0.0.1",
                    server.port,
                    config=CLIENT,
                    tls=tls,
                    connect_timeout=5.0,
                    on_tls_failure=failures.append,
                )
            assert "TLS" in str(info.value)
            await eventually(lambda: server.tls_failures.get(server_kind, 0) == 1)
            assert not server.associations
        assert failures, version  # the client hears the server's alert in both versions
        assert failures[0].kind.startswith("peer-refused"), failures[0]
    assert f"failed: {server_kind}" in caplog.text


async def test_client_refuses_a_server_from_an_unknown_ca(pki: TestPki) -> None:
    rogue = pki.identity("rogue-server", unknown_ca=True)
    tls = server_tls(pki, rogue, ca=pki.ca_file)
    async with MmsServer(TestHandler(), port=0, tls=tls) as server:
        with pytest.raises(MmsAssociationError, match="unknown-ca"):
            await MmsClient.connect(
                "127.0.0.1", server.port, config=CLIENT, tls=client_tls(pki, pki.identity("c2"))
            )


async def test_pinned_certificates(pki: TestPki, caplog: pytest.LogCaptureFixture) -> None:
    allowed = pki.identity("pinned-client")
    other = pki.identity("other-client")
    caplog.set_level(logging.WARNING, "adapters.tase2.mms.aio.server")
    tls = server_tls(pki, pinned=(allowed.fingerprint,))
    async with MmsServer(TestHandler(), port=0, tls=tls) as server:
        good = await MmsClient.connect(
            "127.0.0.1", server.port, config=CLIENT, tls=client_tls(pki, allowed)
        )
        assert await good.read(POWER) == (realq(123.5, 0x20),)
        await good.conclude()
        with pytest.raises(MmsAssociationError):
            await MmsClient.connect(
                "127.0.0.1", server.port, config=CLIENT, tls=client_tls(pki, other)
            )
        await eventually(lambda: server.tls_failures.get("pin-mismatch", 0) == 1)
    assert "pin-mismatch" in caplog.text and other.fingerprint in caplog.text
    # a pin given as a certificate file works the same
    assert build_endpoint(
        pki.settings(allowed, pinned=(str(allowed.certificate),)), server_side=True
    ).pins == frozenset({allowed.fingerprint})


async def test_revoked_certificate(pki: TestPki) -> None:
    revoked = pki.identity("revoked-client")
    crl = pki.crl([revoked])
    async with MmsServer(TestHandler(), port=0, tls=server_tls(pki, crl=crl)) as server:
        good = await MmsClient.connect(
            "127.0.0.1", server.port, config=CLIENT, tls=client_tls(pki, pki.identity("ok"))
        )
        await good.conclude()
        with pytest.raises(MmsAssociationError):
            await MmsClient.connect(
                "127.0.0.1", server.port, config=CLIENT, tls=client_tls(pki, revoked)
            )
        await eventually(lambda: server.tls_failures.get("revoked", 0) == 1)


async def test_session_resumption_tls12(pki: TestPki) -> None:
    tls = client_tls(pki, pki.identity("resuming"), max_version="1.2")
    async with MmsServer(TestHandler(), port=0, tls=server_tls(pki)) as server:
        reused = []
        for _ in range(2):
            client = await MmsClient.connect("127.0.0.1", server.port, config=CLIENT, tls=tls)
            info = client.tls_info()
            assert info is not None
            reused.append(info["session_reused"])
            await client.conclude()
        assert reused == [False, True]


async def test_session_resumption_tls13_with_tickets(pki: TestPki) -> None:
    tls = client_tls(pki, pki.identity("resuming13"), min_version="1.3")
    endpoint = server_tls(pki, session_tickets=2)
    async with MmsServer(TestHandler(), port=0, tls=endpoint) as server:
        reused = []
        for _ in range(2):
            client = await MmsClient.connect("127.0.0.1", server.port, config=CLIENT, tls=tls)
            await client.read(POWER)  # the ticket arrives after the handshake
            info = client.tls_info()
            assert info is not None
            reused.append(info["session_reused"])
            await client.conclude()
        assert reused == [False, True]


async def test_cleartext_client_on_tls_port_is_dropped(pki: TestPki) -> None:
    async with MmsServer(TestHandler(), port=0, tls=server_tls(pki)) as server:
        with pytest.raises(MmsAssociationError):
            await MmsClient.connect("127.0.0.1", server.port, config=CLIENT, connect_timeout=3.0)
        await eventually(lambda: sum(server.tls_failures.values()) == 1)
        assert "not-tls" in server.tls_failures


async def test_stopping_closes_connections_still_in_their_handshake(pki: TestPki) -> None:
    server = MmsServer(TestHandler(), port=0, tls=server_tls(pki, handshake_timeout=30.0))
    await server.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(bytes.fromhex("160301"))  # the start of a ClientHello, the rest never comes
    await eventually(lambda: server._handshaking() == 1, 5.0, "the handshake under way")
    await server.stop(timeout=2.0)
    async with asyncio.timeout(5.0):  # not the handshake's 30 s
        with contextlib.suppress(ConnectionResetError):  # aborted: RST or end of stream
            assert await reader.read(100) == b""
    assert server._handshaking() == 0
    writer.close()


async def test_new_context_for_new_connections_only(pki: TestPki, tmp_path: Path) -> None:
    """A reload (new CA) applies to new connections; the established one keeps its session."""
    client_id = pki.identity("reload-client")
    async with MmsServer(TestHandler(), port=0, tls=server_tls(pki)) as server:
        first = await MmsClient.connect(
            "127.0.0.1", server.port, config=CLIENT, tls=client_tls(pki, client_id)
        )
        server.tls = server_tls(pki, ca=pki.other_ca_file)  # now trusts only the other CA
        with pytest.raises(MmsAssociationError):
            await MmsClient.connect(
                "127.0.0.1", server.port, config=CLIENT, tls=client_tls(pki, client_id)
            )
        assert await first.read(POWER) == (realq(123.5, 0x20),)
        await first.conclude()
