"""The `sql-historian` adapter against SQLite and a real PostgreSQL (a throwaway cluster).

Every test runs on both databases (`db` fixture). "The database is down" is, for PostgreSQL,
the cluster stopped; for SQLite, another connection holding the write lock (every write
waits `write_timeout` and fails), as a backup or another writer would.
"""

import asyncio
import logging
import time

import pytest
from pydantic import ValidationError

from adapters.sql.historian.settings import HistorianSettings
from gateway.points import GOOD, PointDef
from tests.adapters.sql.historian.helpers import (
    SUSPECT,
    approx_rows,
    historian,
    make_bus,
)
from tests.support import eventually, running


async def test_every_change_is_stored_with_quality_time_and_cov(db, tmp_path):
    bus = make_bus("A1", "A2", "B1")
    adapter = historian(db, bus, tmp_path, points=["A*"])
    async with running(adapter):
        bus.update("A1", 1.5, GOOD, 1_000.25)
        bus.update("A2", 7, SUSPECT, 1_000.5)
        bus.update("B1", 3.0, GOOD, 1_000.75)  # not selected
        bus.update_many(["A1", "A2"], [2.5, 8], GOOD, 1_001.0)
        bus.update("A1", 2.5, GOOD, 1_002.0)  # no change on the bus: no row
        await adapter.flush(15)
    await adapter.stop()
    assert approx_rows(await db.rows()) == [
        ("A1", 1.5, 0, 1000.25, 1),
        ("A2", 7.0, int(SUSPECT), 1000.5, 1),
        ("A1", 2.5, 0, 1001.0, 2),
        ("A2", 8.0, 0, 1001.0, 2),
    ]
    assert adapter.status()["rows_written"] == 4 and adapter.lost == 0


async def test_an_interval_keeps_one_row_per_point_and_the_last_change(db, tmp_path):
    bus = make_bus("S1", "F1")
    adapter = historian(
        db, bus, tmp_path, points=[{"match": "S1", "interval": 0.3}, "F1"], refresh_period=0.05
    )
    async with running(adapter):
        for i in range(1, 6):
            bus.update_many(["S1", "F1"], [i, i], GOOD, 2_000.0 + i)
            await asyncio.sleep(0.01)
        await eventually(lambda: adapter.rows_written == 7, 10, "2 rows of S1, 5 of F1")
    await adapter.stop()
    rows = await db.rows()
    assert [r[1] for r in rows if r[0] == "S1"] == [1.0, 5.0]  # the first, then the last
    assert [r[1] for r in rows if r[0] == "F1"] == [1.0, 2.0, 3.0, 4.0, 5.0]


async def test_patterns_pick_up_points_that_appear_later(db, tmp_path):
    bus = make_bus("N1")
    adapter = historian(db, bus, tmp_path, points=["N*"], refresh_period=0.05)
    async with running(adapter):
        bus.register(PointDef(id="N2"), "field")
        await eventually(lambda: adapter.status()["points"] == 2, 5, "N2 matched")
        bus.update_many(["N1", "N2"], [1.0, 2.0], GOOD, 3_000.0)
        await adapter.flush(15)
    await adapter.stop()
    assert sorted(r[0] for r in await db.rows()) == ["N1", "N2"]


async def test_all_points_selected_then_one_registered_that_is_not(db, tmp_path):
    """Every bus point selected: the historian takes all changes unfiltered from the bus;
    a point registered later that is not selected is still not stored."""
    bus = make_bus("M1", "M2")
    adapter = historian(db, bus, tmp_path, points=["M*"], refresh_period=60)
    async with running(adapter):
        assert adapter.status()["points"] == 2 and adapter._sub.points is None
        bus.register(PointDef(id="Z1"), "field")
        bus.update_many(["M1", "Z1", "M2"], [1.0, 2.0, 3.0], GOOD, 3_500.0)
        await adapter.flush(15)
    await adapter.stop()
    assert [(r[0], r[1]) for r in await db.rows(order="time, point")] == [
        ("M1", 1.0),
        ("M2", 3.0),
    ]


