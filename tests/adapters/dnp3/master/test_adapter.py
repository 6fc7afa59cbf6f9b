"""The `dnp3-master` adapter against an opendnp3 outstation (yadnp3) in another process.

Each test starts its own outstation (tests/support/peers/dnp3_outstation_peer.py) on a free
loopback port, sets points there, runs the adapter and watches the bus. opendnp3 sends
analogs as 32-bit integers and events without time unless asked, so the outstations here
read analogs as g30v5 and events by their timed variations.
"""

import asyncio
import logging
import os
import signal
import time
from pathlib import Path

import pytest

from adapters.dnp3.master.settings import Dnp3MasterSettings
from gateway.bus import CommandFailure
from gateway.points import PointDef, Source, State, Validity
from tests.support import eventually, running
from tests.support.dnp3 import master_on_bus
from tests.support.peers.dnp3_outstation import dnp3_outstation

pytestmark = [pytest.mark.timeout(90), pytest.mark.both_loops]  # uvloop: the gateway's loop

T_EVENT = 1_760_000_000_123  # ms since the epoch
TIMED_EVENTS = {"analog-input": 7, "binary-input": 2, "double-bit": 2, "counter": 5}

ALL_TYPES = [
    ("AI", "analog-input", "real"),
    ("BI", "binary-input", "state"),
    ("DB", "double-bit", "state"),
    ("CT", "counter", "discrete"),
    ("FC", "frozen-counter", "discrete"),
    ("BO", "binary-output", "state"),
    ("AO", "analog-output", "real"),
]


@pytest.fixture(autouse=True)
def _master_log(caplog):
    """The master's INFO lines, shown with a failure."""
    caplog.set_level(logging.INFO, "adapters.dnp3")


def outstation(peer, **extra):
    return {
        "name": "rtu",
        "host": "127.0.0.1",
        "port": peer.port,
        "response_timeout": 2.0,
        "link_timeout": 2.0,
        "backoff_initial": 0.2,
        "backoff_max": 0.5,
        "unsolicited": False,
        "event_interval": 0.2,
        "static_variations": {"analog-input": 5, "analog-output": 3},
        "event_variations": TIMED_EVENTS,
        **extra,
    }


async def online(peer, *points):
    """Give the peer's points a first value: opendnp3 starts them with RESTART, not ONLINE."""
    await peer.update(
        [{"type": kind, "index": index, "value": 0} for kind, index in points], mode="suppress"
    )


async def freeze(peer):
    """Stop the peer's process (SIGSTOP) and wait until all its threads have stopped."""
    os.kill(peer.pid, signal.SIGSTOP)

    def stopped() -> bool:
        threads = Path(f"/proc/{peer.pid}/task").glob("*/stat")
        return all(t.read_text().rsplit(")", 1)[1].split()[0] in "Tt" for t in threads)

    await eventually(stopped, 5, "the peer stopped")


def requests_of(adapter):
    """How many requests the master has sent to `rtu` so far."""
    return adapter.status()["outstations"].get("rtu", {}).get("requests", 0)


def problems(adapter):
    """How many problems the master has met on its link to `rtu` so far."""
    return adapter.status()["outstations"].get("rtu", {}).get("problems", 0)


def validity(bus, point):
    return bus.get(point).quality.validity


def value_is(bus, point, value):
    return lambda: bus.get(point).value == value and validity(bus, point) is Validity.VALID


