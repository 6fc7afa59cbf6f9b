"""Blocks 4 and 5 end to end: libiec61850's MMS client (raw API, a subprocess) against the
demo gateway (its devices on the Modbus plant simulator), asserted at the simulator.

One libiec61850 session as the demo's peer (1.1.1.999): discovery and types, operate without
select refused, select then wait past the (test-short) select time-out and be refused,
select + operate the breaker (coil changes), a tag blocks select and operate, clear it and
close the breaker again, real and discrete set-points reach their registers through the
inverse of the points' scale/offset, and an information message arrives with its header and
text after an association-specific write of ``IM_Transfer_Set``. A second peer whose table
has no operate right (1.1.1.998) is denied.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from gateway.logs import JsonFormatter
from gateway.messages import Message
from tests.support import eventually, free_ports
from tests.support.peers.libiec61850 import PeerProcess, require_pyiec61850
from tests.support.tase2.demo import (
    GEN2_SETPOINT_SCALE,
    TAP2_POS_OFFSET,
    VIEWER_AP,
    demo_config,
    plant,
    running_demo,
)

pytestmark = pytest.mark.timeout(60)

DOMAIN = "ICC1"
TEMP_UNAVAILABLE, ACCESS_DENIED = 2, 3
UNAVAILABLE, DENIED = "temporarily-unavailable", "object-access-denied"
SUCCESS = "success"


@pytest.fixture(autouse=True)
def _peer_available() -> None:
    require_pyiec61850()


def peer(port: int, steps: list[dict[str, Any]], ap: str = "1.1.1.999") -> dict[str, Any]:
    return {
        "mode": "client",
        "host": "127.0.0.1",
        "port": port,
        "local_ap_title": ap,
        "local_ae_qualifier": 12,
        "remote_ap_title": "1.1.1.999.1",
        "remote_ae_qualifier": 12,
        "steps": steps,
    }


def rd(item: str, tag: str, domain: str = DOMAIN) -> dict[str, Any]:
    return {"op": "read", "domain": domain, "item": item, "tag": tag}


def wr(item: str, value: dict[str, Any], tag: str, domain: str = DOMAIN) -> dict[str, Any]:
    return {"op": "write", "domain": domain, "item": item, "value": value, "tag": tag}


def tag_value(bits: list[int], reason: str) -> dict[str, Any]:
    return {"struct": [{"bits": [3, bits]}, {"string": reason}]}


STEPS: list[dict[str, Any]] = [
    {"op": "connect"},
    {"op": "read", "domain": None, "item": "Supported_Features", "tag": "features"},
    {"op": "domain_variables", "domain": DOMAIN, "tag": "names"},
    {"op": "gvaa", "domain": DOMAIN, "item": "BRK2", "tag": "gvaa-brk2"},
    {"op": "gvaa", "domain": DOMAIN, "item": "BRK2_TAG", "tag": "gvaa-tag"},
    {"op": "gvaa", "domain": DOMAIN, "item": "GEN2_SP", "tag": "gvaa-sp"},
    wr("BRK2", {"int16": 0}, "operate-unselected"),
    rd("BRK2_SBO", "select-expiring"),
    {"op": "sleep", "seconds": 1.0},  # the test's select time-out is 0.5 s
    wr("BRK2", {"int16": 0}, "operate-expired"),
    rd("BRK2_SBO", "select-open"),
    wr("BRK2", {"int16": 0}, "operate-open"),
    {"op": "signal", "name": "opened"},
    wr("BRK2", {"int16": 5}, "operate-bad-value"),
    wr("BRK2_TAG", tag_value([1], "crew on line C-D"), "tag-set"),
    rd("BRK2_TAG", "tag-read"),
    rd("BRK2_SBO", "select-tagged"),
    wr("BRK2", {"int16": 1}, "operate-tagged"),
    wr("BRK2_TAG", tag_value([], ""), "tag-clear"),
    rd("BRK2_SBO", "select-close"),
    wr("BRK2", {"int16": 1}, "operate-close"),
    wr("GEN2_SP", {"float": 150.0}, "setpoint-real"),
    wr("TAP2_SP", {"int16": 3}, "setpoint-discrete"),
    {"op": "signal", "name": "operated"},
    rd("TAP2_SP", "read-back-tap"),
    {"op": "write_aa", "item": "IM_Transfer_Set", "value": True},
    {"op": "signal", "name": "messages"},  # the test waits until the server took the write
    {"op": "wait_reports", "count": 2, "timeout": 5, "tag": "message"},
    {"op": "conclude"},
]


def by_tag(lines: list[dict[str, Any]], steps: list[dict[str, Any]]) -> dict[str, Any]:
    """Step results by the step's tag (the peer numbers its lines by step index)."""
    out: dict[str, Any] = {}
    for line in lines:
        if "i" in line and "tag" in steps[line["i"]]:
            if line["op"] == "write" and not line["ok"]:
                out[steps[line["i"]]["tag"]] = {"error": line["error"]}  # a refused write
                continue
            assert line["ok"], line
            out[steps[line["i"]]["tag"]] = line["result"]
    return out


def written(result: dict[str, Any]) -> str:
    """``success``, or the DataAccessError libiec61850 reports (e.g. ``object-access-denied``)."""
    if "error" in result:
        return str(result["error"]).split()[-1]
    return SUCCESS if result["success"] else str(result["data_access_error"])


