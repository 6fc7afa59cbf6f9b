"""The ICCP server read path against a C MMS server, with the same libiec61850 client.

One run starts two servers, each in its own process so that ``/proc/PID/stat`` gives its CPU
alone:

* **ours**: the ``tase2-server`` adapter serving ``POINTS`` analog points (``P000``..) as
  Data_RealQTimeTag to a bilateral table (domain ``ICC1``), started by this module with
  ``--serve PORT``;
* **C**: libiec61850's ``IedServer`` built at run time by the test peer
  (``tests/support/peers/libiec61850_peer.py``, mode ``ied-server``) with ``POINTS`` MV data
  objects ``GGIO1.AnIn1``.. (``mag.f``, ``q``, ``t``) in logical device ``testld``.

The client is the test peer's libiec61850 client (raw ``MmsConnection_*`` API) in its own
process. Against each server it makes (a) single Reads of one point (``ICC1/P000`` against
``testld/GGIO1$MX$AnIn1``), one request at a time, for ``PHASE_SECONDS``, and (b) Reads of a
``NVL_SIZE``-member named variable list defined once, counting points. The client runs
against the servers alternately, ``ROUNDS`` times each (ours, C, C, ours, ours, C...), to
even out the drift of a shared machine's speed; rates and CPU figures are totals over the
rounds. Server CPU is utime + stime from ``/proc/PID/stat`` sampled while the client waits
before and after each phase; RSS is VmRSS of each server at the end.

Then ``ONE_CORE_ROUNDS`` more rounds run with both servers and the client pinned to one CPU
(the ``*_one_core`` figures). Where the kernel places them, the client and the server mostly
run on different CPUs and each request wakes the server across CPUs, which on a virtual
machine can cost more than the server's own work; on one CPU the figures compare what the
servers themselves do per request.

pyiec61850 is GPL and only a test peer; without it the benchmark prints one ``skipped`` line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import IO, Any

from benchmarks.common import report
from gateway.eventloop import run as run_loop
from tests.support import REPO, free_port

POINTS = 100
NVL_SIZE = 15
PHASE_SECONDS = 1.5
ROUNDS = 6
ONE_CORE_ROUNDS = 4
DOMAIN = "ICC1"
SERVER_AP, PEER_AP = "1.1.1.999.1", "1.1.1.999"  # libiec61850's default called/calling titles
IDS = [f"P{i:03d}" for i in range(POINTS)]
C_DOMAIN = "testld"
C_ITEMS = [f"GGIO1$MX$AnIn{i}" for i in range(1, POINTS + 1)]
START_TIMEOUT = 30.0
CLOCK_TICK = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- our server


async def _serve(port: int) -> None:
    """Our TASE.2 server on ``port`` until a line (or EOF) arrives on stdin."""
    from adapters.tase2.server.adapter import Tase2ServerAdapter
    from adapters.tase2.server.settings import Tase2ServerSettings
    from gateway.bus import PointBus
    from gateway.points import GOOD, PointDef

    bus = PointBus()
    bus.add_owner("feed")
    for p in IDS:
        bus.register(PointDef(id=p), "feed")
    bus.update_many(IDS, [i + 0.5 for i in range(POINTS)], GOOD, time.time())
    settings = Tase2ServerSettings.model_validate(
        {
            "host": "127.0.0.1",
            "port": port,
            "ap_title": SERVER_AP,
            "ae_qualifier": 12,
            "tables": [
                {
                    "id": "BENCH",
                    "domain": DOMAIN,
                    "peer": {"ap_title": PEER_AP, "ae_qualifier": 12},
                    "points": [{"match": "P*"}],
                }
            ],
        }
    )
    adapter = Tase2ServerAdapter("bench", settings, bus)
    task = asyncio.create_task(adapter.run())
    try:
        for _ in range(int(START_TIMEOUT * 100)):
            if adapter.server is not None and adapter.server.mms._server is not None:
                break
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        else:
            raise RuntimeError("TASE.2 server did not start")
        print(json.dumps({"ready": True, "pid": os.getpid()}), flush=True)
        await asyncio.to_thread(sys.stdin.readline)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


# --------------------------------------------------------------------------- processes


def _cpu_seconds(pid: int) -> float:
    """utime + stime of process ``pid`` in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK


def _pin(pid: int, cpus: set[int]) -> None:
    """Keep every thread of process ``pid`` (and the threads they start) on ``cpus``."""
    for task in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(ProcessLookupError):  # a thread that just ended
            os.sched_setaffinity(int(task), cpus)


