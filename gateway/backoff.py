"""Capped exponential back-off with jitter, for every retry loop in the gateway."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Capped exponential back-off with jitter between restarts of a failing adapter."""

    initial: float = 1.0
    maximum: float = 60.0
    jitter: float = 0.2

    def base(self, failures: int) -> float:
        """The delay after `failures` failures in a row, before jitter: `initial`, doubling
        per failure, at most `maximum`."""
        return min(self.maximum, self.initial * 2.0 ** max(0, failures - 1))

    def delay(self, failures: int, rng: Callable[[], float] | None = None) -> float:
        """`base(failures)` moved by up to `jitter` (a fraction) either way; `rng` draws the
        uniform [0, 1) number for that (default: the `random` module's)."""
        draw = (rng or random.random)()
        return self.base(failures) * (1 + self.jitter * (2 * draw - 1))
