"""Wire oracle: tshark captures our loopback traffic and must find nothing wrong with it.

One capture holds our client talking to our server (with small TPDUs, so TSDUs are
segmented, reports in both directions of size, a Reject and a release) and, when the peer is
available, libiec61850's client talking to our server.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.tase2.mms.access import VariableEntry, VariableList
from adapters.tase2.mms.aio.client import MmsClient
from adapters.tase2.mms.aio.server import MmsServer
from adapters.tase2.mms.association import AssociationConfig
from adapters.tase2.mms.names import ObjectName, Scope
from adapters.tase2.mms.service_error import MmsServiceError
from adapters.tase2.mms.services import InformationReport, ObjectClass
from tests.support import free_port, require_program
from tests.support.peers.libiec61850 import PeerProcess, pyiec61850_available
from tests.support.peers.tshark import TsharkCapture, data_tsdus_not_mms, packet_count, problems
from tests.support.tase2.mms_model import DOMAIN, TestHandler, realq

pytestmark = pytest.mark.timeout(120)


async def test_loopback_traffic_is_clean_for_tshark(tmp_path: Path) -> None:
    tshark = require_program("tshark", "tshark")
    port = free_port()
    pcap = tmp_path / "mms.pcapng"
    handler = TestHandler(page_size=3)
    with_peer = pyiec61850_available()
    async with TsharkCapture(tshark, port, pcap), MmsServer(handler, port=port) as server:
        cfg = AssociationConfig(tpdu_size=256, local_ap_title="1.1.1.999", local_ae_qualifier=7)
        client = await MmsClient.connect("127.0.0.1", port, config=cfg)
        await client.identify()
        await client.get_name_list(ObjectClass.NAMED_VARIABLE, Scope.DOMAIN, DOMAIN)
        power = ObjectName.dom(DOMAIN, "Power")
        await client.read(power, ObjectName.vmd("Bilateral_Table_ID"))
        await client.get_variable_access_attributes(power)
        with pytest.raises(MmsServiceError):
            await client.get_variable_access_attributes(ObjectName.vmd("Missing"))
        spec = VariableList(tuple(VariableEntry(power) for _ in range(60)))
        await server.associations[0].send_information_report(
            InformationReport(spec, tuple(realq(float(i)) for i in range(60)))
        )
        await client.conclude()
        if with_peer:
            steps = [
                {"op": "connect"},
                {"op": "identify"},
                {"op": "domain_variables", "domain": DOMAIN},
                {"op": "read", "domain": DOMAIN, "item": "Power"},
                {"op": "conclude"},
            ]
            peer_cfg = {"mode": "client", "host": "127.0.0.1", "port": port, "steps": steps}
            async with PeerProcess(peer_cfg) as peer:
                lines = await peer.finish()
            assert all(line.get("ok") for line in lines), lines
    assert pcap.exists(), "tshark wrote no capture"
    assert packet_count(tshark, pcap, port, "mms") >= 10
    assert packet_count(tshark, pcap, port, "cotp.type == 0x0f && cotp.eot == 0") >= 1
    assert problems(tshark, pcap, port, allow_reset=with_peer) == ""
    # libiec61850's client resets its connection after a release (once or twice, depending
    # on timing); our server never resets one
    assert packet_count(tshark, pcap, port, f"tcp.flags.reset == 1 && tcp.srcport == {port}") == 0
    assert data_tsdus_not_mms(tshark, pcap, port) == ""
    assert packet_count(tshark, pcap, port, "mms.confirmed_RequestPDU_element") >= 5
    assert packet_count(tshark, pcap, port, "mms.unconfirmed_PDU_element") >= 1
