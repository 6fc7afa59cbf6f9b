"""Wire oracle for Secure ICCP: a capture of the whole libiec61850 flow over TLS shows TLS
application data only; tshark finds no COTP or MMS, and no MMS name travels in clear."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support import free_port, require_program
from tests.support.peers.libiec61850 import require_pyiec61850
from tests.support.peers.tshark import TsharkCapture
from tests.support.tase2.flow import check_flow
from tests.support.tase2.server import make_bus, running_server, settings
from tests.support.tls import TestPki

from .test_tls_interop import peer_tls, run_tls_flow, tls_settings

pytestmark = pytest.mark.timeout(90)


def _fields(tshark: str, pcap: Path, decode: str, display: str, field: str) -> list[str]:
    out = subprocess.run(
        [tshark, "-r", str(pcap), "-d", decode, "-Y", display, "-T", "fields", "-e", field],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return out.split()


async def test_no_cleartext_mms_on_the_tls_port(tmp_path: Path) -> None:
    tshark = require_program("tshark", "tshark")
    require_pyiec61850()
    pki = TestPki(tmp_path / "pki")
    port = free_port()
    pcap = tmp_path / "tls.pcapng"
    bus, _ = make_bus()
    s = settings(port=port, limits={"critical_timeout": 1.0}, tls=tls_settings(pki))
    async with TsharkCapture(tshark, port, pcap), running_server(s, bus) as adapter:
        lines = await run_tls_flow(port, peer_tls(pki.identity("rto"), pki.ca_file), bus)
        check_flow(lines, bus, adapter)
    assert pcap.exists(), "tshark wrote no capture"
    as_tls = f"tcp.port=={port},tls"
    records = _fields(tshark, pcap, as_tls, "tls.app_data", "frame.number")
    assert len(records) >= 30  # the flow's requests, answers and reports, encrypted
    as_tpkt = f"tcp.port=={port},tpkt"
    assert _fields(tshark, pcap, as_tpkt, "cotp || mms", "frame.number") == []
    payloads = _fields(tshark, pcap, as_tpkt, "tcp.len > 0", "tcp.payload")
    wire = bytes.fromhex("".join(p.replace(":", "") for p in payloads))
    assert len(wire) > 5000
    for name in (b"TASE2_Version", b"Bilateral_Table_ID", b"DSTransferSet", b"ICC1"):
        assert name not in wire, name
