"""The `sql-source` adapter in operation, on SQLite and PostgreSQL: the mark across a
restart, bad SQL (at load and at the first connection), commands, live reconfiguration and
an SQLite file that goes away."""

import asyncio
import logging
import os

import pytest
from pydantic import ValidationError

from adapters.sql.source.settings import SqlSourceSettings
from gateway.bus import CommandFailure, PointBus
from gateway.points import PointDef, State, Validity
from tests.support import eventually, running

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def _source_log(caplog):
    caplog.set_level(logging.INFO, "adapters.sql")


async def test_a_restart_keeps_the_mark(db, make_source):
    await db.create()
    await db.insert(("P", 1.0), ("Q", 2.0), ("P", 3.0))
    points = [{"point": "P"}, {"point": "Q"}]
    bus, adapter = make_source(db, points)
    async with running(adapter):
        await eventually(lambda: bus.get("P").value == 3.0, 10, "the rows")
    assert adapter.counters["values"] == 3
    # A new gateway: a fresh bus, the same state directory.
    await db.insert(("Q", 4.0))
    bus2, again = make_source(db, points, bus=PointBus())
    sub = bus2.subscribe(["P", "Q"], every=True)
    async with running(again):
        await eventually(lambda: bus2.get("Q").value == 4.0, 10, "the new row")
        await eventually(lambda: bus2.get("P").quality.is_good, 10, "P served again")
        await asyncio.sleep(0.2)
    assert again.counters["values"] == 1  # only the row written meanwhile
    assert bus2.get("P").value == 3.0  # its last row, served from the saved state
    assert [(pv.point, pv.value) for pv in sub.drain()] in (
        [("Q", 4.0), ("P", 3.0)],
        [("P", 3.0), ("Q", 4.0)],
    )


async def test_another_source_starts_from_the_beginning(sqlite_db, make_source):
    db = sqlite_db
    await db.create()
    await db.insert(("P", 1.0))
    bus, adapter = make_source(db, [{"point": "P"}])
    async with running(adapter):
        await eventually(lambda: bus.get("P").value == 1.0, 10, "P")
    _, other = make_source(db, [{"point": "P"}], bus=PointBus(), quality="quality")
    async with running(other):
        await eventually(lambda: other.counters["values"] == 1, 10, "P read again")


def settings(**extra):
    return SqlSourceSettings.model_validate(
        {"database": "sqlite:////tmp/x.sqlite3", "table": "t", "key": "point", **extra}
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"table": "t; DROP TABLE x"}, "table 't; DROP TABLE x' is not a plain SQL name"),
        ({"table": None, "query": "DELETE FROM t"}, "the query must start with SELECT or WITH"),
        ({"table": None, "query": "SELECT 1; SELECT 2"}, "more than one statement"),
        ({"table": None, "query": "SELECT * FROM t WHERE a = :a"}, "takes no parameters"),
        ({"mark": "seq desc"}, "mark column 'seq desc' is not a plain SQL name"),
        (
            {"command": "UPDATE sp SET v = :value WHERE id = :ident"},
            "the adapter's command uses :ident; it may use :point, :key, :value, :time",
        ),
        ({"command": "DROP TABLE t"}, "must start with INSERT or UPDATE"),
        ({"command": "UPDATE sp SET v = 1"}, "does not use :value"),
        ({"points": [{"point": "P", "writable": True}]}, "P is writable: give it a command"),
        ({"quality": "q", "quality_map": {"OK": "fine"}}, "unknown quality word 'fine'"),
        ({"listen": "wake"}, "LISTEN/NOTIFY) needs a PostgreSQL database"),
    ],
)
def test_bad_settings_are_refused_with_the_statement(extra, message):
    with pytest.raises(ValidationError) as caught:
        settings(**extra)
    assert message in str(caught.value)


def test_a_statement_in_quotes_is_one_statement():
    s = settings(table=None, query="SELECT seq, 'a;b' AS point, value FROM t -- a;b")
    assert "'a;b'" in s.statements.sql
    assert "-- a;b\n) AS q WHERE q.seq > :since" in s.statements.sql  # the comment ends


