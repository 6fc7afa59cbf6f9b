"""The asyncio shell shared by the MMS server and client: one association over one stream.

:class:`AssociationLink` feeds received bytes to a sans-IO :class:`Association` and writes
what it queues; every write happens under one lock and carries whole TSDUs only, so the
TPKTs of one TSDU are never interleaved with another sender's. :class:`MmsServiceError` is
the typed service failure both sides use (it becomes, or comes from, a confirmed-ErrorPDU).
"""

from __future__ import annotations

import asyncio
import contextlib

from adapters.tase2.mms.association import Association, Event

__all__ = ["READ_CHUNK", "AssociationLink"]

READ_CHUNK = 65536
"""Largest read from the socket at once."""


class AssociationLink:
    """One :class:`Association` bound to an asyncio stream pair."""

    __slots__ = ("_lock", "_reader", "_writer", "association", "peer")

    def __init__(
        self,
        association: Association,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.association = association
        self._reader = reader
        self._writer = writer
        self._lock = asyncio.Lock()
        peer = writer.get_extra_info("peername")
        self.peer: tuple[str, int] = (str(peer[0]), int(peer[1])) if peer else ("?", 0)

    async def flush(self) -> None:
        """Write all queued bytes (whole TSDUs) and wait for the transport to take them."""
        async with self._lock:
            data = self.association.data_to_send()
            if not data or self._writer.is_closing():
                return
            self._writer.write(data)
            try:
                await self._writer.drain()
            except (ConnectionError, OSError):
                self.association.connection_lost("write failed")

    async def receive(self, timeout: float | None) -> list[Event]:
        """Read once (at most ``timeout`` seconds) and return the association's events.

        End of stream and socket errors become the association's connection-lost event;
        a timeout raises :class:`TimeoutError` (an :class:`OSError` since Python 3.11, so it
        is let through before socket errors are caught).
        """
        try:
            if timeout is None:
                data = await self._reader.read(READ_CHUNK)
            else:
                async with asyncio.timeout(timeout):  # wait_for may swallow a cancel (3.11)
                    data = await self._reader.read(READ_CHUNK)
        except TimeoutError:
            raise
        except (ConnectionError, OSError) as exc:
            return self.association.connection_lost(f"read failed: {exc}")
        if not data:
            return self.association.connection_lost("end of stream")
        return self.association.receive_bytes(data)

    def close_soon(self) -> None:
        """Close the TCP connection without waiting (for a connection with nothing queued)."""
        self._writer.close()

    async def close(self, timeout: float = 2.0) -> None:
        """Flush what is queued, then close the TCP connection (bounded wait)."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.flush(), timeout)
        self._writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._writer.wait_closed(), timeout)
