"""The historian's PostgreSQL time codec: POSIX seconds to timestamptz microseconds, rounded
as `round(seconds, 6)` rounds (half to even on the exact binary value), fast or slow path."""

import random

from adapters.sql.historian.store import _pg_time, _posix_time

PG_EPOCH_US = 946_684_800 * 1_000_000


def test_times_round_to_the_microsecond_as_round_does():
    rng = random.Random(18)
    times = [rng.uniform(1.5e9, 2.2e9) for _ in range(20_000)]
    times += [round(t, 6) + d for t in times[:5000] for d in (5e-7, -5e-7, 4.99e-7)]
    times += [int(t) + rng.randrange(128) / 128 for t in times[:2000]]  # exact halves
    times += [946_684_800.0, 0.0, 1_000.25, 2**31 + 0.0000005]
    for t in times:
        assert _pg_time(t) == (round(round(t, 6) * 1_000_000) - PG_EPOCH_US,), t


def test_back_to_posix_seconds():
    assert _posix_time(_pg_time(1_796_217_098.649101)) == 1_796_217_098.649101
    assert _posix_time((0,)) == 946_684_800.0
