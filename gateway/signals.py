"""Signal shapes for simulated values: protocol-free, for the `sim` adapter and the Modbus
plant simulator alike.

Each function gives a signal's next value in ``low..high``; ``t`` is seconds since the
simulation started.
"""

from __future__ import annotations

import math
import random
from typing import Literal

__all__ = ["Shape", "random_walk", "sine", "staircase"]

Shape = Literal["random_walk", "sine", "step", "toggle", "constant"]
"""The signal shapes both simulators offer (what `toggle` means is each one's own)."""


def random_walk(current: float, low: float, high: float, step: float, rng: random.Random) -> float:
    """``current`` moved by up to ``step`` either way, kept within ``low..high``."""
    return min(high, max(low, current + rng.uniform(-1, 1) * step))


def sine(t: float, low: float, high: float, period: float) -> float:
    """A sine wave between ``low`` and ``high`` with ``period`` seconds."""
    mid, amp = (high + low) / 2, (high - low) / 2
    return mid + amp * math.sin(2 * math.pi * t / period)


def staircase(t: float, low: float, high: float, increment: float, period: float) -> float:
    """``low`` plus ``increment`` every ``period`` seconds, wrapping round within the span."""
    span = high - low
    return low + (int(t / period) * increment) % span if span else low