async def test_an_integrity_poll_reads_every_point_type_with_its_flags():
    async with dnp3_outstation(points=4) as peer:
        await peer.update(
            [
                {"type": "analog-input", "index": 0, "value": 12.75},
                {"type": "analog-input", "index": 1, "value": 5.5, "flags": 0x21},  # over-range
                {"type": "analog-input", "index": 2, "value": 7.0, "flags": 0x05},  # comm lost
                {"type": "analog-input", "index": 3, "value": 8.0, "flags": 0x11},  # local forced
                {"type": "binary-input", "index": 0, "value": True},
                {"type": "double-bit", "index": 0, "value": 2},
                # the peer freezes its counter to set a frozen counter: that one first
                {"type": "frozen-counter", "index": 0, "value": 42},
                {"type": "counter", "index": 0, "value": 123456},
                {"type": "binary-output", "index": 0, "value": True},
                {"type": "analog-output", "index": 0, "value": 3.25},
            ],
            mode="suppress",
        )
        points = [
            {"point": f"{prefix}0", "type": kind, "index": 0, "kind": bus_kind}
            for prefix, kind, bus_kind in ALL_TYPES
        ] + [{"point": f"AI{i}", "type": "analog-input", "index": i} for i in (1, 2, 3)]
        bus, adapter = master_on_bus([outstation(peer, event_interval=None)], points)
        async with running(adapter):
            await eventually(value_is(bus, "AO0", 3.25), 10, "the integrity poll")
        expected = {
            "AI0": 12.75,
            "BI0": State.ON,
            "DB0": State.ON,
            "CT0": 123456,
            "FC0": 42,
            "BO0": State.ON,
        }
        assert {p: bus.get(p).value for p in expected} == expected
        assert all(bus.get(p).quality.timestamp_invalid for p in expected)  # static: no time
        assert validity(bus, "AI1") is Validity.SUSPECT
        assert validity(bus, "AI2") is Validity.NOT_VALID
        forced = bus.get("AI3").quality
        assert (forced.validity, forced.source) == (Validity.VALID, Source.ENTERED)


async def test_events_are_applied_with_their_own_time_stamps_in_order():
    async with dnp3_outstation(points=4) as peer:
        await online(peer, ("analog-input", 0), ("binary-input", 0))
        points = [
            {"point": "AI0", "type": "analog-input", "index": 0},
            {"point": "BI0", "type": "binary-input", "index": 0, "kind": "state"},
        ]
        bus, adapter = master_on_bus([outstation(peer)], points)
        changes = bus.subscribe(["AI0", "BI0"], every=True)
        async with running(adapter):
            await eventually(lambda: validity(bus, "AI0") is Validity.VALID, 10, "first poll")
            changes.drain()
            await peer.update(
                [
                    {"type": "analog-input", "index": 0, "value": 1.5, "time": T_EVENT},
                    {"type": "analog-input", "index": 0, "value": 2.5, "time": T_EVENT + 10},
                    {"type": "binary-input", "index": 0, "value": True, "time": T_EVENT + 20},
                ],
                mode="force",
            )
            await eventually(lambda: bus.get("BI0").value == State.ON, 10, "the event poll")
        seen = [(pv.point, pv.value, pv.ts) for pv in changes.drain()]
        assert seen == [
            ("AI0", 1.5, T_EVENT / 1000),
            ("AI0", 2.5, (T_EVENT + 10) / 1000),
            ("BI0", State.ON, (T_EVENT + 20) / 1000),
        ]
        assert not bus.get("AI0").quality.timestamp_invalid


async def test_unsolicited_responses_bring_events_without_polls():
    async with dnp3_outstation(points=2, unsolicited=True) as peer:
        await online(peer, ("analog-input", 0))
        bus, adapter = master_on_bus(
            [outstation(peer, unsolicited=True, event_interval=None)],
            [{"point": "AI0", "type": "analog-input", "index": 0}],
        )
        async with running(adapter):
            await eventually(lambda: validity(bus, "AI0") is Validity.VALID, 10, "integrity")
            await peer.set("analog-input", 0, 77.0, mode="force")
            await eventually(value_is(bus, "AI0", 77.0), 10, "an unsolicited response")
            status = adapter.status()["outstations"]["rtu"]
        assert status["unsolicited"] >= 1
        # disable unsolicited, clear the restart indication, integrity, enable: no event poll
        assert status["requests"] == 4


