"""Which bus changes become rows, sans-IO: every change, or at most one per point per interval.

A point with an interval of 0 passes every change straight through. A point with an interval
keeps at most one row per `interval` seconds: a change within it is held (the latest one
replacing an earlier), and written when the interval ends, so the last word is never lost.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.points import PointValue


class Sampler:
    """Applies per-point intervals to a stream of changes; holds what is not yet due."""

    __slots__ = ("_held", "_intervals", "_last", "replaced")

    def __init__(self, intervals: Mapping[str, float]) -> None:
        self._intervals: dict[str, float] = {}
        self._last: dict[str, float] = {}  # when each throttled point's last row was taken
        self._held: dict[str, PointValue] = {}
        self.replaced = 0
        """Changes not stored because a newer one of the point came within its interval."""
        self.set_intervals(intervals)

    def set_intervals(self, intervals: Mapping[str, float]) -> None:
        """New intervals (a live configuration change); points no longer throttled release
        their held value at the next `due()`."""
        self._intervals = {p: i for p, i in intervals.items() if i > 0}
        for point in list(self._last):
            if point not in self._intervals:
                del self._last[point]

    @property
    def active(self) -> bool:
        return bool(self._intervals) or bool(self._held)

    def admit(self, changes: list[PointValue], now: float) -> list[PointValue]:
        """The changes to store now, in order; the others are held."""
        intervals = self._intervals
        if not intervals:
            return changes
        out: list[PointValue] = []
        last, held = self._last, self._held
        for pv in changes:
            interval = intervals.get(pv.point)
            if interval is None:
                out.append(pv)
                continue
            at = last.get(pv.point)
            if at is not None and now - at < interval:
                if pv.point in held:
                    self.replaced += 1
                held[pv.point] = pv
                continue
            last[pv.point] = now
            if held.pop(pv.point, None) is not None:
                self.replaced += 1
            out.append(pv)
        return out

    def due(self, now: float) -> list[PointValue]:
        """Held changes whose interval has ended (they count as stored now)."""
        out = []
        for point, pv in list(self._held.items()):
            interval = self._intervals.get(point)
            at = self._last.get(point)
            if interval is None or at is None or now - at >= interval:
                del self._held[point]
                if interval is not None:
                    self._last[point] = now
                out.append(pv)
        return out

    def next_due(self) -> float | None:
        """When the earliest held change becomes due (same clock as `now`), if any."""
        times = [self._last.get(p, 0.0) + self._intervals.get(p, 0.0) for p in self._held]
        return min(times, default=None)

    @property
    def held(self) -> int:
        return len(self._held)