def _rss_mb(pid: int) -> float:
    """VmRSS of process ``pid`` in MB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _line(proc: subprocess.Popen[str], key: str, timeout: float = START_TIMEOUT) -> dict[str, Any]:
    """The next JSON line of ``proc`` holding ``key``; fail when the output ends first."""
    out: IO[str] | None = proc.stdout
    assert out is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        raw = out.readline()
        if not raw:
            raise RuntimeError(f"process {proc.args!r} ended before {key!r}")
        try:
            line: dict[str, Any] = json.loads(raw)
        except json.JSONDecodeError:
            continue
        if key in line:
            return line
    raise RuntimeError(f"no {key!r} from {proc.args!r} within {timeout} s")


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None and proc.stdin is not None:
        try:
            proc.stdin.write("stop\n")
            proc.stdin.close()
            proc.wait(timeout=10.0)
        except (OSError, subprocess.TimeoutExpired):
            pass
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10.0)


# --------------------------------------------------------------------------- measuring


@dataclass
class Totals:
    """What one server did over every round: requests, points, elapsed time, CPU."""

    single: int = 0
    single_s: float = 0.0
    single_cpu: float = 0.0
    points: int = 0
    nvl_s: float = 0.0
    nvl_cpu: float = 0.0


@dataclass(frozen=True)
class Target:
    """A server to read from: its port and pid, one point and the data set's members."""

    port: int
    pid: int
    domain: str
    single: str
    list_domain: str
    list_name: str
    members: list[str]


def _client_round(
    target: Target, totals: Totals, peer_script: str, cpus: set[int] | None = None
) -> None:
    """One client process (on ``cpus`` when given): define the list, then the single and NVL
    phases, each bracketed by CPU samples of the server taken while the client waits for a
    go."""
    steps: list[dict[str, Any]] = [
        {"op": "connect", "subscribe_reports": False},
        {
            "op": "define_list",
            "domain": target.list_domain,
            "name": target.list_name,
            "members": [[target.domain, m] for m in target.members],
        },
        {"op": "read_list", "domain": target.list_domain, "name": target.list_name},
        {"op": "signal", "name": "single"},
        {"op": "read_repeat", "domain": target.domain, "item": target.single,
         "seconds": PHASE_SECONDS},
        {"op": "signal", "name": "nvl"},
        {"op": "read_list_repeat", "domain": target.list_domain, "name": target.list_name,
         "seconds": PHASE_SECONDS},
        {"op": "delete_list", "domain": target.list_domain, "name": target.list_name},
        {"op": "conclude"},
    ]  # fmt: skip
    config = {"mode": "client", "host": "127.0.0.1", "port": target.port, "steps": steps}
    client = _spawn(peer_script, json.dumps(config))
    if cpus is not None:
        _pin(client.pid, cpus)  # before the binding starts its threads, when it connects
    stdin = client.stdin
    try:
        assert stdin is not None
        results: dict[str, dict[str, Any]] = {}

        def phase(name: str, op: str) -> tuple[dict[str, Any], float]:
            _line(client, "signal")
            cpu0 = _cpu_seconds(target.pid)
            stdin.write("go\n")
            stdin.flush()
            line = _line(client, "op")  # the signal step's own result
            if line["op"] == "signal":
                line = _line(client, "op", PHASE_SECONDS + START_TIMEOUT)
            cpu = _cpu_seconds(target.pid) - cpu0
            if line["op"] != op or not line["ok"]:
                raise RuntimeError(f"{name} phase failed: {line}")
            return line["result"], cpu

        for _ in range(3):  # connect, define_list, read_list
            line = _line(client, "op")
            results[line["op"]] = line
            if not line["ok"]:
                raise RuntimeError(f"client step failed against port {target.port}: {line}")
        values = results["read_list"]["result"]["value"]
        if len(values) != len(target.members) or any(v["type"] != "structure" for v in values):
            raise RuntimeError(f"unexpected named variable list values: {values}")
        single, cpu = phase("single", "read_repeat")
        totals.single += single["count"]
        totals.single_s += single["elapsed"]
        totals.single_cpu += cpu
        nvl, cpu = phase("nvl", "read_list_repeat")
        totals.points += nvl["count"] * len(target.members)
        totals.nvl_s += nvl["elapsed"]
        totals.nvl_cpu += cpu
        client.wait(timeout=START_TIMEOUT)
    finally:
        if client.poll() is None:
            client.kill()
            client.wait(timeout=10.0)


