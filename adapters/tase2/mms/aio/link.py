"""The asyncio shell shared by the MMS server and client: one association over one transport.

:class:`AssociationLink` is the transport's protocol: every chunk the transport receives
goes straight to the sans-IO :class:`Association`, and what the association queues in answer
(a fast-path Read answer, a Reject, a COTP CC) is written in the same step, with no task
switch. The events the association raises wait in the link until a task takes them with
:meth:`AssociationLink.receive`. Every write carries whole TSDUs only, so the TPKTs of one
TSDU are never interleaved with another sender's.

Back-pressure: while too many events wait for the task, the link stops reading; so does the
server's end once a chunk arrives while the transport's write buffer is full (the peer does
not read what its requests made), so a peer can never make it queue without bound. Each time
the buffer drains, the server reads one more chunk before it may stop again, so requests
are still read while reports keep the buffer full. A client's end reads on while its writes
wait: two ends that both stopped reading until the other reads would wait for each other
for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import cast

from adapters.tase2.mms.association import Association, Event

__all__ = ["MAX_WAITING_EVENTS", "AssociationLink"]

MAX_WAITING_EVENTS = 256
"""Events waiting for :meth:`AssociationLink.receive` beyond which reading pauses."""


class AssociationLink(asyncio.Protocol):
    """One :class:`Association` bound to an asyncio transport (as its protocol).

    ``on_connected`` is called with the link once the transport is there (the server starts
    the connection's task from it). ``serving``: the MMS server's end, which stops reading
    while its write buffer is full, one chunk after it filled (see the module docstring).
    """

    def __init__(
        self,
        association: Association,
        on_connected: Callable[[AssociationLink], None] | None = None,
        *,
        serving: bool = False,
    ) -> None:
        self.association = association
        self._serving = serving
        self.peer: tuple[str, int] = ("?", 0)
        self.last_data = 0.0
        """Loop time when bytes last arrived from the peer."""
        self.peer_certificate: bytes | None = None
        """The TLS peer's DER certificate (None without TLS)."""
        self._on_connected = on_connected
        self._transport: asyncio.Transport | None = None
        self._loop: asyncio.AbstractEventLoop
        self._events: list[Event] = []
        self._waiter: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None
        self._closed: asyncio.Future[None] | None = None
        self._write_paused = False
        self._read_paused = False
        self._lost = False

    # ------------------------------------------------------------------ protocol callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport and the peer's address; tell ``on_connected``."""
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        loop = self._loop = asyncio.get_running_loop()
        self._closed = loop.create_future()
        self.last_data = loop.time()
        peer = transport.get_extra_info("peername")
        self.peer = (str(peer[0]), int(peer[1])) if peer else ("?", 0)
        self.peer_certificate = transport.get_extra_info("peer_certificate")
        if self._on_connected is not None:
            self._on_connected(self)

    def data_received(self, data: bytes) -> None:
        """Feed the association; keep its events; write what it queued, now."""
        self.last_data = self._loop.time()
        events = self.association.receive_bytes(data)
        self.send_queued()
        if events:
            self._add(events)
        if self._write_paused and self._serving:
            self._pause_reading()  # until the buffer drains (see the module docstring)

    def eof_received(self) -> bool | None:
        """The peer closed its side: the association ends (the transport then closes)."""
        self._add(self.association.connection_lost("end of stream"))
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        """The transport is gone: end the association, wake every waiter."""
        self._lost = True
        detail = f"read failed: {exc}" if exc is not None else "end of stream"
        self._add(self.association.connection_lost(detail))
        for fut in (self._waiter, self._drained, self._closed):
            if fut is not None and not fut.done():
                fut.set_result(None)

    def pause_writing(self) -> None:
        """The write buffer is full: a server's end reads one more chunk at most."""
        self._write_paused = True

    def resume_writing(self) -> None:
        """The write buffer drained: read again, release :meth:`flush`."""
        self._write_paused = False
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        self._resume_reading()

    # ------------------------------------------------------------------ for the task

    async def receive(self, timeout: float | None) -> list[Event]:
        """The association's events since the last call, waiting at most ``timeout``
        seconds for one (:class:`TimeoutError`); [] once the connection is gone."""
        if not self._events and not self._lost:
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                if timeout is None:
                    await waiter
                else:
                    async with asyncio.timeout(timeout):  # wait_for may swallow a cancel
                        await waiter
            finally:
                self._waiter = None
        events, self._events = self._events, []
        self._resume_reading()
        return events

    def send_queued(self) -> None:
        """Write what the association queued, without waiting for the peer to read it."""
        data = self.association.data_to_send()
        transport = self._transport
        if data and transport is not None and not transport.is_closing():
            transport.write(data)

    async def flush(self) -> None:
        """Write all queued bytes (whole TSDUs); while the write buffer is full, wait until
        it drains once (every waiter then writes again: none waits for ever behind others
        that keep the buffer full)."""
        self.send_queued()
        if self._write_paused and not self._lost:
            if self._drained is None or self._drained.done():
                self._drained = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._drained)  # a cancelled flusher leaves the others waiting

    def transport_info(self, name: str, default: object = None) -> object:
        """The transport's extra information ``name`` (TLS: ``tls_version``, ``cipher``...)."""
        if self._transport is None:
            return default
        return self._transport.get_extra_info(name, default)

    def close_soon(self) -> None:
        """Close the TCP connection without waiting (for a connection with nothing queued)."""
        if self._transport is not None:
            self._transport.close()

    async def close(self, timeout: float = 2.0) -> None:
        """Flush what is queued, then close the TCP connection; still open after ``timeout``
        seconds (a peer that does not read) or when cancelled, it is aborted."""
        try:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(timeout):
                    await self.flush()
                    if self._transport is not None:
                        self._transport.close()
                        if self._closed is not None:
                            await asyncio.shield(self._closed)
        finally:
            if self._transport is not None and not self._lost:
                self._transport.abort()

    # ------------------------------------------------------------------ internals

    def _add(self, events: list[Event]) -> None:
        if not events:
            return
        self._events.extend(events)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        if len(self._events) >= MAX_WAITING_EVENTS:
            self._pause_reading()

    def _pause_reading(self) -> None:
        if not self._read_paused and self._transport is not None and not self._lost:
            self._read_paused = True
            self._transport.pause_reading()

    def _resume_reading(self) -> None:
        if (
            self._read_paused
            and not (self._write_paused and self._serving)
            and len(self._events) < MAX_WAITING_EVENTS
            and self._transport is not None
            and not self._lost
        ):
            self._read_paused = False
            self._transport.resume_reading()
