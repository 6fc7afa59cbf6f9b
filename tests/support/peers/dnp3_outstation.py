"""The opendnp3 outstation peer (``dnp3_outstation_peer.py``, yadnp3) as an asyncio handle.

``require_yadnp3()`` skips a test when yadnp3 is missing (fails under
``GATEWAY_REQUIRE_PEERS=1``). :class:`Dnp3Outstation` starts the script on a free loopback
port, waits for ``ready`` within a bound, sends commands and waits for their answers, keeps
every event the peer printed (controls, time writes, channel states, errors), restarts it on
the same port (link loss) and kills it at the end. The command and event forms are in the
script's docstring. The test process never imports yadnp3 itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.support import REQUIRE_PEERS, free_port

PEER_SCRIPT = Path(__file__).with_name("dnp3_outstation_peer.py")

Event = dict[str, Any]


@functools.cache
def yadnp3_available() -> bool:
    """Whether this interpreter can import yadnp3's ``opendnp3`` (asked in a child)."""
    probe = subprocess.run(
        [sys.executable, "-c", "import opendnp3"], capture_output=True, timeout=30, check=False
    )
    return probe.returncode == 0


def require_yadnp3() -> None:
    """Skip (or fail under GATEWAY_REQUIRE_PEERS=1) when yadnp3 cannot be imported."""
    import pytest  # here, so that the benchmarks can use this module without pytest

    if not yadnp3_available():
        reason = "yadnp3 (PyPI yadnp3==3.2.1.4, the opendnp3 outstation peer) cannot be imported"
        if peers_required():
            pytest.fail(f"{reason}, and GATEWAY_REQUIRE_PEERS=1")
        pytest.skip(reason)


def peers_required() -> bool:
    """Whether a missing peer fails the test (``GATEWAY_REQUIRE_PEERS=1``)."""
    return REQUIRE_PEERS


class PeerCommandError(RuntimeError):
    """The peer answered a command with an ``error`` event."""


