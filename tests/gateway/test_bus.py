"""The point bus: deadband, COV, fan-out, commands, staleness and owner loss."""

import asyncio

import pytest

from gateway.bus import BusError, CommandError, CommandFailure, PointBus
from gateway.points import GOOD, NOT_VALID, PointDef, Quality, Source, State, Validity

T0 = 1_700_000_000.0


def make_bus(*defs: PointDef, owner: str = "plc", handler=None) -> PointBus:
    bus = PointBus(grace=1.0, command_timeout=0.2)
    bus.add_owner(owner, handler)
    for d in defs:
        bus.register(d, owner)
    return bus


def test_new_points_are_not_valid_until_updated():
    bus = make_bus(PointDef(id="MW"))
    pv = bus.get("MW")
    assert pv.quality.validity is Validity.NOT_VALID and pv.cov == 0


def test_deadband_suppresses_small_changes_and_cov_counts_recorded_ones():
    bus = make_bus(PointDef(id="MW", deadband=0.5))
    assert bus.update("MW", 10.0, GOOD, T0)
    assert not bus.update("MW", 10.4, GOOD, T0 + 1)  # within the deadband
    assert not bus.update("MW", 9.5, GOOD, T0 + 2)  # exactly on it
    assert bus.update("MW", 10.6, GOOD, T0 + 3)  # beyond the last *recorded* value
    pv = bus.get("MW")
    assert (pv.value, pv.ts, pv.cov) == (10.6, T0 + 3, 2)
    # A quality change is a change even inside the deadband.
    assert bus.update("MW", 10.6, Quality(Validity.SUSPECT), T0 + 4)
    assert bus.get("MW").cov == 3
    assert (bus.stats.updates, bus.stats.changes, bus.stats.suppressed) == (5, 3, 2)


def test_deadband_applies_to_analogs_only():
    bus = make_bus(PointDef(id="BRK", kind="state", deadband=5))
    assert bus.update("BRK", State.OFF, GOOD, T0)
    assert bus.update("BRK", State.ON, GOOD, T0)
    assert not bus.update("BRK", State.ON, GOOD, T0 + 1)


def test_cov_wraps_at_16_bits():
    bus = make_bus(PointDef(id="N", kind="discrete"))
    for i in range(0x10001):
        bus.update("N", i, GOOD, T0)
    assert bus.get("N").cov == 1


def test_update_many_and_missing_source_time_stamp():
    bus = make_bus(PointDef(id="A"), PointDef(id="B"))
    assert bus.update_many(["A", "B"], [1.0, 2.0], Quality(source=Source.CALCULATED)) == 2
    a = bus.get("A")
    assert a.quality.timestamp_invalid and a.quality.source is Source.CALCULATED
    assert abs(a.ts - bus.get("B").ts) < 1e-9
    with pytest.raises(BusError, match="2 points but 1 values"):
        bus.update_many(["A", "B"], [1.0])


def test_update_rows_carries_a_quality_and_time_stamp_per_row_in_order():
    bus = make_bus(PointDef(id="MW"), PointDef(id="CB", kind="state"))
    sub = bus.subscribe(["MW", "CB"], every=True)
    suspect = Quality(Validity.SUSPECT)
    changes = bus.update_rows(
        ["MW", "CB", "MW"], [1.0, State.ON, 2.0], [GOOD, GOOD, suspect], [T0, T0 + 1, T0 + 2]
    )
    assert changes == 3
    assert [(pv.point, pv.value, pv.quality, pv.ts) for pv in sub.drain()] == [
        ("MW", 1.0, GOOD, T0),
        ("CB", State.ON, GOOD, T0 + 1),
        ("MW", 2.0, suspect, T0 + 2),
    ]


def test_update_rows_without_a_time_stamp_keeps_the_recorded_one_for_an_unchanged_value():
    bus = make_bus(PointDef(id="MW"))
    bus.update_rows(["MW"], [5.0], [GOOD], [T0])
    # The same value re-read without a time (a static poll after an event): no change.
    assert bus.update_rows(["MW"], [5.0], [GOOD], [None]) == 0
    assert (bus.get("MW").ts, bus.get("MW").quality) == (T0, GOOD)
    # A new value without a time: stamped on receipt, with the timestamp-quality bit.
    assert bus.update_rows(["MW"], [6.0], [GOOD], [None]) == 1
    pv = bus.get("MW")
    assert pv.ts > T0 and pv.quality.timestamp_invalid
    with pytest.raises(BusError):
        bus.update_rows(["MW"], [1.0], [], [None])


def test_unknown_points_in_a_batch_are_counted_and_skipped():
    bus = make_bus(PointDef(id="A"))
    assert bus.update_many(["GONE", "A"], [1.0, 2.0], GOOD, T0) == 1
    assert bus.stats.unknown == 1 and bus.get("A").value == 2.0


