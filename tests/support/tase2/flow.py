"""The libiec61850 TASE.2 client flow shared by the server's interop and tshark tests:
the steps of tase2-reference.md section 6.8, how to drive them, and what to check."""

from __future__ import annotations

import asyncio
from typing import Any

from adapters.tase2.model.points import PointType
from adapters.tase2.server.adapter import Tase2ServerAdapter
from gateway.bus import PointBus
from gateway.points import Quality, Source, Validity
from tests.support.peers.libiec61850 import PeerProcess
from tests.support.tase2.server import DOMAIN, PEER_AP, SERVER_AP, type_point

TS = "DSTransferSet01"
POINTS = ["GEN1", "BRK1", "TAP1"]
HEAD = ["Transfer_Set_Name", "DSConditions_Detected", "Transfer_Set_Time_Stamp"]


def mms_object_name(item: str) -> dict[str, Any]:
    """MMSObjectName {Scope 1, DOMAIN, item} as the peer's value spec."""
    return {"struct": [{"int": 1}, {"string": DOMAIN}, {"string": item}]}


def transfer_set(
    conditions: list[int],
    *,
    interval: int = 0,
    integrity: int = 0,
    rbe: bool = False,
    critical: bool = False,
    status: bool = True,
) -> dict[str, Any]:
    """A whole 13-component DSTransferSet value naming data set DS1."""
    return {
        "struct": [
            mms_object_name("DS1"),
            {"int": 0},  # StartTime
            {"int": interval},
            {"int": 0},  # TLE
            {"int": 0},  # BufferTime
            {"int": integrity},
            {"bits": [5, conditions]},
            {"bool": False},  # BlockData
            {"bool": critical},
            {"bool": rbe},
            {"bool": False},  # AllChangesReported
            {"bool": status},
            {"int": 0},  # EventCodeRequested
        ]
    }


def flow_steps() -> list[dict[str, Any]]:
    """Associate, check, discover, define, allocate, start, receive, ACK, stop, delete.

    Each step has a ``tag`` (ignored by the peer) so the checks can find its result.
    """
    gvaa = [
        {"op": "gvaa", "domain": DOMAIN, "item": type_point(t), "tag": f"gvaa:{t.value}"}
        for t in PointType
    ]
    members = [[DOMAIN, n] for n in (*HEAD, *POINTS)]
    ts = {"op": "write", "domain": DOMAIN, "item": TS}
    running = transfer_set([0, 1], interval=1, integrity=2, rbe=True)
    stopped = transfer_set([0, 1], status=False, interval=1, integrity=2, rbe=True)
    return [
        {"op": "connect", "tag": "connect"},
        {"op": "read", "domain": None, "item": "TASE2_Version", "tag": "version"},
        {"op": "read", "domain": None, "item": "Supported_Features", "tag": "features"},
        {"op": "read", "domain": DOMAIN, "item": "Bilateral_Table_ID", "tag": "blt"},
        {"op": "domains", "tag": "domains"},
        {"op": "vmd_variables", "tag": "vmd"},
        {"op": "domain_variables", "domain": DOMAIN, "tag": "icc"},
        *gvaa,
        # refusals
        {"op": "read", "domain": DOMAIN, "item": "SECRET", "tag": "read-secret"},
        {
            "op": "write",
            "domain": DOMAIN,
            "item": "RO1",
            "value": {"float": 1.0},
            "tag": "write-ro",
        },
        {
            "op": "define_list",
            "domain": DOMAIN,
            "name": "BAD",
            "members": [[DOMAIN, "SECRET"]],
            "tag": "define-bad",
        },
        # the Block 1/2 procedure
        {"op": "define_list", "domain": DOMAIN, "name": "DS1", "members": members, "tag": "define"},
        {"op": "read", "domain": DOMAIN, "item": "Next_DSTransfer_Set", "tag": "next"},
        {"op": "read", "domain": DOMAIN, "item": TS, "tag": "read-ts"},
        {**ts, "value": {"struct": [{"int": 1}] * 5}, "tag": "malformed"},
        {**ts, "value": running, "tag": "start"},
        {"op": "signal", "name": "changes"},
        {"op": "wait_reports", "count": 5, "timeout": 3, "tag": "reports"},
        {"op": "sleep", "seconds": 1.2},  # the integrity report (2 s after the start)
        {**ts, "value": stopped, "tag": "stop1"},
        {"op": "clear_reports"},
        {**ts, "value": transfer_set([2], rbe=True, critical=True), "tag": "start-critical"},
        {"op": "signal", "name": "critical"},
        {"op": "wait_reports", "count": 4, "timeout": 3, "tag": "critical-reports"},
        {"op": "send_ack", "domain": DOMAIN, "transfer_set": TS, "tag": "ack"},
        {"op": "sleep", "seconds": 1.2},
        {**ts, "value": transfer_set([2], rbe=True, critical=True, status=False), "tag": "stop"},
        {"op": "delete_list", "domain": DOMAIN, "name": "DS1", "tag": "delete"},
        {"op": "conclude", "tag": "conclude"},
    ]


