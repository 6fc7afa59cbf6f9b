"""What the tests share: one copy of each helper, imported by module name.

Nothing here ships in the wheel (``pyproject.toml`` packages ``gateway`` and ``adapters``
only), and nothing here edits ``sys.path``: pytest runs with ``--import-mode=importlib``
and imports the test tree as the package ``tests``, so a test writes
``from tests.support import free_port`` (the benchmarks, run from the repository root as
``python -m benchmarks``, import the same way).

* this module - :data:`REPO`, :func:`free_port`, :func:`eventually`, :func:`running` (an
  adapter's ``run()`` as a task), :func:`require_program` (skip without a peer program,
  fail under ``GATEWAY_REQUIRE_PEERS=1``) and :func:`scratch_dir` (a directory the tests of
  one run share);
* :mod:`.gateway` - a whole gateway running: a :class:`~gateway.runtime.Runtime` in the test's
  event loop, or ``iccp-gateway`` as a subprocess;
* :mod:`.peers` - programs we did not write, run for the tests: mosquitto, a pymodbus server,
  libiec61850 (through pyiec61850), tshark;
* :mod:`.tase2` - the TASE.2 fixtures: the reference's Annex A frames, a small MMS model, the
  ``tase2-server`` and ``tase2-client`` set-ups, the libiec61850 client flow, the demo gateway,
  and the hypothesis strategies for MMS values.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import os
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Protocol

__all__ = [
    "REPO",
    "REQUIRE_PEERS",
    "eventually",
    "find_program",
    "free_port",
    "free_ports",
    "require_program",
    "running",
    "scratch_dir",
]

REPO = Path(__file__).resolve().parents[2]
"""The repository's root (``mappings/`` and ``pyproject.toml`` are there)."""

REQUIRE_PEERS = os.environ.get("GATEWAY_REQUIRE_PEERS") == "1"
"""Under CI a missing peer program fails the test instead of skipping it."""

# Debian puts daemons such as mosquitto in /usr/sbin, which is not on every PATH.
_SBIN = ("/usr/local/sbin", "/usr/sbin", "/sbin")


def free_ports(n: int) -> list[int]:
    """``n`` different TCP ports on 127.0.0.1 that nothing listened on a moment ago."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in sockets:  # all bound at once, so the ports differ
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]


@functools.cache
def scratch_dir(name: str) -> Path:
    """A directory ``name`` that the tests of this process share, removed when it ends (a
    cache that the first test fills for the others)."""
    path = Path(tempfile.mkdtemp(prefix=f"gateway-tests-{name}-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago."""
    (port,) = free_ports(1)
    return port


async def eventually(
    check: Callable[[], object], timeout: float = 5.0, what: str = "", interval: float = 0.01
) -> None:
    """Poll ``check()`` every ``interval`` seconds until it is true; fail the test (with
    ``what`` in the message) when ``timeout`` seconds pass first."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or check}")
        await asyncio.sleep(interval)


class _Runnable(Protocol):
    async def run(self) -> Any: ...


@contextlib.asynccontextmanager
async def running(adapter: _Runnable) -> AsyncIterator[asyncio.Task[Any]]:
    """``adapter.run()`` as a task until the block ends, then cancelled and awaited."""
    task = asyncio.create_task(adapter.run())
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def end_process(proc: asyncio.subprocess.Process, grace: float = 5.0) -> None:
    """End a peer run with a stdin pipe: close its stdin (its cue to exit), wait up to
    ``grace`` seconds, then kill it."""
    if proc.stdin is not None and not proc.stdin.is_closing():
        proc.stdin.close()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(grace):
            await proc.wait()
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


def find_program(name: str) -> str | None:
    """The path of program ``name`` on PATH or in the sbin directories, or None."""
    search = os.pathsep.join([os.environ.get("PATH", ""), *_SBIN])
    return shutil.which(name, path=search)


def require_program(name: str, package: str) -> str:
    """The path of a peer program; skip the test without it (fail under CI)."""
    import pytest  # here, so that the benchmarks can use this module without pytest

    path = find_program(name)
    if path is None:
        reason = f"{name} not installed (Debian package {package})"
        if REQUIRE_PEERS:
            pytest.fail(f"{reason}, and GATEWAY_REQUIRE_PEERS=1")
        pytest.skip(reason)
    return path
