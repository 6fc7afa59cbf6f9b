"""`iccp-gateway probe` as a subprocess: against our TASE.2 server (discovery, --read,
--watch, JSON), against libiec61850's IEC 61850 server (no TASE.2 objects, no crash), and
the one-line errors and exit codes for a refused connection and a refused association."""

from __future__ import annotations

import asyncio
import json

import pytest

from gateway.points import GOOD
from tests.support import free_port
from tests.support.peers.libiec61850 import PeerProcess, require_pyiec61850
from tests.support.tase2.server import DOMAIN, PEER_AP, make_bus, probe, running_server

pytestmark = pytest.mark.timeout(60)


async def test_probe_of_our_tase2_server_in_json() -> None:
    server_bus, _ = make_bus()
    async with running_server(bus=server_bus) as server:
        assert server.server is not None
        port = server.server.port

        async def change_later() -> None:
            await asyncio.sleep(1.5)
            server_bus.update("GEN1", 77.0, GOOD, 1_700_003_000.0)

        changer = asyncio.create_task(change_later())
        code, out, err = await probe(
            f"127.0.0.1:{port}",
            "--ap-title",
            PEER_AP,
            "--ae-qualifier",
            "12",
            "--read",
            f"{DOMAIN}/GEN1",
            "FREQ",
            "--watch",
            "2.5",
            "--format",
            "json",
        )
        await changer
    assert code == 0, (out, err)
    result = json.loads(out)
    assert result["tase2"] is True and result["version"] == "2000.8"
    assert 1 in result["features"] and 2 in result["features"]
    icc = result["domains"][DOMAIN]
    assert icc["bilateral_table_id"] == "BLT_ICC1"
    assert "Data_RealQTimeTag" in icc["variables"]["GEN1"]
    assert icc["variables"]["Next_DSTransfer_Set"].startswith("struct{Scope: uint8")
    assert "TASE2_Version" in result["vcc_variables"]
    assert isinstance(result["reads"][f"{DOMAIN}/GEN1"]["value"], float)
    assert set(result["reads"]) == {f"{DOMAIN}/GEN1", "FREQ"}
    assert result["reports"], "no report during --watch"
    values = [r["values"] for r in result["reports"]]
    assert any(v.get(f"{DOMAIN}/GEN1", {}).get("value") == 77.0 for v in values)


async def test_probe_of_an_iec61850_server_says_tase2_objects_are_missing() -> None:
    require_pyiec61850()
    port = free_port()
    async with PeerProcess({"mode": "ied-server", "port": port, "seconds": 30}) as peer:
        ready = await peer.until("ready")
        assert ready["ready"] is True, peer.lines
        code, out, err = await probe(f"127.0.0.1:{port}", "--read", "FREQ")
        json_code, json_out, _ = await probe(f"127.0.0.1:{port}", "--format", "json")
        peer.send_line()
        await peer.finish()
    assert code == 1, (out, err)
    assert "Traceback" not in err and "Traceback" not in out
    assert "NOT A TASE.2 SERVER" in out and "TASE2_Version" in out
    assert "GGIO1$MX$AnIn1$mag$f: float32" in out
    assert "read FREQ" in out and "object-non-existent" in out
    assert json_code == 1
    result = json.loads(json_out)
    assert result["tase2"] is False and result["version"] is None
    (ld,) = [d for d in result["domains"] if d.endswith("ld")]
    assert result["domains"][ld]["variables"]["GGIO1$ST$Ind1$stVal"] == "bool"


async def test_probe_errors_are_one_line_with_their_exit_codes() -> None:
    code, out, err = await probe(f"127.0.0.1:{free_port()}", "--timeout", "2")
    assert code == 3, (out, err)
    assert err.count("\n") == 1 and "cannot connect" in err
    async with running_server() as server:
        assert server.server is not None
        code, out, err = await probe(
            f"127.0.0.1:{server.server.port}", "--ap-title", "1.2.3.4", "--timeout", "2"
        )
    assert code == 4, (out, err)
    assert err.count("\n") == 1 and "association refused" in err
    code, _, err = await probe("host:notaport")
    assert code == 2 and "not a number" in err
    code, _, err = await probe("127.0.0.1", "--remote-ap-title", "iso")
    assert code == 2 and "not a dotted OID" in err


def test_every_point_type_is_named_by_its_exact_type_spec() -> None:
    """Component names and integer widths tell apart types of one shape (e.g.
    Data_StateQTimeTag {TimeStamp, Flags} vs Data_DiscreteQ {Value, Flags})."""
    from adapters.tase2.model.points import PointType
    from adapters.tase2.tools.probe import type_text

    same_octet = {"Data_State", "Data_Flags", "Data_StateQ"}  # all a bare BIT STRING(8)
    for ptype in PointType:
        label = type_text(ptype.info.spec).rsplit(" = ", 1)[-1]
        name = ptype.info.tase2_name
        assert label == name or {label, name} <= same_octet, (name, label)
    assert type_text(PointType.DATA_DISCRETE.info.spec, "Transfer_Set_Time_Stamp") == "int32"
