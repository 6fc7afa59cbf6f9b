"""Modbus polling: 10 simulated devices x 1,000 float32 values on loopback, points/s.

The devices are pymodbus servers in a separate process (so the figure is the client's, not
the server's CPU competing with it); the client is the `modbus-client` adapter polling as
fast as it can into a real PointBus, one connection per device.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import report
from tests.support import free_ports

DEVICES = 10
VALUES = 1_000
WARMUP = 1.0
MEASURE = 3.0


async def _serve(ports: list[int], lifetime: float) -> None:
    """The devices: one pymodbus server per port, each with VALUES float32 values."""
    from pymodbus.server import ModbusTcpServer
    from pymodbus.simulator import DataType, SimData, SimDevice

    logging.getLogger("pymodbus.logging").setLevel(logging.CRITICAL)  # no per-request lines
    servers = []
    for n, port in enumerate(ports):
        values = [float(n * VALUES + i) + 0.5 for i in range(VALUES)]
        data = SimData(0, values=values, datatype=DataType.FLOAT32)
        server = ModbusTcpServer(SimDevice(0, simdata=[data]), address=("127.0.0.1", port))
        await server.serve_forever(background=True)
        servers.append(server)
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    await asyncio.wait_for(loop.run_in_executor(None, sys.stdin.read), lifetime)


def _start_devices(ports: list[int]) -> subprocess.Popen[bytes]:
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.bench_modbus", "--serve", *map(str, ports)],
        cwd=root,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != b"ready":
        proc.kill()
        raise RuntimeError("the simulated devices did not start")
    return proc


async def _poll_rate(ports: list[int]) -> float:
    from adapters.modbus import ModbusClientAdapter, ModbusClientSettings
    from gateway.bus import PointBus
    from gateway.points import PointDef

    bus = PointBus()
    bus.add_owner("bench")
    devices, points = [], []
    for n, port in enumerate(ports):
        devices.append({"name": f"d{n}", "host": "127.0.0.1", "port": port, "poll_interval": 0.001})
        for i in range(VALUES):
            point = f"D{n}_{i}"
            bus.register(PointDef(id=point), "bench")
            points.append({"point": point, "device": f"d{n}", "address": 2 * i, "type": "float32"})
    settings = ModbusClientSettings.model_validate({"devices": devices, "points": points})
    adapter = ModbusClientAdapter("bench", settings, bus)
    task = asyncio.create_task(adapter.run())
    try:
        await asyncio.sleep(WARMUP)
        first, start = bus.stats.updates, time.perf_counter()
        await asyncio.sleep(MEASURE)
        rate = (bus.stats.updates - first) / (time.perf_counter() - start)
        states = {d["state"] for d in adapter.status()["devices"].values()}
        if states != {"up"}:
            raise RuntimeError(f"devices not all up: {states}")
        assert bus.get("D3_7").value == 3 * VALUES + 7.5
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return rate


def main() -> None:
    ports = free_ports(DEVICES)
    proc = _start_devices(ports)
    try:
        rate = asyncio.run(_poll_rate(ports))
    finally:
        proc.kill()
        proc.wait()
    report("modbus_poll", rate, "points/s")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--serve":
        import contextlib

        with contextlib.suppress(TimeoutError, KeyboardInterrupt):
            asyncio.run(_serve([int(p) for p in sys.argv[2:]], lifetime=120.0))
    else:
        main()