def peer_config(port: int, steps: list[dict[str, Any]], ap: str = PEER_AP) -> dict[str, Any]:
    """libiec61850 client mode against our server."""
    return {
        "mode": "client",
        "host": "127.0.0.1",
        "port": port,
        "local_ap_title": ap,
        "local_ae_qualifier": 12,
        "remote_ap_title": SERVER_AP,
        "remote_ae_qualifier": 12,
        "steps": steps,
    }


async def run_flow(adapter: Tase2ServerAdapter, bus: PointBus) -> list[dict[str, Any]]:
    """Drive :func:`flow_steps` with the peer; change the bus when it signals."""
    assert adapter.server is not None
    async with PeerProcess(peer_config(adapter.server.port, flow_steps()), 40) as peer:
        await peer.until("signal")
        await asyncio.sleep(0.2)
        bus.update("GEN1", 321.5, ts=1_700_000_321.0)
        bus.update("TAP1", 17, ts=1_700_000_322.0)
        peer.send_line()
        await peer.until("signal")
        await asyncio.sleep(0.2)
        bus.update("GEN1", 654.25, ts=1_700_000_654.0)
        peer.send_line()
        lines = await peer.finish()
    return lines


def check_flow(lines: list[dict[str, Any]], bus: PointBus, adapter: Tase2ServerAdapter) -> None:
    """Everything the Done-when list asks of the flow."""
    steps = flow_steps()
    tagged = [(steps[line["i"]].get("tag"), line) for line in lines if "i" in line]
    out = {tag: line for tag, line in tagged if tag is not None}
    refused = {
        "write-ro": "object-access-denied",
        "define-bad": "access",
        "malformed": "object-attribute-inconsistent",
    }
    for tag, line in out.items():
        if tag in refused:
            assert line["ok"] is False and refused[tag] in line["error"], line
        else:
            assert line["ok"] is True, line
    assert len(out) == len([s for s in steps if "tag" in s]), lines
    r = {tag: line.get("result") for tag, line in out.items()}
    assert [v["value"] for v in r["version"]["value"]] == [2000, 8]
    assert r["features"]["size"] == 12 and r["features"]["set_bits"] == [0, 1, 3, 4]
    assert r["blt"]["value"] == "BLT_ICC1"
    assert r["domains"] == [DOMAIN]
    assert {"TASE2_Version", "Supported_Features", "FREQ"} <= set(r["vmd"])
    assert "SECRET" not in r["icc"] and TS in r["icc"] and "Transfer_Set_Name" in r["icc"]
    for ptype in PointType:
        spec = r[f"gvaa:{ptype.value}"]
        want = [c.name for c in getattr(ptype.info.spec, "components", ())]
        assert [c["name"] for c in spec.get("children", [])] == want, ptype
    assert r["read-secret"]["value"] == 3  # object-access-denied
    assert [v["value"] for v in r["next"]["value"]] == [1, DOMAIN, TS]
    assert len(r["read-ts"]["value"]) == 13
    assert r["start"]["success"] is True
    # RBE interval report: the changed points named individually after the specials,
    # DSConditions_Detected = IntervalTimeOut, values and flags equal to the bus's.
    # (Integrity reports are full reports named by the ICC-domain data set: libiec61850's
    # client drops domain-specific variableListName reports; the VCC data set flow below
    # checks full reports through libiec61850, named by a VMD-specific list.)
    reports = {x["name"]: x["value"] for x in r["reports"]}
    assert list(reports)[:3] == HEAD and "BRK1" not in reports, r["reports"]
    assert reports["DSConditions_Detected"]["set_bits"] == [0]
    ts_name = reports["Transfer_Set_Name"]["value"]
    assert [v["value"] for v in ts_name] == [1, DOMAIN, TS]
    gen1, tap1 = reports["GEN1"]["value"], reports["TAP1"]["value"]
    assert gen1[0]["value"] == 321.5 and gen1[1]["value"] == 1_700_000_321
    flags = bus.get("GEN1").quality.to_flags()
    assert gen1[2]["set_bits"] == [b for b in range(8) if flags & (0x80 >> b)]
    assert tap1[0]["value"] == 17 and tap1[1]["value"] == 1_700_000_322
    flags = bus.get("TAP1").quality.to_flags()
    assert tap1[2]["set_bits"] == [b for b in range(8) if flags & (0x80 >> b)]
    critical = r["critical-reports"]
    detected = [x["value"] for x in critical if x["name"] == "DSConditions_Detected"]
    assert detected and all(d["set_bits"] == [2] for d in detected)  # ObjectChange
    assert any(x["name"] == "GEN1" and x["value"]["value"][0]["value"] == 654.25 for x in critical)
    assert r["ack"]["stamp"] is not None
    assert r["stop"]["success"] is True and r["delete"] is True
    server = adapter.server
    assert server is not None
    assert [e.kind for e in server.events] == []  # the critical report was acknowledged


