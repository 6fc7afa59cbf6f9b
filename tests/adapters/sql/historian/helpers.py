"""Helpers of the historian's tests: a database (SQLite or the throwaway PostgreSQL) that a
test can read back and take down, a bus, and a historian adapter on them.

"The database is down" is, for PostgreSQL, the cluster stopped; for SQLite, another
connection holding the write lock (every write waits `write_timeout` and fails), as a backup
or another writer would.
"""

import sqlite3
import uuid

import asyncpg

from adapters.sql.historian.adapter import HistorianAdapter
from adapters.sql.historian.settings import HistorianSettings
from gateway.bus import PointBus
from gateway.points import PointDef, Quality, Validity

SUSPECT = Quality(Validity.SUSPECT)
FAST = {"backoff_initial": 0.05, "backoff_max": 0.2, "connect_timeout": 5.0, "write_timeout": 1.0}


class Db:
    """One database for a test: its URL, how to read the rows back, how to take it down."""

    def __init__(self, kind, tmp_path, postgres=None):
        self.kind = kind
        self.postgres = postgres
        self.table = f"h_{uuid.uuid4().hex[:8]}"
        self.dir = tmp_path / "db"
        self._lock = None
        if kind == "sqlite":
            self.dir.mkdir()
            self.url = f"sqlite:///{self.dir / 'history.db'}"
        else:
            self.url = postgres.dsn

    async def rows(self, order="time"):
        """(point, value, quality, ts, cov) of every stored row."""
        if self.kind == "sqlite":
            with sqlite3.connect(self.dir / "history.db") as conn:
                query = (
                    f"SELECT point, value, quality, time, cov FROM {self.table} "
                    f"ORDER BY {order}, rowid"
                )
                return [tuple(r) for r in conn.execute(query)]
        conn = await asyncpg.connect(self.postgres.dsn)
        try:
            query = (
                f"SELECT point, value, quality, extract(epoch FROM time)::float8, cov "
                f"FROM {self.table} ORDER BY {order}"
            )
            return [tuple(r) for r in await conn.fetch(query)]
        finally:
            await conn.close()

    async def execute(self, sql):
        if self.kind == "sqlite":
            with sqlite3.connect(self.dir / "history.db") as conn:
                conn.execute(sql)
            return
        conn = await asyncpg.connect(self.postgres.dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def down(self):
        if self.kind == "sqlite":
            self._lock = sqlite3.connect(self.dir / "history.db", isolation_level=None)
            self._lock.execute("BEGIN EXCLUSIVE")
        else:
            self.postgres.stop()

    def up(self):
        if self.kind == "sqlite":
            self._lock.execute("ROLLBACK")
            self._lock.close()
            self._lock = None
        else:
            self.postgres.start()


def make_bus(*points):
    bus = PointBus()
    bus.add_owner("field")
    for point in points:
        bus.register(PointDef(id=point), "field")
    return bus


def historian(db, bus, tmp_path, **settings):
    values = {"database": db.url, "table": db.table, **FAST, **settings}
    validated = HistorianSettings.model_validate(values, context={"base": tmp_path})
    return HistorianAdapter("hist", validated, bus)


def approx_rows(rows):
    """Rows with time stamps to the microsecond (what both databases keep)."""
    return [(p, v, q, round(t, 6), c) for p, v, q, t, c in rows]
