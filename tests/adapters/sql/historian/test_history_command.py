"""`iccp-gateway history POINT --from --to --format csv|json` (a subprocess) on a database
that the historian filled, SQLite and PostgreSQL; bad arguments exit 2 and a database that
cannot be read exits 3, each with one line naming what is wrong and no traceback."""

import csv
import io
import json
from datetime import UTC, datetime

import pytest
import yaml

from gateway.points import GOOD, Quality, Validity
from tests.adapters.sql.historian.helpers import historian, make_bus
from tests.support import running
from tests.support.gateway import run_cli

BASE = datetime(2026, 3, 1, tzinfo=UTC).timestamp()
SUSPECT = Quality(Validity.SUSPECT)


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(BASE + seconds, UTC).isoformat()


@pytest.fixture
async def filled(db, tmp_path):
    """The historian's rows of F1 (value i at BASE + 10 i, i = 0..9; the 5th one suspect),
    F2 (one row at BASE + 15) and F3 (one row at a time finer than a microsecond)."""
    bus = make_bus("F1", "F2", "F3")
    adapter = historian(db, bus, tmp_path, points=["F*"])
    async with running(adapter):
        for i in range(10):
            bus.update("F1", float(i), SUSPECT if i == 5 else GOOD, BASE + 10 * i)
        bus.update("F2", 2.5, GOOD, BASE + 15)
        bus.update("F3", 3.0, GOOD, BASE + 60.0000004)
        await adapter.flush(15)
    await adapter.stop()
    return db


async def history(db, *args):
    return await run_cli("history", *args, "--database", db.url, "--table", db.table, timeout=60)


async def test_csv_of_one_point_between_two_times(filled):
    code, out, err = await history(filled, "F1", "--from", iso(20), "--to", iso(50))
    assert (code, err) == (0, "")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["point", "time", "value", "validity", "quality", "cov"]
    assert rows[1:] == [
        ["F1", iso(20), "2", "valid", "0", "3"],
        ["F1", iso(30), "3", "valid", "0", "4"],
        ["F1", iso(40), "4", "valid", "0", "5"],
        ["F1", iso(50), "5", "suspect", str(int(SUSPECT)), "6"],
    ]


async def test_json_of_two_points_in_time_order(filled):
    code, out, err = await history(
        filled, "F1", "F2", "--from", iso(0), "--to", iso(15), "--format", "json"
    )
    assert (code, err) == (0, "")
    items = json.loads(out)
    assert [(i["point"], i["time"], i["value"]) for i in items] == [
        ("F1", iso(0), 0),
        ("F1", iso(10), 1),
        ("F2", iso(15), 2.5),
    ]
    assert items[0]["quality"]["validity"] == "valid" and items[0]["quality"]["flags"] == 0
    assert items[2]["cov"] == 1


async def test_a_rows_printed_time_selects_that_row(filled):
    code, out, _ = await history(filled, "F3", "--format", "json", "--from", iso(0))
    [row] = json.loads(out)
    code, out, err = await history(filled, "F3", "--from", row["time"], "--to", row["time"])
    assert (code, err) == (0, "")
    assert [r[1] for r in csv.reader(io.StringIO(out))][1:] == [row["time"]]


async def test_a_range_without_rows_is_an_empty_answer(filled):
    code, out, err = await history(filled, "F2", "--from", iso(100), "--to", iso(200))
    assert (code, out, err) == (0, "point,time,value,validity,quality,cov\n", "")
    code, out, _ = await history(filled, "F2", "--from", iso(100), "--format", "json")
    assert (code, json.loads(out)) == (0, [])


async def test_the_database_of_a_configuration_file(filled, tmp_path):
    config = tmp_path / "gw.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "points": [{"id": "F1"}],
                "adapters": [
                    {
                        "name": "store",
                        "type": "sql-historian",
                        "database": filled.url,
                        "table": filled.table,
                        "points": ["F*"],
                    }
                ],
            }
        )
    )
    code, out, err = await run_cli(
        "history", "F1", "--config", str(config), "--from", iso(85), "--to", iso(95)
    )
    assert (code, err) == (0, "")
    assert out.splitlines()[1:] == [f"F1,{iso(90)},9,valid,0,10"]
    code, _, err = await run_cli("history", "F1", "--config", str(config), "--adapter", "x")
    assert code == 2
    assert err == f"iccp-gateway history: {config}: no sql-historian adapter named 'x'\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["F9"], "unknown point 'F9': no row of it in table"),
        (["F1", "F9", "F8"], "unknown point 'F8', 'F9': no row of it in table"),
        (["F1", "--from", "yesterday"], "'yesterday' is not a time: write ISO 8601"),
        (["F1", "--to", "2026-02-30T00:00:00"], "'2026-02-30T00:00:00' is not a time"),
        (["F1", "--from", iso(50), "--to", iso(10)], f"--to ({iso(10)}) is before --from"),
        (["F1", "--limit", "0"], "--limit must be at least 1"),
    ],
)
async def test_bad_arguments_exit_2_with_one_clear_line(filled, args, message):
    code, out, err = await history(filled, *args)
    assert code == 2 and out == ""
    assert err.startswith("iccp-gateway history: ") and message in err, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err


async def test_a_bad_url_or_table_name_exits_2(tmp_path):
    code, _, err = await run_cli("history", "F1", "--database", "mysql://x@h/db")
    assert code == 2 and "--database: database 'mysql' is not supported" in err
    code, _, err = await run_cli(
        "history", "F1", "--database", f"sqlite:///{tmp_path}/h.db", "--table", "no-such"
    )
    assert code == 2 and err.startswith("iccp-gateway history: --table: ")
    assert "Traceback" not in err


async def test_a_database_that_cannot_be_read_exits_3(tmp_path, postgres):
    missing = f"sqlite:///{tmp_path}/none.db"
    code, _, err = await run_cli("history", "F1", "--database", missing)
    assert code == 3 and f"no SQLite database at {tmp_path}/none.db" in err
    code, _, err = await run_cli("history", "F1", "--database", postgres.dsn, "--table", "absent")
    assert code == 3 and "no historian table 'absent' in this database" in err
    postgres.stop()
    try:
        code, _, err = await run_cli("history", "F1", "--database", postgres.dsn)
    finally:
        postgres.start()
    assert code == 3 and err.startswith("iccp-gateway history: postgresql+asyncpg://postgres@")
    assert "Traceback" not in err and len(err.splitlines()) == 1
