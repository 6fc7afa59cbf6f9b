"""The `sql-source` adapter on a real PostgreSQL: concurrent writers whose transactions
commit out of sequence order, LISTEN/NOTIFY wake-ups, and the server stopped and started."""

import asyncio
import logging
import random
import sys

import pytest
from sqlalchemy import text

from gateway.points import Validity
from tests.support import eventually, running
from tests.support.peers.postgres import Postgres, require_postgres

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def pg(pg_db):
    return pg_db


@pytest.fixture(autouse=True)
def _source_log(caplog):
    caplog.set_level(logging.INFO, "adapters.sql")


@pytest.mark.parametrize("overlap", [0, 100])
async def test_a_row_committed_after_a_newer_one_was_read(pg, make_source, overlap):
    """Writer A takes seq n and commits after writer B's n+1 was read: inside the overlap
    it is applied; without one (overlap 0) a plain high-water mark skips it."""
    await pg.create()
    bus, adapter = make_source(pg, [{"point": "A"}, {"point": "B"}], overlap=overlap)
    insert = text(f"INSERT INTO {pg.table} (point, value) VALUES (:p, :v)")
    async with running(adapter), pg.engine.connect() as a, pg.engine.connect() as b:
        await a.execute(insert, {"p": "A", "v": 1.0})  # seq 1, not committed
        await b.execute(insert, {"p": "B", "v": 2.0})  # seq 2
        await b.commit()
        await eventually(lambda: bus.get("B").value == 2.0, 10, "B read")
        await a.commit()
        if overlap:
            await eventually(lambda: bus.get("A").value == 1.0, 10, "the late row of A")
        else:
            await asyncio.sleep(0.5)
            assert bus.get("A").quality.validity is Validity.NOT_VALID  # never read
    rows = await pg.rows("SELECT seq, point FROM {t} ORDER BY seq")
    assert rows == [(1, "A"), (2, "B")]


async def test_concurrent_writers_with_interleaved_transactions_skip_no_row(pg, make_source):
    await pg.create()
    writers, rows_each = 6, 60
    points = [f"W{n}" for n in range(writers)]
    bus, adapter = make_source(pg, [{"point": p} for p in points], poll_interval=0.01)
    sub = bus.subscribe(points, every=True)
    insert = text(f"INSERT INTO {pg.table} (point, value) VALUES (:p, :v)")
    rng = random.Random(18)

    async def writer(point: str) -> None:
        async with pg.engine.connect() as conn:
            for i in range(rows_each):
                await conn.execute(insert, {"p": point, "v": float(i)})
                await asyncio.sleep(rng.random() * 0.02)  # hold the transaction a while
                await conn.commit()

    async with running(adapter):
        await asyncio.gather(*(writer(p) for p in points))
        last = float(rows_each - 1)
        await eventually(lambda: all(bus.get(p).value == last for p in points), 20, "all rows")
    delivered: dict[str, list[float]] = {p: [] for p in points}
    for pv in sub.drain():
        delivered[pv.point].append(pv.value)
    for point in points:
        assert delivered[point] == [float(i) for i in range(rows_each)], point
    order = await pg.rows("SELECT point FROM {t} ORDER BY seq")
    assert len(order) == writers * rows_each


WRITER = """
import asyncio, random, sys
import asyncpg

async def main(dsn, table, point, rows, seed):
    rng = random.Random(seed)
    conn = await asyncpg.connect(dsn)
    try:
        for i in range(rows):
            async with conn.transaction():
                await conn.execute(
                    f"INSERT INTO {table} (point, value) VALUES ($1, $2)", point, float(i)
                )
                await asyncio.sleep(rng.random() * 0.02)  # the seq taken, not yet committed
    finally:
        await conn.close()

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])))
"""


