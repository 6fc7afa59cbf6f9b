"""The simulator adapter: moving values, configured qualities, commands."""

import asyncio

import pytest

from adapters.sim import SimAdapter, SimSettings
from gateway.bus import CommandFailure, PointBus
from gateway.points import PointDef, Source, State, Validity
from tests.support import running


def sim_on_bus(points, defs):
    bus = PointBus()
    settings = SimSettings.model_validate({"interval": 0.01, "seed": 1, "points": points})
    bus.add_owner("sim")
    for d in defs:
        bus.register(d, "sim")
    adapter = SimAdapter("sim", settings, bus)  # reads its points' definitions from the bus
    bus.add_owner("sim", adapter.on_command)
    return bus, adapter


async def run_for(adapter, seconds):
    async with running(adapter):
        await asyncio.sleep(seconds)


async def test_signals_stay_in_range_and_carry_the_configured_quality():
    bus, sim = sim_on_bus(
        [
            {"point": "MW", "min": 10, "max": 20, "step": 5},
            {"point": "SIN", "signal": "sine", "min": -1, "max": 1, "period": 0.05},
            {"point": "BRK", "signal": "toggle", "period": 0.02},
            {
                "point": "EST",
                "signal": "constant",
                "min": 7,
                "max": 7,
                "validity": "held",
                "source": "estimated",
            },
        ],
        [
            PointDef(id="MW"),
            PointDef(id="SIN"),
            PointDef(id="BRK", kind="state"),
            PointDef(id="EST"),
        ],
    )
    every = bus.subscribe(every=True)
    await run_for(sim, 0.2)
    changes = every.drain()
    mw = [pv.value for pv in changes if pv.point == "MW"]
    assert len(mw) > 5 and all(10 <= v <= 20 for v in mw) and len(set(mw)) > 3
    assert {pv.value for pv in changes if pv.point == "BRK"} == {State.OFF, State.ON}
    est = bus.get("EST")
    assert est.value == 7 and est.quality.validity is Validity.HELD
    assert est.quality.source is Source.ESTIMATED and not est.quality.timestamp_invalid


async def test_commands_set_the_simulated_value_through_the_inverse_mapping():
    bus, _ = sim_on_bus(
        [
            {"point": "SP", "signal": "constant", "min": 0, "max": 100, "scale": 2.0},
            {"point": "RO", "signal": "constant", "writable": False},
            {"point": "BRK", "signal": "toggle"},
        ],
        [
            PointDef(id="SP", usage_multiplier=10.0),
            PointDef(id="RO"),
            PointDef(id="BRK", kind="state"),
        ],
    )
    # value = 10 * (2 * raw): 500 MW is raw 25, inside 0..100
    assert (await bus.command("SP", 500.0)).ok
    assert bus.get("SP").value == pytest.approx(500.0)
    result = await bus.command("SP", 5000.0)
    assert result.failure is CommandFailure.INVALID_VALUE and "outside 0.0..100.0" in result.detail
    assert (await bus.command("RO", 1.0)).failure is CommandFailure.NOT_PERMITTED
    assert (await bus.command("BRK", State.ON)).ok and bus.get("BRK").value == State.ON


def test_settings_reject_an_empty_range():
    with pytest.raises(ValueError, match=r"max .* is below min"):
        SimSettings.model_validate({"points": [{"point": "X", "min": 5, "max": 1}]})