async def test_bad_sql_at_the_first_connection(db, make_source, caplog):
    await db.create()
    await db.execute("CREATE TABLE {t}_sp (name TEXT PRIMARY KEY, v REAL)")
    bus, adapter = make_source(
        db,
        [{"point": "P"}, {"point": "C", "writable": True}],
        value="no_such_column",
        command="UPDATE nowhere SET v = :value WHERE name = :point",
    )
    async with running(adapter):
        await eventually(lambda: adapter.state == "down", 10, "the poll refused")
        await asyncio.sleep(0.3)  # retried with back-off, logged once
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1, [r.message for r in errors]
    assert "sql-source src: value: the poll statement fails" in errors[0].message
    assert "no_such_column" in errors[0].message and f"FROM {db.table}" in errors[0].message
    assert bus.get("P").quality.validity is Validity.NOT_VALID
    assert not any(r.exc_info for r in caplog.records)
    # The table is fixed: the poll works, and the command statement is checked and refused.
    caplog.clear()
    bus, adapter = make_source(
        db,
        [{"point": "P"}, {"point": "C", "writable": True}],
        bus=PointBus(),
        command="UPDATE nowhere SET v = :value WHERE name = :point",
    )
    async with running(adapter):
        await eventually(lambda: adapter.state == "up", 10, "polling")
    (error,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "the command statement of C is refused by the database" in error.message
    assert "nowhere" in error.message


async def test_commands_success_and_failure(db, make_source):
    await db.create()
    await db.execute(
        "CREATE TABLE {t}_sp (name TEXT PRIMARY KEY, v REAL CHECK (v < 1000), at TEXT)"
    )
    await db.execute("INSERT INTO {t}_sp VALUES ('SP1', 0, NULL), ('CB', 0, NULL)")
    table = f"{db.table}_sp"
    bus, adapter = make_source(
        db,
        [
            {"point": "SP1", "writable": True, "scale": 2.0},
            {"point": "SP2", "writable": True},
            {
                "point": "CB",
                "kind": "state",
                "writable": True,
                "states": "0:off;1:on",
                "command": f"UPDATE {table} SET v = :value, at = :key WHERE name = :point",
            },
            {"point": "BAD", "writable": True, "command": "INSERT INTO missing VALUES (:value)"},
        ],
        [PointDef(id="SP1", usage_adder=10.0)],
        command=f"UPDATE {table} SET v = :value WHERE name = :point",
    )
    async with running(adapter):
        await eventually(lambda: adapter.state == "up", 10, "polling")
        ok = await bus.command("SP1", 30.0)  # raw (30 - 10) / 2
        assert ok.ok, ok
        assert (await bus.command("CB", State.ON)).ok
        none = await bus.command("SP2", 1.0)  # no row named SP2
        assert none.failure is CommandFailure.DEVICE_FAILURE and "changed no row" in none.detail
        refused = await bus.command("SP1", 5000.0)  # raw 2495: the CHECK refuses it
        assert refused.failure is CommandFailure.INVALID_VALUE
        assert "check" in refused.detail.lower()
        missing = await bus.command("BAD", 1.0)
        assert missing.failure is CommandFailure.DEVICE_FAILURE
        assert "missing" in missing.detail
        assert (await bus.command("P_NONE", 1.0)).failure is CommandFailure.UNKNOWN_POINT
    rows = dict((n, v) for n, v, _ in await db.rows("SELECT * FROM {t}_sp"))
    assert rows == {"SP1": 10.0, "CB": 1.0}
    assert adapter.counters["commands"] == 5 and adapter.counters["command_failures"] == 3


async def test_reconfigure_adds_a_point_with_its_last_value(db, make_source):
    await db.create()
    await db.insert(("A", 1.0), ("B", 5.0), ("A", 2.0))
    bus, adapter = make_source(db, [{"point": "A"}])
    bus.register(PointDef(id="B"), "src")
    async with running(adapter):
        await eventually(lambda: bus.get("A").value == 2.0, 10, "A")
        points = [{"point": "A", "scale": 10.0}, {"point": "B"}]
        new = SqlSourceSettings.model_validate({**adapter.settings.model_dump(), "points": points})
        assert adapter.reconfigure(new)
        await eventually(lambda: bus.get("B").value == 5.0, 10, "B caught up")
        await db.insert(("A", 3.0))
        await eventually(lambda: bus.get("A").value == 30.0, 10, "A with its new scale")
        other = SqlSourceSettings.model_validate({**new.model_dump(), "table": "elsewhere"})
        assert not adapter.reconfigure(other)  # another source: restart


async def test_an_sqlite_file_that_goes_away(sqlite_db, make_source, caplog):
    db = sqlite_db
    await db.create()
    await db.insert(("P", 1.0))
    await db.close()
    path = db.workdir / "source.sqlite3"
    bus, adapter = make_source(db, [{"point": "P"}])
    async with running(adapter):
        await eventually(lambda: bus.get("P").value == 1.0, 10, "P")
        os.rename(path, path.with_suffix(".moved"))
        await eventually(lambda: not bus.get("P").quality.is_good, 10, "P not valid")
        os.rename(path.with_suffix(".moved"), path)
        await eventually(lambda: bus.get("P").quality.is_good, 10, "P valid again")
    assert any("does not exist" in r.message for r in caplog.records)
