"""Bad SQL and bad settings of the SQL adapters through `iccp-gateway check` (a subprocess)
and through a live reload of a running gateway: each is one error line naming the adapter
(its index and line in the file) and the field, never a traceback; a refused reload leaves
the running adapters as they were.

SQLite files are looked into when a configuration is checked (SQLite compiles the
statements, read only); a PostgreSQL database is not contacted then: its objections are
named at the first connection (test_operation.py::test_bad_sql_at_the_first_connection).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.gateway.api.running import RunningGateway, gateway_process
from tests.support import REPO, free_port

pytestmark = pytest.mark.timeout(120)

SOURCE_TABLE = (
    "CREATE TABLE readings (seq INTEGER PRIMARY KEY AUTOINCREMENT, tag TEXT, value REAL, "
    "status TEXT, ts TEXT)"
)


def make_files(directory: Path) -> None:
    """The source's database (table `readings`, one row of A) and a foreign table in the
    historian's database."""
    with sqlite3.connect(directory / "source.db") as conn:
        conn.execute(SOURCE_TABLE)
        conn.execute("CREATE TABLE setpoints (name TEXT PRIMARY KEY, value REAL)")
        conn.execute("INSERT INTO readings (tag, value, status) VALUES ('A', 1.5, 'good')")
    with sqlite3.connect(directory / "other.db") as conn:
        conn.execute("CREATE TABLE foreign_history (something INTEGER)")


def source(**changes: Any) -> dict[str, Any]:
    adapter = {
        "name": "der-db",
        "type": "sql-source",
        "database": "sqlite:///source.db",
        "table": "readings",
        "mark": "seq",
        "key": "tag",
        "value": "value",
        "poll_interval": 0.1,
        "points": [{"point": "P1", "key": "A"}],
    }
    adapter.update(changes)
    return {k: v for k, v in adapter.items() if v is not None}


def historian(**changes: Any) -> dict[str, Any]:
    adapter = {
        "name": "store",
        "type": "sql-historian",
        "database": "sqlite:///history.db",
        "points": ["P*"],
    }
    adapter.update(changes)
    return adapter


def config(src: dict[str, Any], hist: dict[str, Any], api: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "gateway": {"name": "sql-gw"},
        "points": [{"id": "P1"}, {"id": "P2"}],
        "adapters": [
            src,
            hist,
            {"name": "plant", "type": "sim", "interval": 0.1, "points": [{"point": "P2"}]},
        ],
    }
    if api is not None:
        data["gateway"]["api"] = {"listen": f"127.0.0.1:{api}"}
    return data


def check(directory: Path, data: dict[str, Any]) -> tuple[int, str, str]:
    path = directory / "gw.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    return done.returncode, done.stdout, done.stderr


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_the_good_configuration_passes(tmp_path):
    make_files(tmp_path)
    code, out, err = check(tmp_path, config(source(), historian()))
    assert (code, err) == (0, "") and "OK (2 points, 3 adapters)" in out


SOURCE_ERRORS = [
    (
        {"value": "valu"},
        "adapters[0]: value: SQLite refuses the poll statement: no such column: valu "
        "(the columns of readings: seq, tag, value, status, ts)",
    ),
    ({"mark": "sequence"}, "adapters[0]: mark: SQLite refuses the poll statement: no such column"),
    ({"quality": "state"}, "adapters[0]: quality: SQLite refuses the poll statement: no such col"),
    ({"table": "nothere"}, "adapters[0]: table: SQLite refuses the poll statement: no such table"),
    (
        {"table": None, "query": "SELECT seq, tag, value FROM readings WHERE WHERE"},
        'adapters[0]: query: SQLite refuses the poll statement: near "WHERE": syntax error',
    ),
    (
        {"table": None, "query": "SELECT seq, tag, valu FROM readings"},
        "adapters[0]: query: SQLite refuses the poll statement: no such column: valu",
    ),
    (
        {
            "command": "UPDATE setpoint SET value = :value WHERE name = :key",
            "points": [{"point": "P1", "key": "A", "writable": True}],
        },
        "adapters[0]: command: SQLite refuses the command statement: no such table: setpoint",
    ),
    (
        {"database": "mysql://user@host/db"},
        "adapters[0].database: database 'mysql' is not supported",
    ),
    ({"database": "postgresql://user@host"}, "adapters[0].database: a PostgreSQL URL names its"),
    ({"table": "a b"}, "adapters[0]: table 'a b' is not a plain"),
]


@pytest.mark.parametrize(("changes", "message"), SOURCE_ERRORS)
def test_bad_sql_source_settings_are_one_error_naming_the_field(tmp_path, changes, message):
    make_files(tmp_path)
    code, out, err = check(tmp_path, config(source(**changes), historian()))
    lines = err.splitlines()
    assert code == 1 and out == "" and len(lines) == 1, err
    assert message in lines[0] and "Traceback" not in err
    path = tmp_path / "gw.yaml"
    where = "- name: der-db" if "adapters[0]:" in message else "  database: "
    assert lines[0].startswith(f"{path}:{line_of(path, where)}: adapters[0]")


