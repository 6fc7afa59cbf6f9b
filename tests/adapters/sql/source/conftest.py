"""What the `sql-source` tests share: a database (SQLite file or the module's PostgreSQL
cluster) with a readings table, and an adapter owning its points on a fresh bus."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from adapters.sql.database import create_engine, database_url
from adapters.sql.source.adapter import SqlSourceAdapter
from adapters.sql.source.settings import SqlSourceSettings
from gateway.bus import PointBus
from gateway.points import PointDef

_tables = itertools.count()

SCHEMAS = {
    "sqlite": (
        "CREATE TABLE {t} (seq INTEGER PRIMARY KEY AUTOINCREMENT, point TEXT, value REAL, "
        "quality TEXT, ts TEXT)"
    ),
    "postgres": (
        "CREATE TABLE {t} (seq BIGSERIAL PRIMARY KEY, point TEXT, value DOUBLE PRECISION, "
        "quality TEXT, ts TIMESTAMPTZ)"
    ),
}


class Database:
    """A test database: its URL, a table name of its own, and statements run on it."""

    def __init__(self, kind: str, url: str, workdir: Path) -> None:
        self.kind = kind
        self.url = url
        self.workdir = workdir
        self.table = f"readings{next(_tables)}"
        self.engine = create_engine(database_url(url))

    @property
    def postgres(self) -> bool:
        return self.kind == "postgres"

    async def execute(self, sql: str, params: Mapping[str, Any] | Sequence[Any] = ()) -> None:
        """Run one statement (several parameter sets: executemany) and commit."""
        async with self.engine.begin() as conn:
            await conn.execute(text(sql.format(t=self.table)), params or {})

    async def rows(self, sql: str) -> list[tuple[Any, ...]]:
        async with self.engine.connect() as conn:
            result = await conn.execute(text(sql.format(t=self.table)))
            return [tuple(r) for r in result.all()]

    async def create(self, schema: str | None = None) -> None:
        """The readings table (seq, point, value, quality, ts)."""
        await self.execute(schema or SCHEMAS[self.kind])

    async def insert(self, *rows: tuple[Any, ...]) -> None:
        """(point, value[, quality[, ts]]) rows, committed together."""
        params = [dict(zip(("p", "v", "q", "ts"), (*r, None, None), strict=False)) for r in rows]
        insert = "INSERT INTO {t} (point, value, quality, ts) VALUES (:p, :v, :q, :ts)"
        await self.execute(insert, params)

    async def close(self) -> None:
        await self.engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
async def db(request, tmp_path):
    """A database of each kind (PostgreSQL: the module's cluster)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'source.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres").url
    database = Database(request.param, url, tmp_path)
    if request.param == "sqlite":
        await database.execute("PRAGMA journal_mode=WAL")
    yield database
    await database.close()


@pytest.fixture
async def sqlite_db(tmp_path):
    """An SQLite database only."""
    database = Database("sqlite", f"sqlite:///{tmp_path / 'source.sqlite3'}", tmp_path)
    await database.execute("PRAGMA journal_mode=WAL")
    yield database
    await database.close()


def source_on_bus(
    db: Database,
    points: Sequence[Mapping[str, Any]],
    definitions: Sequence[PointDef] = (),
    bus: PointBus | None = None,
    **settings: Any,
) -> tuple[PointBus, SqlSourceAdapter]:
    """A bus whose points an sql-source adapter owns (and takes commands for). Each binding
    may say its bus point's `kind`; `definitions` replace the default ones."""
    given = {d.id: d for d in definitions}
    bindings = [{k: v for k, v in p.items() if k != "kind"} for p in points]
    config = {
        "database": db.url,
        "table": db.table,
        "key": "point",
        "poll_interval": 0.05,
        "backoff_initial": 0.05,
        "backoff_max": 0.2,
        "state_dir": str(db.workdir / "state"),
        "points": bindings,
        **settings,
    }
    validated = SqlSourceSettings.model_validate(config)
    bus = bus or PointBus()
    bus.add_owner("src")
    for p in points:
        defn = given.get(p["point"]) or PointDef(id=p["point"], kind=p.get("kind", "real"))
        if p["point"] not in bus:
            bus.register(defn, "src")
    adapter = SqlSourceAdapter("src", validated, bus)
    bus.add_owner("src", adapter.on_command)
    return bus, adapter


@pytest.fixture
def make_source():
    """`source_on_bus` (see there), as a fixture for the test modules."""
    return source_on_bus


@pytest.fixture
async def pg_db(postgres, tmp_path):
    """A database on the module's PostgreSQL cluster only."""
    database = Database("postgres", postgres.url, tmp_path)
    yield database
    await database.close()


@pytest.fixture
def database_at():
    """Make a `Database` for a URL (its own cluster, say): `database_at(kind, url, dir)`."""
    return Database