async def test_writer_processes_committing_out_of_order_skip_and_repeat_no_row(
    pg, make_source, postgres
):
    """Four writer processes, each its own connection, hold their transactions open a random
    while; the source polls every 10 ms: every row of every writer arrives once, in order."""
    await pg.create()
    writers, rows_each = 4, 80
    points = [f"X{n}" for n in range(writers)]
    bus, adapter = make_source(pg, [{"point": p} for p in points], poll_interval=0.01)
    sub = bus.subscribe(points, every=True)
    async with running(adapter):
        args = (postgres.dsn, pg.table)
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable, "-c", WRITER, *args, point, str(rows_each), str(n)
            )
            for n, point in enumerate(points)
        ]
        codes = await asyncio.wait_for(asyncio.gather(*(p.wait() for p in procs)), 60)
        assert codes == [0] * writers
        last = float(rows_each - 1)
        await eventually(lambda: all(bus.get(p).value == last for p in points), 20, "all rows")
    delivered: dict[str, list[float]] = {p: [] for p in points}
    for pv in sub.drain():
        delivered[pv.point].append(pv.value)
    for point in points:
        assert delivered[point] == [float(i) for i in range(rows_each)], point
    commit_order = await pg.rows("SELECT point FROM {t} ORDER BY seq")
    assert len(commit_order) == writers * rows_each


async def test_notify_wakes_the_poll(pg, make_source):
    await pg.create()
    bus, adapter = make_source(pg, [{"point": "N"}], poll_interval=60.0, listen="source_rows")
    async with running(adapter):
        await eventually(lambda: adapter.status()["listening"], 10, "LISTEN")
        await eventually(lambda: adapter.counters["polls"] >= 2, 10, "the poll after LISTEN")
        await pg.insert(("N", 42.0))
        await pg.execute("NOTIFY source_rows")
        await eventually(lambda: bus.get("N").value == 42.0, 10, "the notified row")
        assert adapter.counters["notifications"] == 1


async def test_a_trigger_notifies(pg, make_source):
    await pg.create()
    await pg.execute(
        "CREATE FUNCTION {t}_notify() RETURNS trigger AS $$ BEGIN "
        "PERFORM pg_notify('rows_{t}', ''); RETURN NULL; END $$ LANGUAGE plpgsql"
    )
    await pg.execute(
        "CREATE TRIGGER {t}_rows AFTER INSERT ON {t} FOR EACH STATEMENT "
        "EXECUTE FUNCTION {t}_notify()"
    )
    bus, adapter = make_source(pg, [{"point": "T"}], poll_interval=60.0, listen=f"rows_{pg.table}")
    async with running(adapter):
        await eventually(lambda: adapter.counters["polls"] >= 2, 10, "listening")
        await pg.insert(("T", 7.0))
        await eventually(lambda: bus.get("T").value == 7.0, 10, "the row, woken by the trigger")


async def test_server_stopped_and_started(tmp_path, make_source, database_at, caplog):
    require_postgres()
    server = Postgres()
    server.start()
    try:
        db = database_at("postgres", server.url, tmp_path)
        await db.create()
        await db.insert(("P", 1.0), ("Q", 2.0))
        bus, adapter = make_source(db, [{"point": "P"}, {"point": "Q"}], listen="wake")
        async with running(adapter):
            await eventually(lambda: bus.get("Q").value == 2.0, 10, "first values")
            await asyncio.to_thread(server.stop)
            await eventually(
                lambda: bus.get("P").quality.validity is Validity.NOT_VALID, 10, "not valid"
            )
            assert bus.get("P").value == 1.0  # the value stays, not valid
            await asyncio.sleep(1.0)  # several reconnect attempts
            await asyncio.to_thread(server.start)
            await eventually(lambda: bus.get("P").quality.is_good, 20, "valid again")
            assert bus.get("P").value == 1.0 and bus.get("Q").value == 2.0
            await db.insert(("P", 3.0))  # a new connection: the old ones are gone
            await eventually(lambda: bus.get("P").value == 3.0, 10, "new rows after the restart")
            await eventually(lambda: adapter.status()["listening"], 10, "listening again")
    finally:
        await db.close()
        server.remove()
    down = [r for r in caplog.records if r.levelno >= logging.WARNING and "not valid" in r.message]
    assert len(down) == 1, [r.message for r in down]  # one line per outage
    assert not any(r.exc_info for r in caplog.records)
