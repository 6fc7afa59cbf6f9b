"""The `opcua-server` adapter's security: endpoints, its certificate (given or generated),
client certificates checked against the trusted ones, and users by certificate - against an
asyncua client in another process (tests/support/peers/opcua_client_peer.py)."""

import asyncio
import contextlib
import logging
from pathlib import Path

import pytest
from pydantic import ValidationError

from adapters.opcua import status
from adapters.opcua.security import application_uris, ensure_self_signed, read_certificate
from adapters.opcua.server import OpcuaServerAdapter, OpcuaServerSettings
from gateway.bus import PointBus
from gateway.points import GOOD, PointDef
from tests.support import eventually, free_port, running, scratch_dir
from tests.support.certs import CLIENT, SERVER, USER, TestCA, self_signed
from tests.support.peers.opcua_client import OpcuaClientPeer, opcua_client

pytestmark = pytest.mark.timeout(120)

CLIENT_URI = "urn:iccp-gateway:tests:scada-client"
SECURE = "Basic256Sha256_SignAndEncrypt"
LOG = "adapters.opcua.server.adapter"


class Field:
    """The owner of the points: records the commands it is given."""

    def __init__(self, bus):
        self.bus = bus
        self.commands = []

    async def on_command(self, point, value):
        self.commands.append((point.id, value))
        self.bus.update(point.id, value, GOOD, 1000.0)


def _bus():
    bus = PointBus()
    field = Field(bus)
    bus.add_owner("field", field.on_command)
    bus.register(PointDef(id="G1_MW"), "field")
    bus.register(PointDef(id="G1_TAP", kind="discrete"), "field")
    bus.update("G1_MW", 42.5, GOOD, 1700000000.0)
    bus.update("G1_TAP", 3, GOOD, 1700000000.0)
    bus.add_owner("scada")
    return bus, field


POINTS = [{"point": "G1_MW"}, {"point": "G1_TAP", "writable": True}]


@contextlib.asynccontextmanager
async def served(bus, name="scada", **options):
    port = free_port()
    options.setdefault("address_space_cache", str(scratch_dir("opcua-address-space")))
    settings = OpcuaServerSettings.model_validate({"port": port, "points": POINTS, **options})
    adapter = OpcuaServerAdapter(name, settings, bus)
    async with running(adapter) as task:
        await eventually(lambda: adapter.ready.is_set() or task.done(), 30, "listening")
        assert not task.done(), task
        yield adapter, f"opc.tcp://127.0.0.1:{port}/"


def _security(policy, client):
    return f"{policy},{client.cert_path},{client.key_path}"


async def _read_mw(url, **security):
    async with opcua_client(url, **security) as client:
        (value,) = (await client.call("read", nodes=["ns=2;s=G1_MW"]))["values"]
        endpoints = (await client.call("endpoints"))["endpoints"]
    return value, endpoints


async def _refused(url, **security):
    peer = OpcuaClientPeer(url, **security)
    try:
        return await peer.start()
    finally:
        await peer.stop()


async def test_a_generated_certificate_is_made_once_and_reused(tmp_path, caplog):
    client = self_signed(tmp_path / "client", "scada-client", CLIENT_URI, CLIENT)
    bus, _ = _bus()
    options = {
        "security_policies": [SECURE],
        "trusted_certificates": [str(client.cert_path.parent)],
        "certificate_dir": str(tmp_path / "pki"),
    }
    security = {
        "security": _security("Basic256Sha256,SignAndEncrypt", client),
        "application_uri": CLIENT_URI,
    }
    with caplog.at_level(logging.INFO, logger=LOG):
        async with served(bus, **options) as (_, url):
            value, endpoints = await _read_mw(url, **security)
        made = sorted(p.name for p in (tmp_path / "pki").iterdir())
        first = (tmp_path / "pki" / "scada.der").read_bytes()
        async with served(bus, **options) as (_, url):
            again, _ = await _read_mw(url, **security)
    assert value["value"] == again["value"] == 42.5
    assert endpoints == [["Basic256Sha256", "SignAndEncrypt"]]
    assert made == ["scada.der", "scada.key.pem"]
    assert (tmp_path / "pki" / "scada.key.pem").stat().st_mode & 0o077 == 0
    assert (tmp_path / "pki" / "scada.der").read_bytes() == first  # reused, not remade
    cert = read_certificate(tmp_path / "pki" / "scada.der")
    assert application_uris(cert) == ["urn:iccp-gateway:scada"]
    messages = [r.getMessage() for r in caplog.records]
    generated = [m for m in messages if "generated a self-signed" in m]
    assert len(generated) == 1 and str(tmp_path / "pki" / "scada.der") in generated[0]