def test_a_point_has_exactly_one_owner():
    bus = make_bus(PointDef(id="A"))
    bus.add_owner("other")
    with pytest.raises(BusError, match="already owned by 'plc'"):
        bus.register(PointDef(id="A"), "other")
    with pytest.raises(BusError, match="not declared"):
        bus.register(PointDef(id="B"), "nobody")
    bus.register(PointDef(id="A", units="MW"), "other", transfer=True)
    assert bus.owner_of("A") == "other" and bus.points_of("plc") == set()


def test_coalesced_subscription_delivers_latest_value_per_point():
    bus = make_bus(PointDef(id="A"), PointDef(id="B"), PointDef(id="C"))
    sub = bus.subscribe(["A", "B"])
    for v in range(5):
        bus.update_many(["A", "B", "C"], [v, v * 10, v], GOOD, T0 + v)
    changes = sorted(sub.drain())
    assert [(pv.point, pv.value) for pv in changes] == [("A", 4), ("B", 40)]
    assert sub.drain() == []


def test_every_change_subscription_keeps_order_and_counts_overflow():
    bus = make_bus(PointDef(id="A"), PointDef(id="B"))
    sub = bus.subscribe(["A"], every=True, maxlen=3)
    for v in range(5):
        bus.update_many(["A", "B"], [float(v), float(v)], GOOD, T0 + v)
    assert [pv.value for pv in sub.drain()] == [2.0, 3.0, 4.0]  # oldest dropped
    assert sub.overflow == 2 and sub.delivered == 3


async def test_wait_wakes_a_consumer_on_change():
    bus = make_bus(PointDef(id="A"))
    sub = bus.subscribe()
    waiter = asyncio.create_task(sub.wait(timeout=2))
    await asyncio.sleep(0)
    bus.update("A", 1.0, GOOD, T0)
    assert [pv.value for pv in await waiter] == [1.0]
    assert await sub.wait(timeout=0.01) == []
    sub.close()
    bus.update("A", 2.0, GOOD, T0)
    assert len(sub) == 0


def test_owner_loss_marks_all_its_points_not_valid_at_once():
    bus = make_bus(PointDef(id="A"), PointDef(id="B"))
    bus.add_owner("other")
    bus.register(PointDef(id="C"), "other")
    bus.update_many(["A", "B", "C"], [1.0, 2.0, 3.0], Quality(source=Source.ENTERED), T0)
    sub = bus.subscribe(every=True)
    bus.owner_lost("plc", ts=T0 + 5)
    lost = sub.drain()
    assert sorted(pv.point for pv in lost) == ["A", "B"]
    for pv in lost:
        assert pv.quality.validity is Validity.NOT_VALID
        assert pv.quality.source is Source.ENTERED  # only validity changes
        assert pv.ts == T0 + 5 and pv.cov == 2
    assert bus.get("C").quality.is_good
    assert bus.get("A").value == 1.0  # the last value is kept, flagged


def test_mark_not_valid_marks_only_the_given_points_and_keeps_their_values():
    bus = make_bus(PointDef(id="A"), PointDef(id="B"))
    bus.update_many(["A", "B"], [1.0, 2.0], GOOD, T0)
    bus.mark_not_valid(["A", "unknown"], T0 + 5)
    a, b = bus.get("A"), bus.get("B")
    assert (a.value, a.quality.validity, a.ts) == (1.0, Validity.NOT_VALID, T0 + 5)
    assert b.quality is GOOD


def test_stale_points_turn_suspect_after_freshness_plus_grace():
    bus = make_bus(PointDef(id="FAST", target_freshness=2), PointDef(id="NOFRESH"))
    bus.update_many(["FAST", "NOFRESH"], [1.0, 1.0], GOOD, T0)
    seen = bus._entries["FAST"].seen
    assert bus.check_freshness(seen + 2.9) == 0  # within 2 s + 1 s grace
    assert bus.check_freshness(seen + 3.1) == 1
    assert bus.get("FAST").quality.validity is Validity.SUSPECT
    assert bus.get("NOFRESH").quality.is_good
    assert bus.check_freshness(seen + 10) == 0  # already suspect: no new change
    bus.update("FAST", 1.0, GOOD, T0 + 10)
    assert bus.get("FAST").quality.is_good
    assert bus.stats.stale == 1


def test_touch_restarts_freshness_without_a_change():
    bus = make_bus(
        PointDef(id="FAST", target_freshness=2), PointDef(id="OTHER", target_freshness=2)
    )
    bus.update_many(["FAST", "OTHER"], [1.0, 1.0], GOOD, T0)
    seen = bus._entries["FAST"].seen
    changes = bus.stats.changes
    bus.touch(["FAST", "unknown"], seen + 2.5)
    assert bus.check_freshness(seen + 3.1) == 1  # OTHER only
    assert bus.get("FAST").quality.is_good and bus.get("FAST").ts == T0
    assert bus.get("OTHER").quality.validity is Validity.SUSPECT
    assert bus.stats.changes == changes + 1  # OTHER turning suspect; the touch is none
    assert bus.check_freshness(seen + 5.6) == 1


