"""`OpcuaClientPeer`: the asyncio handle of `opcua_client_peer.py`, an asyncua client in its
own process (the `opcua-server` tests' independent peer)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from tests.support import end_process

SCRIPT = Path(__file__).with_name("opcua_client_peer.py")
LINE_LIMIT = 64 * 1024 * 1024


class OpcuaClientPeer:
    """A running asyncua client process: connect, send it commands, stop it."""

    def __init__(
        self, url: str, user: str | None = None, password: str | None = None, **security: Any
    ) -> None:
        """`security`: `security` (asyncua's `Policy,Mode,cert,key[,server_cert]`),
        `application_uri`, `user_certificate` and `user_private_key`, as the script takes."""
        self.config: dict[str, Any] = {"url": url, "user": user, "password": password, **security}
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, lifetime: float = 120.0) -> dict[str, Any]:
        """Start the process; its first answer: `{"ready": true}` or `{"error": ...}`."""
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(SCRIPT),
            json.dumps({**self.config, "lifetime": lifetime}),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=LINE_LIMIT,
        )
        return await self._reply(timeout=30)

    async def call(
        self, op: str, timeout: float = 30.0, check: bool = True, **args: Any
    ) -> dict[str, Any]:
        """Send one command and return its answer (with `check`, a test failure if it says
        `error`)."""
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write((json.dumps({"op": op, **args}) + "\n").encode())
        await self.proc.stdin.drain()
        reply = await self._reply(timeout)
        assert not check or "error" not in reply, reply
        return reply

    async def _reply(self, timeout: float) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            raise RuntimeError("the OPC UA client peer exited")
        reply: dict[str, Any] = json.loads(line)
        return reply

    async def stop(self) -> None:
        """Close its stdin, and kill it if it has not ended within 5 s."""
        if self.proc is None:
            return
        await end_process(self.proc)


@contextlib.asynccontextmanager
async def opcua_client(
    url: str, user: str | None = None, password: str | None = None, **security: Any
) -> Any:
    """An `OpcuaClientPeer` connected to `url` for the block (a test failure if it cannot)."""
    peer = OpcuaClientPeer(url, user, password, **security)
    try:
        ready = await peer.start()
        assert ready.get("ready"), ready
        yield peer
    finally:
        await peer.stop()