async def test_an_untrusted_client_certificate_is_refused_and_named(tmp_path, caplog):
    trusted = self_signed(tmp_path / "trusted", "scada-client", CLIENT_URI, CLIENT)
    stranger = self_signed(tmp_path / "other", "stranger", CLIENT_URI, CLIENT)
    bus, _ = _bus()
    options = {
        "security_policies": ["none", SECURE],
        "trusted_certificates": [str(trusted.cert_path)],
        "certificate_dir": str(tmp_path / "pki"),
    }
    with caplog.at_level(logging.WARNING, logger=LOG):
        async with served(bus, **options) as (adapter, url):
            answers = [
                await _refused(
                    url,
                    security=_security("Basic256Sha256,SignAndEncrypt", stranger),
                    application_uri=CLIENT_URI,
                )
                for _ in range(3)
            ]
            wrong_uri = await _refused(
                url,
                security=_security("Basic256Sha256,SignAndEncrypt", trusted),
                application_uri="urn:someone:else",
            )
            plain, endpoints = await _read_mw(url)  # the none endpoint still serves
            refused = adapter.status()["refused_certificates"]
    for answer in answers:
        assert "BadCertificateUntrusted" in answer.get("error", ""), answer
    assert "BadCertificateUriInvalid" in wrong_uri.get("error", ""), wrong_uri
    assert plain["value"] == 42.5
    assert sorted(endpoints) == [["Basic256Sha256", "SignAndEncrypt"], ["None", "None"]]
    assert refused == 4
    named = [r.getMessage() for r in caplog.records if "CN=stranger" in r.getMessage()]
    assert len(named) == 2, named  # the 1st and 2nd refusal, not the 3rd
    assert "is in trusted_certificates" in named[0]


async def test_given_certificate_and_clients_issued_by_a_trusted_ca(tmp_path):
    ca = TestCA(tmp_path / "ca")
    server = ca.issue("server", "urn:plant:gateway", use=SERVER, der=True)
    client = ca.issue("scada-client", CLIENT_URI, CLIENT)
    bus, _ = _bus()
    options = {
        "security_policies": ["Aes256Sha256RsaPss_Sign", "Aes128Sha256RsaOaep_SignAndEncrypt"],
        "application_uri": "urn:plant:gateway",
        "certificate": str(server.cert_path),
        "private_key": str(server.key_path),
        "trusted_certificates": [str(ca.ca.cert_path)],
        "certificate_dir": str(tmp_path / "unused"),
    }
    async with served(bus, **options) as (_, url):
        signed, endpoints = await _read_mw(
            url,
            security=_security("Aes256Sha256RsaPss,Sign", client) + f",{server.cert_path}",
            application_uri=CLIENT_URI,
        )
        encrypted, _ = await _read_mw(
            url,
            security=_security("Aes128Sha256RsaOaep,SignAndEncrypt", client),
            application_uri=CLIENT_URI,
        )
    assert signed["value"] == encrypted["value"] == 42.5
    assert sorted(endpoints) == [
        ["Aes128_Sha256_RsaOaep", "SignAndEncrypt"],
        ["Aes256_Sha256_RsaPss", "Sign"],
    ]
    assert not (tmp_path / "unused").exists()


async def test_users_by_certificate(tmp_path):
    app = self_signed(tmp_path / "apps", "scada-client", CLIENT_URI, CLIENT)
    operator = self_signed(tmp_path / "users", "operator", None, USER)
    viewer = self_signed(tmp_path / "users", "viewer", None, USER)
    unknown = self_signed(tmp_path / "nobody", "nobody", None, USER)
    bus, field = _bus()
    options = {
        "security_policies": ["none", SECURE],
        "trusted_certificates": [str(app.cert_path)],
        "certificate_dir": str(tmp_path / "pki"),
        "anonymous": "none",
        "users": [
            {"name": "op", "certificate": str(operator.cert_path)},
            {"name": "viewer", "certificate": str(viewer.cert_path), "write": False},
            {"name": "legacy", "password": "secret"},
        ],
    }
    channel = {
        "security": _security("Basic256Sha256,SignAndEncrypt", app),
        "application_uri": CLIENT_URI,
    }

    def as_user(user):
        return {"user_certificate": str(user.cert_path), "user_private_key": str(user.key_path)}

    async with served(bus, **options) as (_, url):
        async with opcua_client(url, **channel, **as_user(operator)) as op:
            ok = await op.call("write", node="ns=2;s=G1_TAP", value=7, type="Int32")
        async with opcua_client(url, **channel, **as_user(viewer)) as view:
            denied = await view.call("write", node="ns=2;s=G1_TAP", value=8, type="Int32")
            (read,) = (await view.call("read", nodes=["ns=2;s=G1_MW"]))["values"]
        async with opcua_client(url, "legacy", "secret", **channel) as legacy:
            by_name = await legacy.call("write", node="ns=2;s=G1_TAP", value=9, type="Int32")
        async with opcua_client(url, **as_user(operator)) as plain:  # on the none endpoint
            unsigned = await plain.call("write", node="ns=2;s=G1_TAP", value=10, type="Int32")
        stranger = await _refused(url, **channel, **as_user(unknown))
        anonymous = await _refused(url, **channel)
    assert ok["status"] == by_name["status"] == unsigned["status"] == 0
    assert denied["status"] == status.BAD_USER_ACCESS_DENIED
    assert read["value"] == 42.5
    assert field.commands == [("G1_TAP", 7), ("G1_TAP", 9), ("G1_TAP", 10)]
    assert "BadUserAccessDenied" in stranger.get("error", ""), stranger
    assert "error" in anonymous, anonymous


