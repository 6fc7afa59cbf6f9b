"""The `sql-source` adapter: reads point values from a database table into the bus.

One connection polls: every `poll_interval` (at once on a PostgreSQL NOTIFY on `listen`),
it reads the rows after the high-water mark minus the overlap, a page of `batch_size` at a
time, and applies the new ones to the bus (`RowMapper`). After each poll the read
transaction ends, so the next one sees what committed since. The mark, the identities of
the overlap window and each point's last row are saved in the gateway's state store
(at most every `state_interval` s, and when the adapter stops), so a restart neither skips
nor re-applies rows, and serves the last values again as soon as the database answers.

The database unreachable, or the poll statement failing: the points are not valid at
once, one log line says why, and the adapter reconnects with back-off; once back, the
points not changed meanwhile are served again with their last row. Commands run the
point's statement in a transaction of their own; a failure is the command's result, with
the database's message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.base import Adapter
from adapters.sql.database import asyncpg_dsn, create_engine, is_postgres
from adapters.sql.source.mark import HighWaterMark
from adapters.sql.source.query import CommandStatement
from adapters.sql.source.rows import Page, RowMapper
from adapters.sql.source.settings import SourcePoint, SqlSourceSettings
from gateway.backoff import Backoff
from gateway.bus import CommandError, CommandFailure, PointBus, Value
from gateway.logs import Throttle
from gateway.mapping import Binding
from gateway.points import PointDef
from gateway.registry import AdapterSettings
from gateway.state import STATE_FILE, StateStore, StateStoreError, check_state_dir

log = logging.getLogger(__name__)

STATE_KEY = "mark"


class SourceDown(Exception):
    """The database cannot be reached, or the connection was lost (the reason)."""


class StatementFailed(Exception):
    """The database refused the poll statement (the reason names it)."""


class SourceError(Exception):
    """The adapter cannot run as configured (its state directory, say)."""


def db_message(exc: BaseException) -> str:
    """The database's own message of an error, on one line."""
    orig = getattr(exc, "orig", None)
    message = str(orig if orig is not None else exc) or type(exc).__name__
    return " ".join(message.split())


