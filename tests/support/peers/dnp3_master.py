"""The asyncio handle of the DNP3 master peer (`dnp3_master_peer.py`, opendnp3 through
yadnp3 in a subprocess): start it against an outstation, scan, operate, stop."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from typing import Any

from tests.support import REQUIRE_PEERS, end_process
from tests.support.peers.dnp3_master_peer import SCRIPT

Point = dict[str, Any]
LINE_LIMIT = 64 * 1024 * 1024
"""Longest answer line (a poll of thousands of points is one line)."""


def require_yadnp3() -> None:
    """Skip the test without yadnp3 (the `opendnp3` module); fail under GATEWAY_REQUIRE_PEERS=1."""
    import pytest

    if importlib.util.find_spec("opendnp3") is None:
        reason = "yadnp3 (opendnp3) is not installed: pip install yadnp3==3.2.1.4"
        if REQUIRE_PEERS:
            pytest.fail(f"{reason}, and GATEWAY_REQUIRE_PEERS=1")
        pytest.skip(reason)


class Dnp3MasterPeer:
    """A running opendnp3 master: JSON commands to it, one JSON answer each."""

    def __init__(
        self,
        port: int,
        *,
        unsolicited: bool = False,
        master: int = 1,
        outstation: int = 1024,
        response_timeout: float = 5.0,
    ) -> None:
        self.config = {
            "port": port,
            "unsolicited": unsolicited,
            "master": master,
            "outstation": outstation,
            "response_timeout": response_timeout,
        }
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, lifetime: float = 120.0, wait: bool = True) -> Dnp3MasterPeer:
        """Start the master; with `wait`, wait for its startup integrity poll to succeed."""
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(SCRIPT),
            json.dumps({**self.config, "lifetime": lifetime}),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=LINE_LIMIT,
        )
        started = await self._reply(timeout=15)
        assert started.get("ready"), started
        if wait:
            answer = await self.call("ready")
            assert answer.get("ready"), answer
        return self

    async def call(self, op: str, timeout: float = 20.0, **args: Any) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write((json.dumps({"op": op, **args}) + "\n").encode())
        await self.proc.stdin.drain()
        return await self._reply(timeout)

    async def _reply(self, timeout: float) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            raise RuntimeError("the DNP3 master peer exited")
        reply: dict[str, Any] = json.loads(line)
        return reply

    async def scan(self, what: str = "integrity") -> list[Point]:
        """The points of one class scan (`integrity`: classes 0-3; `events`: 1-3)."""
        reply = await self.call("scan", what=what)
        assert reply.get("done"), reply
        points: list[Point] = reply["points"]
        return points

    async def take(self) -> list[Point]:
        """What arrived outside the scans (the startup poll, unsolicited responses)."""
        points: list[Point] = (await self.call("take"))["points"]
        return points

    async def operate(self, kind: str, index: int, **args: Any) -> dict[str, Any]:
        """A CROB (`kind="crob"`, op_type, tcc) or an analog output (`kind="ao"`, value,
        type) sent direct or `mode="sbo"`; the summary and the status of each point."""
        return await self.call("operate", kind=kind, index=index, **args)

    async def stop(self) -> None:
        if self.proc is None:
            return
        await end_process(self.proc)
        self.proc = None


__all__ = ["Dnp3MasterPeer", "require_yadnp3"]