async def test_select_before_operate_and_direct_operate_reach_the_outstation():
    async with dnp3_outstation(points=2) as peer:
        await online(peer, ("binary-output", 0))
        points = [
            {
                "point": "BO0",
                "type": "binary-output",
                "index": 0,
                "writable": True,
                "kind": "state",
                "operation": "pulse",
                "on_time_ms": 250,
                "count": 2,
            },
            {
                "point": "AO1",
                "type": "analog-output",
                "index": 1,
                "writable": True,
                "control": "direct",
            },
            {
                "point": "AO0",
                "type": "analog-output",
                "index": 0,
                "writable": True,
                "output": "int16",
            },
        ]
        bus, adapter = master_on_bus([outstation(peer)], points)
        async with running(adapter):
            await eventually(lambda: validity(bus, "BO0") is Validity.VALID, 10, "integrity")
            assert (await bus.command("BO0", State.ON)).ok
            assert (await bus.command("AO1", 12.5)).ok
            assert (await bus.command("AO0", -42.0)).ok
        crob_select, crob_operate, ao_direct, ao_select, ao_operate = peer.controls()
        assert (crob_select["function"], crob_operate["function"]) == ("select", "operate")
        assert (crob_operate["op_type"], crob_operate["on_ms"], crob_operate["count"]) == (
            "PULSE_ON",
            250,
            2,
        )
        assert (ao_direct["function"], ao_direct["variation"], ao_direct["value"]) == (
            "direct-operate",
            3,
            12.5,
        )
        assert (ao_select["function"], ao_operate["variation"], ao_operate["value"]) == (
            "select",
            2,
            -42,
        )


async def test_a_refused_control_reports_the_outstation_status_and_is_not_operated():
    async with dnp3_outstation(points=2) as peer:
        points = [
            {"point": "BO0", "type": "binary-output", "index": 0, "writable": True, "kind": "state"}
        ]
        bus, adapter = master_on_bus([outstation(peer)], points)
        await online(peer, ("binary-output", 0))
        await peer.control_status("binary-output", 0, "LOCAL")
        async with running(adapter):
            await eventually(lambda: validity(bus, "BO0") is Validity.VALID, 10, "integrity")
            result = await bus.command("BO0", State.ON)
            on_unmapped = await bus.command("BO0", 7)
        assert result.failure is CommandFailure.NOT_PERMITTED and "local" in result.detail
        assert [c["function"] for c in peer.controls()] == ["select"]  # no operate after it
        assert on_unmapped.failure is CommandFailure.INVALID_VALUE


async def test_a_read_only_point_refuses_commands():
    async with dnp3_outstation(points=2) as peer:
        bus, adapter = master_on_bus(
            [outstation(peer)], [{"point": "AI0", "type": "analog-input", "index": 0}]
        )
        async with running(adapter):
            result = await bus.command("AI0", 1.0)
        assert result.failure is CommandFailure.NOT_PERMITTED


async def test_loss_of_the_outstation_marks_its_points_not_valid_and_it_is_read_again(caplog):
    caplog.set_level(logging.INFO, "adapters.dnp3")
    async with dnp3_outstation(points=2) as peer:
        await peer.set("analog-input", 0, 4.0, mode="suppress")
        bus, adapter = master_on_bus(
            [outstation(peer)], [{"point": "AI0", "type": "analog-input", "index": 0}]
        )
        async with running(adapter):
            await eventually(value_is(bus, "AI0", 4.0), 10, "first poll")
            await peer.stop(kill=True)
            await eventually(lambda: validity(bus, "AI0") is Validity.NOT_VALID, 5, "the loss")
            assert (await bus.command("AI0", 1.0)).failure is CommandFailure.NOT_PERMITTED
            await peer.start()
            await peer.set("analog-input", 0, 5.0, mode="suppress")
            await eventually(value_is(bus, "AI0", 5.0), 15, "the outstation read again")
        messages = [r.getMessage() for r in caplog.records]
        assert any("is down" in m and "not valid" in m for m in messages)
        assert sum("is up" in m for m in messages) == 2


