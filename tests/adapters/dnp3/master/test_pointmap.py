"""Decoded runs -> bus rows: conversions, quality from flags, time stamps, unbound objects."""

from adapters.dnp3.flags import PointType
from adapters.dnp3.master.pointmap import PointMap
from adapters.dnp3.master.settings import MasterPoint
from adapters.dnp3.objects import ObjectRun
from gateway.points import PointDef, Quality, Source, State, Validity

AI, BI, DB, CT = (
    PointType.ANALOG_INPUT,
    PointType.BINARY_INPUT,
    PointType.DOUBLE_BIT,
    PointType.COUNTER,
)


def point_map(*bindings: tuple[dict, dict]) -> PointMap:
    return PointMap(
        (MasterPoint.model_validate(b), PointDef.model_validate(d)) for b, d in bindings
    )


def test_analogs_are_scaled_then_given_the_isn_usage_and_static_values_carry_no_time():
    pm = point_map(
        (
            {"point": "MW", "type": "analog-input", "index": 2, "scale": 0.1, "offset": 1},
            {"id": "MW", "usage_multiplier": -1.0},
        ),
    )
    run = ObjectRun(AI, False, range(0, 4), [10.0, 20.0, 30.0, 40.0], [1, 1, 1, 1], None)
    rows = pm.rows([run], time_invalid=False)
    assert rows.points == ["MW"] and rows.values == [-4.0] and rows.times == [None]
    assert rows.qualities[0].timestamp_invalid  # read now, not stamped by the source
    assert pm.unbound == 3


def test_events_keep_their_own_time_and_flags_and_a_zero_time_means_none():
    pm = point_map(({"point": "MW", "type": "analog-input", "index": 0}, {"id": "MW"}))
    run = ObjectRun(AI, True, [0, 0, 0], [1.0, 2.0, 3.0], [0x01, 0x21, 0x11], [5000, 6000, 0])
    rows = pm.rows([run], time_invalid=False)
    assert rows.values == [1.0, 2.0, 3.0] and rows.times == [5.0, 6.0, None]
    good, over_range, forced = rows.qualities
    assert good == Quality() and over_range.validity is Validity.SUSPECT
    assert forced.source is Source.ENTERED
    # An outstation asking for time (IIN1.4) has its time stamps served with that bit.
    assert pm.rows([run], time_invalid=True).qualities[0].timestamp_invalid


def test_states_of_single_and_double_bit_binaries_with_a_normal_state():
    pm = point_map(
        (
            {"point": "CB", "type": "binary-input", "index": 0, "normal": "on"},
            {"id": "CB", "kind": "state"},
        ),
        ({"point": "DS", "type": "double-bit", "index": 5}, {"id": "DS", "kind": "state"}),
    )
    rows = pm.rows(
        [
            ObjectRun(BI, False, range(0, 1), [0], [1], None),
            ObjectRun(DB, True, [5, 5], [0, 3], [1, 0], [1000, 2000]),
        ],
        time_invalid=False,
    )
    assert rows.values == [State.OFF, State.BETWEEN, State.INVALID]
    assert rows.qualities[0].abnormal
    assert rows.qualities[2].validity is Validity.NOT_VALID  # offline


def test_counters_into_discrete_points_are_whole_numbers():
    pm = point_map(
        (
            {"point": "MWH", "type": "counter", "index": 0, "scale": 0.5},
            {"id": "MWH", "kind": "discrete"},
        ),
    )
    rows = pm.rows([ObjectRun(CT, False, range(0, 1), [7], [1], None)], time_invalid=False)
    assert rows.values == [4] and isinstance(rows.values[0], int)


def test_a_type_with_no_bound_index_is_skipped_and_counted():
    pm = point_map(({"point": "MW", "type": "analog-input", "index": 0}, {"id": "MW"}))
    rows = pm.rows([ObjectRun(CT, False, range(0, 3), [1, 2, 3], [1, 1, 1], None)], False)
    assert rows.points == [] and pm.unbound == 3
    assert pm.types == {AI}


def test_nan_and_infinite_readings_are_left_out_and_listed_to_mark_not_valid():
    pm = point_map(
        ({"point": "A", "type": "analog-input", "index": 0}, {"id": "A"}),
        ({"point": "B", "type": "analog-input", "index": 1}, {"id": "B"}),
        ({"point": "C", "type": "analog-input", "index": 2}, {"id": "C", "kind": "discrete"}),
    )
    run = ObjectRun(AI, False, range(0, 3), [float("nan"), 2.0, float("inf")], [1, 1, 1], None)
    rows = pm.rows([run], time_invalid=False)
    assert rows.points == ["B"] and rows.values == [2.0]
    assert rows.not_finite == ["A", "C"]
