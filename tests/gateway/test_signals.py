"""Signal shapes of the simulators (the sim adapter, the Modbus plant)."""

import random

import pytest

from gateway.signals import random_walk, sine, staircase


def test_random_walk_moves_at_most_a_step_and_stays_in_range() -> None:
    rng = random.Random(3)
    value = 5.0
    for _ in range(1000):
        moved = random_walk(value, 0.0, 10.0, 2.0, rng)
        assert 0.0 <= moved <= 10.0 and abs(moved - value) <= 2.0
        value = moved


def test_sine_spans_low_to_high_over_its_period() -> None:
    assert sine(0.0, -1.0, 3.0, 60.0) == pytest.approx(1.0)
    assert sine(15.0, -1.0, 3.0, 60.0) == pytest.approx(3.0)
    assert sine(45.0, -1.0, 3.0, 60.0) == pytest.approx(-1.0)


def test_staircase_climbs_each_period_and_wraps_within_the_span() -> None:
    assert [staircase(t, 10.0, 13.0, 1.0, 2.0) for t in (0, 1.9, 2, 4, 6, 8)] == [
        10.0,
        10.0,
        11.0,
        12.0,
        10.0,
        11.0,
    ]
    assert staircase(100.0, 7.0, 7.0, 1.0, 2.0) == 7.0  # no span: stays at low
