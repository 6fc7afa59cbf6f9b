"""`ProblemLog`: the log lines of problems that recur, thinned out by kind and time."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

PROBLEM_WINDOW = 60.0
"""Seconds between two log lines of the same kind of problem, at most one."""
NAMED_POINTS = 10
"""Points named in a summary line, at most (the others are counted)."""


class ProblemLog:
    """Problems by kind (bad values of many points, say): the first of a kind is logged at
    once, naming its point; the next ones are counted, with the points they hit, and logged
    as one line when one comes after `window` seconds (how many, which points). A burst
    costs a line a minute per kind, and a problem that comes back an hour later is logged
    at once again."""

    def __init__(
        self,
        logger: logging.Logger,
        window: float = PROBLEM_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log = logger
        self.window = window
        self._clock = clock
        self._kinds: dict[str, tuple[float, int, dict[str, None]]] = {}
        """kind -> (when its last line was logged, problems since, points they hit)."""

    def report(self, prefix: str, kind: str, detail: str, point: str | None = None) -> bool:
        """One problem of `kind` (`detail` says what, naming the point); True if logged."""
        now = self._clock()
        last = self._kinds.get(kind)
        if last is None or (now - last[0] >= self.window and last[1] == 0):
            self._kinds[kind] = (now, 0, {})
            self.log.warning("%s: %s", prefix, detail)
            return True
        since, count, points = last
        count += 1
        if point is not None and len(points) < NAMED_POINTS:
            points[point] = None
        if now - since < self.window:
            self._kinds[kind] = (since, count, points)
            return False
        named = ", ".join(points) + (", ..." if len(points) >= NAMED_POINTS else "")
        self.log.warning(
            "%s: %s (%s: %d more in the last %.0f s%s)",
            prefix,
            detail,
            kind,
            count,
            now - since,
            f"; points {named}" if points else "",
        )
        self._kinds[kind] = (now, 0, {})
        return True