async def test_points_and_intervals_change_live_other_storage_restarts(db, tmp_path):
    bus = make_bus("X1", "X2")
    adapter = historian(db, bus, tmp_path, points=["X1"])
    async with running(adapter):
        bus.update("X1", 1.0, GOOD, 4_000.0)
        await adapter.flush(15)
        changed = adapter.settings.model_copy(update={"points": [*adapter.settings.points]})
        new = HistorianSettings.model_validate(
            {**changed.model_dump(exclude={"points"}), "points": ["X2"]},
            context={"base": tmp_path},
        )
        assert adapter.reconfigure(new)
        bus.update_many(["X1", "X2"], [2.0, 3.0], GOOD, 4_001.0)
        await adapter.flush(15)
        other = HistorianSettings.model_validate(
            {**new.model_dump(), "table": "elsewhere"}, context={"base": tmp_path}
        )
        assert not adapter.reconfigure(other)
    await adapter.stop()
    assert [(r[0], r[1]) for r in await db.rows()] == [("X1", 1.0), ("X2", 3.0)]


async def test_database_down_for_a_while_loses_nothing_and_keeps_the_order(db, tmp_path):
    points = [f"P{i}" for i in range(20)]
    bus = make_bus(*points)
    adapter = historian(db, bus, tmp_path, points=["P*"], batch_size=500)
    step = 0

    def publish(rounds):
        nonlocal step
        for _ in range(rounds):
            step += 1
            bus.update_many(points, [step + i / 100 for i in range(20)], GOOD, 5_000.0 + step)

    async with running(adapter):
        publish(10)
        await adapter.flush(15)
        db.down()
        for _ in range(20):  # while the historian tries and fails
            publish(25)
            await asyncio.sleep(0.02)
        await eventually(lambda: adapter.failures > 0, 10, "a write to fail")
        publish(50)
        assert adapter.status()["journal_rows"] > 0
        db.up()
        await adapter.flush(30)
    await adapter.stop()
    rows = await db.rows(order="time, point")
    assert adapter.lost == 0
    assert len(rows) == 20 * step
    for point in points:
        covs = [r[4] for r in rows if r[0] == point]
        assert covs == list(range(1, step + 1)), point  # every change, in order, once


async def test_journal_bound_exceeded_loses_the_oldest_and_counts_them_exactly(
    db, tmp_path, caplog
):
    points = [f"Q{i}" for i in range(100)]
    bus = make_bus(*points)
    adapter = historian(
        db,
        bus,
        tmp_path,
        points=["Q*"],
        journal_max_bytes=1024 * 1024,
        journal_segment_bytes=64 * 1024,
    )
    caplog.set_level(logging.WARNING, "adapters.sql.historian")
    published = 0
    async with running(adapter):
        await eventually(lambda: adapter.connects, 10, "connected")
        db.down()
        for step in range(1, 601):  # 60,000 rows of about 30 bytes: beyond 1 MiB
            bus.update_many(points, [step + i / 1000 for i in range(100)], GOOD, 6_000.0 + step)
            published += 100
            if step % 50 == 0:
                await asyncio.sleep(0)
        await eventually(lambda: adapter.journal.dropped > 0, 10, "the journal to overflow")
        assert adapter.journal.size <= 1024 * 1024
        db.up()
        await adapter.flush(60)
    await adapter.stop()
    rows = await db.rows(order="time, point")
    lost = adapter.status()["lost"]
    assert lost > 0 and len(rows) + lost == published  # exact: nothing uncounted
    for point in points:
        covs = [r[4] for r in rows if r[0] == point]
        assert covs == sorted(covs) and covs[-1] == 600  # in order, the newest kept
        assert len(covs) == 600 - lost // 100  # whole rounds lost (segments hold rounds)
    lines = [r.getMessage() for r in caplog.records if "rows lost" in r.getMessage()]
    assert lines and len(lines) <= 12  # throttled: 1st, 2nd, 4th... occurrence
    assert any(f"{lost} rows were lost during the outage" in r.getMessage() for r in caplog.records)


