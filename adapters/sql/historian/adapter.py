"""The `sql-historian` adapter: stores every change of chosen bus points in a database table.

Two tasks around the journal (`journal.py`):

- intake: a bus subscription in `every` mode over the selected points; each drained batch
  goes through the per-point intervals (`sampling.py`) and is appended to the journal at once.
  It never waits for the database, so the bus is never held up; the subscription's bound
  (`queue_size`) is only reached if this task cannot keep up at all, and what it drops is
  counted.
- writer: connects (creating or migrating the tables), reads the journal in order and writes
  batches of up to `batch_size` rows, each in one transaction with the journal position.
  When the database is down, slow (a write longer than `write_timeout`) or refuses a write,
  the connection is dropped and tried again with back-off; the rows wait in the journal.
  Retention runs on the same connection every `retention.period` seconds.

Losses are counted exactly (`lost` in the status): rows dropped from a full journal and
changes dropped from a full bus queue. The first loss of an outage is logged at once, later
ones at the 2nd, 4th, 8th... time; the total of an outage is logged when the database is
back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime
from typing import Any

from adapters.base import Adapter
from adapters.sql.historian.journal import Journal
from adapters.sql.historian.query import Source, parse_time, read_rows
from adapters.sql.historian.sampling import Sampler
from adapters.sql.historian.settings import HistorianSettings
from adapters.sql.historian.store import DATABASE_ERRORS, Store, describe, open_store, safe_url
from gateway.backoff import Backoff
from gateway.bus import PointBus, Subscription
from gateway.logs import Throttle
from gateway.points import PointValue
from gateway.registry import AdapterSettings

log = logging.getLogger(__name__)


class HistorianAdapter(Adapter):
    """Stores bus changes in SQLite or PostgreSQL through a journal (see the module doc)."""

    type_name = "sql-historian"
    Settings = HistorianSettings
    settings: HistorianSettings

    def __init__(self, name: str, settings: AdapterSettings, bus: PointBus) -> None:
        super().__init__(name, settings, bus)
        s = self.settings
        self.url = s.url()
        self.journal = Journal(
            s.journal_path(name), s.journal_max_bytes, s.journal_segment_bytes, s.journal_sync
        )
        opened = self.journal.opened
        if opened.cut_bytes:
            log.warning(
                "%s: journal %s: cut %d bytes of a record torn by a crash (%s)",
                name,
                self.journal.directory,
                opened.cut_bytes,
                ", ".join(opened.cut_files),
            )
        if opened.rows:
            log.info("%s: %d rows in the journal from before, to be written", name, opened.rows)
        self.rows_written = 0
        self.writes = 0
        self.connects = 0
        self.failures = 0
        self.retention_deleted = 0
        self._selected: dict[str, float] = {}
        self._everything = False  # every bus point selected: subscribed to all changes
        self._sampler = Sampler({})
        self._sub: Subscription | None = None
        self._overflow_before = 0  # overflow of the subscriptions replaced so far
        self._wake = asyncio.Event()
        self._store: Store | None = None
        self._connect_errors = Throttle()
        self._loss_log = Throttle()
        self._lost_at_outage = 0  # `lost` when the current outage began
        self._lost_seen = 0  # `lost` when last looked at
        self._outage = False
        self._next_retention = 0.0
        self._resolve()

    # -- points ----------------------------------------------------------------------------------

    def _resolve(self) -> bool:
        """Match the configured points against the bus; re-subscribe if the set changed.

        When every point of the bus is selected the subscription takes all changes: the bus
        then hands over its batches as they are, not filtered point by point (a fifth of its
        update rate); a point registered since is filtered out here (`_take`)."""
        points = self.bus.snapshot()
        selected = self.settings.select(points)
        everything = len(selected) == len(points)
        same = selected == self._selected and everything == self._everything
        if same and self._sub is not None:
            return False
        self._selected = selected
        self._everything = everything
        self._sampler.set_intervals(selected)
        old = self._sub
        # Nothing reaches the bus between these lines (one thread): no change is missed.
        pending = old.drain() if old is not None else []
        self._sub = self.bus.subscribe(
            None if everything else selected,
            every=True,
            maxlen=self.settings.queue_size,
            name=f"sql-historian:{self.name}",
        )
        if old is not None:
            self._overflow_before += old.overflow
            old.close()
            self._take(pending)
        return True

    @property
    def overflow(self) -> int:
        """Changes the bus dropped because the historian's queue was full."""
        return self._overflow_before + (self._sub.overflow if self._sub is not None else 0)

    @property
    def lost(self) -> int:
        """Changes lost since start: the bus queue's overflow and the journal's drops."""
        return self.overflow + self.journal.dropped

    # -- lifecycle -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Take changes into the journal and write them to the database until cancelled."""
        workers = [
            asyncio.create_task(self._intake_forever(), name=f"{self.name}:intake"),
            asyncio.create_task(self._write_forever(), name=f"{self.name}:write"),
        ]
        try:
            done, _ = await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            await self._close_store()

    async def stop(self) -> None:
        """Keep what is still queued in the journal, and close it."""
        if self._sub is not None:
            self._take(self._sub.drain())
            self._append(self._sampler.due(float("inf")))
            self._overflow_before += self._sub.overflow
            self._sub.close()
            self._sub = None
        await self._close_store()
        self.journal.close()

    # -- intake ----------------------------------------------------------------------------------

    async def _intake_forever(self) -> None:
        loop = asyncio.get_running_loop()
        next_refresh = loop.time() + self.settings.refresh_period
        while True:
            sub = self._sub
            assert sub is not None
            timeout = min(1.0, max(0.0, next_refresh - loop.time()))
            due = self._sampler.next_due()
            if due is not None:
                timeout = min(timeout, max(0.0, due - time.monotonic()))
            self._take(await sub.wait(timeout))  # no reference kept while waiting (below)
            if self._sampler.held:
                self._append(self._sampler.due(time.monotonic()))
            if loop.time() >= next_refresh:
                next_refresh = loop.time() + self.settings.refresh_period
                self._resolve()

    def _take(self, changes: list[PointValue]) -> None:
        """Append the changes that are due to the journal, and wake the writer."""
        if not changes:
            return
        if self._everything and len(self.bus) != len(self._selected):
            selected = self._selected  # a point registered since the last refresh
            changes = [pv for pv in changes if pv.point in selected]
        if self._sampler.active:
            changes = self._sampler.admit(changes, time.monotonic())
        self._append(changes)

    def _append(self, changes: list[PointValue]) -> None:
        if not changes:
            return
        # A PointValue is (point, value, quality, ts, cov): a journal Row field for field.
        self.journal.append(changes)  # type: ignore[arg-type]
        self._wake.set()
        if self.lost > self._lost_seen:
            self._report_loss()

    def _report_loss(self) -> None:
        """Rows lost: a line at the 1st, 2nd, 4th... time in an outage, with the exact count."""
        if not self._outage:  # losses while the database is merely slow: an outage too
            self._outage = True
            self._lost_at_outage = self._lost_seen
        lost = self._lost_seen = self.lost
        during = lost - self._lost_at_outage
        if self._loss_log.count("loss"):
            log.warning(
                "%s: %d rows lost: the journal is full (%d bytes, %d rows waiting) or the bus "
                "queue overflowed (%d lost since start)",
                self.name,
                during,
                self.journal.size,
                self.journal.pending,
                lost,
            )

    # -- writer ----------------------------------------------------------------------------------

    async def _write_forever(self) -> None:
        s = self.settings
        backoff = Backoff(initial=s.backoff_initial, maximum=s.backoff_max)
        failures = 0
        while True:
            try:
                await self._connect()
                await self._write_until_error()
            except DATABASE_ERRORS as exc:
                await self._close_store()
                self.failures += 1
                failures += 1
                delay = backoff.delay(failures)
                self._on_failure(exc, failures, delay)
                await asyncio.sleep(delay)
            else:  # pragma: no cover - _write_until_error only returns by raising
                failures = 0

    async def _connect(self) -> None:
        s = self.settings
        async with asyncio.timeout(s.connect_timeout):
            store = await open_store(self.url, s.table, s.connect_timeout, s.write_timeout)
        self._store = store
        try:
            async with asyncio.timeout(s.write_timeout):
                sent = await store.sent(self.journal.id)
        except BaseException:
            await self._close_store()
            raise
        self.journal.mark_sent(sent)
        self.journal.rewind()  # read from the first row the database does not have
        self.connects += 1
        if self._connect_errors.last_error or self._outage:
            log.info(
                "%s: connected to %s; %d rows waiting in the journal",
                self.name,
                safe_url(self.url),
                self.journal.pending,
            )
        self._connect_errors.reset()

    async def _write_until_error(self) -> None:
        """Write batches in journal order; the next batch is read (decoded) from the journal
        while the database takes the current one. Returns only by raising."""
        s = self.settings
        store = self._store
        assert store is not None
        journal = self.journal
        batch = None
        while True:
            await self._retention_if_due(store)
            if batch is None:
                batch = journal.read(s.batch_size)
            if batch is None:
                self._end_outage()
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._retention_wait()):
                        await self._wake.wait()
                continue
            columns, last, count = batch.columns, batch.last, batch.length
            write = asyncio.ensure_future(store.write(columns, journal.id, last))
            try:
                async with asyncio.timeout(s.write_timeout):
                    await asyncio.sleep(0)  # the write begun (SQLite: in its own thread)
                    batch = journal.read(s.batch_size)  # meanwhile (a failure rewinds)
                    await write
            finally:
                if not write.done():
                    write.cancel()
                    await asyncio.gather(write, return_exceptions=True)
            journal.mark_sent(last)
            self.rows_written += count
            self.writes += 1
            del columns  # not held while waiting: live rows make the GC collect more often

    def _on_failure(self, exc: BaseException, failures: int, delay: float) -> None:
        if not self._outage:
            self._outage = True
            self._lost_at_outage = self.lost
        error = describe(exc)
        if self._connect_errors.failure(error, failures):
            log.warning(
                "%s: database %s: %s (attempt %d); %d rows kept in the journal; retrying in %.1fs",
                self.name,
                safe_url(self.url),
                error,
                failures,
                self.journal.pending,
                delay,
            )

    def _end_outage(self) -> None:
        """The journal has caught up: one line with what the outage cost, if anything."""
        if not self._outage:
            return
        self._outage = False
        during = self.lost - self._lost_at_outage
        self._lost_at_outage = self.lost
        self._loss_log = Throttle()
        if during:
            log.warning(
                "%s: caught up with the database; %d rows were lost during the outage",
                self.name,
                during,
            )
        else:
            log.info("%s: caught up with the database; no rows lost", self.name)

    async def _close_store(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            with contextlib.suppress(Exception):
                await store.close()

    # -- retention -------------------------------------------------------------------------------

    def _retention_wait(self) -> float | None:
        if self.settings.retention is None:
            return None
        return max(0.0, self._next_retention - time.monotonic())

    async def _retention_if_due(self, store: Store) -> None:
        retention = self.settings.retention
        if retention is None or time.monotonic() < self._next_retention:
            return
        self._next_retention = time.monotonic() + retention.period
        cutoff = time.time() - retention.days * 86400.0
        thin = retention.downsample_interval if retention.mode == "downsample" else None
        deleted = await store.retain(cutoff, thin)
        self.retention_deleted += deleted
        if deleted:
            log.info(
                "%s: retention %s: %d rows older than %g days",
                self.name,
                "downsampled away" if thin else "deleted",
                deleted,
                retention.days,
            )

    # -- operators -------------------------------------------------------------------------------

    def reconfigure(self, settings: AdapterSettings) -> bool:
        """Points, intervals, rates and retention change in place; another database, table or
        journal restarts the adapter."""
        if not isinstance(settings, HistorianSettings) or not self.settings.same_storage(settings):
            return False
        self.settings = settings
        self._selected = {}
        self._resolve()
        self._next_retention = 0.0
        self._wake.set()
        return True

    def status(self) -> dict[str, Any]:
        """Connection, rows written, the journal's fill and the losses."""
        journal = self.journal
        out: dict[str, Any] = {
            "connected": self._store is not None,
            "database": safe_url(self.url),
            "points": len(self._selected),
            "rows_written": self.rows_written,
            "writes": self.writes,
            "connects": self.connects,
            "failures": self.failures,
            "journal_rows": journal.pending,
            "journal_bytes": journal.size,
            "journal_dropped": journal.dropped,
            "queue_overflow": self.overflow,
            "lost": self.lost,
            "held": self._sampler.held,
            "retention_deleted": self.retention_deleted,
        }
        if self._connect_errors.last_error:
            out["last_error"] = self._connect_errors.last_error
        return out

    async def read_history(
        self, point: str, start: str, end: str, limit: int
    ) -> tuple[datetime, datetime, list[tuple[datetime, float, int, int]]]:
        """`point`'s stored rows (time, value, quality octet, COV), oldest first, from
        `start` to `end` (ISO 8601 or relative: `-1h`, `now`): the newest `limit` of them,
        by the `iccp-gateway history` query. ValueError for bad times, ConnectionError (saying
        what) when the database cannot be read."""
        low, high = parse_time(start), parse_time(end)
        if high < low:
            raise ValueError(f"'to' ({high.isoformat()}) is before 'from' ({low.isoformat()})")
        try:
            source = Source(self.url, self.settings.table)
            rows = await read_rows(source, [point], low, high, limit, newest=True)
        except DATABASE_ERRORS as exc:
            raise ConnectionError(f"{safe_url(self.url)}: {describe(exc)}") from None
        return low, high, [(when, value, quality, cov) for _, when, value, quality, cov in rows]

    async def flush(self, timeout: float = 30.0) -> None:
        """Wait until every change so far is in the database (for tests and benchmarks);
        TimeoutError after `timeout` seconds."""
        async with asyncio.timeout(timeout):
            while True:
                sub = self._sub
                if sub is not None and len(sub):
                    self._take(sub.drain())
                if not self.journal.pending and self._store is not None:
                    return
                self._wake.set()
                await asyncio.sleep(0.002)
