"""The TASE.2 server against libiec61850's MMS client (pyiec61850-ng raw API, a subprocess).

The whole Block 1/2 procedure of tase2-reference.md section 6.8, as a real peer does it,
plus the refusals; and transfer sets on a server-configured VCC data set, whose full
interval and integrity reports (VMD-specific variableListName) libiec61850 delivers.
:func:`run_flow` is shared with the tshark test.
"""

from __future__ import annotations

import pytest

from gateway.points import Quality, Source, Validity
from tests.support import eventually
from tests.support.peers.libiec61850 import PeerProcess, require_pyiec61850
from tests.support.tase2.flow import (
    DOMAIN,
    VCC_DATA_SETS,
    VCC_POINTS,
    check_flow,
    check_vcc_flow,
    decoded_point,
    expected_point,
    peer_config,
    run_flow,
    run_vcc_flow,
    vcc_flow_steps,
)
from tests.support.tase2.server import make_bus, running_server, settings

pytestmark = [pytest.mark.timeout(60), pytest.mark.both_loops]  # the gateway runs on uvloop


@pytest.fixture(autouse=True)
def _peer_available() -> None:
    require_pyiec61850()


async def test_libiec61850_runs_the_block_1_and_2_procedure() -> None:
    bus, _ = make_bus()
    async with running_server(settings(limits={"critical_timeout": 1.0}), bus) as adapter:
        lines = await run_flow(adapter, bus)
        check_flow(lines, bus, adapter)


async def test_libiec61850_with_an_unknown_ap_title_is_refused() -> None:
    async with running_server() as adapter:
        assert adapter.server is not None
        cfg = peer_config(adapter.server.port, [{"op": "connect"}], ap="1.1.1.555")
        async with PeerProcess(cfg, 20) as peer:
            lines = await peer.finish()
        (connect,) = [line for line in lines if line.get("op") == "connect"]
        assert connect["ok"] is False and "connect failed" in connect["error"]
        assert adapter.server.associations == 0


async def test_libiec61850_receives_full_reports_of_a_vcc_data_set() -> None:
    bus, _ = make_bus()
    bus.update("FREQ", 50.0625, Quality(Validity.SUSPECT, Source.CALCULATED), 1_700_000_050.0)
    async with running_server(settings(vcc_data_sets=VCC_DATA_SETS), bus) as adapter:
        before = {p: expected_point(bus, p) for p in VCC_POINTS}
        lines = await run_vcc_flow(adapter, bus)
        check_vcc_flow(lines, before, bus)


async def test_libiec61850_recovers_from_its_connect_race_with_reports_intact() -> None:
    """libiec61850's connect can return true on a connection whose every request then fails
    with connection-lost (its connection thread finished the handshake before connect marked
    it "connecting"); the peer then closes it and associates again. Simulated here, since
    the real race needs a loaded machine: the whole VCC flow, reports included, still holds,
    and the server saw the first association end before the second began."""
    bus, _ = make_bus()
    async with running_server(settings(vcc_data_sets=VCC_DATA_SETS), bus) as adapter:
        assert adapter.server is not None
        before = {p: expected_point(bus, p) for p in VCC_POINTS}
        cfg = {**peer_config(adapter.server.port, vcc_flow_steps()), "simulate_connect_race": True}
        async with PeerProcess(cfg, 30) as peer:
            await peer.until("signal")
            # the lost association is closed, not left open beside the new one
            await eventually(lambda: adapter.server.associations == 1, 5.0, "one association")
            bus.update(
                "GEN1", 888.5, Quality(Validity.NOT_VALID, Source.ESTIMATED), 1_700_000_888.0
            )
            peer.send_line()
            lines = await peer.finish()
        await eventually(lambda: adapter.server.associations == 0, 5.0, "both associations end")
    check_vcc_flow(lines, before, bus)
    assert [x["op"] for x in lines if "i" in x].count("connect") == 1
    assert b"connect race: read_list failed" in peer.stderr, peer.stderr


async def test_libiec61850_polls_see_each_value_as_the_bus_holds_it() -> None:
    """Repeated Reads (the fast path) of a point and of the peer's own data set, before and
    after the point changes, and of a name the table does not give the peer."""
    bus, _ = make_bus()
    async with running_server(settings(), bus) as adapter:
        assert adapter.server is not None
        poll = {"op": "read_list", "domain": DOMAIN, "name": "POLL"}
        read = {"op": "read", "domain": DOMAIN, "item": "GEN1"}
        members = [[DOMAIN, "GEN1"], [DOMAIN, "GEN2"]]
        steps = [
            {"op": "connect"},
            {"op": "define_list", "domain": DOMAIN, "name": "POLL", "members": members},
            *({**read, "tag": f"before{i}"} for i in range(3)),
            {**poll, "tag": "list-before"},
            {"op": "read", "domain": DOMAIN, "item": "SECRET", "tag": "secret"},
            {"op": "signal", "name": "change"},
            *({**read, "tag": f"after{i}"} for i in range(3)),
            {**poll, "tag": "list-after"},
            {"op": "conclude"},
        ]
        before = {p: expected_point(bus, p) for p in ("GEN1", "GEN2")}
        async with PeerProcess(peer_config(adapter.server.port, steps), 30) as peer:
            await peer.until("signal")
            bus.update("GEN1", 777.25, ts=1_700_000_777.0)
            peer.send_line()
            lines = await peer.finish()
    done = [line for line in lines if "i" in line]
    assert all(line["ok"] for line in done), lines
    r = {steps[line["i"]].get("tag"): line for line in done}
    after = expected_point(bus, "GEN1")
    assert after != before["GEN1"]
    for i in range(3):
        assert decoded_point(r[f"before{i}"]["result"]) == before["GEN1"]
        assert decoded_point(r[f"after{i}"]["result"]) == after
    assert [decoded_point(v) for v in r["list-before"]["result"]["value"]] == [
        before["GEN1"],
        before["GEN2"],
    ]
    assert [decoded_point(v) for v in r["list-after"]["result"]["value"]] == [
        after,
        before["GEN2"],
    ]
    assert r["secret"]["result"]["value"] == 3  # object-access-denied
