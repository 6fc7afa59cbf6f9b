"""The runtime: supervision with back-off, and live configuration changes."""

import asyncio
import logging
import socket

import pytest
from pydantic import Field

from adapters.base import Adapter
from gateway.config import build_config
from gateway.points import GOOD, Validity
from gateway.registry import AdapterRegistry, AdapterSettings
from gateway.runtime import GATEWAY_OWNER, Backoff, Runtime, StartupError
from tests.support import REPO, eventually, free_port
from tests.support.gateway import running_gateway


class TickerSettings(AdapterSettings):
    points: list[str] = Field(default_factory=list)
    fail_after: int | None = None  # raise after this many ticks
    reconfigurable: bool = True
    broken: bool = False  # the constructor raises

    def owned_points(self) -> set[str]:
        return set(self.points)


class Ticker(Adapter):
    """Publishes a counter on each of its points every 10 ms; counts its runs."""

    type_name = "ticker"
    Settings = TickerSettings
    settings: TickerSettings

    def __init__(self, name, settings, bus):
        super().__init__(name, settings, bus)
        if settings.broken:
            raise ValueError("cannot open the serial port")
        self.runs = 0
        self.ticks = 0

    async def run(self):
        self.runs += 1
        ticks_this_run = 0
        while True:
            self.ticks += 1
            ticks_this_run += 1
            if self.settings.fail_after is not None and ticks_this_run > self.settings.fail_after:
                raise ConnectionError("device unreachable")
            pts = sorted(self.settings.points)
            self.bus.update_many(pts, [float(self.ticks)] * len(pts), GOOD)
            await asyncio.sleep(0.01)

    def reconfigure(self, settings):
        if not settings.reconfigurable:
            return False
        self.settings = settings
        return True


def registry() -> AdapterRegistry:
    reg = AdapterRegistry(group="no-such-group")
    reg.register(Ticker)
    return reg


def config(points, adapters):
    data = {"points": [{"id": p} for p in points], "adapters": adapters}
    return build_config(data, "test.yaml", registry=registry())


FAST = Backoff(initial=0.02, maximum=0.1, jitter=0.0)


async def test_live_change_adds_a_point_and_an_adapter_without_touching_the_other():
    rt = Runtime(
        config(["A"], [{"name": "one", "type": "ticker", "points": ["A"]}]), registry(), FAST
    )
    await rt.start()
    try:
        one = rt.adapters["one"]
        task = rt._supervisors["one"]._task
        await eventually(lambda: rt.bus.get("A").quality.is_good, 2.0)

        new = config(
            ["A", "B"],
            [
                {"name": "one", "type": "ticker", "points": ["A"]},
                {"name": "two", "type": "ticker", "points": ["B"]},
            ],
        )
        changes = await rt.apply(new)
        assert changes.added == ["two"] and changes.points_added == 1
        assert not changes.restarted and not changes.reconfigured
        await eventually(lambda: rt.bus.get("B").quality.is_good, 2.0)

        assert rt.adapters["one"] is one  # the same object...
        assert rt._supervisors["one"]._task is task and one.runs == 1  # ...never restarted
        ticks = one.ticks
        await eventually(lambda: one.ticks > ticks + 2, 2.0)  # and still running
        assert rt.bus.owner_of("B") == "two"
    finally:
        await rt.stop()


async def test_changed_settings_reconfigure_in_place_or_restart():
    first = config(["A", "B"], [{"name": "one", "type": "ticker", "points": ["A"]}])
    rt = Runtime(first, registry(), FAST)
    await rt.start()
    try:
        one = rt.adapters["one"]
        changes = await rt.apply(
            config(["A", "B"], [{"name": "one", "type": "ticker", "points": ["A", "B"]}])
        )
        assert changes.reconfigured == ["one"] and rt.adapters["one"] is one
        assert rt.bus.owner_of("B") == "one"

        changes = await rt.apply(
            config(
                ["A", "B"],
                [{"name": "one", "type": "ticker", "points": ["A"], "reconfigurable": False}],
            )
        )
        assert changes.restarted == ["one"] and rt.adapters["one"] is not one
        assert rt.bus.owner_of("B") == GATEWAY_OWNER
    finally:
        await rt.stop()


