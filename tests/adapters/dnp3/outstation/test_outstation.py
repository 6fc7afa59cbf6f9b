"""The `dnp3-outstation` adapter, polled and controlled by opendnp3's master (yadnp3, in
another process): static values and flags, events with their time, unsolicited responses,
controls answered with the owner's real outcome, and reloads."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.dnp3.outstation.adapter import Dnp3OutstationAdapter
from adapters.dnp3.outstation.settings import Dnp3OutstationSettings
from adapters.sim import SimAdapter
from gateway.bus import CommandError, CommandFailure, PointBus
from gateway.config import build_config, load_config
from gateway.points import GOOD, PointDef, PointKind, State
from gateway.registry import AdapterRegistry
from tests.support import REPO, eventually, free_port, running
from tests.support.gateway import running_gateway
from tests.support.peers.dnp3_master import Dnp3MasterPeer, Point, require_yadnp3

pytestmark = [pytest.mark.timeout(60), pytest.mark.both_loops]  # uvloop: the gateway's loop

ONLINE, COMM_LOST, STATE = 0x01, 0x04, 0x80

POINTS: list[dict[str, Any]] = [
    {"point": "MW", "type": "analog-input", "index": 0},
    {"point": "MVAR", "type": "analog-input", "index": 1, "variation": 1, "event_class": 2},
    {"point": "SW", "type": "binary-input", "index": 0},
    {"point": "SW", "type": "double-bit", "index": 0},
    {"point": "ISO", "type": "double-bit", "index": 1},
    {"point": "PULSES", "type": "counter", "index": 0},
    {"point": "PULSES", "type": "frozen-counter", "index": 0, "variation": 5},
    {"point": "BRK", "type": "binary-output", "index": 0, "writable": True},
    {"point": "FAN", "type": "binary-output", "index": 1, "writable": True, "pulse": "on"},
    {"point": "LAMP", "type": "binary-output", "index": 2},
    {"point": "SP", "type": "analog-output", "index": 0, "writable": True},
]
DEFS = [
    PointDef(id="MW"),
    PointDef(id="MVAR"),
    PointDef(id="SW", kind=PointKind.STATE),
    PointDef(id="ISO", kind=PointKind.STATE),
    PointDef(id="PULSES", kind=PointKind.DISCRETE),
    PointDef(id="BRK", kind=PointKind.STATE),
    PointDef(id="FAN", kind=PointKind.STATE),
    PointDef(id="LAMP", kind=PointKind.STATE),
    PointDef(id="SP"),
]
T0 = 1_780_000_000.25  # a bus time stamp (s)


class Owner:
    """Owns the points: records commands, refuses opening BRK and set-points above 100,
    takes `delay` seconds to answer."""

    def __init__(self, bus: PointBus) -> None:
        self.bus = bus
        self.commands: list[tuple[str, float]] = []
        self.delay = 0.0

    async def on_command(self, point: PointDef, value: float) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        if point.id == "BRK" and value == State.OFF:
            raise CommandError(CommandFailure.BUSY, "interlocked")
        if point.id == "SP" and value > 100:
            raise CommandError(CommandFailure.INVALID_VALUE, "set-point range is 0..100")
        self.commands.append((point.id, value))
        self.bus.update(point.id, value, GOOD, time.time())


@contextlib.asynccontextmanager
async def outstation(
    unsolicited: bool = False, **options: Any
) -> AsyncIterator[tuple[Dnp3OutstationAdapter, PointBus, Owner, Dnp3MasterPeer]]:
    require_yadnp3()
    bus = PointBus()
    owner = Owner(bus)
    bus.add_owner("owner", owner.on_command)
    for d in DEFS:
        bus.register(d, "owner")
    bus.update_many(["MW", "MVAR"], [12.5, -3.0], GOOD, T0)
    bus.update("SW", int(State.ON), GOOD, T0)
    bus.update("ISO", int(State.BETWEEN), GOOD, T0)
    bus.update("PULSES", 42, GOOD, T0)
    port = free_port()
    settings = Dnp3OutstationSettings.model_validate(
        {"port": port, "unsolicited": unsolicited, "points": POINTS, **options}
    )
    adapter = Dnp3OutstationAdapter("ost", settings, bus)
    async with running(adapter) as task:
        await asyncio.wait_for(adapter.ready.wait(), 5)
        assert not task.done()
        peer = await Dnp3MasterPeer(port, unsolicited=unsolicited).start()
        try:
            yield adapter, bus, owner, peer
        finally:
            await peer.stop()


def one(points: list[Point], kind: str, index: int, *, event: bool | None = None) -> Point:
    found = [
        p
        for p in points
        if p["type"] == kind and p["index"] == index and (event is None or p["event"] == event)
    ]
    assert len(found) == 1, (kind, index, points)
    return found[0]


async def test_an_integrity_poll_reads_the_bus_values_with_their_flags() -> None:
    async with outstation() as (_, bus, _, peer):
        points = await peer.scan()
        mw = one(points, "analog", 0)
        assert (mw["value"], mw["flags"], mw["gv"]) == (12.5, ONLINE, "Group30Var5")
        mvar = one(points, "analog", 1)
        assert (mvar["value"], mvar["gv"]) == (-3.0, "Group30Var1")
        assert one(points, "binary", 0)["value"] is True
        assert one(points, "binary", 0)["flags"] == ONLINE | STATE
        assert one(points, "double-bit", 0)["value"] == "DETERMINED_ON"
        assert one(points, "double-bit", 1)["value"] == "INTERMEDIATE"
        assert one(points, "double-bit", 1)["flags"] & 0x3F == ONLINE
        assert (one(points, "counter", 0)["value"], one(points, "counter", 0)["flags"]) == (
            42,
            ONLINE,
        )
        # Never published: served not valid, never as good.
        assert one(points, "binary-output", 0)["flags"] == COMM_LOST
        assert one(points, "analog-output", 0)["flags"] == COMM_LOST

        bus.owner_lost("owner")
        for _ in range(50):  # the adapter takes the change from its subscription
            lost = await peer.scan()
            if one(lost, "analog", 0, event=False)["flags"] != ONLINE:
                break
        for kind, index in [("analog", 0), ("binary", 0), ("double-bit", 0), ("counter", 0)]:
            flags = one(lost, kind, index, event=False)["flags"]
            assert flags & (ONLINE | COMM_LOST) == COMM_LOST, (kind, flags)
        assert one(lost, "analog", 0, event=False)["value"] == 12.5  # the last value, flagged


async def test_a_bus_change_is_an_event_with_its_time_in_a_class_poll() -> None:
    async with outstation() as (adapter, bus, _, peer):
        assert await peer.scan("events") == []
        t1, t2 = T0 + 10.125, T0 + 11.5
        bus.update("MW", 20.0, GOOD, t1)
        bus.update("SW", int(State.OFF), GOOD, t2)
        await eventually(lambda: adapter.status()["events_recorded"] == 2)
        events = await peer.scan("events")
        mw = one(events, "analog", 0, event=True)
        assert (mw["value"], mw["flags"], mw["time"], mw["gv"]) == (
            20.0,
            ONLINE,
            int(t1 * 1000),
            "Group32Var3",
        )
        sw = one(events, "binary", 0, event=True)
        assert (sw["value"], sw["time"], sw["gv"]) == (False, int(t2 * 1000), "Group2Var2")
        assert not mw["unsolicited"]
        assert await peer.scan("events") == []  # confirmed, so gone
        static = await peer.scan()
        assert one(static, "double-bit", 0, event=False)["value"] == "DETERMINED_OFF"
        bus.update("PULSES", 43, GOOD, t2)
        bus.update("SW", int(State.ON))  # no source time: the receive time, not synchronized
        await eventually(lambda: adapter.status()["events_recorded"] == 4)
        events = await peer.scan("events")
        frozen = one(events, "frozen-counter", 0, event=True)
        assert (frozen["value"], frozen["time"]) == (43, int(t2 * 1000))
        assert frozen["gv"] == "Group23Var5"
        sw = one(events, "binary", 0, event=True)
        assert (sw["value"], sw["tsq"]) == (True, "UNSYNCHRONIZED")
        assert abs(sw["time"] - bus.get("SW").ts * 1000) <= 1


async def test_events_go_unsolicited_when_the_master_enables_them() -> None:
    async with outstation(unsolicited=True) as (_, bus, _, peer):
        await peer.take()  # the startup poll
        t1 = T0 + 20.5
        bus.update("MVAR", 7.0, GOOD, t1)
        found: list[Point] = []
        for _ in range(100):
            found += [p for p in await peer.take() if p["event"]]
            if found:
                break
            await asyncio.sleep(0.05)
        event = one(found, "analog", 1, event=True)
        assert (event["value"], event["time"], event["unsolicited"]) == (7.0, int(t1 * 1000), True)


async def test_controls_reach_the_owner_and_the_master_gets_its_real_outcome() -> None:
    async with outstation() as (adapter, _, owner, peer):
        direct = await peer.operate("crob", 0, op_type="LATCH_ON")
        assert direct["points"] == [{"index": 0, "status": "SUCCESS", "state": "SUCCESS"}]
        refused = await peer.operate("crob", 0, op_type="LATCH_OFF", mode="sbo")
        assert [p["status"] for p in refused["points"]] == ["ALREADY_ACTIVE"]  # BUSY
        tripped = await peer.operate("crob", 0, op_type="PULSE_ON", tcc="CLOSE", mode="sbo")
        assert [p["status"] for p in tripped["points"]] == ["SUCCESS"]
        setpoint = await peer.operate("ao", 0, value=12.5, type="float32")
        assert [p["status"] for p in setpoint["points"]] == ["SUCCESS"]
        too_high = await peer.operate("ao", 0, value=150, type="int16", mode="sbo")
        assert [p["status"] for p in too_high["points"]] == ["OUT_OF_RANGE"]  # INVALID_VALUE
        pulse = await peer.operate("crob", 1, op_type="PULSE_ON")
        assert [p["status"] for p in pulse["points"]] == ["SUCCESS"]
        assert owner.commands == [
            ("BRK", State.ON),
            ("BRK", State.ON),
            ("SP", 12.5),
            ("FAN", State.ON),
        ]
        assert adapter.status()["controls"] == 6
        static = await peer.scan()
        assert one(static, "binary-output", 0, event=False)["flags"] == ONLINE | STATE
        assert one(static, "analog-output", 0, event=False)["value"] == 12.5


async def test_a_control_on_a_point_that_is_not_writable_is_not_supported() -> None:
    async with outstation() as (_, _, owner, peer):
        for args in [
            {"kind": "crob", "index": 2, "op_type": "LATCH_ON"},  # LAMP: not writable
            {"kind": "crob", "index": 9, "op_type": "LATCH_ON"},  # no such index
            {"kind": "crob", "index": 0, "op_type": "PULSE_ON"},  # BRK takes no pulse
            {"kind": "ao", "index": 5, "value": 1.0},
            {"kind": "crob", "index": 2, "op_type": "LATCH_ON", "mode": "sbo"},
        ]:
            answer = await peer.call("operate", **args)
            assert [p["status"] for p in answer["points"]] == ["NOT_SUPPORTED"], (args, answer)
        assert owner.commands == []


async def test_an_owner_slower_than_the_bound_is_answered_timeout_in_time() -> None:
    async with outstation(command_timeout=0.5) as (_, _, owner, peer):
        owner.delay = 3.0  # longer than the bound, shorter than the master's 5 s
        answer = await peer.operate("ao", 0, value=5.0)
        assert [p["status"] for p in answer["points"]] == ["TIMEOUT"]
        assert owner.commands == []


async def test_a_reload_of_the_points_keeps_the_master_connected() -> None:
    async with outstation() as (adapter, bus, _, peer):
        bus.register(PointDef(id="HZ"), "owner")
        bus.update("HZ", 50.0, GOOD, T0)
        more = adapter.settings.model_copy()
        changed = Dnp3OutstationSettings.model_validate(
            {
                **more.model_dump(exclude={"points"}),
                "points": [*POINTS, {"point": "HZ", "type": "analog-input", "index": 7}],
            }
        )
        assert adapter.reconfigure(changed)
        assert adapter.settings.consumed_points() == {*more.consumed_points(), "HZ"}
        points = await peer.scan()
        assert one(points, "analog", 7)["value"] == 50.0
        bus.update("HZ", 49.5, GOOD, T0 + 1)
        await eventually(lambda: adapter.status()["events_recorded"] == 1)
        assert one(await peer.scan("events"), "analog", 7, event=True)["time"] == int(
            (T0 + 1) * 1000
        )
        assert adapter.status()["connections"] == 1
        moved = Dnp3OutstationSettings.model_validate({**changed.model_dump(), "port": 1})
        assert not adapter.reconfigure(moved)  # a new port needs a restart


async def test_a_new_master_connection_displaces_a_silent_one() -> None:
    """A master whose old connection went silent (died without a FIN) is served on its new
    one: the new connection displaces the old."""
    require_yadnp3()
    bus = PointBus()
    bus.add_owner("owner")
    bus.register(PointDef(id="MW"), "owner")
    bus.update("MW", 12.5, GOOD, T0)
    port = free_port()
    settings = Dnp3OutstationSettings.model_validate(
        {"port": port, "points": [{"point": "MW", "type": "analog-input", "index": 0}]}
    )
    adapter = Dnp3OutstationAdapter("ost", settings, bus)
    async with running(adapter):
        await asyncio.wait_for(adapter.ready.wait(), 5)
        _, silent = await asyncio.open_connection("127.0.0.1", port)
        try:
            await eventually(lambda: adapter.status()["connected"])
            peer = await Dnp3MasterPeer(port).start()
            try:
                assert one(await peer.scan(), "analog", 0)["value"] == 12.5
                assert adapter.status()["connections"] == 2
            finally:
                await peer.stop()
        finally:
            silent.close()


async def test_a_large_integrity_poll_spans_fragments_of_max_fragment() -> None:
    require_yadnp3()
    bus = PointBus()
    bus.add_owner("owner")
    names = [f"A{i}" for i in range(1000)]
    for name in names:
        bus.register(PointDef(id=name), "owner")
    bus.update_many(names, [i + 0.5 for i in range(1000)], GOOD, T0)
    port = free_port()
    settings = Dnp3OutstationSettings.model_validate(
        {
            "port": port,
            "max_fragment": 512,
            "points": [
                {"point": name, "type": "analog-input", "index": i} for i, name in enumerate(names)
            ],
        }
    )
    adapter = Dnp3OutstationAdapter("ost", settings, bus)
    async with running(adapter):
        await asyncio.wait_for(adapter.ready.wait(), 5)
        peer = await Dnp3MasterPeer(port).start()
        try:
            points = await peer.scan()
            assert sorted((p["index"], p["value"]) for p in points) == [
                (i, i + 0.5) for i in range(1000)
            ]
        finally:
            await peer.stop()


async def test_a_silent_connection_is_closed_after_the_idle_timeout() -> None:
    settings = Dnp3OutstationSettings.model_validate({"port": free_port(), "idle_timeout": 0.2})
    adapter = Dnp3OutstationAdapter("ost", settings, PointBus())
    async with running(adapter):
        await asyncio.wait_for(adapter.ready.wait(), 5)
        reader, writer = await asyncio.open_connection("127.0.0.1", settings.port)
        try:
            assert await asyncio.wait_for(reader.read(10), 5) == b""  # closed by the outstation
            assert not adapter.status()["connected"]
        finally:
            writer.close()


async def test_the_example_serves_the_simulated_plant_and_its_controls() -> None:
    """mappings/dnp3-outstation-example.yaml in a running gateway: the `sim` adapter owns
    the points and answers the master's controls."""
    require_yadnp3()
    registry = AdapterRegistry(group="no-such-group")
    registry.register(SimAdapter)
    registry.register(Dnp3OutstationAdapter)
    raw = load_config(REPO / "mappings" / "dnp3-outstation-example.yaml", registry).model_dump()
    port = free_port()
    for a in raw["adapters"]:
        a.update(a.pop("settings"))
        if a["type"] == "dnp3-outstation":
            a["port"] = port
    async with running_gateway(build_config(raw, "test", registry=registry), registry) as gw:
        peer = await Dnp3MasterPeer(port, unsolicited=True).start()
        try:
            points = await peer.scan()
            mw = one(points, "analog", 0, event=False)
            assert 80 <= mw["value"] <= 120 and mw["flags"] == ONLINE
            assert one(points, "counter", 0, event=False)["value"] == 12
            closed = gw.bus.get("BRK3_STATE").value == State.ON
            toggle = "LATCH_OFF" if closed else "LATCH_ON"
            answer = await peer.operate("crob", 0, op_type=toggle, mode="sbo")
            assert [p["status"] for p in answer["points"]] == ["SUCCESS"]
            assert gw.bus.get("BRK3_STATE").value == (State.OFF if closed else State.ON)
            answer = await peer.operate("ao", 0, value=99.0)
            assert [p["status"] for p in answer["points"]] == ["SUCCESS"]
            assert gw.bus.get("GEN3_SETPOINT").value == 99.0
            answer = await peer.operate("ao", 0, value=200.0)  # the plant's range is 0..150
            assert [p["status"] for p in answer["points"]] == ["OUT_OF_RANGE"]
            assert gw.bus.get("GEN3_SETPOINT").value == 99.0
        finally:
            await peer.stop()
