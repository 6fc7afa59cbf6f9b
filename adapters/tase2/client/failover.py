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

Fail-back: with ``failback_interval`` set, a link that is up on any address but the first
checks the primary every ``failback_interval`` seconds (:meth:`LinkPlanner.failback_due`).
A check that passes sends the next attempt to the primary at once, without back-off
(:meth:`LinkPlanner.failback_passed`); one that fails schedules the next check and says,
through a :class:`gateway.logs.Throttle`, whether it is worth a log line. A primary that
passes its check but then fails the session doubles the interval before the next check
(up to 16 times ``failback_interval``), so a half-working primary cannot make the client
leave a good backup every interval; a session on the primary that comes up resets it.
:func:`keepalive_due` says when a silent association needs a keep-alive request.

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

__all__ = [
    "AddressStatus",
    "FailbackStatus",
    "KeepaliveStatus",
    "LinkPlanner",
    "LinkStatus",
    "RateMeter",
    "keepalive_due",
]

A = TypeVar("A")


class LinkPlanner(Generic[A]):
    """Capped exponential back-off alternating over ``addresses``, and fail-back to the
    first of them every ``failback_interval`` seconds (0: never); see the module docstring."""

    def __init__(
        self,
        addresses: Sequence[A],
        initial: float,
        maximum: float,
        jitter: float = 0.1,
        rng: Callable[[], float] | None = None,
        failback_interval: float = 0.0,
    ) -> None:
        if not addresses:
            raise ValueError("at least one address is needed")
        if failback_interval < 0:
            raise ValueError("failback_interval must not be negative")
        self.addresses = tuple(addresses)
        self.backoff = Backoff(initial, maximum, jitter)
        self._rng = rng
        self.index = 0
        self.failures = 0
        self._started = False
        self._up_since: float | None = None
        self._failure_log = Throttle()
        self.failback_interval = failback_interval
        self.failback_checks = 0
        self.failback_failures = 0
        self._failback_at: float | None = None
        self._failback_log = Throttle()
        self._failback_backoff = Backoff(failback_interval, 16 * failback_interval, 0.0)
        self._failback_strikes = 0
        self._failing_back = False
        self._at_once = False

    @property
    def address(self) -> A:
        """The address of the current (or last) attempt."""
        return self.addresses[self.index]

    @property
    def primary(self) -> A:
        """The first (preferred) address."""
        return self.addresses[0]

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
        if self._started and not self._at_once:
            backoff = self.backoff
            delay = min(backoff.maximum, backoff.delay(self._steps(), self._rng))
        self._started = True
        self._at_once = False
        return self.address, max(0.0, delay)

    def failed(self, error: str) -> bool:
        """An attempt failed (connect, association, start-up check or set-up): move to the
        next address. Returns True when this failure deserves a log line."""
        self.failures += 1
        self.index = (self.index + 1) % len(self.addresses)
        if self._failing_back:  # the primary passed its check, then failed the session
            self._failing_back = False
            self._failback_strikes += 1
        return self._failure_log.failure(error, self.failures)

    def up(self, monotonic_now: float) -> None:
        """The link is up and delivering (association, checks and set-up done); away from
        the primary, the first fail-back check is due ``failback_interval`` s from now."""
        self._up_since = monotonic_now
        self._failure_log.reset()
        self.failback_failures = 0
        self._failback_log.reset()
        if self.index == 0:
            self._failback_strikes = 0
        self._failing_back = False
        away = self.index != 0 and self.failback_interval > 0
        self._failback_at = monotonic_now + self.failback_wait() if away else None

    def failback_wait(self) -> float:
        """Seconds between fail-back checks now: ``failback_interval``, doubled for every
        fail-back whose session on the primary failed since the primary last came up."""
        return self._failback_backoff.base(self._failback_strikes + 1)

    def lost(self, monotonic_now: float) -> None:
        """The running link dropped: the next attempt goes to the next address."""
        stable = (
            self._up_since is not None and monotonic_now - self._up_since >= self.backoff.maximum
        )
        self.failures = 0 if stable else self.failures + 1
        self._up_since = None
        self._failback_at = None
        self.index = (self.index + 1) % len(self.addresses)

    def failback_due(self, monotonic_now: float) -> float | None:
        """Seconds until the primary is to be checked (0: now), or None when no check is to
        be made: fail-back is off, the link is on the primary, or it is not up."""
        if self._failback_at is None:
            return None
        return max(0.0, self._failback_at - monotonic_now)

    def failback_passed(self) -> A:
        """The primary passed its check: leave the current address; the next attempt goes
        to the primary at once (no back-off). Returns the primary."""
        self.failback_checks += 1
        self._failback_at = None
        self._up_since = None
        self.failures = 0
        self.index = 0
        self._at_once = True
        self._failing_back = True
        return self.primary

    def renew(self) -> None:
        """A planned renewal (a new TLS session): the next attempt goes to the same address
        at once, without counting a failure."""
        self._up_since = None
        self._failback_at = None
        self._at_once = True

    def failback_failed(self, monotonic_now: float, error: str) -> bool:
        """The primary failed its check with ``error``: stay, check again in
        ``failback_interval`` s. Returns True when this failure deserves a log line."""
        self.failback_checks += 1
        self.failback_failures += 1
        if self._failback_at is not None:
            self._failback_at = monotonic_now + self.failback_wait()
        return self._failback_log.failure(error, self.failback_failures)


def keepalive_due(interval: float, last_received: float, monotonic_now: float) -> float | None:
    """Seconds until a keep-alive request is due (0: now) when nothing has been received
    since ``last_received``; None when keep-alives are off (``interval`` 0)."""
    if interval <= 0:
        return None
    return max(0.0, last_received + interval - monotonic_now)


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
class FailbackStatus:
    """Fail-back checks of the primary while the link runs elsewhere."""

    enabled: bool = False
    interval: float = 0.0
    checks: int = 0
    failed_in_row: int = 0
    failbacks: int = 0
    last_check: float | None = None
    last_result: str = ""


@dataclass
class KeepaliveStatus:
    """Keep-alive requests sent when the server was silent."""

    interval: float = 0.0
    sent: int = 0
    answered: int = 0
    unanswered: int = 0
    last_sent: float | None = None
    last_result: str = ""


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
    failback: FailbackStatus = field(default_factory=FailbackStatus)
    keepalive: KeepaliveStatus = field(default_factory=KeepaliveStatus)
    tls_renewals: int = 0

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
            "failback": vars(self.failback).copy(),
            "keepalive": vars(self.keepalive).copy(),
            "tls_renewals": self.tls_renewals,
        }
