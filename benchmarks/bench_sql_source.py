"""The `sql-source` adapter: 10,000 changed rows from SQLite and PostgreSQL into the bus,
points/s.

A table holds one row per point (point, value, quality text, time stamp); each round
inserts 10,000 new rows (a new value for every point, committed before the clock starts),
wakes the adapter and times until the bus has taken all of them: the poll statement, the
fetch, the quality and time mapping, a*x+b and `PointBus.update_rows`. Best of the rounds.
PostgreSQL is a throwaway cluster (skipped when it is not installed).
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.common import report

POINTS = 10_000
ROUNDS = 5

SCHEMAS = {
    "sqlite": (
        "CREATE TABLE readings (seq INTEGER PRIMARY KEY AUTOINCREMENT, point TEXT, value REAL, "
        "quality TEXT, ts TEXT)"
    ),
    "postgres": (
        "CREATE TABLE readings (seq BIGSERIAL PRIMARY KEY, point TEXT, value DOUBLE PRECISION, "
        "quality TEXT, ts TIMESTAMPTZ)"
    ),
}


async def _rate(kind: str, url: str, workdir: Path) -> float:
    from sqlalchemy import text

    from adapters.sql.database import create_engine, database_url
    from adapters.sql.source.adapter import SqlSourceAdapter
    from adapters.sql.source.settings import SqlSourceSettings
    from gateway.bus import PointBus
    from gateway.points import PointDef

    engine = create_engine(database_url(url))
    async with engine.begin() as conn:
        await conn.execute(text(SCHEMAS[kind]))
    points = [f"P{i}" for i in range(POINTS)]
    bus = PointBus()
    bus.add_owner("bench")
    for point in points:
        bus.register(PointDef(id=point, usage_multiplier=2.0), "bench")
    settings = SqlSourceSettings.model_validate(
        {
            "database": url,
            "table": "readings",
            "key": "point",
            "quality": "quality",
            "time": "ts",
            "poll_interval": 60.0,
            "batch_size": 20_000,
            "state_dir": str(workdir / "state"),
            "points": [{"point": p} for p in points],
        }
    )
    adapter = SqlSourceAdapter("bench", settings, bus)
    insert = text("INSERT INTO readings (point, value, quality, ts) VALUES (:p, :v, 'good', :t)")
    best = 0.0
    task = asyncio.create_task(adapter.run())
    try:
        for n in range(ROUNDS + 1):
            stamp: object = datetime.now(UTC)
            if kind == "sqlite":
                stamp = stamp.isoformat()  # type: ignore[attr-defined]
            rows = [{"p": p, "v": float(n * POINTS + i), "t": stamp} for i, p in enumerate(points)]
            async with engine.begin() as conn:
                await conn.execute(insert, rows)
            before = bus.stats.updates
            start = time.perf_counter()
            adapter.wake()
            while bus.stats.updates - before < POINTS:
                await asyncio.sleep(0.0005)
            elapsed = time.perf_counter() - start
            if n:  # the first round also connects and checks the statements
                best = max(best, POINTS / elapsed)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await engine.dispose()
    return best


def main() -> None:
    from tests.support.peers.postgres import Postgres, find_bindir

    logging.getLogger("adapters.sql").setLevel(logging.ERROR)
    rates = {}
    with tempfile.TemporaryDirectory(prefix="bench-sql-source-") as tmp:
        work = Path(tmp)
        url = f"sqlite:///{work / 'source.sqlite3'}"
        rates["sqlite"] = asyncio.run(_rate("sqlite", url, work / "sqlite"))
        report("sql_source_sqlite", rates["sqlite"], "points/s")
        if find_bindir() is not None:
            server = Postgres()
            server.start()
            try:
                rates["postgres"] = asyncio.run(_rate("postgres", server.url, work / "pg"))
            finally:
                server.remove()
            report("sql_source_postgres", rates["postgres"], "points/s")
    report("sql_source", min(rates.values()), "points/s")


if __name__ == "__main__":
    main()