async def test_removed_adapter_and_points():
    rt = Runtime(
        config(
            ["A", "B"],
            [
                {"name": "one", "type": "ticker", "points": ["A"]},
                {"name": "two", "type": "ticker", "points": ["B"]},
            ],
        ),
        registry(),
        FAST,
    )
    await rt.start()
    try:
        await eventually(lambda: rt.bus.get("A").quality.is_good, 2.0)
        changes = await rt.apply(
            config(
                ["A"],
                [
                    {"name": "one", "type": "ticker", "points": ["A"]},
                    {"name": "two", "type": "ticker", "enabled": False},
                ],
            )
        )
        assert changes.removed == ["two"] and changes.points_removed == 1
        assert "B" not in rt.bus and "two" not in rt.adapters
    finally:
        await rt.stop()
    # After shutdown every point is not valid: its source is gone.
    assert rt.bus.get("A").quality.validity is Validity.NOT_VALID


async def test_failing_adapter_is_restarted_with_backoff_and_its_points_go_not_valid(caplog):
    caplog.set_level(logging.WARNING)
    rt = Runtime(
        config(["A"], [{"name": "flaky", "type": "ticker", "points": ["A"], "fail_after": 1}]),
        registry(),
        FAST,
    )
    sub = rt.bus.subscribe(["A"], every=True)
    await rt.start()
    try:
        sup = rt._supervisors["flaky"]
        await eventually(lambda: sup.restarts >= 5, 2.0)
        assert sup.last_error == "ConnectionError: device unreachable"
        assert rt.status()["adapters"]["flaky"]["failures"] >= 5
    finally:
        await rt.stop()
    validities = [pv.quality.validity for pv in sub.drain()]
    assert validities[:2] == [Validity.VALID, Validity.NOT_VALID]
    # No log flood: repeated identical failures log at 1, 2, 4, 8... only.
    failures = [r for r in caplog.records if "flaky failed" in r.getMessage()]
    assert 2 <= len(failures) <= 4, [r.getMessage() for r in failures]
    assert "its points are not valid; retrying in" in failures[0].getMessage()


async def test_an_adapter_that_cannot_be_built_is_retried_and_others_run():
    rt = Runtime(
        config(
            ["A", "B"],
            [
                {"name": "bad", "type": "ticker", "points": ["A"], "broken": True},
                {"name": "good", "type": "ticker", "points": ["B"]},
            ],
        ),
        registry(),
        FAST,
    )
    await rt.start()
    try:
        sup = rt._supervisors["bad"]
        await eventually(lambda: sup.restarts >= 2, 2.0)
        assert sup.last_error == "ValueError: cannot open the serial port"
        assert sup.adapter is None and list(rt.adapters) == ["good"]
        await eventually(lambda: rt.bus.get("B").quality.is_good, 2.0)
        assert not rt.bus.get("A").quality.is_good
        # Fixing the config replaces the broken adapter.
        await rt.apply(
            config(
                ["A", "B"],
                [
                    {"name": "bad", "type": "ticker", "points": ["A"]},
                    {"name": "good", "type": "ticker", "points": ["B"]},
                ],
            )
        )
        await eventually(lambda: rt.bus.get("A").quality.is_good, 2.0)
    finally:
        await rt.stop()


def test_backoff_grows_to_a_cap_with_jitter():
    b = Backoff(initial=1, maximum=30, jitter=0.2)
    delays = [b.delay(n) for n in range(1, 10)]
    assert 0.8 <= delays[0] <= 1.2 and 1.6 <= delays[1] <= 2.4
    assert all(d <= 36 for d in delays) and delays[-1] >= 24


def test_backoff_base_is_the_delay_without_jitter():
    b = Backoff(initial=0.5, maximum=4.0, jitter=0.2)
    assert [b.base(n) for n in range(6)] == [0.5, 0.5, 1.0, 2.0, 4.0, 4.0]
    assert b.delay(2, lambda: 0.0) == 0.8 and b.delay(2, lambda: 0.5) == 1.0


