"""Link management of the TASE.2 client, without I/O: where to connect next, when, and what
to tell operators.

:class:`LinkPlanner` is the reconnect policy: the first attempt goes to the first
(preferred) address at once; after a loss the next address in the list is tried after
``initial`` seconds; every failed attempt moves on to the next address, and the delay doubles
after each full round over the list, up to ``maximum`` (with a little jitter): the delays
are :class:`gateway.backoff.Backoff`'s, one step per round. A link that stayed up for at
least ``maximum`` seconds starts the count afresh when it drops; one that drops sooner keeps
counting, so a flapping server cannot make the client hammer it.
It also says when a repeating failure is worth a log line (1st, 2nd, 4th, 8th... time).

:class:`RateMeter` gives reports per second over a sliding window; :class:`LinkStatus` is
the per-link view the runtime shows.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from gateway.backoff import Backoff
from gateway.logs import Throttle

__all__ = ["AddressStatus", "LinkPlanner", "LinkStatus", "RateMeter"]

A = TypeVar("A")


class LinkPlanner(Generic[A]):
    """Capped exponential back-off alternating over ``addresses`` (see module docstring)."""

    def __init__(
        self,
        addresses: Sequence[A],
        initial: float,
        maximum: float,
        jitter: float = 0.1,
        rng: Callable[[], float] | None = None,
    ) -> None:
        if not addresses:
            raise ValueError("at least one address is needed")
        self.addresses = tuple(addresses)
        self.backoff = Backoff(initial, maximum, jitter)
        self._rng = rng
        self.index = 0
        self.failures = 0
        self._started = False
        self._up_since: float | None = None
        self._failure_log = Throttle()

    @property
    def address(self) -> A:
        """The address of the current (or last) attempt."""
        return self.addresses[self.index]

    def _steps(self) -> int:
        """Back-off steps so far: the delay doubles once per full round over the addresses."""
        return self.failures // len(self.addresses) + 1

    def base_delay(self) -> float:
        """The delay before the next attempt, without jitter."""
        if not self._started:
            return 0.0
        return self.backoff.base(self._steps())

    def next_attempt(self) -> tuple[A, float]:
        """The address to try next and the seconds to wait before trying it."""
        delay = 0.0
        if self._started:
            backoff = self.backoff
            delay = min(backoff.maximum, backoff.delay(self._steps(), self._rng))
        self._started = True
        return self.address, max(0.0, delay)

    def failed(self, error: str) -> bool:
        """An attempt failed (connect, association, start-up check or set-up): move to the
        next address. Returns True when this failure deserves a log line."""
        self.failures += 1
        self.index = (self.index + 1) % len(self.addresses)
        return self._failure_log.failure(error, self.failures)

    def up(self, monotonic_now: float) -> None:
        """The link is up and delivering (association, checks and set-up done)."""
        self._up_since = monotonic_now
        self._failure_log.reset()

    def lost(self, monotonic_now: float) -> None:
        """The running link dropped: the next attempt goes to the next address."""
        stable = (
            self._up_since is not None and monotonic_now - self._up_since >= self.backoff.maximum
        )
        self.failures = 0 if stable else self.failures + 1
        self._up_since = None
        self.index = (self.index + 1) % len(self.addresses)


class RateMeter:
    """Events per second over the last ``window`` seconds (one bucket per second)."""

    def __init__(self, window: int = 10) -> None:
        self.window = window
        self._buckets: deque[list[int]] = deque()

    def add(self, monotonic_now: float, count: int = 1) -> None:
        """Count ``count`` events at ``monotonic_now``."""
        second = int(monotonic_now)
        buckets = self._buckets
        if buckets and buckets[-1][0] == second:
            buckets[-1][1] += count
        else:
            buckets.append([second, count])
        while buckets and buckets[0][0] <= second - self.window:
            buckets.popleft()

    def rate(self, monotonic_now: float) -> float:
        """Events per second over the window ending now."""
        second = int(monotonic_now)
        total = sum(c for s, c in self._buckets if s > second - self.window)
        return total / self.window


@dataclass
class AddressStatus:
    """What happened at one remote address."""

    address: str
    state: str = "idle"
    attempts: int = 0
    failures: int = 0
    last_error: str = ""
    last_up: float | None = None


@dataclass
class LinkStatus:
    """The per-link view for operators: state, current address, reports, errors."""

    state: str = "starting"
    address: str = ""
    reason: str = ""
    since: float | None = None
    associations: int = 0
    last_report: float | None = None
    reports_per_s: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)
    addresses: dict[str, AddressStatus] = field(default_factory=dict)

    def count(self, kind: str, n: int = 1) -> None:
        """Add to an error counter."""
        self.errors[kind] = self.errors.get(kind, 0) + n

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "state": self.state,
            "address": self.address,
            "reason": self.reason,
            "since": self.since,
            "associations": self.associations,
            "last_report": self.last_report,
            "reports_per_s": round(self.reports_per_s, 2),
            "errors": dict(self.errors),
            "addresses": {k: vars(v).copy() for k, v in self.addresses.items()},
        }
