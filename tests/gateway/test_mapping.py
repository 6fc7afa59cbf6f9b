"""Bindings: ax+b both ways, state tables, quality maps, batch conversion."""

import pytest

from gateway.bus import CommandError, CommandFailure
from gateway.mapping import (
    OFF_ON,
    Binding,
    Linear,
    LinearBatch,
    QualityMap,
    StateTable,
    usage_of,
)
from gateway.points import GOOD, PointDef, Quality, Source, State, Validity

# ISN sample record 6: a flow that "should be negated before using".
FLOW = PointDef(id="CP_1068", units="MW", usage_multiplier=-1.0, usage_adder=0.0)


def test_linear_forward_inverse_and_composition():
    m = Linear(2.0, 1.0)
    assert m.forward(3.0) == 7.0 and m.inverse(7.0) == 3.0
    # counts -> MW (scale 0.1), then ISN usage -x + 5
    combined = Linear(0.1, 0.0).then(Linear(-1.0, 5.0))
    assert combined.forward(100) == pytest.approx(-5.0)
    with pytest.raises(CommandError) as err:
        Linear(0.0, 1.0).inverse(1.0)
    assert err.value.failure is CommandFailure.NOT_PERMITTED


def test_isn_usage_is_applied_after_the_adapter_scale():
    b = Binding(FLOW, scale=0.5, offset=10.0)
    assert usage_of(FLOW) == Linear(-1.0, 0.0)
    assert b.to_value(100) == -60.0
    assert b.to_raw(-60.0) == pytest.approx(100.0)


def test_discrete_points_round():
    b = Binding(PointDef(id="TAP", kind="discrete"), scale=0.5)
    assert b.to_value(7) == 4 and isinstance(b.to_value(7), int)
    assert b.to_raw(4) == 8


def test_state_tables_both_ways_and_the_normal_value_bit():
    table = StateTable({0: State.BETWEEN, 1: State.OFF, 2: State.ON}, normal=State.ON)
    b = Binding(PointDef(id="BRK", kind="state"), states=table)
    assert [b.to_value(r) for r in (0, 1, 2, 3)] == [
        State.BETWEEN,
        State.OFF,
        State.ON,
        State.INVALID,
    ]
    assert b.quality(State.OFF).abnormal and not b.quality(State.ON).abnormal
    assert b.to_raw(State.OFF) == 1
    with pytest.raises(CommandError) as err:
        b.to_raw(State.INVALID)
    assert err.value.failure is CommandFailure.INVALID_VALUE
    assert Binding(PointDef(id="S", kind="state")).to_value(1) is OFF_ON.state_of(1)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "1", None, True])
def test_commands_with_non_numbers_are_invalid_values(bad):
    with pytest.raises(CommandError) as err:
        Binding(FLOW).to_raw(bad)
    assert err.value.failure is CommandFailure.INVALID_VALUE


def test_binding_source_override():
    b = Binding(PointDef(id="ACE"), source=Source.CALCULATED)
    assert b.quality(1.0, GOOD).source is Source.CALCULATED


def test_quality_map_defaults_to_not_valid():
    qmap = QualityMap({"good": GOOD, "uncertain": Quality(Validity.SUSPECT)})
    assert qmap("good") is GOOD
    assert qmap("uncertain").validity is Validity.SUSPECT
    assert qmap("garbage").validity is Validity.NOT_VALID


def test_linear_batch_matches_single_conversion():
    bindings = [Binding(FLOW), Binding(PointDef(id="KV"), scale=0.01, offset=1)]
    batch = LinearBatch(bindings)
    assert batch.points == ["CP_1068", "KV"]
    assert batch.convert([5.0, 100.0]) == [
        b.to_value(r) for b, r in zip(bindings, [5.0, 100.0], strict=True)
    ]
    with pytest.raises(ValueError, match="only real points"):
        LinearBatch([Binding(PointDef(id="S", kind="state"))])