def _ratio(ours: float, theirs: float) -> float:
    return ours / theirs if theirs > 0 else 0.0


def main() -> None:
    """Print the read-path figures of our server and of libiec61850's C server."""
    from tests.support.peers.libiec61850 import PEER_SCRIPT, pyiec61850_available

    if not pyiec61850_available():
        print("BENCH read_path skipped: pyiec61850 (pyiec61850-ng) cannot be imported", flush=True)
        return
    ours_port, c_port = free_port(), free_port()
    lifetime = 4 * ROUNDS * PHASE_SECONDS + 60
    ours = _spawn("-m", "benchmarks.bench_read_path", "--serve", str(ours_port))
    c_config = {"mode": "ied-server", "port": c_port, "seconds": lifetime, "analog_points": POINTS}
    c_server = _spawn(str(PEER_SCRIPT), json.dumps(c_config))
    try:
        ours_pid = int(_line(ours, "ready")["pid"])
        c_ready = _line(c_server, "ready")
        if not c_ready["ready"]:
            raise RuntimeError(f"libiec61850 IedServer did not start: {c_ready}")
        targets = {
            "ours": Target(
                ours_port, ours_pid, DOMAIN, IDS[0], DOMAIN, "BENCH_NVL", IDS[:NVL_SIZE]
            ),
            "c": Target(
                c_port,
                int(c_ready["pid"]),
                C_DOMAIN,
                C_ITEMS[0],
                C_DOMAIN,
                "LLN0$BENCH_NVL",  # libiec61850 wants domain-specific lists named LN$name
                C_ITEMS[:NVL_SIZE],
            ),
        }
        totals = _rounds(targets, ROUNDS, str(PEER_SCRIPT))
        rss = {name: _rss_mb(t.pid) for name, t in targets.items()}
        one_core = {min(os.sched_getaffinity(0))}
        for t in targets.values():
            _pin(t.pid, one_core)
        pinned = _rounds(targets, ONE_CORE_ROUNDS, str(PEER_SCRIPT), one_core)
    finally:
        _stop(ours)
        _stop(c_server)
    _report(totals)
    report("server_rss_mb", rss["ours"], "MB", 1)
    report("server_rss_mb_c", rss["c"], "MB", 1)
    _report(pinned, "_one_core")


def _rounds(
    targets: dict[str, Target], rounds: int, peer_script: str, cpus: set[int] | None = None
) -> dict[str, Totals]:
    """The client against each server in turn (ours, C, C, ours...), ``rounds`` times each."""
    totals = {name: Totals() for name in targets}
    for r in range(rounds):
        for name in ("ours", "c") if r % 2 == 0 else ("c", "ours"):
            _client_round(targets[name], totals[name], peer_script, cpus)
    return totals


def _report(totals: dict[str, Totals], suffix: str = "") -> None:
    """The rates, their ratios and the servers' CPU per request (names end in ``suffix``)."""
    o, c = totals["ours"], totals["c"]
    single = {k: t.single / t.single_s for k, t in totals.items()}
    nvl = {k: t.points / t.nvl_s for k, t in totals.items()}
    report(f"read_single_ratio{suffix}", _ratio(single["ours"], single["c"]), "ours/C", 2)
    report(f"read_nvl_ratio{suffix}", _ratio(nvl["ours"], nvl["c"]), "ours/C", 2)
    report(f"read_single_rate{suffix}", single["ours"], "requests/s")
    report(f"read_single_rate_c{suffix}", single["c"], "requests/s")
    report(f"read_nvl_rate{suffix}", nvl["ours"], "points/s")
    report(f"read_nvl_rate_c{suffix}", nvl["c"], "points/s")
    report(f"read_single_cpu_us{suffix}", 1e6 * o.single_cpu / o.single, "us/request", 1)
    report(f"read_single_cpu_us_c{suffix}", 1e6 * c.single_cpu / c.single, "us/request", 1)
    report(f"read_nvl_cpu_us{suffix}", 1e6 * o.nvl_cpu / o.points, "us/point", 2)
    report(f"read_nvl_cpu_us_c{suffix}", 1e6 * c.nvl_cpu / c.points, "us/point", 2)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        run_loop(_serve(int(sys.argv[2])))  # on the loop the gateway runs on
    else:
        main()
