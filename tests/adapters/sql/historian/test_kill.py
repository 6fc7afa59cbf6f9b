"""A real `iccp-gateway run` process killed with SIGKILL while its historian's rows wait in
the journal (PostgreSQL stopped), then started again with the database back: every journalled
row reaches the database once, in order, and nothing is counted lost. A segment torn in the
middle of a record (as a crash during `write()` leaves it) is cut back to its last whole
record, with one clear log line.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from adapters.sql.historian.journal import HEAD_SIZE, SUFFIX, rows_of, scan
from tests.gateway.api.running import RunningGateway, gateway_process
from tests.support import free_port

pytestmark = pytest.mark.timeout(120)

POINTS = [f"G{i}" for i in range(1, 21)]


def config(postgres: Any, table: str, journal: Path) -> dict[str, Any]:
    """A `sim` adapter moving 20 points every 20 ms, and an sql-historian storing them."""
    return {
        "gateway": {"name": "kill-gw", "api": {"listen": f"127.0.0.1:{free_port()}"}},
        "points": [{"id": p, "units": "MW"} for p in POINTS],
        "adapters": [
            {
                "name": "plant",
                "type": "sim",
                "interval": 0.02,
                "seed": 18,
                "points": [{"point": p, "min": 0, "max": 100} for p in POINTS],
            },
            {
                "name": "hist",
                "type": "sql-historian",
                "database": postgres.dsn,
                "table": table,
                "points": ["G*"],
                "journal_dir": str(journal),
                "backoff_initial": 0.05,
                "backoff_max": 0.2,
                "connect_timeout": 1.0,
                "write_timeout": 2.0,
            },
        ],
    }


def historian_status(gateway: RunningGateway) -> dict[str, Any]:
    reply = httpx.get(f"{gateway.url}/api/v1/adapters/hist", timeout=5)
    reply.raise_for_status()
    entry: dict[str, Any] = reply.json()
    return entry["status"]


def wait_for(what: str, check: Any, gateway: RunningGateway, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = historian_status(gateway)
        if check(status):
            return status
        assert gateway.proc.poll() is None, gateway.log_text()
        time.sleep(0.1)
    raise AssertionError(f"{what}: last status {status}\n{gateway.log_text()}")


def journal_rows(journal: Path) -> list[tuple[str, float]]:
    """(point, time) of every whole record's rows on disk, in journal order (read only)."""
    out = []
    for path in sorted(journal.glob(f"*{SUFFIX}")):
        out.extend((row.point, row.ts) for row in rows_of(path.read_bytes()))
    return out


async def stored(postgres: Any, table: str, until: float) -> list[tuple[str, float, int]]:
    """(point, time, cov) of the rows stamped before `until`, in time order."""
    conn = await asyncpg.connect(postgres.dsn)
    try:
        rows = await conn.fetch(
            f"SELECT point, extract(epoch FROM time)::float8, cov FROM {table} "
            "WHERE time < to_timestamp($1) ORDER BY time, point",
            until,
        )
    finally:
        await conn.close()
    return [(r[0], r[1], r[2]) for r in rows]


def kill_with_rows_in_the_journal(postgres: Any, tmp_path: Path, table: str) -> tuple[Path, float]:
    """Run the gateway with the database down until rows wait in the journal, then SIGKILL
    it; returns the journal directory and a time after the kill."""
    journal = tmp_path / "journal"
    postgres.stop()
    first = tmp_path / "first"
    first.mkdir()
    with gateway_process(config(postgres, table, journal), first) as gateway:
        wait_for(
            "rows journalled while the database is down",
            lambda s: s["journal_rows"] >= 1500 and s["failures"] > 0,
            gateway,
        )
        os.kill(gateway.proc.pid, signal.SIGKILL)
        gateway.proc.wait(10)
        assert gateway.proc.returncode == -signal.SIGKILL
    killed_at = time.time()
    postgres.start()
    return journal, killed_at


def restart_until_caught_up(
    postgres: Any, tmp_path: Path, table: str, journal: Path, expected: int
) -> tuple[dict[str, Any], str]:
    """Start the gateway again (database up) until the journal is empty; its last status
    and its log."""
    second = tmp_path / "second"
    second.mkdir()
    with gateway_process(config(postgres, table, journal), second) as gateway:
        status = wait_for(
            "the journal written to the database",
            lambda s: s["rows_written"] >= expected and s["journal_rows"] < 200,
            gateway,
        )
        log = gateway.log_text()
    return status, log


def check_stored(rows: list[tuple[str, float, int]], journalled: list[tuple[str, float]]):
    """The rows of the first run are exactly the journalled ones: once each, and in each
    point's order (its COV counts 1, 2, 3... without a gap)."""
    assert len(rows) == len(journalled)
    by_time = sorted(journalled, key=lambda r: (r[1], r[0]))
    assert [(p, round(t, 6)) for p, t, _ in rows] == [(p, round(t, 6)) for p, t in by_time]
    for point in POINTS:  # the journal itself is in time order, point by point
        stamps = [t for p, t in journalled if p == point]
        assert stamps == sorted(stamps), point
    for point in POINTS:
        covs = [c for p, _, c in rows if p == point]
        assert covs == list(range(1, len(covs) + 1)), point


async def test_rows_journalled_before_a_kill_9_reach_the_database_once_in_order(postgres, tmp_path):
    table = f"k_{uuid.uuid4().hex[:8]}"
    journal, killed_at = kill_with_rows_in_the_journal(postgres, tmp_path, table)
    journalled = journal_rows(journal)
    assert len(journalled) >= 1500
    status, log = restart_until_caught_up(postgres, tmp_path, table, journal, len(journalled))
    assert status["lost"] == 0 and status["journal_dropped"] == 0
    assert f"{len(journalled)} rows in the journal from before" in log
    assert "Traceback" not in log
    check_stored(await stored(postgres, table, killed_at), journalled)


async def test_a_segment_torn_mid_record_is_cut_to_its_last_whole_record(postgres, tmp_path):
    table = f"t_{uuid.uuid4().hex[:8]}"
    journal, killed_at = kill_with_rows_in_the_journal(postgres, tmp_path, table)
    newest = sorted(journal.glob(f"*{SUFFIX}"))[-1]
    data = newest.read_bytes()
    records, sound = scan(data)
    assert records and sound == len(data)
    last_offset = records[-1][0]
    cut_at = last_offset + HEAD_SIZE + 7  # the last record: its head and 7 bytes of payload
    with newest.open("r+b") as f:
        f.truncate(cut_at)
    torn = cut_at - last_offset
    journalled = journal_rows(journal)  # the whole records only
    assert len(journalled) >= 1000
    status, log = restart_until_caught_up(postgres, tmp_path, table, journal, len(journalled))
    assert f"journal {journal}: cut {torn} bytes of a record torn by a crash ({newest.name})" in log
    assert f"{len(journalled)} rows in the journal from before" in log
    assert "Traceback" not in log
    assert status["lost"] == 0
    check_stored(await stored(postgres, table, killed_at), journalled)