async def test_a_full_bus_queue_is_counted(db, tmp_path):
    points = [f"R{i}" for i in range(5000)]
    bus = make_bus(*points)
    adapter = historian(db, bus, tmp_path, points=["R*"], queue_size=1000)
    async with running(adapter):
        await asyncio.sleep(0)
        bus.update_many(points, [1.0] * 5000, GOOD, 7_000.0)  # before the historian runs again
        await adapter.flush(15)
    await adapter.stop()
    assert adapter.overflow == 4000 == adapter.lost
    assert len(await db.rows()) == 1000


async def test_retention_drops_rows_older_than_the_days(db, tmp_path):
    bus = make_bus("T1")
    old = time.time() - 3 * 86400
    adapter = historian(db, bus, tmp_path, points=["T1"], retention={"days": 1, "period": 0.1})
    async with running(adapter):
        for i in range(5):
            bus.update("T1", float(i), GOOD, old + i)
        bus.update("T1", 99.0, GOOD, time.time())
        await adapter.flush(15)
        await eventually(lambda: adapter.retention_deleted == 5, 10, "old rows deleted")
    await adapter.stop()
    assert [r[1] for r in await db.rows()] == [99.0]


async def test_retention_downsamples_to_one_row_per_point_per_interval(db, tmp_path):
    bus = make_bus("D1", "D2")
    base = (int(time.time()) // 3600 - 72) * 3600  # three days ago, on an hour boundary
    adapter = historian(
        db,
        bus,
        tmp_path,
        points=["D*"],
        retention={"days": 1, "mode": "downsample", "downsample_interval": 3600, "period": 0.1},
    )
    async with running(adapter):
        for minute in range(0, 180, 10):  # three hours, a row every 10 minutes
            bus.update_many(["D1", "D2"], [minute, -minute], GOOD, base + minute * 60)
        bus.update("D1", 1000.0, GOOD, time.time())
        await adapter.flush(15)
        await eventually(lambda: adapter.retention_deleted == 30, 10, "old rows thinned")
    await adapter.stop()
    assert [(r[0], r[1]) for r in await db.rows(order="point, time")] == [
        ("D1", 0.0),
        ("D1", 60.0),
        ("D1", 120.0),
        ("D1", 1000.0),
        ("D2", 0.0),
        ("D2", -60.0),
        ("D2", -120.0),
    ]


async def test_a_table_the_historian_did_not_create_is_refused_clearly(db, tmp_path):
    """By the running adapter (the table made after its configuration was checked); an
    SQLite file is also looked into when the configuration is checked."""
    bus = make_bus("U1")
    adapter = historian(db, bus, tmp_path, points=["U1"])
    await db.execute(f"CREATE TABLE {db.table} (something INTEGER)")
    if db.kind == "sqlite":
        with pytest.raises(ValidationError, match=r"table: table .* was not created by the hist"):
            historian(db, bus, tmp_path, points=["U1"])
    async with running(adapter):
        bus.update("U1", 1.0, GOOD, 8_000.0)
        await eventually(lambda: "last_error" in adapter.status(), 10, "the error")
        assert "was not created by the historian" in adapter.status()["last_error"]
        assert adapter.status()["journal_rows"] == 1  # kept, not lost
    await adapter.stop()


async def test_unsent_rows_are_sent_after_a_restart_of_the_adapter(db, tmp_path):
    bus = make_bus("V1")
    first = historian(db, bus, tmp_path, points=["V1"])
    async with running(first):
        await eventually(lambda: first.connects, 10, "connected")
        db.down()
        for i in range(100):
            bus.update("V1", float(i), GOOD, 9_000.0 + i)
            await asyncio.sleep(0)
        await eventually(lambda: first.status()["journal_rows"] == 100, 10, "journaled")
    await first.stop()
    db.up()
    second = historian(db, make_bus("V1"), tmp_path, points=["V1"])
    async with running(second):
        await second.flush(30)
    await second.stop()
    assert [r[1] for r in await db.rows()] == [float(i) for i in range(100)]
