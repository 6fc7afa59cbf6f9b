"""The audit log: a bounded ring of what operators and peers did (commands, config, refusals).

The core records every bus command with its outcome (whatever adapter or API asked for it),
and every configuration change; the REST API adds its own events (a refused request) with
:meth:`AuditLog.record`, and an adapter adds its own (an ICCP select, a tag set, a write a
bilateral table refused) with :func:`record_on` its bus: the runtime attaches its log to
its bus (:meth:`AuditLog.attach`), so an adapter needs nothing but the bus it was given.
The ring keeps the last ``size`` events; each has a sequence number so that a reader can
ask for what came after the last it saw.
"""

from __future__ import annotations

import time
import weakref
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.bus import PointBus

__all__ = ["AuditEvent", "AuditLog", "record_on"]


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One audited action: ``kind`` (command, config, tag, refused...), who asked
    (``origin``), on what (``target``: a point, a table...), the outcome and a detail."""

    seq: int
    kind: str
    origin: str
    target: str = ""
    value: Any = None
    outcome: str = "ok"
    detail: str = ""
    ts: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


QUOTA = 20
"""Events other than commands and configuration changes kept per origin and QUOTA_WINDOW:
a peer refused in a loop must not push the operators' events out of the ring."""
QUOTA_WINDOW = 60.0
_ALWAYS = frozenset({"command", "config"})


class AuditLog:
    """The last ``size`` audit events, and counts of commands by outcome since start."""

    def __init__(self, size: int = 1000) -> None:
        self._events: deque[AuditEvent] = deque(maxlen=size)
        self._seq = 0
        self.outcomes: Counter[str] = Counter()
        """Commands by outcome (``ok`` or the failure), for the metrics."""
        self._quota: dict[str, list[float | int]] = {}  # origin: [window start, kept, dropped]
        self.suppressed = 0
        """Events left out by the per-origin quota since start."""

    @property
    def size(self) -> int:
        return self._events.maxlen or 0

    def resize(self, size: int) -> None:
        """Keep at most ``size`` events from now on (the newest are kept)."""
        if size != self.size:
            self._events = deque(self._events, maxlen=size)

    def record(
        self,
        kind: str,
        origin: str,
        target: str = "",
        value: Any = None,
        outcome: str = "ok",
        detail: str = "",
    ) -> AuditEvent | None:
        """Add one event and return it; None when the origin's quota of events other than
        commands and configuration changes is spent (a summary event follows its window)."""
        now = time.time()
        self._close_windows(now)
        if kind not in _ALWAYS:
            window = self._quota.setdefault(origin, [now, 0, 0])
            if window[1] >= QUOTA:
                window[2] += 1
                self.suppressed += 1
                return None
            window[1] += 1
        if kind == "command":
            self.outcomes[outcome] += 1
        return self._append(kind, origin, target, value, outcome, detail)

    def _append(
        self, kind: str, origin: str, target: str, value: Any, outcome: str, detail: str
    ) -> AuditEvent:
        self._seq += 1
        event = AuditEvent(self._seq, kind, origin or "-", target, value, outcome, detail)
        self._events.append(event)
        return event

    def _close_windows(self, now: float) -> None:
        """End the quota windows that are over, with one event saying what each left out."""
        if not self._quota:
            return
        for origin in [o for o, w in self._quota.items() if now - w[0] >= QUOTA_WINDOW]:
            dropped = self._quota.pop(origin)[2]
            if dropped:
                detail = f"{int(dropped)} more events of this origin in {QUOTA_WINDOW:.0f} s"
                self._append("suppressed", origin, "", None, "suppressed", detail)

    def events(self, after: int = 0, limit: int | None = None) -> list[AuditEvent]:
        """The events after sequence number ``after``, oldest first (the last ``limit``)."""
        self._close_windows(time.time())
        out = [e for e in self._events if e.seq > after]
        return out if limit is None else out[-limit:] if limit > 0 else []

    @property
    def last_seq(self) -> int:
        return self._seq

    def attach(self, bus: PointBus) -> None:
        """Be the log that :func:`record_on` ``bus`` writes to."""
        _ATTACHED[bus] = self


_ATTACHED: weakref.WeakKeyDictionary[PointBus, AuditLog] = weakref.WeakKeyDictionary()


def record_on(
    bus: PointBus,
    kind: str,
    origin: str,
    target: str = "",
    value: Any = None,
    outcome: str = "ok",
    detail: str = "",
) -> AuditEvent | None:
    """Record an event in the audit log attached to ``bus``: None when it has none (an
    adapter run on its own, in a test or a tool) or the origin's quota is spent."""
    log = _ATTACHED.get(bus)
    if log is None:
        return None
    return log.record(kind, origin, target, value, outcome, detail)