async def test_libiec61850_operates_the_demo_devices_down_to_the_modbus_plant(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="adapters.tase2.audit")
    iccp, modbus = free_ports(2)
    path = demo_config(tmp_path, iccp_port=iccp, plant_port=modbus, select_timeout=0.5)
    async with running_demo(path) as rt:
        before = await plant(modbus)
        assert before["coil"] is True  # the demo breaker starts closed
        async with PeerProcess(peer(iccp, STEPS), 45) as p:
            await p.until("signal")
            opened = await plant(modbus)
            p.send_line()
            await p.until("signal")
            operated = await plant(modbus)
            await eventually(lambda: rt.bus.get("TAP2_POS").value == 3, 5.0, "TAP2_POS polled")
            p.send_line()
            await p.until("signal")
            server = rt.adapters["iccp"].server
            await eventually(
                lambda: any(server.controls.im_enabled(ctx) for ctx in server._peers),
                5.0,
                "the peer's IM_Transfer_Set write to take effect",
            )
            rt.bus.publish_message(
                Message(b"Unit 2 outage 14:00-16:00", 7, 42, 1001, origin="operator")
            )
            p.send_line()
            lines = await p.finish(30)
        # the peer without operate rights (its table ICC2 shows BRK2 for tags only)
        denied_steps = [
            {"op": "connect"},
            {"op": "domain_variables", "domain": "ICC2", "tag": "names"},
            rd("BRK2_SBO", "select", "ICC2"),
            wr("BRK2", {"int16": 0}, "operate", "ICC2"),
            rd("BRK2_TAG", "tag", "ICC2"),
            wr("BRK2_TAG", tag_value([1], "not mine"), "tag-set", "ICC2"),
            {"op": "conclude"},
        ]
        async with PeerProcess(peer(iccp, denied_steps, VIEWER_AP), 30) as p:
            denied_lines = await p.finish(30)
        after = await plant(modbus)

    r = by_tag(lines, STEPS)
    assert r["features"]["set_bits"] == [0, 1, 3, 4]
    assert {"BRK2", "BRK2_SBO", "BRK2_TAG", "GEN2_SP", "TAP2_SP", "Info_Mess_Header"} <= set(
        r["names"]
    )
    assert r["gvaa-brk2"]["type"] == 4  # MMS_INTEGER
    assert [c["name"] for c in r["gvaa-tag"]["children"]] == ["Flags", "Reason"]
    assert r["gvaa-tag"]["children"][0]["size"] == 3
    assert r["gvaa-sp"]["type"] == 6  # MMS_FLOAT

    assert written(r["operate-unselected"]) == UNAVAILABLE
    assert r["select-expiring"]["value"] == 2  # the check-back id
    assert written(r["operate-expired"]) == UNAVAILABLE
    assert r["select-open"]["value"] == 2 and written(r["operate-open"]) == SUCCESS
    assert opened["coil"] is False  # at the simulator: the breaker opened

    assert written(r["operate-bad-value"]) == "object-value-invalid"
    assert written(r["tag-set"]) == SUCCESS
    assert r["tag-read"]["value"][0]["set_bits"] == [1]  # open-and-close inhibit
    assert r["tag-read"]["value"][1]["value"] == "crew on line C-D"
    assert r["select-tagged"]["type"] == "access-error"
    assert r["select-tagged"]["value"] == TEMP_UNAVAILABLE
    assert written(r["operate-tagged"]) == UNAVAILABLE
    assert written(r["tag-clear"]) == SUCCESS
    assert written(r["operate-close"]) == SUCCESS
    assert written(r["setpoint-real"]) == SUCCESS
    assert written(r["setpoint-discrete"]) == SUCCESS
    assert r["read-back-tap"]["value"] == 3
    assert operated["coil"] is True
    assert operated["setpoint"] == pytest.approx(150.0 / GEN2_SETPOINT_SCALE)
    assert operated["tap"] == 3 - TAP2_POS_OFFSET
    assert after == operated  # the refused peer changed nothing

    reports = r["message"]
    header = next(x for x in reports if x.get("name") == "Info_Mess_Header")
    buffer = next(x for x in reports if str(x.get("name", "")).startswith("Info_Buff_"))
    assert header["domain"] == DOMAIN and buffer["domain"] == DOMAIN
    text = b"Unit 2 outage 14:00-16:00"
    assert [v["value"] for v in header["value"]["value"]] == [7, 42, 1001, len(text)]
    assert bytes.fromhex(buffer["value"]["hex"]) == text

    d = by_tag(denied_lines, denied_steps)
    assert "BRK2" in d["names"] and "BRK2_SBO" not in d["names"] and "BRK2_TAG" in d["names"]
    assert d["select"]["type"] == "access-error" and d["select"]["value"] in (
        ACCESS_DENIED,
        10,  # object-non-existent: the viewer's table has no BRK2_SBO object
    )
    assert written(d["operate"]) == DENIED
    assert d["tag"]["value"][0]["set_bits"] == []
    assert written(d["tag-set"]) == DENIED

    audit = [rec for rec in caplog.records if rec.name == "adapters.tase2.audit"]
    operates = [rec for rec in audit if getattr(rec, "audit", "") == "operate"]
    assert len(operates) >= 9
    ok = [rec for rec in operates if getattr(rec, "outcome", "") == "success"]
    assert {getattr(rec, "device", "") for rec in ok} == {"BRK2", "GEN2_SP", "TAP2_SP"}
    line = json.loads(JsonFormatter().format(ok[0]))
    assert line["peer_ap_title"] == "1.1.1.999" and line["peer_address"] == "127.0.0.1"
    assert line["device"] == "BRK2" and line["value"] == 0 and line["outcome"] == SUCCESS
    assert "time" in line and line["table"] == "BLT_DEMO_001"
    refused = {getattr(rec, "outcome", "") for rec in operates} - {SUCCESS}
    assert {"temporarily-unavailable", "object-value-invalid", "object-access-denied"} <= refused
