"""The TASE.2 server over TLS (Secure ICCP) against libiec61850's MMS client
(``MmsConnection_createSecure`` through pyiec61850-ng, in a subprocess).

The whole Block 1/2 flow over mutual TLS 1.2 and 1.3; refusals of an unknown CA, an expired
certificate and a certificate that does not fit the caller's bilateral table, each with its
log line; a peer renegotiating TLS 1.2 every second while it reads; a peer without TLS.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from tests.support.peers.libiec61850 import PeerProcess, require_pyiec61850
from tests.support.tase2.flow import check_flow, flow_steps, peer_config
from tests.support.tase2.server import make_bus, running_server, settings, table
from tests.support.tls import Identity, TestPki

pytestmark = [pytest.mark.timeout(90), pytest.mark.both_loops]


@pytest.fixture(autouse=True)
def _peer_available() -> None:
    require_pyiec61850()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki(tmp_path_factory.mktemp("pki"))


def tls_settings(pki: TestPki, **extra: Any) -> dict[str, Any]:
    server = pki.identity("gateway-server")
    return {
        "certificate": str(server.certificate),
        "private_key": str(server.private_key),
        "ca": str(pki.ca_file),
        **extra,
    }


def peer_tls(ident: Identity, ca: Path, **extra: Any) -> dict[str, Any]:
    return {
        "certificate": str(ident.certificate),
        "private_key": str(ident.private_key),
        "ca": str(ca),
        **extra,
    }


async def run_tls_flow(port: int, tls: dict[str, Any], bus: Any) -> list[dict[str, Any]]:
    """The shared Block 1/2 flow (tests/support/tase2/flow.py), over TLS."""
    config = {**peer_config(port, flow_steps()), "tls": tls}
    async with PeerProcess(config, 40) as peer:
        await peer.until("signal")
        await asyncio.sleep(0.2)
        bus.update("GEN1", 321.5, ts=1_700_000_321.0)
        bus.update("TAP1", 17, ts=1_700_000_322.0)
        peer.send_line()
        await peer.until("signal")
        await asyncio.sleep(0.2)
        bus.update("GEN1", 654.25, ts=1_700_000_654.0)
        peer.send_line()
        return await peer.finish()


@pytest.mark.parametrize("version", ["1.2", "1.3"])
async def test_block_1_and_2_flow_over_mutual_tls(pki: TestPki, version: str) -> None:
    bus, _ = make_bus()
    s = settings(limits={"critical_timeout": 1.0}, tls=tls_settings(pki))
    client = pki.identity("rto-client")
    async with running_server(s, bus) as adapter:
        assert adapter.server is not None
        tls = peer_tls(client, pki.ca_file, min_version=version, max_version=version)
        lines = await run_tls_flow(adapter.server.port, tls, bus)
        check_flow(lines, bus, adapter)
        status = adapter.status()["tls"]
        assert status["handshakes"] >= 1 and status["failures"] == {}
        assert 364 < status["certificate_days_left"] <= 365


async def connect_once(port: int, tls: dict[str, Any] | None, ap: str | None = None) -> Any:
    steps = [{"op": "connect"}, {"op": "read", "domain": None, "item": "TASE2_Version"}]
    config = peer_config(port, steps, **({"ap": ap} if ap else {}))
    if tls is not None:
        config["tls"] = tls
    async with PeerProcess(config, 30) as peer:
        lines = await peer.finish()
    return {line["op"]: line for line in lines if "op" in line}


@pytest.mark.parametrize("case", ["unknown-ca", "expired"])
async def test_bad_certificates_are_refused_with_a_log_line(
    pki: TestPki, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    caplog.set_level(logging.WARNING, "adapters.tase2.mms.aio.server")
    bad = pki.identity(f"peer-{case}", expired=case == "expired", unknown_ca=case == "unknown-ca")
    async with running_server(settings(tls=tls_settings(pki))) as adapter:
        assert adapter.server is not None
        out = await connect_once(adapter.server.port, peer_tls(bad, pki.ca_file))
        assert out["connect"]["ok"] is False or out["read"]["ok"] is False, out
        assert adapter.server.associations == 0
        assert adapter.status()["tls"]["failures"].get(case, 0) >= 1
    assert f"failed: {case}" in caplog.text


async def test_certificate_bound_to_the_bilateral_table(
    pki: TestPki, caplog: pytest.LogCaptureFixture
) -> None:
    """A table requiring CN=rto-a refuses a CA-valid certificate CN=rto-b calling with its
    AP-title (ACSE authentication-failure), and accepts CN=rto-a."""
    caplog.set_level(logging.WARNING, "adapters.tase2.mms.aio.server")
    bound = {**table(), "certificate": {"subject": "CN=rto-a"}}
    s = settings(tls=tls_settings(pki), tables=[bound])
    async with running_server(s) as adapter:
        assert adapter.server is not None
        wrong = await connect_once(
            adapter.server.port, peer_tls(pki.identity("rto-b"), pki.ca_file)
        )
        assert wrong["connect"]["ok"] is False, wrong
        right = await connect_once(
            adapter.server.port, peer_tls(pki.identity("rto-a"), pki.ca_file)
        )
        assert right["connect"]["ok"] is True and right["read"]["ok"] is True, right
    assert "refused" in caplog.text and "diagnostic=13" in caplog.text
    assert "CN=rto-b" in caplog.text and "does not match 'CN=rto-a'" in caplog.text


async def test_peer_renegotiating_tls12_every_second(pki: TestPki) -> None:
    """libiec61850 renegotiates every second; the server accepts (OpenSSL's
    ALLOW_CLIENT_RENEGOTIATION) and the reads go on on one association. (The reads leave
    gaps: libiec61850 renegotiates right after sending a request, and mbedTLS fails when
    the answer arrives before the ServerHello, whatever the server.)"""
    async with running_server(settings(tls=tls_settings(pki))) as adapter:
        assert adapter.server is not None
        tls = peer_tls(pki.identity("reneg"), pki.ca_file, max_version="1.2", renegotiation_ms=1000)
        read = {"op": "read", "domain": None, "item": "TASE2_Version"}
        steps = [
            {"op": "connect"},
            *[s for _ in range(4) for s in ({"op": "sleep", "seconds": 1.1}, read)],
            {"op": "conclude"},
        ]
        async with PeerProcess({**peer_config(adapter.server.port, steps), "tls": tls}, 30) as p:
            lines = await p.finish()
        assert len(lines) == len(steps) and all(line["ok"] for line in lines), lines
        assert adapter.server.mms.tls_handshakes == 1  # one connection, renegotiated within


async def test_cleartext_peer_on_the_tls_port_is_refused(pki: TestPki) -> None:
    async with running_server(settings(tls=tls_settings(pki))) as adapter:
        assert adapter.server is not None
        out = await connect_once(adapter.server.port, None)
        assert out["connect"]["ok"] is False, out
        await asyncio.sleep(0.1)
        assert adapter.status()["tls"]["failures"].get("not-tls", 0) == 1
