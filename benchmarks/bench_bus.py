"""Point bus hot paths: batched and single updates, and fan-out to subscribers."""

from __future__ import annotations

import random

from benchmarks.common import best_rate, report
from gateway.bus import PointBus
from gateway.mapping import Binding, LinearBatch
from gateway.points import GOOD, PointDef

N = 10_000


def _bus(subscribers: int) -> tuple[PointBus, LinearBatch]:
    bus = PointBus()
    bus.add_owner("bench")
    defs = [
        PointDef(id=f"P{i}", usage_multiplier=-1.0, usage_adder=0.5, deadband=0.01)
        for i in range(N)
    ]
    for d in defs:
        bus.register(d, "bench")
    for _ in range(subscribers):
        bus.subscribe()
    return bus, LinearBatch([Binding(d, scale=0.1) for d in defs])


def _raw_frames(count: int) -> list[list[float]]:
    """Random-walk raw values: most moves exceed the deadband, some do not."""
    rng = random.Random(1)
    raw = [rng.uniform(0, 1000) for _ in range(N)]
    frames = []
    for _ in range(count):
        raw = [x + rng.choice((-1.0, 0.05, 1.0)) for x in raw]
        frames.append(raw)
    return frames


def bench_update_many() -> float:
    bus, batch = _bus(subscribers=0)
    frames = _raw_frames(8)
    state = {"i": 0}

    def work() -> int:
        frame = frames[state["i"] % len(frames)]
        state["i"] += 1
        bus.update_many(batch.points, batch.convert(frame), GOOD, 1.0)
        return N

    return best_rate(work)


def bench_update() -> float:
    bus, batch = _bus(subscribers=0)
    frames = [batch.convert(f) for f in _raw_frames(8)]
    state = {"i": 0}
    points = batch.points

    def work() -> int:
        frame = frames[state["i"] % len(frames)]
        state["i"] += 1
        update = bus.update
        for point, value in zip(points, frame, strict=True):
            update(point, value, GOOD, 1.0)
        return N

    return best_rate(work)


def bench_fanout() -> float:
    """Points/s published and delivered (drained) to each of 3 subscribers."""
    bus, batch = _bus(subscribers=3)
    frames = [batch.convert(f) for f in _raw_frames(8)]
    subs = bus.subscriptions
    state = {"i": 0}

    def work() -> int:
        frame = frames[state["i"] % len(frames)]
        state["i"] += 1
        changed = bus.update_many(batch.points, frame, GOOD, 1.0)
        for sub in subs:
            sub.drain()
        return changed

    return best_rate(work)


def main() -> None:
    report("bus_update_many", bench_update_many(), "points/s")
    report("bus_update", bench_update(), "points/s")
    report("bus_fanout", bench_fanout(), "points/s")
