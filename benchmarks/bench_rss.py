"""Resting memory: the demo gateway's RSS once started, and the bare CLI's, in MB.

`demo_rss_mb` runs `iccp-gateway run` on a copy of mappings/demo.yaml (free ports, the copy's
directory as the state directory) in a subprocess, waits for it to be running and SETTLE
seconds more, reads VmRSS from /proc, and stops it; then starts it again on the same
directory and measures that start, as every start after the first finds its state (the
OPC UA address space cache made): `demo_first_start_rss_mb` is the first. `iccp_rss_mb` is
the same demo with only
its TASE.2 server, every point fed by simulators (no Modbus, DNP3 or OPC UA adapter): an ICCP
gateway's resting memory. `import_rss_mb` is a process that imported the CLI and built its
`run` command line, before any configuration is read.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks.common import report
from tests.support import REPO, free_ports
from tests.support.tase2.demo import on_ports

SETTLE = 5.0
START_TIMEOUT = 30.0

BARE_CLI = """\
from gateway.cli import build_parser
build_parser("run")
print(next(l for l in open("/proc/self/status") if l.startswith("VmRSS:")).split()[1])
"""


def vm_rss_mb(pid: int) -> float:
    """The resident set size of process `pid` in MB (VmRSS of /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def demo_copy(directory: Path, iccp_only: bool = False) -> Path:
    """mappings/demo.yaml and its point list copied to `directory`, on free ports; with
    `iccp_only`, its field adapters replaced by one simulator of the points they fed."""
    raw = yaml.safe_load((REPO / "mappings" / "demo.yaml").read_text())
    on_ports(raw, *free_ports(2))
    if iccp_only:
        kept = [a for a in raw["adapters"] if a["type"] in ("sim", "tase2-server")]
        simulated = {p["point"] for a in kept for p in a.get("points", [])}
        unfed = [{"point": p["id"]} for p in raw["points"] if p["id"] not in simulated]
        raw["adapters"] = [{"name": "field-sim", "type": "sim", "points": unfed}, *kept]
    shutil.copy(REPO / "mappings" / "modbus-points.csv", directory)
    path = directory / "demo.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def demo_rss_mb(iccp_only: bool = False, starts: int = 1) -> list[float]:
    """The demo gateway's RSS (see `demo_copy`) SETTLE seconds after it said it is running,
    at each of ``starts`` starts on the same directory."""
    with tempfile.TemporaryDirectory() as tmp:
        config = demo_copy(Path(tmp), iccp_only)
        return [_resting_rss_mb(config) for _ in range(starts)]


def _resting_rss_mb(config: Path) -> float:
    log_path = config.parent / "gateway.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "run", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=log,
            cwd=REPO,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while "gateway running: " not in log_path.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the demo did not start:\n{log_path.read_text()}")
            time.sleep(0.1)
        time.sleep(SETTLE)
        return vm_rss_mb(proc.pid)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def import_rss_mb() -> float:
    """The RSS of a process that imported the CLI and built its `run` command line."""
    done = subprocess.run(
        [sys.executable, "-c", BARE_CLI], capture_output=True, text=True, cwd=REPO, check=True
    )
    return int(done.stdout.split()[-1]) / 1024


def main() -> None:
    first, later = demo_rss_mb(starts=2)
    report("demo_rss_mb", later, "MB", 1)
    report("demo_first_start_rss_mb", first, "MB", 1)
    (iccp,) = demo_rss_mb(iccp_only=True)
    report("iccp_rss_mb", iccp, "MB", 1)
    report("import_rss_mb", import_rss_mb(), "MB", 1)


if __name__ == "__main__":
    main()
