"""Interop with libiec61850 (pyiec61850-ng), an MMS implementation we did not write.

Server side: libiec61850's MmsConnection client drives our MmsServer. Client side: our
MmsClient talks to libiec61850's IEC 61850 server built at run time. The peer runs in a
subprocess (``tests/support/peers/libiec61850_peer.py``) that ends with ``os._exit``.
"""

from __future__ import annotations

from typing import Any

import pytest

from adapters.tase2.mms.access import VariableEntry, VariableList
from adapters.tase2.mms.aio.client import MmsClient
from adapters.tase2.mms.aio.server import AssociationContext, MmsServer
from adapters.tase2.mms.association import AssociationConfig, CloseReason
from adapters.tase2.mms.data import Boolean, DataAccessError, Float32, Structure
from adapters.tase2.mms.names import ObjectName, Scope
from adapters.tase2.mms.services import InformationReport, ObjectClass
from adapters.tase2.mms.types import StructureType
from tests.support import free_port
from tests.support.peers.libiec61850 import PeerProcess, require_pyiec61850
from tests.support.tase2.mms_model import DOMAIN, TestHandler, realq

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(autouse=True)
def _peer_available() -> None:
    require_pyiec61850()


def client_steps() -> list[dict[str, Any]]:
    """Everything the issue asks libiec61850's client to do against our server."""
    return [
        {"op": "connect"},
        {"op": "identify"},
        {"op": "domains"},
        {"op": "vmd_variables"},
        {"op": "domain_variables", "domain": DOMAIN},
        {"op": "gvaa", "domain": DOMAIN, "item": "Power"},
        {"op": "read", "domain": DOMAIN, "item": "Power"},
        {"op": "read", "domain": None, "item": "Bilateral_Table_ID"},
        {"op": "write", "domain": DOMAIN, "item": "Setpoint", "value": {"float": 2.5}},
        {"op": "read", "domain": DOMAIN, "item": "Setpoint"},
        {
            "op": "define_list",
            "domain": DOMAIN,
            "name": "DS1",
            "members": [[DOMAIN, "Power"], [DOMAIN, "Counter"]],
        },
        {"op": "domain_lists", "domain": DOMAIN},
        {"op": "read_list", "domain": DOMAIN, "name": "DS1"},
        {"op": "delete_list", "domain": DOMAIN, "name": "DS1"},
        {"op": "signal", "name": "send-report"},
        {"op": "wait_reports", "count": 1, "timeout": 5},
        {"op": "conclude"},
    ]


async def test_libiec61850_client_against_our_server() -> None:
    handler = TestHandler()
    ended: list[CloseReason] = []

    def on_end(ctx: AssociationContext, reason: CloseReason, detail: str) -> None:
        ended.append(reason)

    server_cfg = AssociationConfig(local_ap_title="1.1.1.998", local_ae_qualifier=12)
    async with MmsServer(handler, port=0, config=server_cfg, on_association_end=on_end) as server:
        peer_cfg = {
            "mode": "client",
            "host": "127.0.0.1",
            "port": server.port,
            "local_ap_title": "1.1.1.999",
            "local_ae_qualifier": 12,
            "remote_ap_title": "1.1.1.998",
            "remote_ae_qualifier": 12,
            "steps": client_steps(),
        }
        async with PeerProcess(peer_cfg, time_limit=30) as peer:
            await peer.until("signal")
            (ctx,) = server.associations
            assert ctx.ap_title == "1.1.1.999" and ctx.ae_qualifier == 12
            assert ctx.called_ap_title == "1.1.1.998"
            spec = VariableList((VariableEntry(ObjectName.dom(DOMAIN, "Power")),))
            await ctx.send_information_report(InformationReport(spec, (realq(9.5, 0x80),)))
            peer.send_line()
            lines = await peer.finish()
    failed = [line for line in lines if line.get("ok") is False]
    assert not failed, (failed, peer.stderr.decode(errors="replace")[-2000:])
    steps = [line for line in lines if "op" in line]
    by_index = {line["i"]: line["result"] for line in steps}
    assert by_index[1] == {"vendor": "iccp-gateway", "model": "test-model", "revision": "1.0"}
    assert by_index[2] == [DOMAIN]
    assert by_index[3] == ["Bilateral_Table_ID"]
    assert by_index[4] == ["Counter", "Label", "Power", "Setpoint"]
    gvaa = by_index[5]
    assert [c["name"] for c in gvaa["children"]] == ["Value", "Flags"]
    assert gvaa["children"][1]["size"] == 8
    power = by_index[6]
    assert power["type"] == "structure"
    assert power["value"][0]["value"] == 123.5
    assert power["value"][1]["set_bits"] == [2]  # flags 0x20 = ASN.1 bit 2
    assert by_index[7]["value"] == "BLT_1"
    assert by_index[8]["success"] is True
    assert by_index[9]["value"] == 2.5
    assert by_index[11] == ["DS1"]
    assert [v["type"] for v in by_index[12]["value"]] == ["structure", "integer"]
    assert by_index[13] is True
    (report,) = by_index[15]
    assert report["domain"] == DOMAIN and report["name"] == "Power"
    assert report["value"]["value"][0]["value"] == 9.5
    assert report["value"]["value"][1]["set_bits"] == [0]
    assert handler.variables[ObjectName.dom(DOMAIN, "Setpoint")][1] == Float32(2.5)
    assert ended == [CloseReason.RELEASED]


