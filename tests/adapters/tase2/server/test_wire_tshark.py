"""Wire oracle for the TASE.2 server: tshark decodes a capture of the whole libiec61850 flow
(association, discovery, data sets, transfer sets, interval/integrity/RBE/critical reports,
the client's Transfer_Report_ACK, release) and finds nothing malformed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import free_port, require_program
from tests.support.peers.libiec61850 import require_pyiec61850
from tests.support.peers.tshark import TsharkCapture, data_tsdus_not_mms, packet_count, problems
from tests.support.tase2.flow import check_flow, run_flow
from tests.support.tase2.server import make_bus, running_server, settings

pytestmark = pytest.mark.timeout(90)


async def test_the_whole_flow_is_clean_for_tshark(tmp_path: Path) -> None:
    tshark = require_program("tshark", "tshark")
    require_pyiec61850()
    port = free_port()
    pcap = tmp_path / "tase2.pcapng"
    bus, _ = make_bus()
    async with (
        TsharkCapture(tshark, port, pcap),
        running_server(settings(port=port, limits={"critical_timeout": 1.0}), bus) as adapter,
    ):
        lines = await run_flow(adapter, bus)
        check_flow(lines, bus, adapter)
    assert pcap.exists(), "tshark wrote no capture"
    assert problems(tshark, pcap, port, allow_reset=True) == ""
    assert data_tsdus_not_mms(tshark, pcap, port) == ""
    assert packet_count(tshark, pcap, port, "tcp.flags.reset == 1") <= 1
    # reports of both forms went out and decoded: full (data set name) and RBE (list)
    assert packet_count(tshark, pcap, port, "mms.informationReport_element") >= 3
    assert packet_count(tshark, pcap, port, "mms.variableListName") >= 1
    assert packet_count(tshark, pcap, port, "mms.confirmed_RequestPDU_element") >= 30
