"""The thin asyncio listener of the DNP3 outstation: one master connection, one session.

py1815's `OutstationServer` hands received octets to the session in one synchronous call,
which leaves no place to await a bus command. This listener does the same job with that
place: it splits what arrives into link frames, lets the control gate recognise a complete
control request and awaits its bus commands (`execute`), then feeds the frame to the session
and writes its answer. A second connection displaces the first (the association's state
belongs to the master, not to the socket); a connection silent for `idle_timeout` is
closed. With unsolicited responses on, it asks the session what is due to be sent unasked
after each request, when `notify()` says events were recorded, and when the session's own
retry time comes.

Whatever changes the session, the gate or the served database does so under one lock,
frame by frame: a reload of the points (`apply`) waits for the frame in progress, a control
whose bus command is running included, to be answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from py1815 import link
from py1815.control import CommandStatus
from py1815.session import Session

from adapters.dnp3.outstation.controls import ControlGate, FragmentWatch, Work, parse_control
from gateway.logs import Throttle

log = logging.getLogger(__name__)

READ_SIZE = 4096
UNSOLICITED_INTERVAL = 0.5
"""Longest wait between two looks at the session for something to send unasked."""
_MIN_WAIT = 0.01
_CLOSE_TIMEOUT = 2.0

Execute = Callable[[Work, float], Awaitable[CommandStatus]]
"""Run one bus command within the given seconds and return the status to answer."""


class OutstationShell:
    """Serves one py1815 session over TCP, with controls answered by their bus outcome."""

    def __init__(
        self,
        session: Session,
        gate: ControlGate,
        watch: FragmentWatch,
        execute: Execute,
        *,
        host: str,
        port: int,
        command_timeout: float,
        idle_timeout: float,
        unsolicited: bool,
        name: str = "dnp3-outstation",
    ) -> None:
        self.session = session
        self.gate = gate
        self._watch = watch
        self._execute = execute
        self._host = host
        self._port = port
        self._command_timeout = command_timeout
        self._idle_timeout = idle_timeout
        self._unsolicited = unsolicited
        self._name = name
        self._server: asyncio.Server | None = None
        self._active: asyncio.StreamWriter | None = None
        self._active_task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # one thing drives the session at a time
        self._pending: Callable[[], None] | None = None  # a change awaiting the lock
        self._admission = asyncio.Lock()
        self._wake = asyncio.Event()
        self._throttle = Throttle(max_kinds=64)
        #: Handlers this listener cancelled (displaced, stopped): they end normally, since
        #: asyncio's stream callback logs a connection task that ends cancelled.
        self._ended: set[asyncio.Task[None]] = set()
        self.connections = 0

    @property
    def port(self) -> int:
        """The bound port (differs from the configured one when that was 0)."""
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def connected(self) -> bool:
        return self._active is not None

    async def start(self) -> None:
        """Listen, or raise OSError naming host:port and why not."""
        try:
            self._server = await asyncio.start_server(self._handle, self._host, self._port)
        except OSError as exc:
            raise OSError(
                exc.errno, f"cannot listen on {self._host}:{self._port}: {exc.strerror or exc}"
            ) from None

    async def stop(self) -> None:
        """Stop listening and end the connection in progress."""
        async with self._admission:
            server, self._server = self._server, None
            if server is not None:
                server.close()
            await self._close_active()
        if server is not None:
            with contextlib.suppress(Exception):
                await server.wait_closed()

    def apply(self, change: Callable[[], None]) -> None:
        """Make a change to the session, the gate or the database between two frames: now
        when nothing drives the session, else as soon as the frame in progress is answered.
        A change still waiting is replaced by the newer one (each is a whole new state)."""
        if self._lock.locked():
            self._pending = change
        else:
            self._pending = None
            change()

    @contextlib.asynccontextmanager
    async def _driving(self) -> AsyncIterator[None]:
        """Hold the session, and apply a change that waited for it before letting go."""
        async with self._lock:
            try:
                yield
            finally:
                change, self._pending = self._pending, None
                if change is not None:
                    change()

    def notify(self) -> None:
        """Events were recorded: look for an unsolicited response now."""
        self._wake.set()

    async def _close_active(self) -> None:
        writer, self._active = self._active, None
        task, self._active_task = self._active_task, None
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.transport.abort()
            writer.close()
        if task is not None and task is not asyncio.current_task():
            self._ended.add(task)
            task.cancel()
            await asyncio.wait({task}, timeout=_CLOSE_TIMEOUT)  # raises nothing

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        async with self._admission:
            if self._server is None:
                writer.close()
                return
            if self._active is not None:
                log.info("%s: %s displaces the connection in progress", self._name, peer)
                await self._close_active()
            self._active = writer
            self._active_task = asyncio.current_task()
            self.connections += 1
            async with self._driving():
                self.session.connection_reset()
                self.gate.connection_reset()
                self._watch.reset()
        log.info("%s: master connected from %s", self._name, peer)
        initiator = asyncio.create_task(self._initiate(writer)) if self._unsolicited else None
        try:
            try:
                await self._serve(reader, writer)
                log.info("%s: connection from %s closed by the master", self._name, peer)
            except (TimeoutError, ConnectionError) as exc:
                log.info("%s: connection from %s ended: %s", self._name, peer, exc or "idle")
            finally:
                await self._release(writer, initiator)
        except asyncio.CancelledError:  # also while releasing: the task must not end cancelled
            task = asyncio.current_task()
            if task not in self._ended:
                raise
            self._ended.discard(task)
            if task is not None:
                task.uncancel()
            log.info("%s: connection from %s ended by this outstation", self._name, peer)

    async def _release(
        self, writer: asyncio.StreamWriter, initiator: asyncio.Task[None] | None
    ) -> None:
        """Free the session for the next master and close the socket (the waits last)."""
        if self._active is writer:
            self._active = None
            self._active_task = None
        writer.close()
        if initiator is not None:
            initiator.cancel()
            await asyncio.gather(initiator, return_exceptions=True)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(_CLOSE_TIMEOUT):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        frames = link.FrameReader()
        while True:
            async with asyncio.timeout(self._idle_timeout):
                data = await reader.read(READ_SIZE)
            if not data:
                return
            for frame in frames.feed(data):
                async with self._driving():
                    reply = await self._frame(frame)
                if reply:
                    writer.write(reply)
                    async with asyncio.timeout(self._idle_timeout):
                        await writer.drain()
            self._wake.set()

    async def _frame(self, frame: link.LinkFrame) -> bytes:
        """One link frame: await the bus commands of a control it completes, then let the
        session answer it."""
        fragment = self._watch.feed(frame)
        request = None
        if fragment is not None and fragment.broadcast:
            self.gate.broadcast()
        elif fragment is not None:
            self.gate.observe(fragment.octets)
            request = parse_control(fragment.octets)
            if request is not None:
                loop = asyncio.get_running_loop()
                deadline = loop.time() + self._command_timeout
                for work in self.gate.plan(request):
                    remaining = deadline - loop.time()
                    status = (
                        await self._execute(work, remaining)
                        if remaining > 0
                        else CommandStatus.TIMEOUT
                    )
                    self.gate.complete(work, status)
        octets = link.build(frame.control, frame.destination, frame.source, frame.payload)
        try:
            reply = self.session.receive(octets)
        except Exception as exc:  # the session's bug must not end the listener
            if n := self._throttle.count(type(exc).__name__):
                log.error("%s: the session failed on a frame (%d times): %r", self._name, n, exc)
            reply = b""
        if request is not None:
            self.gate.answered(request)
        return reply

    async def _initiate(self, writer: asyncio.StreamWriter) -> None:
        """Send what the session has to say unasked, for as long as this connection lasts."""
        try:
            while True:
                self._wake.clear()
                async with self._driving():
                    out = self.session.initiate()
                if out:
                    writer.write(out)
                    async with asyncio.timeout(self._idle_timeout):
                        await writer.drain()
                due = self.session.initiate_after()
                wait = UNSOLICITED_INTERVAL if due is None else due
                wait = min(UNSOLICITED_INTERVAL, max(_MIN_WAIT, wait))
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._wake.wait()
        except (TimeoutError, ConnectionError) as exc:
            log.info("%s: unsolicited reporting ended with the connection: %s", self._name, exc)
            writer.close()


__all__ = ["OutstationShell"]