async def test_our_client_against_libiec61850_server() -> None:
    port = free_port()
    async with PeerProcess({"mode": "ied-server", "port": port, "seconds": 30}) as peer:
        ready = await peer.until("ready")
        assert ready["ready"] is True, peer.lines
        client = await MmsClient.connect("127.0.0.1", port, connect_timeout=5.0)
        try:
            assert client.parameters.max_pdu_size <= 65000
            ident = await client.identify()
            assert ident.vendor
            domains = await client.get_name_list(ObjectClass.DOMAIN)
            (ld,) = [d for d in domains if d.endswith("ld")]
            names = await client.get_name_list(ObjectClass.NAMED_VARIABLE, Scope.DOMAIN, ld)
            assert "GGIO1$ST$Ind1$stVal" in names and "GGIO1$MX$AnIn1$mag$f" in names
            spec = await client.get_variable_access_attributes(ObjectName.dom(ld, "GGIO1$ST$Ind1"))
            assert isinstance(spec, StructureType)
            assert [c.name for c in spec.components][:3] == ["stVal", "q", "t"]
            ind1, mag = await client.read(
                ObjectName.dom(ld, "GGIO1$ST$Ind1"), ObjectName.dom(ld, "GGIO1$MX$AnIn1$mag$f")
            )
            assert isinstance(ind1, Structure) and ind1.items[0] == Boolean(False)
            assert mag == Float32(0.0)
            setval = ObjectName.dom(ld, "GGIO1$SP$SPSet1$setVal")
            assert await client.write(setval, Boolean(True)) is None
            assert await client.read(setval) == (Boolean(True),)
            # a status value is read-only for an IEC 61850 client
            denied = await client.write(ObjectName.dom(ld, "GGIO1$ST$Ind1$stVal"), Boolean(True))
            assert denied is DataAccessError.OBJECT_ACCESS_DENIED
        finally:
            await client.conclude()
        assert client.close_reason is CloseReason.RELEASED
        peer.send_line()
        await peer.finish()


async def test_libiec61850_server_with_many_analogs_serves_repeated_reads() -> None:
    """The peer's ``analog_points`` model (the read-path benchmark's C server) and its
    ``read_repeat``/``read_list_repeat`` client steps, bounded by count."""
    port = free_port()
    config = {"mode": "ied-server", "port": port, "seconds": 30, "analog_points": 20}
    async with PeerProcess(config) as server:
        ready = await server.until("ready")
        assert ready["ready"] is True and ready["pid"] > 0, server.lines
        ld, lst = "testld", "LLN0$BENCH"
        steps = [
            {"op": "connect", "subscribe_reports": False},
            {"op": "read", "domain": ld, "item": "GGIO1$MX$AnIn20"},
            {
                "op": "define_list",
                "domain": ld,
                "name": lst,
                "members": [[ld, f"GGIO1$MX$AnIn{i}"] for i in range(1, 16)],
            },
            {"op": "read_list", "domain": ld, "name": lst},
            {"op": "read_repeat", "domain": ld, "item": "GGIO1$MX$AnIn1", "count": 3},
            {"op": "read_list_repeat", "domain": ld, "name": lst, "count": 3},
            {"op": "conclude"},
        ]
        client_config = {"mode": "client", "host": "127.0.0.1", "port": port, "steps": steps}
        async with PeerProcess(client_config) as client:
            await client.finish()
        results = client.results()
        assert all(line["ok"] for line in client.lines if "op" in line), client.lines
        mag, quality, stamp = results["read"]["result"]["value"]
        assert mag["value"][0]["value"] == 20.5
        assert quality["type"] == "bit-string" and quality["set_bits"] == []
        assert stamp["type"] == "utc-time" and stamp["value"] > 0
        members = results["read_list"]["result"]["value"]
        assert [m["value"][0]["value"][0]["value"] for m in members] == [
            i + 0.5 for i in range(1, 16)
        ]
        assert results["read_repeat"]["result"]["count"] == 3
        assert results["read_list_repeat"]["result"]["count"] == 3
        server.send_line()
        await server.finish()
