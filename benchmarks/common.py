"""Shared helpers for benchmark modules."""

from __future__ import annotations

import time
from collections.abc import Callable


def report(name: str, value: float, unit: str, digits: int = 0) -> None:
    """Print one benchmark figure in the project's `BENCH <name> <value> <unit>` format."""
    print(f"BENCH {name} {value:.{digits}f} {unit}", flush=True)


def best_rate(work: Callable[[], int], repeat: int = 5, min_time: float = 0.2) -> float:
    """Items per second of `work` (which returns how many items it did), best of `repeat`.

    Best-of is the least noisy figure on a shared machine; each repeat runs `work` until at
    least `min_time` seconds have passed.
    """
    best = 0.0
    for _ in range(repeat):
        items = 0
        start = time.perf_counter()
        while True:
            items += work()
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                break
        best = max(best, items / elapsed)
    return best