async def test_a_config_naming_an_isn_file_runs_with_its_points():
    from gateway.config import load_config
    from gateway.points import PointKind

    example = REPO / "mappings" / "isn-example.yaml"
    rt = Runtime(load_config(example))
    await rt.start()
    try:
        flow = rt.bus.definition("DEMO_ET230_MW")
        assert (flow.usage_multiplier, flow.target_freshness) == (-1.0, 4)
        assert rt.bus.definition("DEMO_NOR_CB101").kind is PointKind.STATE
        assert "DEMO_SOU_V2" not in rt.bus  # replaced by DEMO_SOU_BUS2_KV before as_of
        await eventually(lambda: rt.bus.get("DEMO_ET230_MW").quality.is_good, 2.0)
        assert rt.bus.get("DEMO_ET230_MW").value == -40.0  # ISN ax+b applied
        assert not rt.bus.get("DEMO_FREQ").quality.is_good  # defined, but nothing feeds it
    finally:
        await rt.stop()


async def test_a_cancel_that_lands_as_an_adapter_stops_is_never_lost():
    # A task applying a change (a reload) is cancelled at every moment of an adapter's
    # stop in turn; each cancel must end that task, or a gateway's stop would wait forever.
    two = [{"name": n, "type": "ticker", "points": [n.upper()]} for n in ("one", "two")]
    for ticks in range(12):
        rt = Runtime(config(["ONE", "TWO"], two), registry(), FAST)
        await rt.start()
        try:
            task = asyncio.create_task(rt.apply(config(["ONE"], two[:1])))
            for _ in range(ticks):
                await asyncio.sleep(0)
            cancelled = task.cancel()
            [outcome] = await asyncio.gather(task, return_exceptions=True)
            assert not cancelled or isinstance(outcome, asyncio.CancelledError), ticks
        finally:
            await rt.stop()


def sim_config(points, sim_points, **extra):
    from adapters.sim import SimAdapter

    reg = registry()
    reg.register(SimAdapter)
    data = {
        "points": points,
        "adapters": [{"name": "sim", "type": "sim", "interval": 0.01, "points": sim_points}],
        **extra,
    }
    return build_config(data, "test.yaml", registry=reg), reg


async def test_a_running_adapter_takes_a_new_point_in_place():
    first, reg = sim_config([{"id": "A"}], [{"point": "A"}])
    rt = Runtime(first, reg, FAST)
    await rt.start()
    try:
        sim = rt.adapters["sim"]
        second, _ = sim_config([{"id": "A"}, {"id": "B"}], [{"point": "A"}, {"point": "B"}])
        changes = await rt.apply(second)
        assert changes.reconfigured == ["sim"] and rt.adapters["sim"] is sim
        await eventually(lambda: rt.bus.get("B").quality.is_good, 2.0)
    finally:
        await rt.stop()


async def test_a_changed_point_definition_reaches_its_unchanged_adapter():
    points = [{"id": "A", "usage_multiplier": 1.0}]
    first, reg = sim_config(points, [{"point": "A", "signal": "constant", "min": 5, "max": 5}])
    rt = Runtime(first, reg, FAST)
    await rt.start()
    try:
        await eventually(lambda: rt.bus.get("A").value == 5, 2.0)
        sim = rt.adapters["sim"]
        second, _ = sim_config(
            [{"id": "A", "usage_multiplier": -2.0}],
            [{"point": "A", "signal": "constant", "min": 5, "max": 5}],
        )
        changes = await rt.apply(second)
        assert changes.reconfigured == ["sim"] and rt.adapters["sim"] is sim
        await eventually(lambda: rt.bus.get("A").value == -10, 2.0)
    finally:
        await rt.stop()


async def test_a_point_no_adapter_feeds_any_more_turns_not_valid():
    first, reg = sim_config([{"id": "A"}, {"id": "B"}], [{"point": "A"}, {"point": "B"}])
    rt = Runtime(first, reg, FAST)
    await rt.start()
    try:
        await eventually(lambda: rt.bus.get("B").quality.is_good, 2.0)
        second, _ = sim_config([{"id": "A"}, {"id": "B"}], [{"point": "A"}])
        await rt.apply(second)
        assert rt.bus.owner_of("B") == GATEWAY_OWNER
        assert rt.bus.get("B").quality.validity is Validity.NOT_VALID  # never stale-but-good
        assert rt.bus.get("A").quality.is_good
    finally:
        await rt.stop()


