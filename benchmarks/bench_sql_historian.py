"""The `sql-historian` adapter: rows/s from the bus into SQLite and PostgreSQL, and what it
costs the bus.

- `historian_sqlite`, `historian_postgres` (rows/s): 10,000 points, 20 rounds of a new value
  for each (200,000 changes) published with a yield to the event loop between rounds; timed
  from the first round until the last row is committed in the database (the bus queue, the
  journal on disk, the batches, COPY or executemany). Best of the runs. PostgreSQL is a
  throwaway cluster (skipped when it is not installed).
- `historian_bus_ratio`: the bus's own update rate (points/s inside `update_many`) while an
  SQLite historian subscribed to all 10,000 points stores every change, divided by the
  same rate with no historian, measured side by side in one run: after a warm-up, PHASES
  pairs of phases (which one goes first alternates), the median of each side. Each phase
  publishes a round every 100 ms (100,000 changes/s, a load the historian keeps up with:
  nothing is lost, checked) for `PHASE` seconds. The bus's rate is its time inside
  `update_many`, so what it shows is what the historian's subscription, its tasks between
  the rounds and its database thread (the GIL) cost the bus itself.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import report

POINTS = 10_000
ROUNDS = 20
RUNS = 3
PHASE = 2.0
PHASES = 5
PERIOD = 0.1


def _bus() -> tuple[Any, list[str]]:
    from gateway.bus import PointBus
    from gateway.points import PointDef

    bus = PointBus()
    bus.add_owner("bench")
    points = [f"P{i}" for i in range(POINTS)]
    for point in points:
        bus.register(PointDef(id=point), "bench")
    return bus, points


def _historian(bus: Any, url: str, workdir: Path, table: str) -> Any:
    from adapters.sql.historian.adapter import HistorianAdapter
    from adapters.sql.historian.settings import HistorianSettings

    settings = HistorianSettings.model_validate(
        {
            "database": url,
            "table": table,
            "points": ["P*"],
            "journal_dir": str(workdir / f"journal-{table}"),
        },
        context={"base": workdir},
    )
    return HistorianAdapter("bench", settings, bus)


async def _rows_per_second(url: str, workdir: Path, table: str) -> float:
    from gateway.points import GOOD

    bus, points = _bus()
    adapter = _historian(bus, url, workdir, table)
    task = asyncio.create_task(adapter.run())
    try:
        await adapter.flush(60)  # connected, the tables made
        start = time.perf_counter()
        for n in range(ROUNDS):
            bus.update_many(points, [float(n * POINTS + i) for i in range(POINTS)], GOOD, n + 1.0)
            await asyncio.sleep(0)
        await adapter.flush(120)
        elapsed = time.perf_counter() - start
        assert adapter.rows_written == ROUNDS * POINTS and adapter.lost == 0, adapter.status()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await adapter.stop()
    return ROUNDS * POINTS / elapsed


def _best_rows_per_second(url: str, workdir: Path) -> float:
    """Best of RUNS, each into a new table through a new journal."""
    workdir.mkdir()
    return max(asyncio.run(_rows_per_second(url, workdir, f"bench{n}")) for n in range(RUNS))


async def _bus_rate(bus: Any, points: list[str], start: int) -> tuple[float, int]:
    """Points/s inside `update_many` over one phase (a round each PERIOD s), and the rounds."""
    from gateway.points import GOOD

    loop = asyncio.get_running_loop()
    inside = 0.0
    rounds = 0
    end = loop.time() + PHASE
    next_round = loop.time()
    while loop.time() < end:
        values = [float((start + rounds) * POINTS + i) for i in range(POINTS)]
        t0 = time.perf_counter()
        bus.update_many(points, values, GOOD, float(start + rounds + 1))
        inside += time.perf_counter() - t0
        rounds += 1
        next_round += PERIOD
        await asyncio.sleep(max(0.0, next_round - loop.time()))
    return rounds * POINTS / inside, rounds


async def _with_historian(
    bus: Any, points: list[str], url: str, workdir: Path, table: str, start: int
) -> tuple[float, int]:
    """`_bus_rate` while a historian stores every change (all of them: checked)."""
    adapter = _historian(bus, url, workdir, table)
    task = asyncio.create_task(adapter.run())
    try:
        await adapter.flush(60)
        rate, rounds = await _bus_rate(bus, points, start)
        await adapter.flush(120)
        assert adapter.lost == 0 and adapter.rows_written == rounds * POINTS, adapter.status()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await adapter.stop()
    return rate, rounds


async def _bus_ratio(url: str, workdir: Path) -> tuple[float, float, float]:
    """(ratio, rate with, rate without): the medians of PHASES pairs of phases, after a
    warm-up phase; which of a pair goes first alternates."""
    workdir.mkdir()
    bus, points = _bus()
    without: list[float] = []
    with_historian: list[float] = []
    _, done = await _bus_rate(bus, points, 0)
    for pair in range(PHASES):
        for historian in (False, True) if pair % 2 == 0 else (True, False):
            if historian:
                rate, rounds = await _with_historian(
                    bus, points, url, workdir, f"ratio{pair}", done
                )
                with_historian.append(rate)
            else:
                rate, rounds = await _bus_rate(bus, points, done)
                without.append(rate)
            done += rounds
    rate_with, rate_without = statistics.median(with_historian), statistics.median(without)
    return rate_with / rate_without, rate_with, rate_without


def main() -> None:
    from tests.support.peers.postgres import Postgres, find_bindir

    logging.getLogger("adapters.sql").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="bench-sql-historian-") as tmp:
        work = Path(tmp)
        url = f"sqlite:///{work / 'history.sqlite3'}"
        report("historian_sqlite", _best_rows_per_second(url, work / "sqlite"), "rows/s")
        if find_bindir() is None:
            print("historian_postgres: skipped, PostgreSQL not installed (Debian postgresql)")
        else:
            server = Postgres()
            server.start()
            try:
                rate = _best_rows_per_second(server.url, work / "pg")
                report("historian_postgres", rate, "rows/s")
            finally:
                server.remove()
        ratio_url = f"sqlite:///{work / 'ratio.sqlite3'}"
        ratio, rate_with, rate_without = asyncio.run(_bus_ratio(ratio_url, work / "ratio"))
        print(
            f"historian_bus_ratio: bus update_many {rate_with:.0f} points/s with the "
            f"historian, {rate_without:.0f} without"
        )
        report("historian_bus_ratio", ratio, "with/without", digits=2)


if __name__ == "__main__":
    main()
