"""Operations surface benchmarks: the console's live stream, the points query, the bus's cost.

The gateway (a Runtime of 10,000 points and the API's uvicorn, in one event loop as in
``iccp-gateway run``) runs in this process; a producer task rewrites all 10,000 points as
fast as the loop lets it (every value changes, so every update is a recorded change). The
clients are real HTTP clients over loopback, in a separate process, so that their work does
not count against the gateway's CPU; they are pinned to other CPUs than the gateway's.

* ``console_sse``: one browser-like SSE client (``/api/v1/stream`` at the console's own
  ``interval=0.15``; it parses every event's JSON like ``console.js`` does) counts the point
  updates it is delivered. Coalescing means delivered <= produced (at most 10,000 points
  per event, 6.7 events/s); the producer's rate in the same seconds is printed beside it.
  ``console_sse_unpaced`` is the same client with ``interval=0``: what the stream path can
  carry when the client asks for every change at once.
* ``api_points``: requests/s of ``GET /api/v1/points`` answering all 10,000 points, from
  4 concurrent httpx clients in one client process (bus idle).
* ``api_bus_ratio``: the bus's own change rate with one console stream open divided by
  without: 7 phases of 1.5 s with one, each divided by the mean of the phases without
  around it, and the median of those ratios, in one run, the client process staying up and
  connecting for each "with" phase (goal >= 0.90). On a shared
  machine the client process's own CPU and other work slow the gateway too; beside it,
  ``api_bus_ratio_cpu`` is the same ratio of changes per CPU second of the gateway process:
  what the console costs the gateway itself, whatever else the machine runs.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import multiprocessing
import os
import resource
import statistics
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import report
from gateway.api.control import RuntimeOperations
from gateway.api.server import ApiServer
from gateway.config import build_config
from gateway.eventloop import run as run_loop
from gateway.points import GOOD
from gateway.runtime import Runtime

POINTS = 10_000
IDS = [f"P{i:05d}" for i in range(POINTS)]
PHASE = 1.5
"""Seconds of one measuring phase."""
CONSOLE = 0.15
"""The interval ``console.js`` asks the stream for."""


def _load() -> str:
    """The 1-minute load average (other work on the machine), "?" where unknown."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


# --------------------------------------------------------------------------- client process


def _sse_client(pipe: Connection) -> None:
    """A browser-like console client, told what to do over ``pipe``: ``("open", url)``
    reads that stream (parsing each event, counting its points) until ``"close"``;
    ``"mark"`` answers ``(points delivered, events)`` so far; ``"stop"`` ends it."""
    counts = [0, 0]
    reader: threading.Thread | None = None
    closing = threading.Event()

    def read(url: str, opened: threading.Event) -> None:
        timeout = httpx.Timeout(30.0, read=60.0)
        with httpx.Client(timeout=timeout) as http, http.stream("GET", url) as response:
            response.raise_for_status()
            opened.set()
            buffer = b""
            for chunk in response.iter_raw():
                buffer += chunk
                *events, buffer = buffer.split(b"\n\n")
                for event in events:
                    if not event.startswith(b"event: values\n"):
                        continue
                    data = event.split(b"\ndata: ", 1)[1]
                    counts[0] += len(json.loads(data))
                    counts[1] += 1
                if closing.is_set():
                    return

    while True:
        said = pipe.recv()
        if isinstance(said, tuple) and said[0] == "open":
            closing.clear()
            opened = threading.Event()
            reader = threading.Thread(target=read, args=(said[1], opened), daemon=True)
            reader.start()
            pipe.send("open" if opened.wait(30) else "failed")
        elif said in ("close", "stop"):
            closing.set()
            if reader is not None:
                reader.join(10)
                reader = None
            pipe.send(said)
            if said == "stop":
                return
        else:
            pipe.send((counts[0], counts[1]))