async def test_the_master_syncs_the_outstation_clock_when_it_asks():
    async with dnp3_outstation(points=1, need_time=True) as peer:
        _, adapter = master_on_bus(
            [outstation(peer)], [{"point": "AI0", "type": "analog-input", "index": 0}]
        )
        before = time.time() * 1000
        async with running(adapter):
            synced = await peer.wait_for(lambda e: e["event"] == "time", 10)
            # The outstation acts on the time write before its answer reaches the master.
            await eventually(lambda: adapter.status()["outstations"]["rtu"]["time_syncs"] == 1)
        assert before - 1000 <= synced["ms"] <= time.time() * 1000 + 1000, (synced, before)


async def test_a_response_larger_than_the_fragment_limit_is_refused_with_a_reason(caplog):
    async with dnp3_outstation(points=600, types=["analog-input"], max_tx_fragment=8192) as peer:
        await online(peer, ("analog-input", 599))
        points = [{"point": "AI599", "type": "analog-input", "index": 599}]
        small = outstation(peer, max_fragment=2048, event_interval=None, response_timeout=1.0)
        bus, adapter = master_on_bus([small], points)
        async with running(adapter):
            await eventually(
                lambda: any("2048" in r.getMessage() for r in caplog.records), 10, "the reason"
            )
        assert validity(bus, "AI599") is Validity.NOT_VALID
        # With the default limit the same outstation is read in one 8 KB fragment.
        bus, adapter = master_on_bus([outstation(peer, event_interval=None)], points)
        async with running(adapter):
            await eventually(lambda: validity(bus, "AI599") is Validity.VALID, 10, "the poll")


async def test_a_point_added_while_running_is_read_without_reconnecting():
    async with dnp3_outstation(points=4) as peer:
        await online(peer, ("analog-input", 0))
        await peer.set("analog-input", 3, 9.5, mode="suppress")
        bus, adapter = master_on_bus(
            [outstation(peer, event_interval=None)],
            [{"point": "AI0", "type": "analog-input", "index": 0}],
        )
        bus.register(PointDef(id="AI3"), "dnp3")
        async with running(adapter):
            # The start-up: an integrity poll, the restart indication it shows cleared, and
            # everything read again.
            await eventually(lambda: requests_of(adapter) == 3, 10, "the start-up")
            requests_before = requests_of(adapter)
            settings = Dnp3MasterSettings.model_validate(
                {
                    "outstations": [outstation(peer, event_interval=None)],
                    "points": [
                        {"point": "AI0", "type": "analog-input", "index": 0},
                        {"point": "AI3", "type": "analog-input", "index": 3},
                    ],
                }
            )
            assert adapter.reconfigure(settings)
            await eventually(value_is(bus, "AI3", 9.5), 10, "the new point")
            status = adapter.status()["outstations"]["rtu"]
        assert status["requests"] == requests_before + 1  # one integrity poll, same connection


async def test_an_outstation_that_accepts_but_never_answers_is_down(caplog):
    """A TCP listener that reads and says nothing (a hung RTU behind a terminal server)."""
    caplog.set_level(logging.INFO, "adapters.dnp3")
    received = []

    async def silent(reader, writer):
        received.append(await reader.read(1024))
        await asyncio.sleep(30)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        bus, adapter = master_on_bus(
            [{"name": "rtu", "host": "127.0.0.1", "port": port, "response_timeout": 0.3}],
            [{"point": "AI0", "type": "analog-input", "index": 0}],
        )
        async with running(adapter):
            await eventually(
                lambda: any("not answered" in r.getMessage() for r in caplog.records), 10
            )
            assert validity(bus, "AI0") is Validity.NOT_VALID
            assert adapter.status()["outstations"]["rtu"]["state"] == "down"
    assert received and received[0][:2] == b"\x05\x64"  # it did send a request


