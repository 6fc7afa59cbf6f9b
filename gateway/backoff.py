"""Capped exponential back-off with jitter, for every retry loop in the gateway."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Capped exponential back-off with jitter between restarts of a failing adapter."""

    initial: float = 1.0
    maximum: float = 60.0
    jitter: float = 0.2

    def delay(self, failures: int) -> float:
        base = min(self.maximum, self.initial * 2.0 ** max(0, failures - 1))
        return base * (1 + random.uniform(-self.jitter, self.jitter))