async def _points_clients(url: str, concurrency: int, seconds: float) -> tuple[int, int]:
    """Requests (and points) answered by ``concurrency`` clients in ``seconds``."""
    deadline = time.perf_counter() + seconds
    answered = [0, 0]

    async def one() -> None:
        async with httpx.AsyncClient(timeout=30.0) as http:
            while time.perf_counter() < deadline:
                response = await http.get(url)
                response.raise_for_status()
                answered[0] += 1
                answered[1] += response.json()["total"]

    await asyncio.gather(*(one() for _ in range(concurrency)))
    return answered[0], answered[1]


def _points_client(url: str, concurrency: int, seconds: float, pipe: Connection) -> None:
    """Entry point of the points-query client process: sends ``(requests, points, wall)``."""
    asyncio.run(_points_clients(url, concurrency, 0.5))  # warm up
    start = time.perf_counter()
    requests, points = asyncio.run(_points_clients(url, concurrency, seconds))
    pipe.send((requests, points, time.perf_counter() - start))


def _cpus() -> tuple[set[int], set[int]] | None:
    """The CPUs for the gateway and for the client processes (split in two), None with
    fewer than two: a client never runs on the gateway's CPU."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    half = len(cpus) // 2
    return set(cpus[:half]), set(cpus[half:])


def _spawn(target: Any, *args: Any) -> tuple[Any, Connection]:
    ctx = multiprocessing.get_context("spawn")
    mine, theirs = ctx.Pipe()
    proc = ctx.Process(target=target, args=(*args, theirs), daemon=True)
    proc.start()
    split = _cpus()
    if split is not None:
        os.sched_setaffinity(proc.pid, split[1])
    return proc, mine


def _end(proc: Any) -> None:
    proc.join(10)
    if proc.is_alive():
        proc.kill()
        proc.join()


# --------------------------------------------------------------------------- gateway side


def _config() -> dict[str, Any]:
    return {
        "gateway": {"name": "bench", "api": {"listen": "127.0.0.1:0"}},
        "points": [{"id": p} for p in IDS],
        "adapters": [],
    }


class _Producer:
    """Rewrites every point (each value changes) as fast as the loop lets it, until stopped."""

    def __init__(self, runtime: Runtime) -> None:
        self.bus = runtime.bus
        self.running = True
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        value = 0.0
        update = self.bus.update_many
        while self.running:
            value += 1.0
            update(IDS, [value] * POINTS, GOOD, time.time())
            await asyncio.sleep(0)

    async def stop(self) -> None:
        self.running = False
        await self.task


def _cpu() -> float:
    """CPU seconds (user + system) this process has used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _Window:
    """The bus's changes, the wall time and this process's CPU over one measuring phase."""

    def __init__(self, runtime: Runtime) -> None:
        self.stats = runtime.bus.stats
        self.changes, self.wall, self.cpu = self.stats.changes, time.perf_counter(), _cpu()

    def close(self) -> tuple[float, float, float]:
        """(changes per second, changes per CPU second of the gateway, wall seconds)."""
        changes = self.stats.changes - self.changes
        wall, cpu = time.perf_counter() - self.wall, _cpu() - self.cpu
        return changes / wall, changes / cpu, wall


async def _rate(runtime: Runtime, seconds: float) -> tuple[float, float]:
    """The bus's recorded changes per second and per CPU second over ``seconds``."""
    window = _Window(runtime)
    await asyncio.sleep(seconds)
    rate, per_cpu, _ = window.close()
    return rate, per_cpu


async def _ask(pipe: Connection, what: Any = "mark", timeout: float = 30.0) -> Any:
    loop = asyncio.get_running_loop()
    pipe.send(what)
    return await asyncio.wait_for(loop.run_in_executor(None, pipe.recv), timeout)