class Dnp3Outstation:
    """One opendnp3 outstation in its own process, listening on 127.0.0.1:``port``.

    ``points`` points of every type in ``types`` (default: all seven) and none of the
    others; ``max_tx_fragment`` is the outstation's largest
    response fragment; ``unsolicited`` allows unsolicited responses; ``need_time`` sets
    IIN1.4 until the master writes the time. Use ``async with`` (or ``start``/``stop``).
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        outstation_address: int = 1024,
        master_address: int = 1,
        points: int = 10,
        types: Sequence[str] | None = None,
        max_tx_fragment: int = 2048,
        event_buffer: int = 1000,
        unsolicited: bool = False,
        need_time: bool = False,
        lifetime: float = 300.0,
    ) -> None:
        self.port = free_port() if port is None else port
        self.outstation_address = outstation_address
        self.master_address = master_address
        self.points = points
        self.options = [
            f"--outstation-address={outstation_address}",
            f"--master-address={master_address}",
            f"--points={points}",
            *([f"--types={','.join(types)}"] if types is not None else []),
            f"--max-tx-fragment={max_tx_fragment}",
            f"--event-buffer={event_buffer}",
            f"--lifetime={lifetime}",
            *(["--unsolicited"] if unsolicited else []),
            *(["--need-time"] if need_time else []),
        ]
        #: Every line the peer printed other than command answers, oldest first, over
        #: every start (a restart does not clear it); ``{"event": "exited"}`` marks the end
        #: of each process's output.
        self.events: list[Event] = []
        self.stderr = b""
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._answers: dict[int, asyncio.Future[Event]] = {}
        self._seq = 0
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------ life

    async def start(self, timeout: float = 15.0) -> Dnp3Outstation:
        """Run the peer and wait (at most ``timeout`` seconds) until it listens."""
        seen = len(self.events)
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(PEER_SCRIPT),
            f"--port={self.port}",
            *self.options,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        self._reader = asyncio.create_task(self._read(self._proc))
        try:
            await self.wait_for(lambda e: e["event"] in ("ready", "error"), timeout, since=seen)
        except AssertionError:
            await self.stop()
            raise
        started = [e for e in self.events[seen:] if e["event"] in ("ready", "error")]
        if started[0]["event"] != "ready":
            await self.stop()
            raise RuntimeError(f"the DNP3 outstation peer did not start: {started[0]}")
        return self

    async def stop(self, *, kill: bool = False) -> None:
        """Ask the peer to exit (or kill it at once with ``kill``), wait for it, and kill it
        if it has not gone within a few seconds; safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if not kill and proc.returncode is None and proc.stdin is not None:
            with contextlib.suppress(ConnectionError):
                proc.stdin.write(b'{"op": "stop"}\n')
                await proc.stdin.drain()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 3.0)
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 10.0)
        if self._reader is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._reader, 5.0)
        if proc.stderr is not None:
            with contextlib.suppress(TimeoutError):
                self.stderr += await asyncio.wait_for(proc.stderr.read(), 5.0)
        for future in self._answers.values():
            if not future.done():
                future.set_exception(RuntimeError("the DNP3 outstation peer stopped"))
        self._answers.clear()

    async def restart(self, down: float = 0.0, timeout: float = 15.0) -> None:
        """Kill the peer (the master sees the link drop at once), wait ``down`` seconds, and start
        it again on the same port with the same options: a fresh database, IIN1.7 set."""
        await self.stop(kill=True)
        if down:
            await asyncio.sleep(down)
        await self.start(timeout)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    @property
    def pid(self) -> int:
        """The peer's process id (to freeze it with SIGSTOP: a hung outstation)."""
        assert self._proc is not None, "the peer is not running"
        return self._proc.pid

    async def __aenter__(self) -> Dnp3Outstation:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ commands

    async def command(self, op: str, timeout: float = 10.0, **fields: Any) -> Event:
        """Send one command and wait for its answer; raise :class:`PeerCommandError` when
        the peer refuses it."""
        proc = self._proc
        if proc is None or proc.stdin is None:
            raise RuntimeError("the DNP3 outstation peer is not running")
        self._seq += 1
        seq = self._seq
        answer: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        self._answers[seq] = answer
        proc.stdin.write((json.dumps({"op": op, "seq": seq, **fields}) + "\n").encode())
        await proc.stdin.drain()
        try:
            reply = await asyncio.wait_for(answer, timeout)
        finally:
            self._answers.pop(seq, None)
        if reply["event"] == "error":
            raise PeerCommandError(f"{op}: {reply['error']}")
        return reply

    async def update(self, points: Sequence[Mapping[str, Any]], **defaults: Any) -> None:
        """Set points, each ``{"type", "index", "value"}`` with optional ``flags``, ``time``
        (ms since the epoch) and ``mode`` (detect / force / suppress); ``defaults`` (the
        same keys) apply to every point that does not give its own."""
        await self.command("update", points=list(points), **defaults)

    async def set(
        self,
        kind: str,
        index: int,
        value: float | bool,
        *,
        flags: int = 0x01,
        time: int | None = None,
        mode: str = "detect",
    ) -> None:
        """Set one point (see :meth:`update`)."""
        point = {"type": kind, "index": index, "value": value, "flags": flags, "mode": mode}
        if time is not None:
            point["time"] = time
        await self.update([point])

    async def control_status(self, kind: str, index: int, status: str) -> None:
        """Answer controls on a binary-output / analog-output index with ``status`` (an
        opendnp3 CommandStatus name such as LOCAL or NOT_SUPPORTED; SUCCESS resets)."""
        await self.command("control-status", type=kind, index=index, status=status)

    async def set_need_time(self, on: bool = True) -> None:
        """Set (or clear) IIN1.4 NEED_TIME; a time write clears it too."""
        await self.command("need-time", on=on)

    async def set_restart_iin(self) -> None:
        """Set IIN1.7 DEVICE_RESTART again."""
        await self.command("restart-iin")

    # ------------------------------------------------------------------ events

    def controls(self) -> list[Event]:
        """The controls received so far, oldest first."""
        return [e for e in self.events if e["event"] == "control"]

    def errors(self) -> list[Event]:
        """The errors the peer reported outside a command's answer."""
        return [e for e in self.events if e["event"] == "error"]

    async def wait_for(
        self, check: Callable[[Event], bool], timeout: float = 10.0, *, since: int = 0
    ) -> Event:
        """The first event (from ``events[since:]``) for which ``check`` is true; fail when
        ``timeout`` seconds pass first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seen = since
        while True:
            for event in self.events[seen:]:
                if check(event):
                    return event
            seen = len(self.events)
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"no such event from the DNP3 peer in {timeout}s")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        for _ in range(100_000_000):  # bounded by the peer's lifetime, in practice
            raw = await proc.stdout.readline()
            if not raw:
                break
            try:
                event: Event = json.loads(raw)
            except ValueError:
                event = {"event": "garbage", "line": raw.decode(errors="replace")}
            seq = event.get("seq")
            if event.get("event") in ("done", "error") and seq in self._answers:
                future = self._answers[seq]
                if not future.done():
                    future.set_result(event)
            else:
                self.events.append(event)
            self._changed.set()
        self.events.append({"event": "exited"})
        self._changed.set()


@contextlib.asynccontextmanager
async def dnp3_outstation(**options: Any) -> AsyncIterator[Dnp3Outstation]:
    """Skip without yadnp3, then a running :class:`Dnp3Outstation` for the block."""
    require_yadnp3()
    async with Dnp3Outstation(**options) as peer:
        yield peer