async def test_an_idle_link_is_checked_and_a_frozen_outstation_found_down():
    async with dnp3_outstation(points=1) as peer:
        await online(peer, ("analog-input", 0))
        quiet = outstation(
            peer, event_interval=None, integrity_interval=None, keep_alive=0.3, link_timeout=0.5
        )
        bus, adapter = master_on_bus(
            [quiet], [{"point": "AI0", "type": "analog-input", "index": 0}]
        )
        async with running(adapter):
            await eventually(lambda: validity(bus, "AI0") is Validity.VALID, 10, "integrity")
            await asyncio.sleep(1.0)  # a few link status requests, answered
            assert adapter.status()["outstations"]["rtu"]["state"] == "up"
            await freeze(peer)  # the socket stays open, nothing answers
            try:
                await eventually(lambda: validity(bus, "AI0") is Validity.NOT_VALID, 5, "loss")
                assert "link status" in adapter.status()["outstations"]["rtu"]["last_error"]
            finally:
                os.kill(peer.pid, signal.SIGCONT)
            await eventually(lambda: validity(bus, "AI0") is Validity.VALID, 15, "recovery")


async def test_a_command_the_bus_gives_up_on_leaves_the_link_working(caplog):
    async with dnp3_outstation(points=2) as peer:
        await online(peer, ("analog-input", 0), ("analog-output", 0))
        points = [
            {"point": "AI0", "type": "analog-input", "index": 0},
            {"point": "AO0", "type": "analog-output", "index": 0, "writable": True},
        ]
        bus, adapter = master_on_bus([outstation(peer, response_timeout=1.0)], points)
        async with running(adapter):
            await eventually(lambda: validity(bus, "AI0") is Validity.VALID, 10, "integrity")
            await freeze(peer)
            try:
                result = await bus.command("AO0", 5.0, timeout=0.2)  # gives up in flight
                assert result.failure is CommandFailure.TIMEOUT
                await asyncio.sleep(1.5)  # the SELECT's own time-out passes
            finally:
                os.kill(peer.pid, signal.SIGCONT)
            assert (await bus.command("AO0", 6.0)).ok  # the link still works
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_connection_lost_during_a_command_marks_the_points_not_valid_at_once():
    async with dnp3_outstation(points=2) as peer:
        await online(peer, ("analog-input", 0), ("analog-output", 0))
        points = [
            {"point": "AI0", "type": "analog-input", "index": 0},
            {"point": "AO0", "type": "analog-output", "index": 0, "writable": True},
        ]
        quiet = outstation(peer, event_interval=None, integrity_interval=None, keep_alive=60)
        bus, adapter = master_on_bus([quiet], points)
        async with running(adapter):
            await eventually(lambda: validity(bus, "AI0") is Validity.VALID, 10, "integrity")
            await freeze(peer)
            command = asyncio.create_task(bus.command("AO0", 5.0))
            await asyncio.sleep(0.2)
            await peer.stop(kill=True)
            assert (await command).failure is CommandFailure.DEVICE_FAILURE
            await eventually(lambda: validity(bus, "AI0") is Validity.NOT_VALID, 2, "the loss")


async def test_noise_on_the_link_is_logged_thinned_out(caplog):
    """A terminal server that keeps sending line noise: frames with bad CRCs, offsets vary."""
    noise = bytes.fromhex("0564ff4401000400") + b"\x00\x00" + b"\x55" * 7

    async def noisy(reader, writer):
        for _ in range(300):
            writer.write(noise)
            await writer.drain()
            await asyncio.sleep(0)
        await asyncio.sleep(5)

    server = await asyncio.start_server(noisy, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        _, adapter = master_on_bus(
            [{"name": "rtu", "host": "127.0.0.1", "port": port, "response_timeout": 3.0}],
            [{"point": "AI0", "type": "analog-input", "index": 0}],
        )
        async with running(adapter):
            await eventually(lambda: problems(adapter) >= 300, 10, "the noise read")
    warnings = [
        r for r in caplog.records if r.levelno == logging.WARNING and "CRC" in r.getMessage()
    ]
    assert 1 <= len(warnings) <= 12  # 1st, 2nd, 4th, 8th... of one kind
