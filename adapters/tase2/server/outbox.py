"""Report sending: one outbox per association of the TASE.2 server.

:class:`Outbox` queues the reports (and information messages) for one association and
writes them on their own task, so a slow peer never delays the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable

from adapters.tase2.mms.aio.server import AssociationContext
from adapters.tase2.mms.association import AssociationError, PduTooLargeError
from adapters.tase2.server.reports import ReportRequest

log = logging.getLogger(__name__)


class Outbox:
    """Reports waiting for one association's socket, written by their own task."""

    def __init__(
        self,
        ctx: AssociationContext,
        limit: int,
        on_sent: Callable[[ReportRequest, float], None] | None,
    ) -> None:
        self.ctx = ctx
        self.limit = limit
        self.on_sent = on_sent
        self.queue: deque[tuple[bytes, ReportRequest | None]] = deque()
        self.ready = asyncio.Event()
        self.sent = 0
        self.task = asyncio.create_task(self._run(), name=f"tase2-outbox-{ctx.association_id}")

    def put(self, pdu: bytes, req: ReportRequest | None) -> bool:
        """Queue a report (``req`` None: an information message); False when the peer has
        fallen too far behind."""
        if len(self.queue) >= self.limit:
            return False
        self.queue.append((pdu, req))
        self.ready.set()
        return True

    async def _run(self) -> None:
        ctx = self.ctx
        queue = self.queue
        while True:
            await self.ready.wait()
            self.ready.clear()
            while queue:
                pdu, req = queue.popleft()
                try:
                    await ctx.send_encoded_report(pdu)
                except PduTooLargeError as exc:
                    log.error(
                        "association %d: report of %s not sent: %s",
                        ctx.association_id,
                        "an information message" if req is None else req.transfer_set,
                        exc,
                    )
                    continue
                except AssociationError:
                    queue.clear()
                    return
                self.sent += 1
                if self.on_sent is not None and req is not None:
                    self.on_sent(req, time.time())

    async def close(self) -> None:
        """Stop the task (what is still queued is dropped)."""
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task
