"""Per-point intervals: at most one row per interval, and the last change never lost."""

from adapters.sql.historian.sampling import Sampler
from gateway.points import GOOD, PointValue


def pv(point, value, cov):
    return PointValue(point, value, GOOD, 1000.0 + cov, cov)


def test_points_without_an_interval_pass_every_change():
    sampler = Sampler({"A": 0.0})
    changes = [pv("A", 1, 1), pv("A", 2, 2), pv("B", 3, 1)]
    assert sampler.admit(changes, 0.0) == changes
    assert not sampler.active


def test_changes_within_the_interval_are_held_and_the_latest_written_when_due():
    sampler = Sampler({"A": 10.0})
    assert sampler.admit([pv("A", 1, 1)], 0.0) == [pv("A", 1, 1)]
    assert sampler.admit([pv("A", 2, 2), pv("A", 3, 3), pv("B", 9, 1)], 1.0) == [pv("B", 9, 1)]
    assert sampler.held == 1 and sampler.replaced == 1
    assert sampler.next_due() == 10.0
    assert sampler.due(5.0) == []
    assert sampler.due(10.0) == [pv("A", 3, 3)]
    assert sampler.admit([pv("A", 4, 4)], 12.0) == []  # within 10 s of the row at 10.0
    assert sampler.admit([pv("A", 5, 5)], 20.5) == [pv("A", 5, 5)]
    assert sampler.held == 0 and sampler.replaced == 2


def test_dropping_an_interval_releases_the_held_value():
    sampler = Sampler({"A": 10.0})
    sampler.admit([pv("A", 1, 1), pv("A", 2, 2)], 0.0)
    sampler.set_intervals({"A": 0.0})
    assert sampler.due(0.5) == [pv("A", 2, 2)]
    assert sampler.admit([pv("A", 3, 3)], 0.6) == [pv("A", 3, 3)]