async def _phases(runtime: Runtime, url: str, rounds: int) -> dict[str, float]:
    """Alternate phases without and with one console stream of ``url`` open (the client
    process stays up, connecting and disconnecting), starting and ending without: each
    phase with the console is compared with the mean of the phases around it (so a drift
    of the machine's speed cancels), and the medians of those ratios, of the bus's change
    rate and of the points delivered are returned."""
    proc, pipe = _spawn(_sse_client)
    alone, together, delivered, alone_cpu, together_cpu = [], [], [], [], []

    async def without() -> None:
        await asyncio.sleep(0.3)  # the last stream's socket is closed and drained
        rate, per_cpu = await _rate(runtime, PHASE)
        alone.append(rate)
        alone_cpu.append(per_cpu)

    try:
        await without()
        for _ in range(rounds):
            said = await _ask(pipe, ("open", url))
            assert said == "open", said
            await asyncio.sleep(0.5)  # the snapshot and first events are out of the way
            (first, _), window = await _ask(pipe), _Window(runtime)
            await asyncio.sleep(PHASE)
            (last, _), (rate, per_cpu, wall) = await _ask(pipe), window.close()
            await _ask(pipe, "close")
            together.append(rate)
            together_cpu.append(per_cpu)
            delivered.append((last - first) / wall)
            await without()
        await _ask(pipe, "stop")
    finally:
        _end(proc)
    median = statistics.median

    def ratio(withs: list[float], withouts: list[float]) -> float:
        around = [(a + b) / 2 for a, b in itertools.pairwise(withouts)]
        return median(w / a for w, a in zip(withs, around, strict=True))

    return {
        "alone": median(alone),
        "with": median(together),
        "ratio": ratio(together, alone),
        "ratio_cpu": ratio(together_cpu, alone_cpu),
        "delivered": median(delivered),
    }


async def _run() -> dict[str, float]:
    runtime = Runtime(build_config(_config(), "<bench>"))
    await runtime.start()
    server = ApiServer(RuntimeOperations(runtime))
    api = runtime.config.gateway.api
    assert api is not None
    await server.start(api)
    out: dict[str, float] = {}
    try:
        runtime.bus.update_many(IDS, [0.0] * POINTS, GOOD, time.time())
        proc, pipe = _spawn(_points_client, f"{server.url}/api/v1/points", 4, 5.0)
        loop = asyncio.get_running_loop()
        requests, points, wall = await asyncio.wait_for(loop.run_in_executor(None, pipe.recv), 120)
        _end(proc)
        assert points == requests * POINTS, (points, requests)
        out["api_points"] = requests / wall

        producer = _Producer(runtime)
        try:
            paced = await _phases(runtime, f"{server.url}/api/v1/stream?interval={CONSOLE}", 7)
            unpaced = await _phases(runtime, f"{server.url}/api/v1/stream?interval=0", 1)
        finally:
            await producer.stop()
        out["console_sse"], out["console_sse_producer"] = paced["delivered"], paced["with"]
        out["bus_alone"], out["api_bus_ratio"] = paced["alone"], paced["ratio"]
        out["api_bus_ratio_cpu"] = paced["ratio_cpu"]
        out["console_sse_unpaced"] = unpaced["delivered"]
        out["console_sse_unpaced_producer"] = unpaced["with"]
    finally:
        await server.stop()
        await runtime.stop()
    return out


def main() -> None:
    """Print the operations surface figures (and the load average they were taken at)."""
    split, before = _cpus(), os.sched_getaffinity(0)
    if split is not None:
        os.sched_setaffinity(0, split[0])  # the clients get the other CPUs (_spawn)
    try:
        got = run_loop(_run())  # the gateway's own loop (uvloop where installed)
    finally:
        os.sched_setaffinity(0, before)
    report("console_sse", got["console_sse"], "point updates/s")
    print(
        f"# console_sse: producer {got['console_sse_producer']:.0f} changes/s on the bus, "
        f"stream interval {CONSOLE} s (the console's), load {_load()}",
        flush=True,
    )
    report("console_sse_unpaced", got["console_sse_unpaced"], "point updates/s")
    print(
        f"# console_sse_unpaced: producer {got['console_sse_unpaced_producer']:.0f} changes/s",
        flush=True,
    )
    report("api_points", got["api_points"], "requests/s", 1)
    report("api_bus_ratio", got["api_bus_ratio"], "with console/without", 3)
    report("api_bus_ratio_cpu", got["api_bus_ratio_cpu"], "with console/without", 3)
    print(
        f"# api_bus_ratio: bus {got['console_sse_producer']:.0f} changes/s with one console, "
        f"{got['bus_alone']:.0f} without; load {_load()}",
        flush=True,
    )


if __name__ == "__main__":
    main()