class SqlSourceAdapter(Adapter):
    """`sql-source`: polls one table or query for point values; commands as statements."""

    type_name = "sql-source"
    Settings = SqlSourceSettings
    settings: SqlSourceSettings

    def __init__(self, name: str, settings: AdapterSettings, bus: PointBus) -> None:
        super().__init__(name, settings, bus)
        assert isinstance(settings, SqlSourceSettings)
        self.state = "starting"
        self.last_error: str | None = None
        self.counters = {
            "polls": 0,
            "rows": 0,
            "values": 0,
            "duplicates": 0,
            "superseded": 0,
            "unbound": 0,
            "notifications": 0,
            "commands": 0,
            "command_failures": 0,
        }
        self.mark = self._new_mark(settings)
        self.mapper = RowMapper(settings, self._definitions(settings))
        self._bindings: dict[str, SourcePoint] = {}
        self._commands: dict[str, CommandStatement] = {}
        self._index(settings)
        self._engine: AsyncEngine | None = None
        self._store: StateStore | None = None
        self._saved_at = 0.0
        self._dirty = False
        self._restore: set[str] = set()
        self._catch_up: set[str] = set()
        self._checked = False
        self._wake = asyncio.Event()
        self._listener: Any = None
        self._listen_failures = 0
        self._listen_next = 0.0
        self._down_log = Throttle()
        self._problem_log = Throttle(max_kinds=64)
        self._listen_log = Throttle()
        self._attempts = 0
        self._inode: int | None = None

    # -- settings ---------------------------------------------------------------------------

    @staticmethod
    def _new_mark(settings: SqlSourceSettings) -> HighWaterMark:
        unit = 1000.0 if settings.time_unit == "ms" else 1.0
        return HighWaterMark(settings.mark_kind, settings.window, unit)

    def _definitions(self, settings: SqlSourceSettings) -> dict[str, PointDef]:
        return {p: self.bus.definition(p) for p in settings.owned_points() if p in self.bus}

    def _index(self, settings: SqlSourceSettings) -> None:
        self._bindings = {b.point: b for b in settings.bindings}
        self._commands = {}
        for b in settings.bindings:
            statement = settings.command_of(b)
            if statement is not None:
                self._commands[b.point] = statement

    def reconfigure(self, settings: AdapterSettings) -> bool:
        """Points, conversions, commands and timings change in place; another database,
        table, query or column layout restarts the adapter (from that source's own mark)."""
        assert isinstance(settings, SqlSourceSettings)
        old = self.settings
        if (
            settings.database != old.database
            or settings.source_identity() != old.source_identity()
            or (settings.overlap, settings.time_unit, settings.listen, settings.state_dir)
            != (old.overlap, old.time_unit, old.listen, old.state_dir)
        ):
            return False
        mapper = RowMapper(settings, self._definitions(settings))
        kept = set(mapper.points())
        mapper.last = {p: row for p, row in self.mapper.last.items() if p in kept}
        added = kept - set(self.mapper.points())
        gone = set(self.mapper.points()) - kept
        self.settings = settings
        self.mapper = mapper
        self._index(settings)
        self._checked = False  # check the new statements at the next poll
        if gone:
            self.bus.mark_not_valid(gone)
        if added:
            self._catch_up |= added  # their rows below the mark: read them once
            self._wake.set()
        return True

    # -- the poll loop ----------------------------------------------------------------------

    async def run(self) -> None:
        """Poll until cancelled; reconnect with back-off after a failure."""
        self._open_state()
        failures = 0
        try:
            while True:
                try:
                    await self._session()
                except SourceDown as exc:
                    if self.state == "up":
                        failures = 0
                    self._set_down(str(exc))
                except StatementFailed as exc:
                    self._set_down(str(exc), logging.ERROR)
                except SourceError:
                    raise
                except Exception as exc:  # a bug: log it, keep going after a back-off
                    log.exception("sql-source %s: internal error", self.name)
                    self._set_down(f"internal error: {exc!r}")
                failures += 1
                s = self.settings
                await asyncio.sleep(Backoff(s.backoff_initial, s.backoff_max).delay(failures))
        finally:
            await self._close_listener()
            self._save(force=True)
            if self._store is not None:
                self._store.close()
                self._store = None
            engine, self._engine = self._engine, None
            if engine is not None:
                await engine.dispose()

    def _engine_for(self) -> AsyncEngine:
        if self._engine is None:
            self._engine = create_engine(self.settings.url())
        return self._engine

    def _check_file(self) -> None:
        """An SQLite file must exist (a source never creates one) and be the one connected
        to: a file moved away or replaced ends the connection."""
        url = self.settings.url()
        if is_postgres(url) or not url.database:
            return
        try:
            inode = os.stat(url.database).st_ino
        except OSError:
            raise SourceDown(f"database file {url.database} does not exist") from None
        if self._inode is None:
            self._inode = inode
        elif inode != self._inode:
            self._inode = None
            raise SourceDown(f"database file {url.database} was replaced")

    async def _connect(self) -> AsyncConnection:
        self._inode = None
        self._check_file()
        engine = self._engine_for()
        try:
            async with asyncio.timeout(self.settings.connect_timeout):
                return await engine.connect()
        except TimeoutError:
            raise SourceDown(f"no connection within {self.settings.connect_timeout:g} s") from None
        except (OSError, SQLAlchemyError) as exc:
            raise SourceDown(f"cannot connect: {db_message(exc)}") from None
        except Exception as exc:  # driver errors outside SQLAlchemy's (asyncpg's own)
            raise SourceDown(f"cannot connect: {db_message(exc)}") from None

    async def _session(self) -> None:
        """One connection: check the statements, then poll until something fails."""
        conn = await self._connect()
        try:
            while True:
                if not self._checked:
                    await self._check(conn)
                    self._checked = True
                await self._poll(conn)
                await self._ensure_listener()
                await self._idle()
        finally:
            with contextlib.suppress(Exception):
                await conn.close()

    async def _execute_poll(
        self, conn: AsyncConnection, clause: Any, params: dict[str, Any]
    ) -> Any:
        try:
            result = await conn.execute(clause, params)
            return result.all()
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise SourceDown(f"connection lost: {db_message(exc)}") from None
            with contextlib.suppress(Exception):
                await conn.rollback()
            message = db_message(exc)
            raise StatementFailed(
                f"{self.settings.blame(message)}: the poll statement fails: {message} "
                f"(statement: {self.settings.statements.sql})"
            ) from None
        except (OSError, SQLAlchemyError) as exc:
            raise SourceDown(f"connection lost: {db_message(exc)}") from None

    async def _check(self, conn: AsyncConnection) -> None:
        """Read no row with the poll statement (the database checks its names), and have
        the database prepare each command statement: a refused one gets an ERROR line."""
        s = self.settings
        await self._execute_poll(conn, s.statements.first, {"limit": 0})
        await conn.rollback()
        seen: set[str] = set()
        for point, statement in self._commands.items():
            if statement.sql in seen:
                continue
            seen.add(statement.sql)
            problem = await self._prepare(conn, statement)
            if problem is not None:
                log.error(
                    "sql-source %s: the command statement of %s is refused by the database: "
                    "%s (statement: %s)",
                    self.name,
                    point,
                    problem,
                    statement.short,
                )

    async def _prepare(self, conn: AsyncConnection, statement: CommandStatement) -> str | None:
        """The database's objection to a command statement, None when it has none (the
        statement is prepared or explained, never run)."""
        compiled = statement.clause.compile(dialect=conn.dialect)
        try:
            if conn.dialect.name == "postgresql":
                raw = await conn.get_raw_connection()
                await raw.driver_connection.prepare(str(compiled))  # type: ignore[union-attr]
            else:
                nones = tuple(None for _ in compiled.positiontup or ())
                await conn.exec_driver_sql(f"EXPLAIN {compiled}", nones)
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise SourceDown(f"connection lost: {db_message(exc)}") from None
            return db_message(exc)
        except (OSError, ConnectionError) as exc:
            raise SourceDown(f"connection lost: {db_message(exc)}") from None
        except Exception as exc:  # asyncpg's own errors on the raw connection
            if type(exc).__module__.startswith("asyncpg") and "Connection" in type(exc).__name__:
                raise SourceDown(f"connection lost: {db_message(exc)}") from None
            return db_message(exc)
        finally:
            with contextlib.suppress(Exception):
                await conn.rollback()
        return None

    async def _poll(self, conn: AsyncConnection) -> None:
        """Read and apply every page after the mark; then end the read transaction."""
        s = self.settings
        statements = s.statements
        mapper = self.mapper
        changed: set[str] = set()
        self._check_file()
        if self._catch_up:
            await self._read_catch_up(conn)
        since = self.mark.since()
        limit = s.batch_size
        while True:
            if since is None:
                rows = await self._execute_poll(conn, statements.first, {"limit": limit})
            else:
                rows = await self._execute_poll(
                    conn, statements.after, {"since": since, "limit": limit}
                )
            page = mapper.take(rows, limit, self.mark)
            if page.bigger:
                limit *= 2
                continue
            self._publish(page)
            changed.update(page.points)
            changed.update(page.not_valid)
            if not page.more:
                break
            since, limit = page.since, s.batch_size
        await conn.rollback()
        self.mark.prune()
        self.counters["polls"] += 1
        if self.state != "up":
            self._set_up(changed)
        self._save()

    async def _read_catch_up(self, conn: AsyncConnection) -> None:
        """Read the rows of newly bound points from the start up to the mark (once)."""
        points, self._catch_up = self._catch_up, set()
        definitions = {p: d for p, d in self._definitions(self.settings).items() if p in points}
        mapper = RowMapper(self.settings, definitions)
        mark = self._new_mark(self.settings)
        upto = self.mark.high
        if upto is None:
            return  # the poll reads from the start anyway
        statements = self.settings.statements
        since: object = None
        limit = self.settings.batch_size
        while True:
            if since is None:
                rows = await self._execute_poll(conn, statements.first, {"limit": limit})
            else:
                rows = await self._execute_poll(
                    conn, statements.after, {"since": since, "limit": limit}
                )
            page = mapper.take(rows, limit, mark, upto=upto)
            if page.bigger:
                limit *= 2
                continue
            self._publish(page)
            if not page.more:
                break
            since, limit = page.since, self.settings.batch_size
        await conn.rollback()
        self.mapper.last.update(mapper.last)

    def _publish(self, page: Page) -> None:
        counters = self.counters
        counters["rows"] += page.read
        counters["duplicates"] += page.duplicates
        counters["superseded"] += page.superseded
        counters["unbound"] += page.unbound
        if page.points:
            counters["values"] += len(page.points)
            self.bus.update_rows(page.points, page.values, page.qualities, page.times)
            self._dirty = True
        if page.not_valid:
            self.bus.mark_not_valid(page.not_valid)
        if page.read:
            self._dirty = True
        for problem in page.problems:
            self._log_problem(problem)

    async def _idle(self) -> None:
        """Wait for the next poll: `poll_interval`, or a notification."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.settings.poll_interval):
                await self._wake.wait()
        self._wake.clear()

    def wake(self) -> None:
        """Poll now instead of at the end of the poll interval."""
        self._wake.set()

    # -- LISTEN/NOTIFY ----------------------------------------------------------------------

    async def _ensure_listener(self) -> None:
        """A LISTEN connection where configured; without one the adapter just polls (and
        tries again after a back-off)."""
        channel = self.settings.listen
        if channel is None or self._listener is not None:
            return
        if time.monotonic() < self._listen_next:
            return
        import asyncpg  # type: ignore[import-untyped]  # only PostgreSQL sources listen

        s = self.settings
        try:
            async with asyncio.timeout(s.connect_timeout):
                listener = await asyncpg.connect(asyncpg_dsn(s.url()))
                await listener.add_listener(channel, self._notified)
        except Exception as exc:
            self._listen_failures += 1
            delay = Backoff(s.backoff_initial, s.backoff_max).delay(self._listen_failures)
            self._listen_next = time.monotonic() + delay
            if self.state == "up" and self._listen_log.failure(
                db_message(exc), self._listen_failures
            ):
                log.warning(
                    "sql-source %s: cannot LISTEN on %s (%s); polling every %g s",
                    self.name,
                    channel,
                    db_message(exc),
                    s.poll_interval,
                )
            return
        listener.add_termination_listener(self._listener_lost)
        self._listener = listener
        self._listen_failures = 0
        self._listen_log.reset()
        log.info("sql-source %s: listening on %s", self.name, channel)
        self._wake.set()  # poll once now: a notification may have come before LISTEN

    def _notified(self, *args: object) -> None:
        self.counters["notifications"] += 1
        self._wake.set()

    def _listener_lost(self, *args: object) -> None:
        self._listener = None

    async def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2.0):
                    await listener.close()

    # -- state ------------------------------------------------------------------------------

    def _open_state(self) -> None:
        state_dir = self.settings.state_dir
        if state_dir is None:
            log.warning(
                "sql-source %s: no state_dir: the mark is kept in memory only and a restart "
                "reads the table from the start",
                self.name,
            )
            return
        try:
            check_state_dir(state_dir)
            self._store = StateStore(state_dir)
            saved = self._store.get(self._namespace, STATE_KEY)
        except StateStoreError as exc:
            raise SourceError(f"{self.name}: state_dir: {exc}") from None
        if saved is None:
            return
        if not isinstance(saved, dict) or saved.get("source") != self.settings.source_identity():
            log.info(
                "sql-source %s: the saved mark in %s belongs to another source; reading from "
                "the start",
                self.name,
                state_dir / STATE_FILE,
            )
            return
        try:
            self.mark.from_state(saved["mark"])
            self.mapper.restore_state(saved.get("last") or {}, self.mapper.points())
        except (KeyError, TypeError, ValueError) as exc:
            log.error(
                "sql-source %s: the saved mark in %s is not understood (%s); reading from "
                "the start",
                self.name,
                state_dir / STATE_FILE,
                exc,
            )
            self.mark = self._new_mark(self.settings)
            self.mapper.last.clear()
            return
        log.info(
            "sql-source %s: mark %r restored from %s", self.name, self.mark.high_raw,
            state_dir / STATE_FILE,
        )  # fmt: skip

    @property
    def _namespace(self) -> str:
        return f"sql-source/{self.name}"

    def _save(self, force: bool = False) -> None:
        """Save the mark when it moved (at most every `state_interval` unless forced)."""
        if self._store is None or not self._dirty:
            return
        t = time.monotonic()
        if not force and t - self._saved_at < self.settings.state_interval:
            return
        value = {
            "source": self.settings.source_identity(),
            "mark": self.mark.to_state(),
            "last": self.mapper.last_state(),
        }
        try:
            self._store.put(self._namespace, STATE_KEY, value)
        except (StateStoreError, ValueError) as exc:
            self._log_problem(f"the mark could not be saved: {exc}")
            return
        self._saved_at = t
        self._dirty = False

    # -- up and down ------------------------------------------------------------------------

    def _set_up(self, changed: set[str]) -> None:
        """The database answers again: serve the last row of every point not changed by
        this poll (they were marked not valid)."""
        was = self.state
        self.state = "up"
        self.last_error = None
        rest = self.mapper.restore_rows(p for p in self.mapper.points() if p not in changed)
        if rest.points:
            self.bus.update_rows(rest.points, rest.values, rest.qualities, rest.times)
        if was == "down":
            log.info(
                "sql-source %s: the database answers again (after %d attempts)",
                self.name,
                self._attempts,
            )
        self._down_log.reset()
        self._attempts = 0

    def _set_down(self, reason: str, level: int = logging.WARNING) -> None:
        """Points not valid at once; one WARNING line per outage (repeats at DEBUG)."""
        self.last_error = reason
        self._attempts += 1
        if self.state == "down":
            if self._down_log.failure(reason, self._attempts):
                log.debug("sql-source %s is still down: %s (attempt %d)", self.name, reason,
                          self._attempts)  # fmt: skip
            return
        self.state = "down"
        self._down_log.failure(reason, 1)
        self.bus.mark_not_valid(self.mapper.points())
        log.log(
            level,
            "sql-source %s: %s; its %d points are not valid; retrying",
            self.name,
            reason,
            len(self.mapper.points()),
        )

    def _log_problem(self, detail: str) -> None:
        seen = self._problem_log.count(detail.split(":")[0])
        if seen:
            log.warning(
                "sql-source %s: %s%s", self.name, detail, f" ({seen} times)" if seen > 1 else ""
            )

    # -- commands ---------------------------------------------------------------------------

    async def on_command(self, point: PointDef, value: Value) -> None:
        """Run the point's statement with its raw value; the database's outcome is the
        command's."""
        binding = self._bindings.get(point.id)
        statement = self._commands.get(point.id)
        if binding is None or statement is None:
            raise CommandError(CommandFailure.NOT_PERMITTED, f"{point.id} is not writable")
        self.counters["commands"] += 1
        try:
            await self._command(point, binding, statement, value)
        except CommandError:
            self.counters["command_failures"] += 1
            raise

    async def _command(
        self, point: PointDef, binding: SourcePoint, statement: CommandStatement, value: Value
    ) -> None:
        convert = Binding(
            point, scale=binding.scale, offset=binding.offset,
            states=binding.state_table if binding.states is not None else None,
        )  # fmt: skip
        raw = convert.to_raw(value)
        params = statement.bind(point.id, binding.key_value, raw, datetime.now(UTC))
        engine = self._engine_for()
        what = f"the command statement of {point.id}"
        try:
            async with asyncio.timeout(self.settings.command_timeout):
                async with engine.begin() as conn:
                    result = await conn.execute(statement.clause, params)
                    changed = result.rowcount
        except TimeoutError:
            raise CommandError(
                CommandFailure.TIMEOUT,
                f"{what} took more than {self.settings.command_timeout:g} s",
            ) from None
        except IntegrityError as exc:
            raise CommandError(CommandFailure.INVALID_VALUE, db_message(exc)) from None
        except DBAPIError as exc:
            raise CommandError(CommandFailure.DEVICE_FAILURE, db_message(exc)) from None
        except (OSError, SQLAlchemyError) as exc:
            raise CommandError(
                CommandFailure.DEVICE_FAILURE, f"database unreachable: {db_message(exc)}"
            ) from None
        except Exception as exc:  # a driver error outside SQLAlchemy's
            raise CommandError(CommandFailure.DEVICE_FAILURE, db_message(exc)) from None
        if changed == 0:
            raise CommandError(
                CommandFailure.DEVICE_FAILURE, f"{what} changed no row ({statement.short})"
            )

    # -- status -----------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        s = self.settings
        return {
            "state": self.state,
            "database": s.url().render_as_string(hide_password=True),
            "last_error": self.last_error,
            "mark": self.mark.high_raw if self.mark.high_raw is None else str(self.mark.high_raw),
            "window": len(self.mark.seen),
            "listening": self._listener is not None,
            "points": len(self.mapper.points()),
            **self.counters,
        }
