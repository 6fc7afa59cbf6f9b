"""Logging set-up (human text or one JSON object per line), and the helpers that keep
recurring problems from flooding it: `Throttle` and `ProblemLog`."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

LogFormat = Literal["text", "json"]

_STANDARD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, msg, and any `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS:
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def setup_logging(fmt: LogFormat = "text", level: str = "info") -> None:
    """Send the gateway's logs to stderr in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def _power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


class Throttle:
    """Thins out the log lines of a problem that keeps coming back.

    A problem is logged at its 1st, 2nd, 4th, 8th... occurrence, so hours of the same
    failure cost a few dozen lines and the count still shows that it goes on. Two forms:

    * `count(kind)` counts occurrences of each kind itself (reports it refuses, say);
    * `failure(error, failures)` serves a retry loop that counts its own failures in a
      row: an error other than the last one is always logged, the same one again only at
      failure number 1, 2, 4, 8...
    """

    __slots__ = ("_counts", "_max_kinds", "last_error")

    def __init__(self, max_kinds: int | None = None) -> None:
        self._counts: dict[str, int] = {}
        self._max_kinds = max_kinds
        self.last_error = ""

    def count(self, kind: str = "") -> int:
        """Count one more occurrence of `kind`: its count if this one deserves a log line,
        else 0. With `max_kinds`, memory stays bounded whatever the kinds (a source address
        per kind, say): a new kind beyond the limit starts every count afresh."""
        counts = self._counts
        if self._max_kinds is not None and kind not in counts and len(counts) >= self._max_kinds:
            counts.clear()
        n = counts.get(kind, 0) + 1
        counts[kind] = n
        return n if _power_of_two(n) else 0

    def failure(self, error: str, failures: int) -> bool:
        """Failure number `failures` in a row, with `error`: True when it deserves a log line."""
        repeated = error == self.last_error
        self.last_error = error
        return not repeated or _power_of_two(failures)

    def reset(self) -> None:
        """Things work again: the next failure is logged whatever its error."""
        self.last_error = ""


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
