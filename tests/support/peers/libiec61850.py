"""Run ``libiec61850_peer.py`` in a subprocess with a time limit and collect its JSON lines.

``require_pyiec61850()`` skips a test when the binding is missing (fails under
``GATEWAY_REQUIRE_PEERS=1``). :class:`PeerProcess` is the asynchronous form for tests
whose event loop must keep serving while the peer runs; it always kills the child on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support import REQUIRE_PEERS

PEER_SCRIPT = Path(__file__).with_name("libiec61850_peer.py")


def pyiec61850_available() -> bool:
    """Whether this interpreter can import the binding (asked in a child: it may crash)."""
    probe = subprocess.run(
        [sys.executable, "-c", "import pyiec61850.pyiec61850"],
        capture_output=True,
        timeout=30,
        check=False,
    )
    return probe.returncode == 0


def require_pyiec61850() -> None:
    """Skip (or fail under GATEWAY_REQUIRE_PEERS=1) when pyiec61850 cannot be imported."""
    if not pyiec61850_available():
        reason = "pyiec61850 (PyPI pyiec61850-ng, CPython 3.11 only) cannot be imported"
        if REQUIRE_PEERS:
            pytest.fail(f"{reason}, and GATEWAY_REQUIRE_PEERS=1")
        pytest.skip(reason)


class PeerProcess:
    """The peer script as an asyncio subprocess: lines in, lines out, killed at the end."""

    def __init__(self, config: dict[str, Any], time_limit: float = 30.0) -> None:
        self.config = config
        self.time_limit = time_limit
        self.lines: list[dict[str, Any]] = []
        self.stderr = b""
        self._proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> PeerProcess:
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(PEER_SCRIPT),
            json.dumps(self.config),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        with contextlib.suppress(Exception):
            _, self.stderr = await asyncio.wait_for(proc.communicate(), 5.0)
        if self.stderr:  # e.g. its connect-race retries: shown with the test's output
            sys.stderr.write(f"libiec61850 peer stderr:\n{self.stderr.decode(errors='replace')}")

    async def next_line(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next JSON line (None at end of output)."""
        assert self._proc is not None and self._proc.stdout is not None
        raw = await asyncio.wait_for(self._proc.stdout.readline(), timeout or self.time_limit)
        if not raw:
            return None
        line: dict[str, Any] = json.loads(raw)
        self.lines.append(line)
        return line

    async def until(self, key: str, timeout: float | None = None) -> dict[str, Any]:
        """Read lines until one has ``key``; fail when the output ends first."""
        for _ in range(10_000):
            line = await self.next_line(timeout)
            if line is None:
                raise AssertionError(f"peer ended before {key!r}: {await self.exit_status()}")
            if key in line:
                return line
        raise AssertionError(f"no {key!r} line")

    async def exit_status(self) -> str:
        """How the peer ended (exit code, stderr tail, its lines): for failure messages."""
        assert self._proc is not None
        with contextlib.suppress(Exception):
            _, self.stderr = await asyncio.wait_for(self._proc.communicate(), 5.0)
        tail = self.stderr.decode(errors="replace")[-2000:]
        return f"exit code {self._proc.returncode}, stderr {tail!r}, lines {self.lines}"

    def send_line(self, text: str = "go") -> None:
        """Write one line to the peer's stdin (answers a ``signal`` step)."""
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write(text.encode() + b"\n")

    async def finish(self, timeout: float | None = None) -> list[dict[str, Any]]:
        """Read every remaining line and wait for the process to exit."""
        assert self._proc is not None
        for _ in range(10_000):
            if await self.next_line(timeout) is None:
                break
        await asyncio.wait_for(self._proc.wait(), timeout or self.time_limit)
        return self.lines

    def results(self) -> dict[str, dict[str, Any]]:
        """Step lines by ``op`` (the last one wins) for easy assertions."""
        return {line["op"]: line for line in self.lines if "op" in line}
