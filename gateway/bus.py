"""The point bus: the latest-value table between all adapters.

Owners publish updates (`update`, `update_many`); the bus applies the deadband, bumps the
COV counter and fans each recorded change out to subscribers. Consumers send commands back
with `await command(...)`, which the bus routes to the point's owner. The bus is
single-threaded: call it from the event loop only.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

from gateway.messages import Message, MessageStream, MessageSubscription
from gateway.points import (
    GOOD,
    PointDef,
    PointKind,
    PointValue,
    Quality,
    Validity,
    now,
)

log = logging.getLogger(__name__)

Value = float | int
CommandHandler = Callable[[PointDef, Value], Awaitable[None]]

_TIME_INVALID = 0x01
_VALIDITY_MASK = 0x30
_SUSPECT = int(Validity.SUSPECT) << 4
_NOT_VALID = int(Validity.NOT_VALID) << 4
_quality = Quality.from_flags
_INITIAL_QUALITY = Quality(Validity.NOT_VALID, timestamp_invalid=True)


class CommandFailure(enum.StrEnum):
    """Why a command did not succeed; protocol adapters map these to their own errors."""

    NOT_PERMITTED = "not permitted"
    NOT_SELECTED = "not selected"
    BUSY = "busy"
    TIMEOUT = "timeout"
    DEVICE_FAILURE = "device failure"
    INVALID_VALUE = "invalid value"
    UNKNOWN_POINT = "unknown point"


class CommandError(Exception):
    """Raised by an owner's command handler to report a typed failure."""

    def __init__(self, failure: CommandFailure, detail: str = "") -> None:
        super().__init__(f"{failure}: {detail}" if detail else str(failure))
        self.failure = failure
        self.detail = detail


@dataclass(frozen=True, slots=True)
class CommandResult:
    """The outcome of `PointBus.command`: success, or a typed failure with a detail."""

    point: str
    value: Value
    failure: CommandFailure | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.failure is None


class BusError(ValueError):
    """A misuse of the bus: unknown point, a second owner, a clash of definitions."""


class _Entry:
    """One point's row in the latest-value table."""

    __slots__ = ("deadband", "defn", "owner", "pv", "seen", "stale", "stale_after")

    def __init__(self, defn: PointDef, owner: str, pv: PointValue, grace: float) -> None:
        self.defn = defn
        self.owner = owner
        self.pv = pv
        # Deadbands apply to analogs only; any change of a state or integer counts.
        self.deadband = defn.deadband if defn.kind is PointKind.REAL else 0.0
        self.seen = time.monotonic()
        fresh = defn.target_freshness
        self.stale_after = None if fresh is None else fresh + grace
        self.stale: tuple[PointValue, PointValue] | None = None
        """(the suspect value `check_freshness` made, the value before) while it stands."""


@dataclass(slots=True)
class BusStats:
    """Counters for monitoring; all monotonically increasing."""

    updates: int = 0
    changes: int = 0
    suppressed: int = 0
    stale: int = 0
    unknown: int = 0
    commands: int = 0
    command_failures: int = 0