async def test_concurrent_applies_run_one_after_the_other():
    rt = Runtime(
        config(["A"], [{"name": "one", "type": "ticker", "points": ["A"]}]), registry(), FAST
    )
    await rt.start()
    try:
        two = config(
            ["A", "B"],
            [
                {"name": "one", "type": "ticker", "points": ["A"]},
                {"name": "two", "type": "ticker", "points": ["B"]},
            ],
        )
        three = config(["A"], [{"name": "one", "type": "ticker", "points": ["A"]}])
        first, second = await asyncio.gather(rt.apply(two), rt.apply(three))
        assert first.added == ["two"] and second.removed == ["two"]
        assert list(rt.adapters) == ["one"] and "B" not in rt.bus
    finally:
        await rt.stop()


LISTENERS = ["tase2-server", "modbus-server", "modbus-plant-sim"]


def listener_config(kind: str, port: int):
    """A ticker and one listening adapter of type ``kind`` on 127.0.0.1:``port``."""
    data = {
        "points": [{"id": "A"}],
        "adapters": [
            {"name": "feed", "type": "sim", "points": [{"point": "A"}]},
            {"name": "listener", "type": kind, "host": "127.0.0.1", "port": port},
        ],
    }
    return build_config(data, "test.yaml")


@pytest.mark.parametrize("kind", LISTENERS)
async def test_a_port_in_use_stops_the_start_up_naming_host_and_port(kind, caplog):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        rt = Runtime(listener_config(kind, port), backoff=FAST)
        with pytest.raises(StartupError) as err:
            await rt.start()
    assert list(err.value.failures) == ["listener"]
    assert f"127.0.0.1', {port})" in str(err.value) or f"127.0.0.1:{port}" in str(err.value)
    assert rt.adapters == {}  # everything it started is stopped again
    assert "retrying" not in caplog.text  # fatal, not retried


@pytest.mark.parametrize("kind", LISTENERS)
async def test_a_listener_that_binds_starts_without_a_warning(kind, caplog):
    rt = Runtime(listener_config(kind, free_port()), backoff=FAST)
    await rt.start()
    try:
        assert rt.status()["adapters"]["listener"]["state"] == "running"
        assert "not listening" not in caplog.text
    finally:
        await rt.stop()


@pytest.mark.parametrize("kind", LISTENERS)
async def test_a_listener_added_while_running_keeps_retrying_and_says_why(kind):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        async with running_gateway(listener_config(kind, free_port()), backoff=FAST) as rt:
            assert rt.status()["adapters"]["listener"]["state"] == "running"
            moved = listener_config(kind, port)
            await rt.apply(moved.model_copy(update={"adapters": moved.adapters}))
            sup = rt._supervisors["listener"]
            await eventually(lambda: sup.restarts >= 2, 5.0, "retries")
            status = rt.status()["adapters"]["listener"]
            assert status["state"] in ("backoff", "starting")
            assert "Errno 98" in status["last_error"] or "in use" in status["last_error"]


class SlowServer(Adapter):
    """Serves a port: bound 0.2 s after it starts (records when)."""

    type_name = "slow-server"
    listens = True
    events: list[str] = []

    async def run(self):
        await asyncio.sleep(0.2)
        self.events.append(f"{self.name} bound")
        self.listening()
        await asyncio.Event().wait()


class Poller(Adapter):
    """A client of the server: records when it starts."""

    type_name = "poller"

    async def run(self):
        SlowServer.events.append(f"{self.name} started")
        await asyncio.Event().wait()


async def test_clients_start_once_the_listening_adapters_started_with_them_are_bound():
    reg = registry()
    reg.register(SlowServer)
    reg.register(Poller)

    def adapters(*names):
        kinds = {"sim": "slow-server", "rtu": "poller"}
        raw = {"adapters": [{"name": n, "type": kinds[n[:3]]} for n in names]}
        return build_config(raw, "test.yaml", registry=reg)

    SlowServer.events.clear()
    rt = Runtime(adapters("rtu1", "sim1"), reg, FAST)  # the client comes first in the file
    await rt.start()
    try:
        await eventually(lambda: len(SlowServer.events) == 2, 2.0)
        assert SlowServer.events == ["sim1 bound", "rtu1 started"]
        assert list(rt.status()["adapters"]) == ["rtu1", "sim1"]  # still in config order
        changes = await rt.apply(adapters("rtu1", "sim1", "rtu2", "sim2"))  # a reload too
        assert changes.added == ["rtu2", "sim2"]
        await eventually(lambda: len(SlowServer.events) == 4, 2.0)
        assert SlowServer.events[2:] == ["sim2 bound", "rtu2 started"]
    finally:
        await rt.stop()
