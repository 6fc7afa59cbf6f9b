"""DNP3 master: integrity polls of an opendnp3 outstation, and events applied to the bus.

* `dnp3_integrity_poll`: the `dnp3-master` adapter polls (integrity, back to back) an opendnp3
  outstation (yadnp3, in its own process) holding 1,000 analogs (read as g30v5) and 1,000
  binaries, of which 1,000 analogs + 100 binaries are bound to bus points: bound points read
  per second of wall time, with the outstation's default 2,048-octet fragments (each
  confirmed before the next is sent) and with one 8 KB fragment.
* `dnp3_master_cpu_us_per_point`: the master process's CPU per bound point in those polls
  (the outstation runs in another process).
* `dnp3_events_applied`: response bodies of 1,000 timed analog events (g32v7) decoded and
  applied to a real PointBus, events per second (best of 5; in-process, no socket).
* `dnp3_events_wall`: 1,000 events made at the outstation until all are on the bus, events
  per second (limited by the outstation and its event polls).
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
from collections.abc import AsyncIterator
from typing import Any

from adapters.dnp3.master.adapter import Dnp3MasterAdapter
from adapters.dnp3.master.pointmap import PointMap, bind
from adapters.dnp3.master.settings import Dnp3MasterSettings
from adapters.dnp3.objects import decode_body
from benchmarks.common import best_rate, report
from gateway.bus import PointBus
from gateway.eventloop import run as run_loop
from gateway.points import PointDef
from tests.support import running
from tests.support.peers.dnp3_outstation import Dnp3Outstation, yadnp3_available

ANALOGS, BINARIES_BOUND, MEASURE = 1_000, 100, 3.0
T0_MS = 1_760_000_000_000


def _settings(port: int, **extra: Any) -> Dnp3MasterSettings:
    points = [{"point": f"AI{i}", "type": "analog-input", "index": i} for i in range(ANALOGS)]
    points += [
        {"point": f"BI{i}", "type": "binary-input", "index": i} for i in range(BINARIES_BOUND)
    ]
    outstation = {
        "name": "rtu",
        "host": "127.0.0.1",
        "port": port,
        "unsolicited": False,
        "event_interval": None,
        "static_variations": {"analog-input": 5, "binary-input": 2},
        "event_variations": {"analog-input": 7},
        **extra,
    }
    return Dnp3MasterSettings.model_validate({"outstations": [outstation], "points": points})


def _bus_for(settings: Dnp3MasterSettings) -> PointBus:
    bus = PointBus()
    bus.add_owner("dnp3")
    for binding in settings.bindings:
        kind = "state" if binding.type == "binary-input" else "real"
        bus.register(PointDef(id=binding.point, kind=kind), "dnp3")
    return bus


@contextlib.asynccontextmanager
async def _master(peer: Dnp3Outstation, **extra: Any) -> AsyncIterator[PointBus]:
    """A dnp3-master on a bus, reading `peer`, for the block (after a second to settle)."""
    settings = _settings(peer.port, **extra)
    bus = _bus_for(settings)
    async with running(Dnp3MasterAdapter("dnp3", settings, bus)):
        await asyncio.sleep(1.0)
        yield bus


async def _integrity(max_tx_fragment: int) -> tuple[float, float]:
    """Bound points per second of wall time, and master CPU µs per point."""
    peer = Dnp3Outstation(
        points=ANALOGS, types=["analog-input", "binary-input"], max_tx_fragment=max_tx_fragment
    )
    async with peer:
        await peer.update(
            [{"type": "analog-input", "index": i, "value": i + 0.5} for i in range(ANALOGS)]
            + [{"type": "binary-input", "index": i, "value": i % 2 == 0} for i in range(ANALOGS)],
            mode="suppress",
        )
        async with _master(peer, integrity_interval=0.0001) as bus:
            updates, wall, cpu = bus.stats.updates, time.perf_counter(), time.process_time()
            await asyncio.sleep(MEASURE)
            points = bus.stats.updates - updates
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if points == 0:
        raise RuntimeError("the master read nothing from the outstation")
    return points / wall, cpu / points * 1e6


def _event_body(count: int, base: float) -> bytes:
    """g32v7 (float with time) under qualifier 0x28: `count` events of analog 0..count-1."""
    head = struct.pack("<BBBH", 32, 7, 0x28, count)
    one = struct.Struct("<HBfIH")
    objects = b"".join(
        one.pack(i, 0x01, base + i, (T0_MS + i) & 0xFFFFFFFF, (T0_MS + i) >> 32)
        for i in range(count)
    )
    return head + objects


def _events_applied() -> float:
    settings = _settings(1)
    bus = _bus_for(settings)
    definitions = {b.point: bus.definition(b.point) for b in settings.bindings}
    point_map = PointMap(bind(settings.bindings, definitions))
    bodies = [_event_body(ANALOGS, float(n)) for n in range(2)]
    turn = [0]

    def apply() -> int:
        turn[0] ^= 1
        rows = point_map.rows(decode_body(bodies[turn[0]]).runs, False)
        bus.update_rows(rows.points, rows.values, rows.qualities, rows.times)
        return len(rows.points)

    return best_rate(apply)


async def _events_wall() -> float:
    peer = Dnp3Outstation(points=ANALOGS, types=["analog-input", "binary-input"], event_buffer=5000)
    async with peer:
        await peer.update(
            [{"type": "analog-input", "index": i, "value": 0.0} for i in range(ANALOGS)],
            mode="suppress",
        )
        best = 0.0
        async with _master(peer, event_interval=0.001) as bus:
            for n in range(1, 4):
                changes = bus.stats.changes
                start = time.perf_counter()
                await peer.update(
                    [{"type": "analog-input", "index": i, "value": n + i} for i in range(ANALOGS)],
                    mode="force",
                    time=T0_MS + n,
                )
                for _ in range(1000):
                    if bus.stats.changes - changes >= ANALOGS:
                        break
                    await asyncio.sleep(0.001)
                best = max(best, (bus.stats.changes - changes) / (time.perf_counter() - start))
    return best


def main() -> None:
    if not yadnp3_available():
        print("# bench_dnp3: yadnp3 is not installed; skipped", flush=True)
        return
    for fragment in (2048, 8192):
        rate, cpu = run_loop(_integrity(fragment))  # on the loop the gateway runs on
        suffix = "" if fragment == 2048 else "_8k_fragment"
        report(f"dnp3_integrity_poll{suffix}", rate, "points/s")
        report(f"dnp3_master_cpu_us_per_point{suffix}", cpu, "us", 2)
    report("dnp3_events_applied", _events_applied(), "events/s")
    report("dnp3_events_wall", run_loop(_events_wall()), "events/s")


if __name__ == "__main__":
    main()