class Subscription:
    """A consumer's view of changes to a set of points.

    In `latest` mode changes are coalesced: `drain()` returns the current value of every
    point that changed since the last drain. In `every` mode each recorded change is kept in
    order in a bounded buffer; when it is full the oldest changes are dropped and counted
    in `overflow`.
    """

    def __init__(
        self,
        bus: PointBus,
        points: frozenset[str] | None,
        every: bool,
        maxlen: int,
        name: str,
    ) -> None:
        self.name = name
        self.points = points
        self.every = every
        self.maxlen = maxlen
        self.overflow = 0
        self.delivered = 0
        self._bus = bus
        self._pending: set[str] = set()
        self._queue: deque[PointValue] = deque(maxlen=maxlen)
        self._event = asyncio.Event()

    def __len__(self) -> int:
        return len(self._queue) if self.every else len(self._pending)

    def _offer(self, changes: list[PointValue]) -> None:
        """Take a batch of recorded changes (called by the bus)."""
        points = self.points
        if self.every:
            queue = self._queue
            wanted = changes if points is None else [pv for pv in changes if pv.point in points]
            excess = len(queue) + len(wanted) - self.maxlen
            if excess > 0:
                self.overflow += excess  # the deque drops the oldest by itself
            queue.extend(wanted)
            if queue:
                self._event.set()
        else:
            pending = self._pending
            if points is None:
                pending.update([pv.point for pv in changes])
            else:
                pending.update([pv.point for pv in changes if pv.point in points])
            if pending:
                self._event.set()

    def drain(self) -> list[PointValue]:
        """Everything pending now, and clear it."""
        self._event.clear()
        if self.every:
            out = list(self._queue)
            self._queue.clear()
        else:
            out = self._bus._current(self._pending)
            self._pending = set()
        self.delivered += len(out)
        return out

    async def wait(self, timeout: float | None = None) -> list[PointValue]:
        """Wait until something is pending (or the time-out passes), then drain."""
        if not len(self):
            try:
                async with asyncio.timeout(timeout):  # wait_for can swallow a cancel (3.11)
                    await self._event.wait()
            except TimeoutError:
                return []
        return self.drain()

    def close(self) -> None:
        """Stop receiving changes."""
        self._bus.unsubscribe(self)


@dataclass
class _Owner:
    name: str
    on_command: CommandHandler | None
    points: set[str] = field(default_factory=set)


