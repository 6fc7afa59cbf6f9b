"""The TASE.2 client over TLS (Secure ICCP): against our server adapter (transfer-set
reports, periodic session renewal without a not-valid window, ACSE password, a certificate
bound to the table) and against libiec61850's ``IedServer_createWithTlsSupport``."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from adapters.tase2.mms.aio.client import MmsAssociationError, MmsClient
from adapters.tase2.mms.aio.tls_context import build_endpoint
from adapters.tase2.mms.names import ObjectName
from adapters.tase2.mms.services import ObjectClass
from adapters.tase2.server.settings import Tase2ServerSettings
from gateway.points import PointKind, Validity
from tests.support import eventually, free_port
from tests.support.peers.libiec61850 import PeerProcess, require_pyiec61850
from tests.support.tase2.client import client_settings, make_client_bus, running_client
from tests.support.tase2.server import make_bus, running_server, settings, table
from tests.support.tls import Identity, TestPki

pytestmark = [pytest.mark.timeout(90), pytest.mark.both_loops]

POINTS = [
    {"remote": "GEN1", "point": "C_GEN1", "data_set": "RBE"},
    {"remote": "BRK1", "point": "C_BRK1", "data_set": "RBE"},
]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki(tmp_path_factory.mktemp("pki"))


def tls_block(ident: Identity, pki: TestPki, **extra: Any) -> dict[str, Any]:
    return {
        "certificate": str(ident.certificate),
        "private_key": str(ident.private_key),
        "ca": str(pki.ca_file),
        **extra,
    }


async def test_reports_over_tls_and_renewal_keeps_the_points(pki: TestPki) -> None:
    server_bus, _ = make_bus()
    bound = {**table(), "certificate": {"subject": "CN=iso-client"}, "password": "s3cret"}
    s = settings(tls=tls_block(pki.identity("rto-server"), pki), tables=[bound])
    async with running_server(s, server_bus) as server:
        assert server.server is not None
        bus = make_client_bus([("C_GEN1", PointKind.REAL), ("C_BRK1", PointKind.STATE)])
        cfg = client_settings(
            [server.server.port],
            tls=tls_block(pki.identity("iso-client"), pki, renewal_interval=1.0),
            password="s3cret",
            data_sets=[{"name": "RBE", "integrity": 1, "rbe": True}],
            points=POINTS,
        )
        async with running_client(cfg, bus) as client:
            await eventually(lambda: client.link.state == "running", 5.0, "running")
            server_bus.update("GEN1", 42.5, ts=1_700_000_042.0)
            await eventually(lambda: bus.get("C_GEN1").value == 42.5, 3.0, "the report")
            status = client.status()
            assert status["tls"]["session"]["version"] == "TLSv1.3"
            assert status["tls"]["certificate_days_left"] > 364
            # renewals: new associations, and the points never went not valid meanwhile
            watch = bus.subscribe(["C_GEN1"], every=True, name="watch")
            n = client.link.tls_renewals
            await eventually(lambda: client.link.tls_renewals >= n + 2, 10.0, "two renewals")
            seen = {pv.quality.validity for pv in watch.drain()}
            watch.close()
            await eventually(lambda: client.link.state == "running", 5.0, "running again")
            assert client.link.associations >= 3
            assert Validity.NOT_VALID not in seen
            server_bus.update("GEN1", 43.5, ts=1_700_000_043.0)
            await eventually(lambda: bus.get("C_GEN1").value == 43.5, 3.0, "after renewal")
            assert server.server.mms.tls_handshakes >= 3


async def test_wrong_password_and_unbound_certificate_are_refused(
    pki: TestPki, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    bound = {**table(), "certificate": {"subject": "CN=iso-client"}, "password": "s3cret"}
    s = settings(tls=tls_block(pki.identity("rto-server2"), pki), tables=[bound])
    async with running_server(s) as server:
        assert server.server is not None
        bus = make_client_bus()
        for ident, password, diagnostic in (
            (pki.identity("iso-client"), "wrong", "diagnostic=13"),
            (pki.identity("somebody-else"), "s3cret", "diagnostic=13"),
        ):
            cfg = client_settings(
                [server.server.port], tls=tls_block(ident, pki), password=password
            )
            async with running_client(cfg, bus, name=f"c-{ident.name}-{password}") as client:
                await eventually(lambda: client.link.errors.get("connect", 0) >= 1, 5.0)
                assert client.link.state != "running"
            assert diagnostic in caplog.text
    assert "wrong ACSE password" in caplog.text
    assert "does not match 'CN=iso-client'" in caplog.text


async def test_tls_address_without_port_means_3782(pki: TestPki) -> None:
    ident = pki.identity("x")
    cfg = client_settings([1], addresses=["10.0.0.1"], tls=tls_block(ident, pki))
    assert cfg.addresses[0].port == 3782
    raw = {"tls": tls_block(ident, pki), "tables": []}
    assert Tase2ServerSettings.model_validate(raw).port == 3782
    assert Tase2ServerSettings.model_validate({"tables": []}).port == 102


async def test_our_client_against_libiec61850_tls_server(pki: TestPki) -> None:
    require_pyiec61850()
    port = free_port()
    server = pki.identity("ied-server")
    peer_tls = {
        "certificate": str(server.certificate),
        "private_key": str(server.private_key),
        "ca": str(pki.ca_file),
    }
    config = {"mode": "ied-server", "port": port, "seconds": 30, "tls": peer_tls}
    async with PeerProcess(config) as peer:
        ready = await peer.until("ready")
        assert ready["ready"] is True, peer.lines
        for version in ("1.2", "1.3"):
            tls = build_endpoint(
                pki.settings(pki.identity("gw-client"), min_version=version, max_version=version),
                server_side=False,
            )
            client = await MmsClient.connect("127.0.0.1", port, connect_timeout=5.0, tls=tls)
            info = client.tls_info()
            assert info is not None and info["version"] == f"TLSv{version}"
            domains = await client.get_name_list(ObjectClass.DOMAIN)
            (ld,) = [d for d in domains if d.endswith("ld")]
            (mag,) = await client.read(ObjectName.dom(ld, "GGIO1$MX$AnIn1$mag$f"))
            assert mag is not None
            await client.conclude()
        # a client certificate from an unknown CA is refused by libiec61850
        rogue = build_endpoint(
            pki.settings(pki.identity("rogue", unknown_ca=True)), server_side=False
        )
        with pytest.raises(MmsAssociationError):
            await MmsClient.connect("127.0.0.1", port, connect_timeout=5.0, tls=rogue)
        peer.send_line()