# --------------------------------------------------------------------------- VCC data set

VCC_DS = "DS_SYSTEM"
VCC_POINTS = ["FREQ", "GEN1", "TAP1"]
VCC_DATA_SETS = [{"name": VCC_DS, "members": [*HEAD, *VCC_POINTS]}]
TS2 = "DSTransferSet02"


def vcc_transfer_set(conditions: list[int], **kw: Any) -> dict[str, Any]:
    """A DSTransferSet value naming the VCC data set (MMSObjectName scope 0)."""
    value = transfer_set(conditions, **kw)
    value["struct"][0] = {"struct": [{"int": 0}, {"string": ""}, {"string": VCC_DS}]}
    return value


def vcc_flow_steps() -> list[dict[str, Any]]:
    """Two transfer sets on the VCC data set: interval-only (full reports) and integrity
    with RBE; read the list, try to delete it, stop both, conclude."""
    one = {"op": "write", "domain": DOMAIN, "item": TS}
    two = {"op": "write", "domain": DOMAIN, "item": TS2}
    interval = {"conditions": [0], "interval": 1}
    integrity = {"conditions": [1, 2], "integrity": 1, "rbe": True}
    return [
        {"op": "connect", "tag": "connect"},
        {"op": "read_list", "domain": None, "name": VCC_DS, "tag": "read-list"},
        {"op": "read", "domain": DOMAIN, "item": "Next_DSTransfer_Set", "tag": "next1"},
        {"op": "read", "domain": DOMAIN, "item": "Next_DSTransfer_Set", "tag": "next2"},
        {**one, "value": vcc_transfer_set(**interval), "tag": "start-interval"},
        {**two, "value": vcc_transfer_set(**integrity), "tag": "start-integrity"},
        {"op": "wait_reports", "count": 2, "timeout": 3, "tag": "full"},
        {"op": "clear_reports"},
        {"op": "signal", "name": "change"},
        {"op": "wait_reports", "count": 4, "timeout": 3, "tag": "rbe"},
        {**one, "value": vcc_transfer_set(**interval, status=False), "tag": "stop-interval"},
        {**two, "value": vcc_transfer_set(**integrity, status=False), "tag": "stop-integrity"},
        {"op": "delete_list", "domain": None, "name": VCC_DS, "tag": "delete"},
        {"op": "conclude", "tag": "conclude"},
    ]


