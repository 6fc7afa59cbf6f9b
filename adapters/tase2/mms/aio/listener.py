"""A passive MMS client endpoint: listen, let the remote server associate, then be its client.

TCP role and MMS role are independent: the peer that calls sends the COTP CR and the AARQ
(it initiates the association); the listening end answers CC and AARE (it is the
responder) and, once associated, sends the MMS requests like any client. :class:`MmsListener`
accepts TCP connections (and TLS as the TLS server), admits only calling addresses of its
allow-list, and asks an ACSE :class:`~adapters.tase2.iso.acse.Authenticator` whether to
accept each association request; an accepted association becomes an
:class:`~adapters.tase2.mms.aio.client.MmsClient` handed out by :meth:`MmsListener.accept`.
A refusal is an AARE with the authenticator's diagnostic and one log line (throttled per
source address); what the network does wrong never raises out of a connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable

from adapters.tase2.iso import acse
from adapters.tase2.mms.aio.admission import make_room, so_far
from adapters.tase2.mms.aio.client import MmsClient
from adapters.tase2.mms.aio.link import AssociationLink
from adapters.tase2.mms.aio.tls import TlsFailure, TlsProtocol
from adapters.tase2.mms.aio.tls_context import TlsEndpoint
from adapters.tase2.mms.association import (
    Association,
    AssociationConfig,
    AssociationRequested,
    AssociationState,
    CloseReason,
    Role,
)
from gateway.logs import Throttle

__all__ = ["MmsListener"]

log = logging.getLogger(__name__)

MAX_PENDING = 8
"""Connections that have not associated yet, at most (a passive client expects its one
server, perhaps with a backup); beyond it the oldest silent one is closed to make room."""

MAX_PENDING_PER_SOURCE = 4
"""Connections of one source address that have not associated yet, at most."""


class _Incoming:
    """One connection from TCP connect until its association is decided (for the limits,
    see :mod:`adapters.tase2.mms.aio.admission`)."""

    def __init__(self, link: AssociationLink) -> None:
        self.link = link
        self.tls: TlsProtocol | None = None
        self.started = time.monotonic()
        self.decided = False

    @property
    def source(self) -> str:
        """The peer's IP address."""
        return (self.tls.peer if self.tls is not None else self.link.peer)[0]

    @property
    def pending(self) -> bool:
        """Open and not decided yet."""
        if self.decided or self.link.association.closed:
            return False
        return self.tls is None or not self.tls.closing

    @property
    def silent(self) -> bool:
        """No COTP CR from the peer yet (or still in the TLS handshake)."""
        return self.link.association.state is AssociationState.IDLE

    def evict(self, why: str) -> None:
        """Close it (to make room, or the listener stops)."""
        self.link.association.abort(why)
        if self.tls is not None:
            self.tls.abort()
        self.link.close_soon()


