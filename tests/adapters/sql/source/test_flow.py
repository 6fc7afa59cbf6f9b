"""The `sql-source` adapter against SQLite and a real PostgreSQL: rows flow into the bus,
with quality and time mapped, and late commits inside the overlap are not skipped."""

import asyncio
import logging
from datetime import UTC, datetime

import pytest

from gateway.points import PointDef, Source, State, Validity
from tests.support import eventually, running

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def _source_log(caplog):
    caplog.set_level(logging.INFO, "adapters.sql")


async def test_values_quality_and_time_flow_into_the_bus(db, make_source):
    await db.create()
    t1 = datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)
    stamp = t1 if db.postgres else t1.isoformat()
    await db.insert(
        ("P1", 10.0, "good", stamp),
        ("P2", 5.0, "suspect", stamp),
        ("P3", 1.0, "garbage", None),
        ("CB", 1.0, None, None),
        ("P4", 7.0, "estimated", stamp),
    )
    defs = [PointDef(id="P1", usage_multiplier=2.0, usage_adder=1.0)]
    bus, adapter = make_source(
        db,
        [
            {"point": "P1", "scale": 10.0},
            {"point": "P2"},
            {"point": "P3"},
            {"point": "CB", "kind": "state", "normal": "off"},
            {"point": "P4"},
        ],
        defs,
        quality="quality",
        time="ts",
    )
    async with running(adapter):
        await eventually(lambda: bus.get("P4").cov > 0, 10, "the rows applied")
    p1 = bus.get("P1")
    assert p1.value == pytest.approx(2.0 * (10.0 * 10.0) + 1.0)  # binding, then ISN a*x+b
    assert p1.quality.validity is Validity.VALID and not p1.quality.timestamp_invalid
    assert p1.ts == pytest.approx(t1.timestamp())
    assert bus.get("P2").quality.validity is Validity.SUSPECT
    assert bus.get("P3").quality.validity is Validity.NOT_VALID  # unknown code: never good
    assert bus.get("P3").quality.timestamp_invalid  # no time stamp: receive time
    cb = bus.get("CB")
    assert cb.value == State.ON and cb.quality.abnormal and cb.quality.is_good
    assert bus.get("P4").quality.source is Source.ESTIMATED


async def test_new_rows_keep_flowing_and_late_commits_are_not_skipped(db, make_source):
    """Rows are given explicit sequence numbers out of order (as concurrent writers commit
    them): a row that appears below the mark but inside the overlap is still applied."""
    await db.create()
    bus, adapter = make_source(db, [{"point": "A"}, {"point": "B"}], overlap=10)
    sub = bus.subscribe(["A", "B"], every=True)
    insert = "INSERT INTO {t} (seq, point, value) VALUES (:s, :p, :v)"
    async with running(adapter):
        await db.execute(insert, {"s": 5, "p": "A", "v": 1.0})
        await eventually(lambda: bus.get("A").value == 1.0, 10, "A=1")
        await db.execute(insert, {"s": 8, "p": "A", "v": 2.0})
        await eventually(lambda: bus.get("A").value == 2.0, 10, "A=2")
        await db.execute(insert, {"s": 7, "p": "B", "v": 3.0})  # committed late
        await eventually(lambda: bus.get("B").value == 3.0, 10, "the late row of B")
        await db.execute(insert, {"s": 6, "p": "A", "v": 9.0})  # late, and older than A=2
        await eventually(lambda: adapter.counters["superseded"] == 1, 10, "superseded")
        await asyncio.sleep(0.3)  # several more polls re-read the window
    assert bus.get("A").value == 2.0  # the newer row of A stays
    values = [(pv.point, pv.value) for pv in sub.drain() if pv.quality.is_good]
    assert values == [("A", 1.0), ("A", 2.0), ("B", 3.0)]  # each applied once
    assert adapter.counters["duplicates"] > 0


async def test_wide_rows_and_a_configured_query(sqlite_db, make_source):
    db = sqlite_db
    await db.execute(
        "CREATE TABLE {t} (id INTEGER PRIMARY KEY, mw REAL, kv REAL, flags INTEGER, at REAL)"
    )
    await db.execute("INSERT INTO {t} VALUES (1, 10, 230, 0, 1700000000.5), (2, 11, 231, 2, NULL)")
    bus, adapter = make_source(
        db,
        [{"point": "MW", "column": "mw"}, {"point": "KV", "column": "kv_scaled"}],
        table=None,
        query=f"SELECT id, mw, kv * 1000 AS kv_scaled, flags, at FROM {db.table}",
        key=None,
        mark="id",
        quality="flags",
        quality_bits={1: "not-valid", 2: "suspect estimated"},
        time="at",
    )
    async with running(adapter):
        await eventually(lambda: bus.get("KV").value == 231_000, 10, "the second row")
    mw = bus.get("MW")
    assert mw.value == 11 and mw.quality.validity is Validity.SUSPECT
    assert mw.quality.source is Source.ESTIMATED and mw.quality.timestamp_invalid
    assert adapter.mark.high == 2


async def test_a_time_mark(db, make_source):
    """`updated_at` as the mark: rows re-read inside the overlap are not applied twice."""
    if db.postgres:
        await db.execute(
            "CREATE TABLE {t} (point TEXT PRIMARY KEY, value DOUBLE PRECISION, "
            "updated_at TIMESTAMPTZ)"
        )
    else:
        await db.execute("CREATE TABLE {t} (point TEXT PRIMARY KEY, value REAL, updated_at TEXT)")

    def at(second: int) -> object:
        t = datetime(2026, 5, 1, 8, 0, second, tzinfo=UTC)
        return t if db.postgres else t.isoformat(sep=" ")

    upsert = (
        "INSERT INTO {t} VALUES (:p, :v, :u) ON CONFLICT (point) DO UPDATE "
        "SET value = excluded.value, updated_at = excluded.updated_at"
    )
    bus, adapter = make_source(
        db,
        [{"point": "X"}, {"point": "Y"}],
        mark="updated_at",
        mark_kind="time",
        overlap=30,
        time="updated_at",
    )
    sub = bus.subscribe(["X", "Y"], every=True)
    async with running(adapter):
        await db.execute(upsert, {"p": "X", "v": 1.0, "u": at(10)})
        await eventually(lambda: bus.get("X").value == 1.0, 10, "X=1")
        await db.execute(upsert, {"p": "Y", "v": 2.0, "u": at(5)})  # earlier, inside the overlap
        await eventually(lambda: bus.get("Y").value == 2.0, 10, "Y=2")
        await db.execute(upsert, {"p": "X", "v": 3.0, "u": at(20)})
        await eventually(lambda: bus.get("X").value == 3.0, 10, "X=3")
        await asyncio.sleep(0.3)
    assert [(pv.point, pv.value) for pv in sub.drain()] == [("X", 1.0), ("Y", 2.0), ("X", 3.0)]
    assert bus.get("X").ts == datetime(2026, 5, 1, 8, 0, 20, tzinfo=UTC).timestamp()