async def run_vcc_flow(adapter: Tase2ServerAdapter, bus: PointBus) -> list[dict[str, Any]]:
    """Drive :func:`vcc_flow_steps`; GEN1 changes when the peer signals."""
    assert adapter.server is not None
    async with PeerProcess(peer_config(adapter.server.port, vcc_flow_steps()), 30) as peer:
        await peer.until("signal")
        bus.update("GEN1", 888.5, Quality(Validity.NOT_VALID, Source.ESTIMATED), 1_700_000_888.0)
        peer.send_line()
        lines = await peer.finish()
    return lines


def expected_point(bus: PointBus, point: str) -> tuple[float, int, list[int]]:
    """(value, GMTBasedS time stamp, set flag bits) of a bus point, as a report carries it."""
    pv = bus.get(point)
    flags = pv.quality.to_flags()
    return float(pv.value), int(pv.ts), [b for b in range(8) if flags & (0x80 >> b)]


def decoded_point(value: dict[str, Any]) -> tuple[float, int, list[int]]:
    """(value, time stamp, set flag bits) of a Q/TimeTag point decoded by libiec61850."""
    v, stamp, flags = value["value"]
    return float(v["value"]), int(stamp["value"]), flags["set_bits"]


def check_vcc_flow(
    lines: list[dict[str, Any]], before: dict[str, tuple[float, int, list[int]]], bus: PointBus
) -> None:
    """Full interval and integrity reports named by the VCC list carry the bus's values and
    flags (``before``: the points before GEN1's change); the RBE report the change."""
    steps = vcc_flow_steps()
    out = {steps[x["i"]].get("tag"): x for x in lines if "i" in x}
    for tag in ("connect", "read-list", "next1", "next2", "full", "rbe", "conclude"):
        assert out[tag]["ok"] is True, out[tag]
    for tag in ("start-interval", "start-integrity", "stop-interval", "stop-integrity"):
        assert out[tag]["result"]["success"] is True, out[tag]
    assert out["delete"]["ok"] is False and "MmsError" in out["delete"]["error"], out["delete"]
    r = {tag: x.get("result") for tag, x in out.items()}
    assert [v["value"] for v in r["next2"]["value"]] == [1, DOMAIN, TS2]
    listed = r["read-list"]["value"]
    assert [x["value"] for x in listed[:3]] == [3, 3, 3], listed  # object-access-denied
    for point, value in zip(VCC_POINTS, listed[3:], strict=True):
        assert decoded_point(value) == before[point], point
    full = [x for x in r["full"] if x.get("is_list")]
    assert {x["name"] for x in full} == {VCC_DS}, r["full"]
    assert {x["domain"] for x in full} <= {None, ""}, r["full"]  # VMD-specific
    conditions = {}
    for report in full:
        members = report["value"]["value"]
        ts_name = [v["value"] for v in members[0]["value"]]
        conditions[ts_name[2]] = members[1]["set_bits"]
        assert ts_name[:2] == [1, DOMAIN]
        for point, value in zip(VCC_POINTS, members[3:], strict=True):
            assert decoded_point(value) == before[point], (point, report)
    assert conditions == {TS: [0], TS2: [1]}, full  # IntervalTimeOut, IntegrityTimeOut
    rbe = {x["name"]: x["value"] for x in r["rbe"] if not x.get("is_list")}
    assert rbe["DSConditions_Detected"]["set_bits"] == [2]  # ObjectChange
    assert decoded_point(rbe["GEN1"]) == expected_point(bus, "GEN1") != before["GEN1"]
    assert "FREQ" not in rbe and "TAP1" not in rbe