class PointBus:
    """Latest-value table, change fan-out and command routing for all points.

    `grace` (seconds) is added to each point's target freshness before the watchdog turns
    it suspect.
    """

    def __init__(self, grace: float = 2.0, command_timeout: float = 10.0) -> None:
        self.grace = grace
        self.command_timeout = command_timeout
        self.stats = BusStats()
        self._entries: dict[str, _Entry] = {}
        self._owners: dict[str, _Owner] = {}
        self._subs: list[Subscription] = []
        self.messages = MessageStream()
        self.command_observer: Callable[[CommandResult, str], None] | None = None
        """Called with every command's result and origin (the runtime's audit log)."""

    # -- registration -------------------------------------------------------------

    def add_owner(self, name: str, on_command: CommandHandler | None = None) -> None:
        """Declare an owner (an adapter); `on_command` receives commands for its points.

        Declaring an existing owner again only replaces its handler, if one is given.
        """
        owner = self._owners.get(name)
        if owner is None:
            self._owners[name] = _Owner(name, on_command)
        elif on_command is not None:
            owner.on_command = on_command

    def register(self, defn: PointDef, owner: str, *, transfer: bool = False) -> None:
        """Add a point owned by `owner`, or update its definition.

        A point has exactly one owner: registering it for another owner is an error unless
        `transfer` moves it (the runtime does so when a configuration change moves a point).
        The latest value is kept across a re-registration; a moved point's value turns not
        valid until its new owner publishes.
        """
        if owner not in self._owners:
            raise BusError(f"owner {owner!r} is not declared")
        entry = self._entries.get(defn.id)
        if entry is not None:
            if entry.owner != owner:
                if not transfer:
                    raise BusError(
                        f"point {defn.id!r} is already owned by {entry.owner!r}; "
                        f"{owner!r} cannot own it too"
                    )
                self._owners[entry.owner].points.discard(defn.id)
                self._owners[owner].points.add(defn.id)
            replacement = _Entry(defn, owner, entry.pv, self.grace)
            self._entries[defn.id] = replacement
            if owner != entry.owner:
                # The last value came from the previous owner: never serve it as good.
                self._requalify([replacement], _NOT_VALID, now())
            return
        initial = PointValue(
            defn.id, 0.0 if defn.kind is PointKind.REAL else 0, _INITIAL_QUALITY, now(), 0
        )
        self._entries[defn.id] = _Entry(defn, owner, initial, self.grace)
        self._owners[owner].points.add(defn.id)

    def unregister(self, point: str) -> None:
        """Remove a point; subscribers simply stop hearing about it."""
        entry = self._entries.pop(point, None)
        if entry is not None:
            self._owners[entry.owner].points.discard(point)

    def remove_owner(self, name: str) -> None:
        """Remove an owner and every point it owns."""
        owner = self._owners.pop(name, None)
        if owner is not None:
            for point in owner.points:
                self._entries.pop(point, None)

    def definition(self, point: str) -> PointDef:
        return self._lookup(point).defn

    def owner_of(self, point: str) -> str:
        return self._lookup(point).owner

    def points_of(self, owner: str) -> set[str]:
        return set(self._owners[owner].points) if owner in self._owners else set()

    def __contains__(self, point: object) -> bool:
        return point in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def _lookup(self, point: str) -> _Entry:
        try:
            return self._entries[point]
        except KeyError:
            raise BusError(f"unknown point {point!r}") from None

    # -- updates ------------------------------------------------------------------

    def update(
        self, point: str, value: Value, quality: Quality = GOOD, ts: float | None = None
    ) -> bool:
        """Publish one value; returns whether it was recorded as a change."""
        return self.update_many((point,), (value,), quality, ts) == 1

    def update_many(
        self,
        points: Sequence[str],
        values: Sequence[Value],
        quality: Quality = GOOD,
        ts: float | None = None,
    ) -> int:
        """Publish a batch of values (parallel sequences) sharing one quality and time stamp.

        Without a source time stamp the receive time is used and the timestamp-quality bit
        is set. A value within the deadband of the last recorded value, with the same
        quality, is not a change. Returns the number of recorded changes.
        """
        if len(points) != len(values):
            raise BusError(f"{len(points)} points but {len(values)} values")
        if ts is None:
            ts = now()
            quality = _quality(quality | _TIME_INVALID)
        entries = self._entries
        seen = time.monotonic()
        changes: list[PointValue] = []
        record = changes.append
        new = tuple.__new__  # PointValue(...) without the Python-level __new__: 40% faster
        for point, value in zip(points, values, strict=True):
            entry = entries.get(point)
            if entry is None:
                self._unknown(point)
                continue
            entry.seen = seen
            old = entry.pv
            if old.quality == quality and abs(value - old.value) <= entry.deadband:
                continue
            pv = new(PointValue, (point, value, quality, ts, (old.cov + 1) & 0xFFFF))
            entry.pv = pv
            record(pv)
        return self._recorded(len(points), changes)

    def update_rows(
        self,
        points: Sequence[str],
        values: Sequence[Value],
        qualities: Sequence[Quality],
        timestamps: Sequence[float | None],
    ) -> int:
        """Publish a batch whose rows each carry their own quality and time stamp (events).

        Rows are applied in order, so two events of one point are two changes. A row without
        a time stamp (None) is a value read without one: it is stamped with the receive time
        and the timestamp-quality bit, and when it repeats the recorded value (within the
        deadband) with the recorded quality but for that bit, it is not a change and the
        recorded time stamp stays. Returns the number of recorded changes.
        """
        if not len(points) == len(values) == len(qualities) == len(timestamps):
            raise BusError("points, values, qualities and time stamps differ in length")
        entries = self._entries
        seen = time.monotonic()
        received = now()
        changes: list[PointValue] = []
        record = changes.append
        new = tuple.__new__
        for point, value, quality, ts in zip(points, values, qualities, timestamps, strict=True):
            entry = entries.get(point)
            if entry is None:
                self._unknown(point)
                continue
            entry.seen = seen
            old = entry.pv
            if ts is None:
                ts = received
                if not quality & _TIME_INVALID:
                    quality = _quality(quality | _TIME_INVALID)
                same_quality = old.quality | _TIME_INVALID == quality
            else:
                same_quality = old.quality == quality
            if same_quality and abs(value - old.value) <= entry.deadband:
                continue
            pv = new(PointValue, (point, value, quality, ts, (old.cov + 1) & 0xFFFF))
            entry.pv = pv
            record(pv)
        return self._recorded(len(points), changes)

    def _recorded(self, updates: int, changes: list[PointValue]) -> int:
        """Count a batch of `updates` and publish its recorded `changes`; returns how many."""
        stats = self.stats
        stats.updates += updates
        stats.suppressed += updates - len(changes)
        if changes:
            self._publish(changes)
        return len(changes)

    def _unknown(self, point: str) -> None:
        """Count an update of a point the bus does not know (e.g. during a config change)."""
        self.stats.unknown += 1
        if self.stats.unknown == 1 or self.stats.unknown % 10_000 == 0:
            log.warning("update of unknown point %r ignored (%d so far)", point, self.stats.unknown)

    def _publish(self, changes: list[PointValue]) -> None:
        self.stats.changes += len(changes)
        for sub in self._subs:
            sub._offer(changes)

    def _current(self, points: Iterable[str]) -> list[PointValue]:
        entries = self._entries
        return [entries[p].pv for p in points if p in entries]

    def _requalify(self, entries: Sequence[_Entry], flags: int, ts: float) -> None:
        """Record a quality change (keeping the value) for each entry."""
        changes = []
        for entry in entries:
            old = entry.pv
            quality = _quality((old.quality & ~_VALIDITY_MASK) | flags)
            if quality == old.quality:
                continue
            entry.pv = PointValue(old.point, old.value, quality, ts, (old.cov + 1) & 0xFFFF)
            changes.append(entry.pv)
        if changes:
            self._publish(changes)

    def owner_lost(self, owner: str, ts: float | None = None) -> None:
        """Mark every point of `owner` not valid at once, stamped with the time of loss."""
        if owner not in self._owners:
            return
        entries = [self._entries[p] for p in self._owners[owner].points]
        self._requalify(entries, _NOT_VALID, now() if ts is None else ts)

    def mark_not_valid(self, points: Iterable[str], ts: float | None = None) -> None:
        """Mark `points` not valid at once, keeping their values (one source of an owner lost)."""
        entries = self._entries
        lost = [entries[p] for p in points if p in entries]
        self._requalify(lost, _NOT_VALID, now() if ts is None else ts)

    def touch(self, points: Iterable[str], monotonic_now: float | None = None) -> None:
        """Note that `points` are confirmed unchanged (a source's keep-alive says so): their
        freshness starts again; nothing is recorded. Unknown points are skipped. A point
        that went suspect only by freshness (nothing else since) gets its value back, as it
        was, published."""
        seen = time.monotonic() if monotonic_now is None else monotonic_now
        entries = self._entries
        restored: list[PointValue] = []
        for point in points:
            entry = entries.get(point)
            if entry is not None:
                entry.seen = seen
                if entry.stale is not None:
                    suspect, before = entry.stale
                    entry.stale = None
                    if entry.pv is suspect:
                        entry.pv = PointValue(
                            before.point,
                            before.value,
                            before.quality,
                            before.ts,
                            (suspect.cov + 1) & 0xFFFF,
                        )
                        restored.append(entry.pv)
        if restored:
            self._publish(restored)

    def check_freshness(self, monotonic_now: float | None = None) -> int:
        """Turn suspect every valid point not updated within its freshness plus grace.

        Returns how many points turned suspect. The runtime calls this periodically.
        """
        t = time.monotonic() if monotonic_now is None else monotonic_now
        stale = [
            e
            for e in self._entries.values()
            if e.stale_after is not None
            and t - e.seen > e.stale_after
            and e.pv.quality & _VALIDITY_MASK < _SUSPECT
        ]
        if stale:
            self.stats.stale += len(stale)
            before = [e.pv for e in stale]
            self._requalify(stale, _SUSPECT, now())
            for entry, pv in zip(stale, before, strict=True):
                entry.stale = (entry.pv, pv)
        return len(stale)

    async def run_watchdog(self, period: float = 1.0) -> None:
        """Check freshness every `period` seconds until cancelled."""
        while True:
            await asyncio.sleep(period)
            self.check_freshness()

    # -- reading ------------------------------------------------------------------

    def get(self, point: str) -> PointValue:
        """The latest value of a point."""
        return self._lookup(point).pv

    def values(self, points: Iterable[str]) -> list[PointValue | None]:
        """The latest values of ``points``, None for a point the bus does not have (many at
        once: the report and read paths)."""
        entries = self._entries
        return [None if (e := entries.get(p)) is None else e.pv for p in points]

    def snapshot(self, points: Iterable[str] | None = None) -> dict[str, PointValue]:
        """The latest value of the given points (default: all)."""
        if points is None:
            return {p: e.pv for p, e in self._entries.items()}
        return {p: self._lookup(p).pv for p in points}

    def subscribe(
        self,
        points: Iterable[str] | None = None,
        *,
        every: bool = False,
        maxlen: int = 100_000,
        name: str = "",
    ) -> Subscription:
        """Receive changes of `points` (default: all), coalesced or every change."""
        wanted = None if points is None else frozenset(points)
        sub = Subscription(self, wanted, every, maxlen, name)
        self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)

    @property
    def subscriptions(self) -> list[Subscription]:
        return list(self._subs)

    # -- messages -----------------------------------------------------------------

    def publish_message(self, message: Message) -> int:
        """Put an operator message on the message stream; returns how many subscribers got it."""
        return self.messages.publish(message)

    def subscribe_messages(self, *, maxlen: int = 1000, name: str = "") -> MessageSubscription:
        """Receive every message published from now on (bounded; overflow is counted)."""
        return self.messages.subscribe(maxlen=maxlen, name=name)

    # -- commands -----------------------------------------------------------------

    async def command(
        self, point: str, value: Value, *, timeout: float | None = None, origin: str = ""
    ) -> CommandResult:
        """Ask the owner of `point` to apply `value`, and return the owner's outcome."""
        self.stats.commands += 1
        try:
            result = await self._route(
                point, value, self.command_timeout if timeout is None else timeout
            )
        except asyncio.CancelledError:  # the requester went away (e.g. its association ended)
            if self.command_observer is not None:
                unknown = "the requester went away before the owner answered: outcome unknown"
                gone = CommandResult(point, value, CommandFailure.TIMEOUT, unknown)
                self.command_observer(gone, origin)
            raise
        if not result.ok:
            self.stats.command_failures += 1
        if self.command_observer is not None:
            self.command_observer(result, origin)
        log.info(
            "command point=%s value=%r origin=%s outcome=%s%s",
            point,
            value,
            origin or "-",
            "ok" if result.ok else result.failure,
            f" detail={result.detail!r}" if result.detail else "",
        )
        return result

    async def _route(self, point: str, value: Value, timeout: float) -> CommandResult:
        entry = self._entries.get(point)
        if entry is None:
            return CommandResult(point, value, CommandFailure.UNKNOWN_POINT, "no such point")
        handler = self._owners[entry.owner].on_command
        if handler is None:
            return CommandResult(
                point, value, CommandFailure.NOT_PERMITTED, f"{entry.owner} takes no commands"
            )
        try:
            async with asyncio.timeout(timeout):
                await handler(entry.defn, value)
        except CommandError as exc:
            return CommandResult(point, value, exc.failure, exc.detail)
        except TimeoutError:
            return CommandResult(
                point, value, CommandFailure.TIMEOUT, f"{entry.owner} did not answer in {timeout}s"
            )
        except Exception as exc:  # an owner's bug must not escape into the requester
            log.exception("command handler of %s failed on %s", entry.owner, point)
            return CommandResult(point, value, CommandFailure.DEVICE_FAILURE, repr(exc))
        return CommandResult(point, value)
