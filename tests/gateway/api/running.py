"""``iccp-gateway run`` with the API, as a subprocess for the CLI and console tests."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support import REPO


@dataclass
class RunningGateway:
    """A gateway process: its API's URL, config file and log file."""

    url: str
    config: Path
    log: Path
    proc: subprocess.Popen[bytes]

    def log_text(self) -> str:
        return self.log.read_text()


@contextlib.contextmanager
def gateway_process(data: dict[str, Any], directory: Path) -> Iterator[RunningGateway]:
    """Run ``data`` as a config file in ``directory`` until the block ends (SIGTERM)."""
    config = directory / "gw.yaml"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    log = directory / "gw.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "run", str(config), "--watch", "0.2"],
            stderr=out,
            cwd=REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    listen = data["gateway"]["api"]["listen"]
    gateway = RunningGateway(f"http://{listen}", config, log, proc)
    try:
        deadline = time.monotonic() + 20
        while "gateway running" not in log.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the gateway did not start:\n{log.read_text()}")
            time.sleep(0.05)
        yield gateway
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
