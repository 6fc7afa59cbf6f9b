"""py1815's outstation (``py1815_outstation_peer.py``) in a subprocess, as an asyncio handle.

:func:`py1815_outstation` starts the script on a free loopback port, waits for ``ready``
within a bound, sends JSON commands and waits for each ``done``, keeps the ``control``
events it printed and stops it at the end (killing it if it does not stop in time).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from tests.support import end_process, free_port

PEER_SCRIPT = Path(__file__).with_name("py1815_outstation_peer.py")
START_TIMEOUT = 20.0
ANSWER_TIMEOUT = 10.0


class Py1815Outstation:
    """One py1815 outstation process listening on 127.0.0.1:``port``."""

    def __init__(self, process: asyncio.subprocess.Process, port: int) -> None:
        self.process = process
        self.port = port
        self.controls: list[dict[str, Any]] = []

    async def _event(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        while True:
            async with asyncio.timeout(ANSWER_TIMEOUT):
                line = await self.process.stdout.readline()
            if not line:
                raise RuntimeError("the py1815 outstation ended")
            event: dict[str, Any] = json.loads(line)
            if event["event"] == "control":
                self.controls.append(event)
                continue
            if event["event"] == "error":
                raise RuntimeError(f"the py1815 outstation failed: {event['detail']}")
            return event

    async def send(self, **command: Any) -> None:
        """Send one command and wait for its ``done`` (controls printed meanwhile are kept)."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command).encode() + b"\n")
        await self.process.stdin.drain()
        event = await self._event()
        assert event == {"event": "done", "op": command["op"]}, event

    async def wait_ready(self) -> None:
        async with asyncio.timeout(START_TIMEOUT):
            event = await self._event()
        assert event == {"event": "ready", "port": self.port}, event

    async def poll_controls(self) -> None:
        """Read what the peer printed so far (a no-op command flushes its control lines)."""
        await self.send(op="noop")


@contextlib.asynccontextmanager
async def py1815_outstation(
    *, points: int = 2, status: str = "SUCCESS"
) -> AsyncIterator[Py1815Outstation]:
    """A running py1815 outstation, stopped when the block ends."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(PEER_SCRIPT),
        "--port",
        str(port),
        "--points",
        str(points),
        "--status",
        status,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    peer = Py1815Outstation(process, port)
    try:
        await peer.wait_ready()
        yield peer
    finally:
        with contextlib.suppress(Exception):
            assert process.stdin is not None
            process.stdin.write(b'{"op": "stop"}\n')
            await process.stdin.drain()
        await end_process(process)