def test_touch_restores_a_point_suspect_only_by_freshness():
    """A keep-alive after a point went stale: it is valid again with its value and time
    stamp; one that was marked not valid (or updated) since is left alone."""
    bus = make_bus(PointDef(id="A", target_freshness=2), PointDef(id="B", target_freshness=2))
    bus.update_many(["A", "B"], [1.0, 2.0], GOOD, T0)
    seen = bus._entries["A"].seen
    assert bus.check_freshness(seen + 3.1) == 2
    bus.mark_not_valid(["B"])
    sub = bus.subscribe(["A", "B"])
    bus.touch(["A", "B"], seen + 4)
    a, b = bus.get("A"), bus.get("B")
    assert (a.value, a.quality, a.ts) == (1.0, GOOD, T0)
    assert b.quality.validity is Validity.NOT_VALID
    assert [pv.point for pv in sub.drain()] == ["A"]
    assert bus.check_freshness(seen + 5) == 0  # fresh again from the touch


def test_snapshot():
    bus = make_bus(PointDef(id="A"), PointDef(id="B"))
    bus.update("A", 5.0, GOOD, T0)
    snap = bus.snapshot()
    assert snap["A"].value == 5.0 and snap["B"].quality == NOT_VALID.replace(timestamp_invalid=True)
    assert list(bus.snapshot(["B"])) == ["B"]
    with pytest.raises(BusError, match="unknown point 'Z'"):
        bus.snapshot(["Z"])


def test_values_of_many_points_at_once_none_for_unknown_ones():
    bus = make_bus(PointDef(id="A"), PointDef(id="B"))
    bus.update("A", 5.0, GOOD, T0)
    a, z, b = bus.values(["A", "Z", "B"])
    assert a is bus.get("A") and z is None and b is bus.get("B")


# -- commands ---------------------------------------------------------------------------


async def test_command_routes_to_the_owner_and_returns_its_result():
    received = []

    async def handler(point, value):
        received.append((point.id, value))

    bus = make_bus(PointDef(id="SP"), handler=handler)
    result = await bus.command("SP", 42.0, origin="test")
    assert result.ok and received == [("SP", 42.0)]


@pytest.mark.parametrize(
    "failure",
    [
        CommandFailure.NOT_PERMITTED,
        CommandFailure.NOT_SELECTED,
        CommandFailure.BUSY,
        CommandFailure.DEVICE_FAILURE,
        CommandFailure.INVALID_VALUE,
    ],
)
async def test_command_failures_from_the_owner_are_typed(failure):
    async def handler(point, value):
        raise CommandError(failure, "because")

    bus = make_bus(PointDef(id="SP"), handler=handler)
    result = await bus.command("SP", 1)
    assert (result.ok, result.failure, result.detail) == (False, failure, "because")
    assert bus.stats.command_failures == 1


async def test_command_timeout():
    async def handler(point, value):
        await asyncio.sleep(5)

    bus = make_bus(PointDef(id="SP"), handler=handler)
    result = await bus.command("SP", 1, timeout=0.05)
    assert result.failure is CommandFailure.TIMEOUT and "did not answer" in result.detail


async def test_a_command_whose_requester_goes_away_is_still_observed():
    """An ICCP operate cancelled when its association ends is audited, outcome unknown."""
    started = asyncio.Event()

    async def handler(point, value):
        started.set()
        await asyncio.sleep(5)

    seen = []
    bus = make_bus(PointDef(id="SP"), handler=handler)
    bus.command_observer = lambda result, origin: seen.append((result, origin))
    task = asyncio.create_task(bus.command("SP", 1, timeout=2, origin="tase2:BLT:peer"))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    [(result, origin)] = seen
    assert origin == "tase2:BLT:peer" and result.failure is CommandFailure.TIMEOUT
    assert "outcome unknown" in result.detail


async def test_command_handler_bug_is_a_device_failure_not_an_exception():
    async def handler(point, value):
        raise RuntimeError("boom")

    bus = make_bus(PointDef(id="SP"), handler=handler)
    result = await bus.command("SP", 1)
    assert result.failure is CommandFailure.DEVICE_FAILURE and "boom" in result.detail


async def test_command_to_an_owner_without_handler_or_unknown_point():
    bus = make_bus(PointDef(id="SP"))
    assert (await bus.command("SP", 1)).failure is CommandFailure.NOT_PERMITTED
    assert (await bus.command("NOPE", 1)).failure is CommandFailure.UNKNOWN_POINT


async def test_a_waiting_subscriber_stops_when_cancelled_just_as_a_change_arrives():
    # Python 3.11's asyncio.wait_for returns the result and drops a cancel that comes in the
    # same step: a pump looping on wait() would then never stop.
    bus = make_bus(PointDef(id="A"))
    sub = bus.subscribe(["A"])

    async def pump():
        while True:
            await sub.wait(5.0)

    task = asyncio.create_task(pump())
    await asyncio.sleep(0.01)
    bus.update("A", 1.0, GOOD, T0)  # wakes the waiter...
    task.cancel()  # ...in the step that cancels it
    done, _ = await asyncio.wait({task}, timeout=1.0)
    assert done
