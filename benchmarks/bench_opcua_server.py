"""The `opcua-server` adapter: start-up with 10,000 variables, and bus changes pushed to one
subscriber (an asyncua client in another process, monitoring all 10,000 nodes).

`opcua_server_start_s` is the time from `run()` to listening, asyncua's `Server.init()`
included. `opcua_server_publish` is the rate at which bus changes (all 10,000 points changed
per round) are written into the address space while the client is subscribed to every
node; the client's received count is checked against what was pushed.
`opcua_server_publish_cpu` is this process's CPU time per value over the same rounds (the bus
update, the writes into the address space and the publish responses' encoding and sending;
the subscriber is another process), the figure that other work on the machine hardly moves.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from benchmarks.common import report
from tests.support import free_port
from tests.support.peers.opcua_client import OpcuaClientPeer

POINTS = 10_000
MEASURE = 3.0


async def _run() -> tuple[float, float, float, int, int]:
    from adapters.opcua.server import OpcuaServerAdapter, OpcuaServerSettings
    from gateway.bus import PointBus
    from gateway.points import GOOD, PointDef

    bus = PointBus()
    bus.add_owner("field")
    ids = [f"G{i // 100:03d}_P{i:05d}" for i in range(POINTS)]
    for point in ids:
        bus.register(PointDef(id=point), "field")
    bus.update_many(ids, [0.0] * POINTS, GOOD, time.time())
    port = free_port()
    settings = OpcuaServerSettings.model_validate({"port": port, "points": [{"point": "*"}]})
    adapter = OpcuaServerAdapter("bench", settings, bus)
    start = time.perf_counter()
    task = asyncio.create_task(adapter.run())
    while not adapter.ready.is_set():
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    start_s = time.perf_counter() - start
    client = OpcuaClientPeer(f"opc.tcp://127.0.0.1:{port}/")
    try:
        ready = await client.start()
        assert ready.get("ready"), ready
        await client.call("subscribe", timeout=120, nodes=[f"ns=2;s={p}" for p in ids])
        await asyncio.sleep(1.0)
        await client.call("take", timeout=60)
        base = adapter.pushed
        rounds = 0
        t0, cpu0 = time.perf_counter(), time.process_time()
        while time.perf_counter() - t0 < MEASURE:
            rounds += 1
            bus.update_many(ids, [float(rounds)] * POINTS, GOOD, time.time())
            while adapter.pushed < base + rounds * POINTS:
                await asyncio.sleep(0.001)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        pushed = adapter.pushed - base
        received = 0
        for _ in range(100):  # the last notifications, bounded
            await asyncio.sleep(0.2)
            received = (await client.call("count", timeout=60))["changes"]
            if received >= pushed:
                break
    finally:
        await client.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return start_s, pushed / elapsed, cpu / pushed * 1e6, pushed, received


def _load() -> str:
    """The 1-minute load average (other work on the machine), "?" where unknown."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def main() -> None:
    logging.getLogger("asyncua").setLevel(logging.ERROR)
    start_s, rate, cpu_us, pushed, received = asyncio.run(_run())
    report("opcua_server_start_s", start_s, "s", 2)
    report("opcua_server_publish", rate, "values/s")
    report("opcua_server_publish_cpu", cpu_us, "us/value", 1)
    print(
        f"# {pushed} values pushed, {received} notifications received; load average {_load()}",
        flush=True,
    )


if __name__ == "__main__":
    main()
