"""The historian's database side: connect, create or migrate the tables, write batches of
rows, apply retention.

The tables are created and migrated through SQLAlchemy (`schema.migrate`); rows go through the
driver's own connection, the fast path of each database: PostgreSQL's COPY
(`asyncpg.copy_records_to_table`) and SQLite's `executemany` on aiosqlite (SQLAlchemy's
executemany is about half as fast). Each batch is written in one transaction together with
the journal's number of its last row, so a batch is in the database entirely or not at all,
and `sent()` tells a restarted historian where to go on.
"""

from __future__ import annotations

import abc
import sqlite3
from typing import Any

import aiosqlite
import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from adapters.sql.database import asyncpg_dsn, create_engine, is_postgres
from adapters.sql.historian.journal import Columns
from adapters.sql.historian.schema import SchemaError, Tables, build_tables, migrate

DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    sqlite3.Error,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,  # e.g. a COPY cut short by the server going away
    SQLAlchemyError,
    SchemaError,
)
"""What a database that is down, slow, full or refusing us raises: the historian keeps
its rows in the journal and tries again."""

_COLUMNS = ("point", "value", "quality", "time", "cov")  # the order of a journal Row


def describe(exc: BaseException) -> str:
    """A one-line description of a database error (no traceback, no password)."""
    if isinstance(exc, SQLAlchemyError) and getattr(exc, "orig", None) is not None:
        exc = exc.orig  # type: ignore[attr-defined]
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def safe_url(url: URL) -> str:
    """`url` for a log line: the password masked."""
    return url.render_as_string(hide_password=True)


class Store(abc.ABC):
    """One open connection to the historian's database."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables

    @abc.abstractmethod
    async def sent(self, journal: str) -> int:
        """The number of the last row of journal `journal` committed (0: none)."""

    @abc.abstractmethod
    async def write(self, rows: Columns, journal: str, last: int) -> None:
        """Insert `rows` and record `last` as journal `journal`'s last row, in one transaction."""

    @abc.abstractmethod
    async def retain(self, cutoff: float, downsample: float | None) -> int:
        """Delete rows older than `cutoff` (POSIX s), or with `downsample` keep the first row
        of each point in each such interval; returns how many rows went."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Close the connection (quietly: it may be broken already)."""


async def open_store(url: URL, table: str, timeout: float, busy: float) -> Store:
    """Connect to `url` (in `timeout` s), create or migrate the tables of `table`, and return
    the open store. An SQLite database locked by another writer is waited for `busy` s.

    Raises one of DATABASE_ERRORS when the database cannot be reached or used."""
    postgres = is_postgres(url)
    tables = build_tables(table, postgres)
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(migrate, tables)
    finally:
        await engine.dispose()
    if postgres:
        conn = await asyncpg.connect(asyncpg_dsn(url), timeout=timeout)
        try:
            await conn.set_type_codec(
                "timestamptz",
                schema="pg_catalog",
                encoder=_pg_time,
                decoder=_posix_time,
                format="tuple",
            )
        except BaseException:
            await conn.close()
            raise
        return PostgresStore(tables, conn)
    db = await aiosqlite.connect(url.database or "", timeout=busy)
    try:
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
    except BaseException:
        await db.close()
        raise
    return SqliteStore(tables, db)


_PG_EPOCH = 946_684_800.0  # 2000-01-01T00:00:00Z, PostgreSQL's time zero, in POSIX seconds
_PG_EPOCH_US = 946_684_800_000_000


def _pg_time(seconds: float) -> tuple[int]:
    """A POSIX time as PostgreSQL's timestamptz (microseconds since 2000), for COPY: far
    cheaper than a datetime per row. Rounded to the microsecond as `round(seconds, 6)` is:
    `seconds * 1e6` is within 0.13 of the exact product (until 2041), so a product farther
    than that from a half is rounded at once; the rest exactly, in integers (half to even)."""
    product = seconds * 1_000_000
    whole = round(product)
    if -0.37 < product - whole < 0.37:
        return (whole - _PG_EPOCH_US,)
    num, den = seconds.as_integer_ratio()
    whole, rest = divmod(num * 1_000_000, den)
    if 2 * rest > den or (2 * rest == den and whole & 1):
        whole += 1
    return (whole - _PG_EPOCH_US,)


def _posix_time(value: tuple[int]) -> float:
    return value[0] / 1_000_000 + _PG_EPOCH