def _settings(**options):
    return OpcuaServerSettings.model_validate({"port": 4840, **options})


def test_security_settings_errors_name_what_to_fix(tmp_path):
    client = self_signed(tmp_path, "client", CLIENT_URI, CLIENT)
    user = self_signed(tmp_path, "user", None, USER)
    other = self_signed(tmp_path, "other", CLIENT_URI, CLIENT)
    trusted = [str(client.cert_path)]
    cases = [
        ({"security_policies": [SECURE]}, "needs trusted_certificates"),
        ({"security_policies": ["Basic128Rsa15_Sign"]}, "security_policies"),
        ({"security_policies": ["none", "none"]}, "each policy once"),
        (
            {"security_policies": [SECURE], "trusted_certificates": [str(tmp_path / "no")]},
            "does not exist",
        ),
        (
            {
                "security_policies": [SECURE],
                "trusted_certificates": trusted,
                "certificate": str(client.cert_path),
            },
            "both certificate and private_key",
        ),
        (
            {
                "security_policies": [SECURE],
                "trusted_certificates": trusted,
                "certificate": str(client.cert_path),
                "private_key": str(other.key_path),
            },
            "is not the key of certificate",
        ),
        (
            {
                "security_policies": [SECURE],
                "trusted_certificates": [str(client.key_path)],
            },
            "not a PEM or DER X.509 certificate",
        ),
        (
            {"users": [{"name": "u", "certificate": str(user.cert_path)}]},
            "needs a secure policy",
        ),
        (
            {"users": [{"name": "u", "password": "p", "certificate": str(user.cert_path)}]},
            "a password or a certificate",
        ),
        ({"users": [{"name": "u"}]}, "a password or a certificate"),
    ]
    for options, message in cases:
        with pytest.raises(ValidationError, match=message):
            _settings(**options)


def test_paths_are_relative_to_the_configuration_and_trust_changes_in_place(tmp_path):
    client = self_signed(tmp_path / "trusted", "client", CLIENT_URI, CLIENT)
    options = {"security_policies": [SECURE], "trusted_certificates": ["trusted"]}
    settings = OpcuaServerSettings.model_validate(options, context={"base": tmp_path})
    assert settings.trusted_certificates == [str(tmp_path / "trusted")]
    assert settings.certificate_dir == str(tmp_path / "state" / "opcua")
    assert [c.subject for c in settings.trusted] == [client.certificate.subject]
    adapter = OpcuaServerAdapter("scada", settings, PointBus())
    more = OpcuaServerSettings.model_validate(
        {**options, "trusted_certificates": ["trusted", str(Path(tmp_path / "trusted"))]},
        context={"base": tmp_path},
    )
    assert adapter.reconfigure(more)  # the trust list changes without a restart
    moved = more.model_copy(update={"security_policies": ["none", SECURE]})
    assert not adapter.reconfigure(moved)  # endpoints need a restart


def test_a_generated_certificate_is_made_again_when_it_no_longer_fits(tmp_path):
    first = ensure_self_signed(tmp_path, "scada", "urn:a", "iccp-gateway scada")
    again = ensure_self_signed(tmp_path, "scada", "urn:a", "iccp-gateway scada")
    moved = ensure_self_signed(tmp_path, "scada", "urn:b", "iccp-gateway scada")
    (tmp_path / "scada.der").write_bytes(b"garbage")
    broken = ensure_self_signed(tmp_path, "scada", "urn:b", "iccp-gateway scada")
    assert (first.created, again.created, moved.created, broken.created) == (
        True,
        False,
        True,
        True,
    )
    assert "another application URI (urn:a)" in moved.reason
    assert "not a PEM or DER" in broken.reason
    assert application_uris(read_certificate(broken.cert_path)) == ["urn:b"]


async def test_a_certificate_dir_that_cannot_be_written_is_a_clear_error(tmp_path):
    client = self_signed(tmp_path / "client", "client", CLIENT_URI, CLIENT)
    (tmp_path / "file").write_text("not a directory")
    settings = OpcuaServerSettings.model_validate(
        {
            "port": free_port(),
            "security_policies": [SECURE],
            "trusted_certificates": [str(client.cert_path)],
            "certificate_dir": str(tmp_path / "file" / "pki"),
        }
    )
    bus, _ = _bus()
    adapter = OpcuaServerAdapter("scada", settings, bus)
    with pytest.raises(OSError, match="cannot keep the server certificate in certificate_dir"):
        await asyncio.wait_for(adapter.run(), 30)
