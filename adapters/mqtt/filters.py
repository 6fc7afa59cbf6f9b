"""Per-point publication rules, sans-IO: a deadband and a minimum interval between messages.

The deadband suppresses a value within `deadband` of the last *published* one (same quality).
The minimum interval holds a change back until `min_interval` seconds have passed since the
point's last publication; the latest held value is then published, so the last word is never
lost. Points without rules pass straight through.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gateway.points import PointValue


@dataclass(frozen=True, slots=True)
class Rule:
    """How often and how finely one point is published."""

    deadband: float = 0.0
    min_interval: float = 0.0


class _Last:
    __slots__ = ("at", "pv")

    def __init__(self, pv: PointValue, at: float) -> None:
        self.pv = pv
        self.at = at


class PublishFilter:
    """Applies each point's Rule to a stream of changes; holds what is not yet due."""

    __slots__ = ("_held", "_last", "_rules", "suppressed")

    def __init__(self, rules: Mapping[str, Rule]) -> None:
        self._rules = {p: r for p, r in rules.items() if r.deadband > 0 or r.min_interval > 0}
        self._last: dict[str, _Last] = {}
        self._held: dict[str, PointValue] = {}
        self.suppressed = 0

    @property
    def active(self) -> bool:
        return bool(self._rules)

    def admit(self, changes: list[PointValue], now: float) -> list[PointValue]:
        """The changes to publish now (in order); the rest are suppressed or held."""
        if not self._rules:
            return changes
        rules = self._rules
        out: list[PointValue] = []
        for pv in changes:
            rule = rules.get(pv.point)
            if rule is None or self._passes(pv, rule, now):
                out.append(pv)
        return out

    def _passes(self, pv: PointValue, rule: Rule, now: float) -> bool:
        last = self._last.get(pv.point)
        if last is not None:
            old = last.pv
            if old.quality == pv.quality and abs(pv.value - old.value) <= rule.deadband:
                self._held.pop(pv.point, None)  # back within the band of what was published
                self.suppressed += 1
                return False
            if now - last.at < rule.min_interval:
                self._held[pv.point] = pv
                return False
        self._last[pv.point] = _Last(pv, now)
        self._held.pop(pv.point, None)
        return True

    def due(self, now: float) -> list[PointValue]:
        """Held values whose minimum interval has passed; they count as published now."""
        out = []
        for point, pv in list(self._held.items()):
            last = self._last[point]
            if now - last.at >= self._rules[point].min_interval:
                del self._held[point]
                self._last[point] = _Last(pv, now)
                out.append(pv)
        return out

    def next_due(self) -> float | None:
        """When the earliest held value becomes due (same clock as `now`), if any is held."""
        times = [self._last[p].at + self._rules[p].min_interval for p in self._held]
        return min(times, default=None)

    def forget(self, points: Iterable[str]) -> None:
        """Drop the publication history of points (e.g. to republish them in full)."""
        for point in points:
            self._last.pop(point, None)
            self._held.pop(point, None)