class MmsListener:
    """Listens for a calling ICCP server; every accepted association is an MmsClient.

    ``allow`` says whether a calling IP address may connect (default: any);
    ``authenticator`` decides on each association request (password, AP-title,
    certificate, one association at a time...); ``association_timeout`` bounds the time
    from TCP accept to the association request. With ``tls`` the listener is the TLS
    server (mutual authentication as the endpoint's context says). ``name`` prefixes the
    log lines.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 102,
        config: AssociationConfig | None = None,
        authenticator: acse.Authenticator = acse.accept_all,
        allow: Callable[[str], bool] | None = None,
        tls: TlsEndpoint | None = None,
        association_timeout: float = 10.0,
        request_timeout: float = 10.0,
        on_raw_report: Callable[[bytes], None] | None = None,
        report_queue_size: int = 10_000,
        max_associations: int | None = None,
        name: str = "mms-listener",
    ) -> None:
        cfg = config or AssociationConfig()
        if on_raw_report is not None:
            cfg = dataclasses.replace(cfg, raw_unconfirmed=True)
        self.config = cfg
        self.host = host
        self.authenticator = authenticator
        self.allow = allow
        self.tls = tls
        """The TLS endpoint for new connections (assign a reloaded one at any time)."""
        self.association_timeout = association_timeout
        self.request_timeout = request_timeout
        self.on_raw_report = on_raw_report
        self.report_queue_size = report_queue_size
        self.name = name
        self.max_associations = max_associations
        """Associations open at once at most (None: no limit); beyond it an AARQ is refused
        with diagnostic 1 (*no reason given*)."""
        self.refused: dict[str, int] = {}
        """Refusals by kind: ``address``, ``pending``, ``diagnostic-N``, ``tls-<kind>``."""
        self.accepted = 0
        self.log_throttle = Throttle(max_kinds=1024)
        self._port = port
        self._server: asyncio.Server | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._incoming: set[_Incoming] = set()
        self._links: set[AssociationLink] = set()
        self._ready: asyncio.Queue[MmsClient] = asyncio.Queue(4)
        self._reserved = 0
        """Associations accepted and not handed out yet (queued, or about to be)."""
        self._handed: list[MmsClient] = []
        """Associations queued or handed out (counted until they close)."""

    @property
    def port(self) -> int:
        """The TCP port listened on (the real one when constructed with port 0)."""
        if self._server is not None and self._server.sockets:
            return int(self._server.sockets[0].getsockname()[1])
        return self._port

    async def start(self) -> None:
        """Start listening."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._new_connection, self.host, self._port)
        log.info(
            "%s: listening on %s:%d for the calling ICCP server%s",
            self.name,
            self.host,
            self.port,
            " (TLS)" if self.tls is not None else "",
        )

    async def stop(self) -> None:
        """Stop listening; close connections that have not associated and clients not taken."""
        if self._server is not None:
            self._server.close()
        for entry in list(self._incoming):
            if entry.pending:
                entry.evict("listener stopping")
        self._incoming.clear()
        for task in list(self._pending):
            task.cancel()
        if self._pending:
            await asyncio.wait(self._pending, timeout=2.0)
        for link in list(self._links):
            link.close_soon()
        while not self._ready.empty():
            await self._ready.get_nowait().abort()
        if self._server is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2.0):
                    await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> MmsListener:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def accept(self) -> MmsClient:
        """The next association the calling server opened and the authenticator accepted."""
        return await self._ready.get()

    def busy(self) -> bool:
        """True when ``max_associations`` are open: handed out and not closed, or queued."""
        if self.max_associations is None:
            return False
        self._handed = [c for c in self._handed if not c.closed]
        return self._reserved + len(self._handed) >= self.max_associations

    # ------------------------------------------------------------------ connections

    def _new_connection(self) -> asyncio.Protocol:
        """A new TCP connection: the address and the limits are checked at TCP connect,
        before any TLS work (in clear by the link, under TLS by the TLS protocol)."""
        association = Association(Role.RESPONDER, self.config)
        link = AssociationLink(association, on_connected=lambda lk: self._connected(entry))
        entry = _Incoming(link)
        tls = self.tls
        if tls is None:
            return link
        entry.tls = TlsProtocol(
            tls.context,
            link,
            server_side=True,
            pins=tls.pins,
            handshake_timeout=tls.handshake_timeout,
            on_failure=self._tls_failed,
            admit=lambda _: self._admit(entry),
        )
        return entry.tls

    def _count(self, kind: str) -> None:
        """Count one refusal of ``kind`` (see :attr:`refused`)."""
        self.refused[kind] = self.refused.get(kind, 0) + 1

    def _tls_failed(self, failure: TlsFailure) -> None:
        """A TLS failure: counted as ``tls-<kind>`` and logged (throttled per source)."""
        self._count(f"tls-{failure.kind}")
        n = self.log_throttle.count(f"tls {failure.kind} {failure.peer[0]}")
        if n:
            log.warning(
                "%s: TLS %s with %s:%d failed: %s (%s)%s",
                self.name,
                failure.phase,
                *failure.peer,
                failure.kind,
                failure.detail,
                so_far(n),
            )

    def _admit(self, entry: _Incoming) -> bool:
        """At TCP connect: the calling address in ``allow``, and room among the connections
        not associated yet (the oldest silent one closed for it if need be)."""
        source = entry.source
        peer = entry.tls.peer if entry.tls is not None else entry.link.peer
        if self.allow is not None and not self.allow(source):
            self._count("address")
            n = self.log_throttle.count(f"address {source}")
            if n:
                log.warning(
                    "%s: connection from %s:%d refused: address not in connect.allow%s",
                    self.name,
                    *peer,
                    so_far(n),
                )
            return False
        self._incoming = {e for e in self._incoming if e.pending}
        limit = make_room(
            lambda: [e for e in self._incoming if e.pending],
            source,
            per_source=MAX_PENDING_PER_SOURCE,
            total=MAX_PENDING,
            now=time.monotonic(),
        )
        if limit is not None:
            self._count("pending")
            n = self.log_throttle.count(f"pending {source}")
            if n:
                log.warning(
                    "%s: connection from %s:%d refused: %s%s",
                    self.name,
                    *peer,
                    limit,
                    so_far(n),
                )
            return False
        self._incoming.add(entry)
        return True

    def _connected(self, entry: _Incoming) -> None:
        """The link is up (in clear: TCP, checked here; under TLS: the handshake done, checked
        at TCP connect): wait for its association request."""
        link = entry.link
        if entry.tls is None and not self._admit(entry):
            link.close_soon()
            return
        self._links.add(link)
        task = asyncio.create_task(self._associate(link, entry.tls))
        self._pending.add(task)

        def done(_: asyncio.Task[None]) -> None:
            self._pending.discard(task)
            entry.decided = True
            self._incoming.discard(entry)

        task.add_done_callback(done)

    async def _associate(self, link: AssociationLink, tls: TlsProtocol | None) -> None:
        """Up to the accept/refuse decision; an accepted association goes to the queue."""
        assoc = link.association
        peer = f"{link.peer[0]}:{link.peer[1]}"
        handed = False
        reserved = False
        try:
            request = await self._wait_request(link)
            if request is None:
                n = self.log_throttle.count(f"closed {link.peer[0]}")
                if n:
                    log.info(
                        "%s: connection from %s closed before association: %s (%s)%s",
                        self.name,
                        peer,
                        (assoc.close_reason or CloseReason.CONNECTION_LOST).value,
                        assoc.close_detail,
                        so_far(n),
                    )
                return
            aarq = request.aarq
            if self.busy():
                decision = acse.AuthenticationDecision.reject(
                    acse.UserDiagnostic.NO_REASON_GIVEN,
                    f"{self.max_associations} association(s) open already",
                )
            else:
                decision = acse.authenticate(
                    aarq,
                    self.authenticator,
                    peer_certificate=link.peer_certificate,
                    peer_address=link.peer[0],
                )
            if assoc.closed:
                return
            if not decision.accepted:
                assoc.refuse(decision.diagnostic)
                await link.flush()
                self._count(f"diagnostic-{int(decision.diagnostic)}")
                n = self.log_throttle.count(f"refused {link.peer[0]} {decision.reason}")
                if n:
                    log.warning(
                        "%s: association from %s refused: ap_title=%s ae_qualifier=%s "
                        "diagnostic=%d%s%s",
                        self.name,
                        peer,
                        aarq.calling_ap_title,
                        aarq.calling_ae_qualifier,
                        decision.diagnostic,
                        f" reason={decision.reason}" if decision.reason else "",
                        so_far(n),
                    )
                return
            params = assoc.accept()
            self._reserved += 1
            reserved = True
            await link.flush()
            client = MmsClient.accepted(
                assoc,
                link,
                assoc.resume(),
                request_timeout=self.request_timeout,
                on_raw_report=self.on_raw_report,
                report_queue_size=self.report_queue_size,
                tls=tls,
            )
            self.accepted += 1
            tls_version = link.transport_info("tls_version")
            log.info(
                "%s: association from %s accepted: ap_title=%s ae_qualifier=%s pdu_size=%d "
                "outstanding=%d/%d%s",
                self.name,
                peer,
                aarq.calling_ap_title,
                aarq.calling_ae_qualifier,
                params.max_pdu_size,
                params.max_serv_outstanding_calling,
                params.max_serv_outstanding_called,
                f" tls={tls_version}" if tls_version else "",
            )
            try:
                self._ready.put_nowait(client)
            except asyncio.QueueFull:
                log.warning("%s: association from %s aborted: nobody takes it", self.name, peer)
                await client.abort()
                return
            handed = True
            if self.max_associations is not None:  # counted from now on until it closes
                self._handed = [c for c in self._handed if not c.closed]
                self._handed.append(client)
            self._reserved -= 1
            reserved = False
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: connection from %s: unexpected error", self.name, peer)
        finally:
            self._links.discard(link)
            if reserved:
                self._reserved -= 1
            if not handed:
                if not assoc.closed:
                    assoc.abort("association not completed")
                await link.close()

    async def _wait_request(self, link: AssociationLink) -> AssociationRequested | None:
        """The association request, or None when the connection ends or times out first."""
        assoc = link.association
        deadline = time.monotonic() + self.association_timeout
        while not assoc.closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                assoc.abort(f"no association request within {self.association_timeout:g}s")
                return None
            try:
                events = await link.receive(remaining)
            except TimeoutError:
                continue
            for ev in events:
                if isinstance(ev, AssociationRequested):
                    return ev
            await link.flush()  # the COTP CC
        return None
