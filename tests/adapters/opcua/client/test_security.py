"""The opcua-client adapter's security against an asyncua server in another process: a
Basic256Sha256 SignAndEncrypt session, the server's certificate checked, our certificate
refused by the server, and a user certificate login."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from adapters.opcua.client.adapter import OpcUaClientAdapter
from adapters.opcua.client.settings import OpcUaClientSettings
from gateway.bus import PointBus
from gateway.points import PointDef, Validity
from tests.support import eventually, free_port, running
from tests.support.certs import CLIENT, SERVER, USER, Issued, TestCA, self_signed
from tests.support.peers.opcua_server_peer import OpcUaServerPeer

pytestmark = pytest.mark.timeout(120)

CLIENT_URI = "urn:iccp-gateway:tests:opcua-client"
SERVER_URI = "urn:iccp-gateway:tests:opcua-peer-server"
SECURE = "Basic256Sha256_SignAndEncrypt"
LOG = "adapters.opcua.client.adapter"


class Pki:
    """The certificates of one test module: the server's, the clients' and a user's."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.server = self_signed(root / "server", "peer-server", SERVER_URI, SERVER)
        self.client = self_signed(root / "clients", "gateway", CLIENT_URI, CLIENT)
        self.user = self_signed(root / "users", "operator", None, USER)
        self.stranger = self_signed(root / "strangers", "stranger", CLIENT_URI, CLIENT)
        self.impostor = self_signed(root / "impostor", "peer-server", SERVER_URI, SERVER)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


def _server_args(pki: Pki, *extra: str) -> list[str]:
    return [
        "--cert",
        str(pki.server.cert_path),
        "--key",
        str(pki.server.key_path),
        "--app-uri",
        SERVER_URI,
        "--policy",
        SECURE,
        "--trust",
        str(pki.client.cert_path.parent),
        *extra,
    ]


@pytest.fixture(scope="module")
def peer(pki: Pki) -> Iterator[OpcUaServerPeer]:
    server = OpcUaServerPeer(free_port(), *_server_args(pki)).start()
    try:
        yield server
    finally:
        server.stop()


def _client(url: str, ours: Issued, **extra: Any) -> tuple[PointBus, OpcUaClientAdapter]:
    settings = OpcUaClientSettings.model_validate(
        {
            "endpoints": [url],
            "points": [{"point": "P1", "node": "ns=2;s=P1"}],
            "security_policy": "Basic256Sha256",
            "security_mode": "SignAndEncrypt",
            "certificate": str(ours.cert_path),
            "private_key": str(ours.key_path),
            "publishing_interval": 20,
            "sampling_interval": 10,
            "backoff_initial": 0.2,
            "backoff_max": 0.5,
            **extra,
        }
    )
    bus = PointBus()
    bus.add_owner("ua")
    bus.register(PointDef(id="P1"), "ua")
    adapter = OpcUaClientAdapter("ua", settings, bus)
    bus.add_owner("ua", adapter.on_command)
    return bus, adapter


async def _flows(peer: OpcUaServerPeer, bus: PointBus, value: float) -> None:
    peer.set("P1", value)
    await eventually(lambda: bus.get("P1").value == value, 5, f"P1 = {value}")
    assert bus.get("P1").quality.validity is Validity.VALID


async def _refused(adapter: OpcUaClientAdapter, attempts: int = 3) -> str:
    """Run the adapter until it has failed `attempts` times; its last error then."""
    async with running(adapter):
        await eventually(lambda: adapter._failures >= attempts, 30, f"{attempts} attempts")
        assert adapter.state != "up"
    assert adapter.last_error is not None
    return adapter.last_error


async def test_a_sign_and_encrypt_session_with_the_server_certificate_pinned(
    peer: OpcUaServerPeer, pki: Pki
) -> None:
    bus, adapter = _client(peer.url, pki.client, server_certificate=str(pki.server.cert_path))
    async with running(adapter):
        await eventually(lambda: adapter.state == "up", 20, "secure session up")
        await _flows(peer, bus, 12.5)


async def test_a_server_certificate_trusted_through_its_ca(tmp_path: Path) -> None:
    ca = TestCA(tmp_path / "ca")
    server = ca.issue("server", SERVER_URI, SERVER)
    client = ca.issue("client", CLIENT_URI, CLIENT)
    args = ["--cert", str(server.cert_path), "--key", str(server.key_path), "--app-uri"]
    args += [SERVER_URI, "--policy", SECURE, "--trust", str(ca.ca.cert_path.parent)]
    peer = OpcUaServerPeer(free_port(), *args).start()
    try:
        bus, adapter = _client(peer.url, client, trusted_certificates=[str(ca.ca.cert_path)])
        async with running(adapter):
            await eventually(lambda: adapter.state == "up", 20, "secure session up")
            await _flows(peer, bus, 3.5)
    finally:
        peer.stop()