HISTORIAN_ERRORS = [
    (
        {"database": "sqlite:///other.db", "table": "foreign_history"},
        "adapters[1]: table: table 'foreign_history' in {dir}/other.db was not created by the "
        "historian (no 'foreign_history_schema' table): choose another table name",
    ),
    ({"database": "oracle://u@h/db"}, "adapters[1].database: database 'oracle' is not supported"),
    ({"database": "sqlite:///:memory:"}, "adapters[1].database: an SQLite URL names a file"),
    ({"table": "1history"}, "adapters[1].table: "),
    ({"retention": {"days": 0}}, "adapters[1].retention.days: Input should be greater than 0"),
    ({"points": []}, "adapters[1].points: List should have at least 1 item"),
]


@pytest.mark.parametrize(("changes", "message"), HISTORIAN_ERRORS)
def test_bad_sql_historian_settings_are_one_error_naming_the_field(tmp_path, changes, message):
    make_files(tmp_path)
    code, out, err = check(tmp_path, config(source(), historian(**changes)))
    lines = err.splitlines()
    assert code == 1 and out == "" and len(lines) == 1, err
    assert message.format(dir=tmp_path) in lines[0] and "Traceback" not in err


def test_a_database_file_that_is_not_sqlite_is_named(tmp_path):
    make_files(tmp_path)
    (tmp_path / "junk.db").write_bytes(b"this is not a database" * 100)
    code, _, err = check(tmp_path, config(source(database="sqlite:///junk.db"), historian()))
    assert code == 1 and "adapters[0]: database:" in err and "junk.db" in err
    code, _, err = check(tmp_path, config(source(), historian(database="sqlite:///junk.db")))
    assert code == 1 and "adapters[1]: database:" in err and "Traceback" not in err


# -- a live reload ---------------------------------------------------------------------------


def adapter_entry(gateway: RunningGateway, name: str) -> dict[str, Any]:
    reply = httpx.get(f"{gateway.url}/api/v1/adapters/{name}", timeout=5)
    reply.raise_for_status()
    entry: dict[str, Any] = reply.json()
    return entry


def point_value(gateway: RunningGateway, point: str) -> Any:
    reply = httpx.get(f"{gateway.url}/api/v1/points/{point}", timeout=5)
    reply.raise_for_status()
    return reply.json()["value"]


def eventually(what: str, check: Any, gateway: RunningGateway, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        assert gateway.proc.poll() is None, gateway.log_text()
        time.sleep(0.1)
    raise AssertionError(f"{what}:\n{gateway.log_text()}")


def test_a_bad_reload_is_refused_and_the_sql_adapters_run_on_untouched(tmp_path):
    make_files(tmp_path)
    good = config(source(), historian(), api=free_port())
    with gateway_process(good, tmp_path) as gateway:
        eventually("P1 read", lambda: point_value(gateway, "P1") == 1.5, gateway)
        eventually(
            "rows stored",
            lambda: adapter_entry(gateway, "store")["status"]["rows_written"] > 0,
            gateway,
        )
        before = {name: adapter_entry(gateway, name) for name in ("der-db", "store")}
        bad_configs = [
            (config(source(value="valu"), historian(), api=None), "value: SQLite refuses"),
            (config(source(table="nothere"), historian(), api=None), "table: SQLite refuses"),
            (
                config(source(), historian(database="mysql://u@h/db"), api=None),
                "adapters[1].database: database 'mysql' is not supported",
            ),
        ]
        for n, (data, message) in enumerate(bad_configs, 1):
            data["gateway"] = good["gateway"]
            gateway.config.write_text(yaml.safe_dump(data, sort_keys=False))
            eventually(
                f"reload {n} refused",
                lambda n=n: gateway.log_text().count("keeps running the last good one") == n,
                gateway,
            )
            assert message in gateway.log_text()
        with sqlite3.connect(tmp_path / "source.db") as conn:
            conn.execute("INSERT INTO readings (tag, value, status) VALUES ('A', 2.5, 'good')")
        eventually("the new row read", lambda: point_value(gateway, "P1") == 2.5, gateway)
        written = adapter_entry(gateway, "store")["status"]["rows_written"]
        eventually(
            "the historian writing on",
            lambda: adapter_entry(gateway, "store")["status"]["rows_written"] > written,
            gateway,
        )
        for name, old in before.items():
            now = adapter_entry(gateway, name)
            assert now["state"] == "running" and now["restarts"] == old["restarts"], now
        connects = adapter_entry(gateway, "store")["status"]["connects"]
        assert connects == before["store"]["status"]["connects"] == 1
        assert "Traceback" not in gateway.log_text()


def test_a_database_held_by_a_writer_is_left_to_the_adapter(tmp_path):
    """A file locked by another writer right now is no reason to refuse a configuration:
    the check is left to the adapter's first connection."""
    make_files(tmp_path)
    holder = sqlite3.connect(tmp_path / "source.db", isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        code, out, err = check(tmp_path, config(source(value="valu"), historian()))
    finally:
        holder.close()
    assert (code, err) == (0, "") and "OK" in out
    code, _, err = check(tmp_path, config(source(value="valu"), historian()))
    assert code == 1 and "value: SQLite refuses the poll statement" in err
