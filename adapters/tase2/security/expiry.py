"""Certificate expiry warnings: once per threshold (30, 7, 1 days by default), no flood.

:class:`ExpiryWatch` is sans-IO: :meth:`ExpiryWatch.check` takes the days left and returns
the threshold just crossed (or None); a renewed certificate (more days than the lowest
threshold crossed) re-arms the thresholds it is above again.
"""

from __future__ import annotations

__all__ = ["ExpiryWatch"]


class ExpiryWatch:
    """Which expiry thresholds (days, descending) have been reported for one certificate."""

    def __init__(self, thresholds: tuple[int, ...] = (30, 7, 1)) -> None:
        self.thresholds = tuple(sorted(set(thresholds), reverse=True))
        self._reported: set[int] = set()

    def check(self, days_left: float) -> int | None:
        """The lowest threshold that ``days_left`` is now under and not reported yet (it is
        then marked reported, with every threshold above it); None when nothing is new."""
        self._reported = {t for t in self._reported if days_left < t}  # renewed: re-arm
        crossed = [t for t in self.thresholds if days_left < t]
        if not crossed:
            return None
        lowest = min(crossed)
        if lowest in self._reported:
            return None
        self._reported.update(crossed)
        return lowest