def _quoted(name: str) -> str:
    return f'"{name}"'  # names are checked identifiers (schema.check_table_name)


class PostgresStore(Store):
    """PostgreSQL through a raw asyncpg connection: COPY into the history table."""

    def __init__(self, tables: Tables, conn: Any) -> None:
        super().__init__(tables)
        self._conn = conn
        history, sent = _quoted(tables.history.name), _quoted(tables.sent.name)
        self._history = tables.history.name
        self._upsert = (
            f"INSERT INTO {sent} (journal, seq) VALUES ($1, $2) "
            "ON CONFLICT (journal) DO UPDATE SET seq = EXCLUDED.seq"
        )
        self._select = f"SELECT seq FROM {sent} WHERE journal = $1"
        self._drop = f"DELETE FROM {history} WHERE time < $1"
        self._thin = (
            f"DELETE FROM {history} WHERE ctid IN (SELECT ctid FROM (SELECT ctid, row_number() "
            "OVER (PARTITION BY point, floor(extract(epoch FROM time) / $2) ORDER BY time) AS n "
            f"FROM {history} WHERE time < $1) AS old WHERE n > 1)"
        )

    async def sent(self, journal: str) -> int:
        seq = await self._conn.fetchval(self._select, journal)
        return int(seq or 0)

    async def write(self, rows: Columns, journal: str, last: int) -> None:
        conn = self._conn  # records in _COLUMNS order; the time goes through _pg_time
        async with conn.transaction():
            await conn.copy_records_to_table(
                self._history, records=rows.records(), columns=_COLUMNS
            )
            await conn.execute(self._upsert, journal, last)

    async def retain(self, cutoff: float, downsample: float | None) -> int:
        if downsample is None:
            status = await self._conn.execute(self._drop, cutoff)
        else:
            status = await self._conn.execute(self._thin, cutoff, downsample)
        return int(status.split()[-1]) if status else 0

    async def close(self) -> None:
        try:
            await self._conn.close(timeout=2.0)
        except Exception:
            self._conn.terminate()


class SqliteStore(Store):
    """SQLite through aiosqlite: executemany into the history table."""

    def __init__(self, tables: Tables, db: aiosqlite.Connection) -> None:
        super().__init__(tables)
        self._db = db
        history, sent = _quoted(tables.history.name), _quoted(tables.sent.name)
        columns = ", ".join(_COLUMNS)
        self._insert = f"INSERT INTO {history} ({columns}) VALUES (?, ?, ?, ?, ?)"
        self._upsert = (
            f"INSERT INTO {sent} (journal, seq) VALUES (?, ?) "
            "ON CONFLICT (journal) DO UPDATE SET seq = excluded.seq"
        )
        self._select = f"SELECT seq FROM {sent} WHERE journal = ?"
        self._drop = f"DELETE FROM {history} WHERE time < ?"
        self._thin = (
            f"DELETE FROM {history} WHERE rowid IN (SELECT id FROM (SELECT rowid AS id, "
            "row_number() OVER (PARTITION BY point, CAST(time / ? AS INTEGER) "
            f"ORDER BY time, rowid) AS n FROM {history} WHERE time < ?) WHERE n > 1)"
        )

    async def sent(self, journal: str) -> int:
        async with self._db.execute(self._select, (journal,)) as cursor:
            found = await cursor.fetchone()
        return int(found[0]) if found else 0

    async def write(self, rows: Columns, journal: str, last: int) -> None:
        db = self._db
        try:
            await db.executemany(self._insert, rows.records())
            await db.execute(self._upsert, (journal, last))
            await db.commit()
        except BaseException:
            await _quietly_rollback(db)
            raise

    async def retain(self, cutoff: float, downsample: float | None) -> int:
        db = self._db
        try:
            if downsample is None:
                cursor = await db.execute(self._drop, (cutoff,))
            else:
                cursor = await db.execute(self._thin, (downsample, cutoff))
            await db.commit()
        except BaseException:
            await _quietly_rollback(db)
            raise
        return int(cursor.rowcount or 0)

    async def close(self) -> None:
        try:
            await self._db.close()
        except Exception:  # a broken connection: nothing more to release
            return


async def _quietly_rollback(db: aiosqlite.Connection) -> None:
    try:
        await db.rollback()
    except Exception:  # the connection is gone: the transaction went with it
        return