async def test_a_wrong_server_certificate_is_a_clear_error_with_back_off(
    peer: OpcUaServerPeer, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    _, pinned = _client(peer.url, pki.client, server_certificate=str(pki.impostor.cert_path))
    with caplog.at_level(logging.WARNING, logger=LOG):
        error = await _refused(pinned, attempts=4)
    assert "not server_certificate" in error and str(pki.impostor.cert_path) in error, error
    assert "CN=peer-server" in error
    lines = [r for r in caplog.records if "not server_certificate" in r.getMessage()]
    assert len(lines) == 3, lines  # attempts 1, 2 and 4: the same error is thinned out
    assert all(r.exc_info is None for r in caplog.records)
    _, untrusted = _client(
        peer.url, pki.client, trusted_certificates=[str(pki.impostor.cert_path.parent)]
    )
    error = await _refused(untrusted, attempts=2)
    assert "is not trusted" in error and "trusted_certificates" in error, error


async def test_our_certificate_refused_by_the_server_says_what_to_fix(
    peer: OpcUaServerPeer, pki: Pki
) -> None:
    _, adapter = _client(peer.url, pki.stranger, server_certificate=str(pki.server.cert_path))
    error = await _refused(adapter, attempts=2)
    assert "does not trust our certificate" in error and str(pki.stranger.cert_path) in error
    assert "BadCertificateUntrusted" in error


async def test_a_policy_the_server_does_not_offer_is_named(peer: OpcUaServerPeer, pki: Pki) -> None:
    _, adapter = _client(peer.url, pki.client, security_policy="Aes256Sha256RsaPss")
    error = await _refused(adapter, attempts=1)
    assert "no Aes256Sha256RsaPss/SignAndEncrypt endpoint" in error, error
    assert "Basic256Sha256/SignAndEncrypt" in error


async def test_user_certificate_login(pki: Pki) -> None:
    args = _server_args(pki, "--user-cert", str(pki.user.cert_path))
    peer = OpcUaServerPeer(free_port(), *args).start()
    try:
        user = {"user_certificate": str(pki.user.cert_path)}
        user["user_private_key"] = str(pki.user.key_path)
        bus, adapter = _client(peer.url, pki.client, **user)
        async with running(adapter):
            await eventually(lambda: adapter.state == "up", 20, "session up as the user")
            await _flows(peer, bus, 8.0)
        wrong = {"user_certificate": str(pki.stranger.cert_path)}
        wrong["user_private_key"] = str(pki.stranger.key_path)
        _, refused = _client(peer.url, pki.client, **wrong)
        error = await _refused(refused, attempts=1)
        assert "refused the user certificate" in error and "BadUserAccessDenied" in error, error
    finally:
        peer.stop()


def test_security_settings_errors_name_what_to_fix(pki: Pki, tmp_path: Path) -> None:
    no_uri = self_signed(tmp_path, "no-uri", None, CLIENT)
    base: dict[str, Any] = {
        "endpoints": ["opc.tcp://127.0.0.1:4840"],
        "security_policy": "Basic256Sha256",
        "certificate": str(pki.client.cert_path),
        "private_key": str(pki.client.key_path),
    }
    cases: list[tuple[dict[str, Any], str]] = [
        ({"certificate": str(no_uri.cert_path), "private_key": str(no_uri.key_path)}, "no URI"),
        ({"private_key": str(pki.user.key_path)}, "is not the key of certificate"),
        ({"certificate": str(tmp_path / "missing.pem")}, "missing.pem: cannot read"),
        ({"application_uri": "urn:other"}, "is not in certificate"),
        ({"server_certificate": str(pki.server.key_path)}, "not a PEM or DER"),
        ({"user_certificate": str(pki.user.cert_path)}, "both user_certificate and"),
        (
            {
                "user_certificate": str(pki.user.cert_path),
                "user_private_key": str(pki.client.key_path),
            },
            "is not the key of certificate",
        ),
        (
            {
                "user_certificate": str(pki.user.cert_path),
                "user_private_key": str(pki.user.key_path),
                "username": "u",
                "password": "p",
            },
            "not both",
        ),
        ({"security_policy": None, "server_certificate": str(pki.server.cert_path)}, "need a"),
    ]
    for extra, message in cases:
        with pytest.raises(ValidationError, match=message):
            OpcUaClientSettings.model_validate({**base, **extra})
    ok = OpcUaClientSettings.model_validate(
        {
            **base,
            "certificate": "clients/gateway.pem",
            "private_key": "clients/private/gateway-key.pem",
        },
        context={"base": pki.root},
    )
    assert ok.client_uri == CLIENT_URI  # taken from the certificate
    assert ok.certificate == str(pki.root / "clients" / "gateway.pem")


async def test_no_tight_loop_against_a_refusing_server(peer: OpcUaServerPeer, pki: Pki) -> None:
    """A refused session is retried with back-off: a few attempts in a second, not hundreds."""
    _, adapter = _client(peer.url, pki.stranger, backoff_initial=0.5, backoff_max=1.0)
    async with running(adapter):
        await eventually(lambda: adapter._failures >= 1, 20, "first attempt")
        first = adapter._failures
        await asyncio.sleep(1.0)
        assert adapter._failures - first <= 3
