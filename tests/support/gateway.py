"""A whole gateway running for a test: in the test's event loop, or as ``iccp-gateway``.

* :func:`running_gateway` - a :class:`~gateway.runtime.Runtime` started for the block and
  stopped after it;
* :func:`start_gateway` / :func:`read_until` - ``iccp-gateway run`` as a subprocess (to send
  it signals and read its log);
* :func:`run_cli` - any other ``iccp-gateway`` command (``probe``...) run to its end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

from gateway.backoff import Backoff
from gateway.config import GatewayConfig
from gateway.registry import REGISTRY, AdapterRegistry
from gateway.runtime import Runtime
from tests.support import REPO


@contextlib.asynccontextmanager
async def running_gateway(
    config: GatewayConfig,
    registry: AdapterRegistry = REGISTRY,
    backoff: Backoff | None = None,
) -> AsyncIterator[Runtime]:
    """The gateway of ``config`` started, until the block ends."""
    runtime = Runtime(config, registry, backoff)
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()


def start_gateway(
    config: Path, *extra: str, run_options: tuple[str, ...] = ()
) -> subprocess.Popen[str]:
    """``iccp-gateway [EXTRA] run CONFIG --watch 0.1 [RUN_OPTIONS]`` with its log on a pipe
    (stderr)."""
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "gateway.cli", *extra, "run", str(config)),
            *("--watch", "0.1", *run_options),
        ],
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def read_until(proc: subprocess.Popen[str], text: str, timeout: float = 15) -> list[str]:
    """The log lines up to the first that holds ``text``; kill and fail if it never comes."""
    deadline = time.monotonic() + timeout
    lines = []
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if text in line:
            return lines
    proc.kill()
    raise AssertionError(f"{text!r} not seen in:\n{''.join(lines)}")


async def run_cli(*args: str, timeout: float = 30.0) -> tuple[int, str, str]:
    """``iccp-gateway ARGS`` in a subprocess: (exit code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()
