"""A thin asyncio MMS server: one sans-IO :class:`Association` per TCP connection.

It accepts connections, checks each association request with an ACSE authenticator,
dispatches confirmed services to an :class:`MmsHandler` (one task per request, up to the
negotiated maxServOutstanding), lets the upper layer send InformationReports through the
:class:`AssociationContext`, and calls a hook when an association ends.

Connections that have not associated yet are bounded: each has ``association_timeout``
seconds to associate, one source address holds at most ``max_pending_per_source`` of them,
and when a limit is reached the oldest connection that has not opened COTP within
:data:`SILENT_GRACE` seconds is closed to make room (a real peer sends its CR at once, an
idle socket never does), else the new connection is refused.

What the network does wrong never raises out of a connection: it is logged in one line
naming the peer (and the layer and offset for malformed input), thinned out per source
address with :class:`gateway.logs.Throttle`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from adapters.tase2.iso import acse
from adapters.tase2.mms.aio.admission import SILENT_GRACE as SILENT_GRACE
from adapters.tase2.mms.aio.admission import make_room, so_far
from adapters.tase2.mms.aio.dial import DialError, dial
from adapters.tase2.mms.aio.link import AssociationLink
from adapters.tase2.mms.aio.tls import TlsFailure, TlsProtocol
from adapters.tase2.mms.aio.tls_context import TlsEndpoint
from adapters.tase2.mms.association import (
    Association,
    AssociationClosed,
    AssociationConfig,
    AssociationError,
    AssociationEstablished,
    AssociationRequested,
    AssociationState,
    CloseReason,
    Event,
    NegotiatedParameters,
    PduReceived,
    PduTooLargeError,
    PreparedRead,
    Role,
)
from adapters.tase2.mms.errors import MmsEncodeError
from adapters.tase2.mms.pdu import (
    ConfirmedError,
    ConfirmedRequest,
    ConfirmedResponse,
    Reject,
    Unconfirmed,
)
from adapters.tase2.mms.service_error import (
    AccessCode,
    ErrorClass,
    MmsServiceError,
    ServiceCode,
    ServiceError,
)
from adapters.tase2.mms.services import (
    ConfirmedServiceResponse,
    DefineNamedVariableListRequest,
    DefineNamedVariableListResponse,
    DeleteNamedVariableListRequest,
    DeleteNamedVariableListResponse,
    GetNamedVariableListAttributesRequest,
    GetNamedVariableListAttributesResponse,
    GetNameListRequest,
    GetNameListResponse,
    GetVariableAccessAttributesRequest,
    GetVariableAccessAttributesResponse,
    IdentifyRequest,
    IdentifyResponse,
    InformationReport,
    ReadRequest,
    ReadResponse,
    WriteRequest,
    WriteResponse,
)
from gateway.logs import Throttle

__all__ = [
    "AssociationContext",
    "CallResult",
    "MmsHandler",
    "MmsServer",
    "OutboundCall",
    "UnsupportedHandler",
]

log = logging.getLogger(__name__)

_MAX_THROTTLED_SOURCES = 4096
"""Source addresses (per kind of problem) whose log lines are counted at once."""


@dataclass(slots=True, eq=False)
class AssociationContext:
    """What a handler knows about the association a request came on.

    ``data`` is a per-association dict for the upper layer (e.g. TASE.2 transfer sets).
    """

    association_id: int
    peer_address: tuple[str, int]
    ap_title: str | None
    ae_qualifier: int | None
    called_ap_title: str | None
    called_ae_qualifier: int | None
    parameters: NegotiatedParameters
    data: dict[str, Any] = field(default_factory=dict)
    peer_certificate: bytes | None = None
    """The TLS peer's DER certificate (None without TLS)."""
    _connection: _ServerConnection | None = field(default=None, repr=False)

    @property
    def closed(self) -> bool:
        """True once the association has ended."""
        conn = self._connection
        return conn is None or conn.association.closed

    async def send_information_report(self, report: InformationReport) -> None:
        """Send an unconfirmed InformationReport on this association.

        Raises :class:`PduTooLargeError` (nothing sent) when it exceeds the negotiated PDU
        size, :class:`AssociationError` when the association is gone.
        """
        conn = self._connection
        if conn is None:
            raise AssociationError("association is closed")
        conn.association.send_pdu(Unconfirmed(report))
        await conn.link.flush()

    async def send_encoded_report(self, pdu: bytes) -> None:
        """Send an already encoded unconfirmed PDU (the report fast path); size-checked."""
        conn = self._connection
        if conn is None:
            raise AssociationError("association is closed")
        conn.association.send_encoded(pdu)
        await conn.link.flush()

    async def abort(self) -> None:
        """Abort this association (ACSE ABRT, then TCP close)."""
        conn = self._connection
        if conn is not None:
            conn.association.abort("aborted by the server application")
            await conn.link.close()


class MmsHandler(Protocol):
    """The upper layer of an MMS server: one coroutine per confirmed service.

    Each returns the service response or raises :class:`MmsServiceError`, which is sent
    as a confirmed-ErrorPDU. A handler may also have a plain method
    ``answer_now(ctx, service) -> ConfirmedServiceResponse | None`` for the services it
    answers without waiting (Read of values it holds...): the server then answers in the
    same step, without a task, and sends every answer of a batch of requests in one write.
    It returns None for what must go through the coroutines. A handler may further have
    ``prepare_read(ctx, request) -> (() -> bytes | None) | None``: for a Read it answers
    from what it holds, a callable giving its AccessResults, encoded; the association then
    answers those frames as it receives them (:attr:`Association.prepare_read`), without
    decoding them layer by layer.
    """

    async def identify(self, ctx: AssociationContext, request: IdentifyRequest) -> IdentifyResponse:
        """Identify: vendor, model, revision."""
        ...

    async def get_name_list(
        self, ctx: AssociationContext, request: GetNameListRequest
    ) -> GetNameListResponse:
        """GetNameList: one page of names of a class in a scope."""
        ...

    async def read(self, ctx: AssociationContext, request: ReadRequest) -> ReadResponse:
        """Read: one AccessResult per variable."""
        ...

    async def write(self, ctx: AssociationContext, request: WriteRequest) -> WriteResponse:
        """Write: per variable success or a DataAccessError."""
        ...

    async def get_variable_access_attributes(
        self, ctx: AssociationContext, request: GetVariableAccessAttributesRequest
    ) -> GetVariableAccessAttributesResponse:
        """GetVariableAccessAttributes: the type of a named variable."""
        ...

    async def define_named_variable_list(
        self, ctx: AssociationContext, request: DefineNamedVariableListRequest
    ) -> DefineNamedVariableListResponse:
        """DefineNamedVariableList: create a data set."""
        ...

    async def delete_named_variable_list(
        self, ctx: AssociationContext, request: DeleteNamedVariableListRequest
    ) -> DeleteNamedVariableListResponse:
        """DeleteNamedVariableList: delete data sets."""
        ...

    async def get_named_variable_list_attributes(
        self, ctx: AssociationContext, request: GetNamedVariableListAttributesRequest
    ) -> GetNamedVariableListAttributesResponse:
        """GetNamedVariableListAttributes: the members of a data set."""
        ...


def _unsupported() -> MmsServiceError:
    return MmsServiceError.of(ErrorClass.ACCESS, AccessCode.OBJECT_ACCESS_UNSUPPORTED)


class UnsupportedHandler:
    """A handler base that answers every service with access/object-access-unsupported.

    Subclass it and override the services you implement.
    """

    async def identify(self, ctx: AssociationContext, request: IdentifyRequest) -> IdentifyResponse:
        """Identify with a generic identity."""
        return IdentifyResponse("iccp-gateway", "mms", "0.1")

    async def get_name_list(
        self, ctx: AssociationContext, request: GetNameListRequest
    ) -> GetNameListResponse:
        """No names."""
        return GetNameListResponse((), more_follows=False)

    async def read(self, ctx: AssociationContext, request: ReadRequest) -> ReadResponse:
        """Unsupported."""
        raise _unsupported()

    async def write(self, ctx: AssociationContext, request: WriteRequest) -> WriteResponse:
        """Unsupported."""
        raise _unsupported()

    async def get_variable_access_attributes(
        self, ctx: AssociationContext, request: GetVariableAccessAttributesRequest
    ) -> GetVariableAccessAttributesResponse:
        """Unsupported."""
        raise _unsupported()

    async def define_named_variable_list(
        self, ctx: AssociationContext, request: DefineNamedVariableListRequest
    ) -> DefineNamedVariableListResponse:
        """Unsupported."""
        raise _unsupported()

    async def delete_named_variable_list(
        self, ctx: AssociationContext, request: DeleteNamedVariableListRequest
    ) -> DeleteNamedVariableListResponse:
        """Unsupported."""
        raise _unsupported()

    async def get_named_variable_list_attributes(
        self, ctx: AssociationContext, request: GetNamedVariableListAttributesRequest
    ) -> GetNamedVariableListAttributesResponse:
        """Unsupported."""
        raise _unsupported()


async def _call(
    handler: MmsHandler, ctx: AssociationContext, request: object
) -> ConfirmedServiceResponse:
    """Route one decoded request to the handler method for its service."""
    if isinstance(request, ReadRequest):
        return await handler.read(ctx, request)
    if isinstance(request, WriteRequest):
        return await handler.write(ctx, request)
    if isinstance(request, GetNameListRequest):
        return await handler.get_name_list(ctx, request)
    if isinstance(request, IdentifyRequest):
        return await handler.identify(ctx, request)
    if isinstance(request, GetVariableAccessAttributesRequest):
        return await handler.get_variable_access_attributes(ctx, request)
    if isinstance(request, DefineNamedVariableListRequest):
        return await handler.define_named_variable_list(ctx, request)
    if isinstance(request, DeleteNamedVariableListRequest):
        return await handler.delete_named_variable_list(ctx, request)
    if isinstance(request, GetNamedVariableListAttributesRequest):
        return await handler.get_named_variable_list_attributes(ctx, request)
    raise _unsupported()


EndHook = Callable[[AssociationContext, CloseReason, str], Awaitable[None] | None]
"""Called once when an established association ends: (context, reason, detail)."""
ReportHook = Callable[[AssociationContext, InformationReport], Awaitable[None] | None]
"""Called for each InformationReport a peer sends (e.g. TASE.2 Transfer_Report_ACK)."""


async def _maybe_await(result: Awaitable[None] | None) -> None:
    if result is not None:
        await result


@dataclass(frozen=True, slots=True)
class OutboundCall:
    """An association the server opens itself (an active endpoint: it calls its client).

    ``config`` is the initiator's side (own and called AP-title, selectors, password to
    send); ``verify`` judges the answering peer once its AARE accepted the association
    (its AP-title, falling back to the called one when the AARE names none, its TLS
    certificate and address), as the authenticator judges a caller.
    """

    config: AssociationConfig
    verify: acse.Authenticator = acse.accept_all


@dataclass(frozen=True, slots=True)
class CallResult:
    """How one :meth:`MmsServer.call` went: ``established`` or not, why it ended, and
    how long the association lasted (seconds; 0 when it never came up)."""

    established: bool
    detail: str
    duration: float = 0.0


class _ServerConnection:
    """One TCP connection: establishment, dispatch loop, teardown.

    A connection the server accepted runs its association as responder; one the server
    opened (:meth:`MmsServer.call`, an active endpoint) as initiator, checked by ``verify``
    once the peer's AARE accepted it.
    """

    def __init__(
        self,
        server: MmsServer,
        association_id: int,
        outbound: OutboundCall | None = None,
    ) -> None:
        self.server = server
        self.outbound = outbound
        if outbound is None:
            self.association = Association(Role.RESPONDER, server.config)
        else:
            self.association = Association(Role.INITIATOR, outbound.config)
        self.link = AssociationLink(self.association, on_connected=self._connected, serving=True)
        self.association_id = association_id
        self.ctx: AssociationContext | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.started = time.monotonic()
        self.task: asyncio.Task[None] | None = None
        self.failure: str | None = None
        """Why an outbound association did not come up (None: it did, or not yet)."""

    def _connected(self, link: AssociationLink) -> None:
        self.started = time.monotonic()
        self.server._start(self)

    @property
    def source(self) -> str:
        """The peer's IP address."""
        return self.link.peer[0]

    @property
    def pending(self) -> bool:
        """Still open and not associated yet."""
        return self.ctx is None and not self.association.closed

    @property
    def silent(self) -> bool:
        """No COTP CR from the peer yet."""
        return self.association.state is AssociationState.IDLE

    def evict(self, why: str) -> None:
        """Close it to make room for another connection."""
        self.association.abort(why)
        self.link.close_soon()

    # ------------------------------------------------------------------ life cycle

    async def run(self) -> None:
        """Serve this connection until the association ends; always clean up."""
        try:
            if self.outbound is not None:
                events = await self._establish_outbound(self.outbound)
            else:
                events = await self._establish()
            if events is not None:
                await self._serve(events)
        except Exception:
            log.exception("association %d: unexpected error", self.association_id)
        finally:
            await self._teardown()

    async def _establish(self) -> list[Event] | None:
        """Up to the accept/refuse decision; on accept, the events that followed the request."""
        deadline = time.monotonic() + self.server.association_timeout
        assoc = self.association
        while not assoc.closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                assoc.abort("association not completed in time")
                return None
            try:
                events = await self.link.receive(remaining)
            except TimeoutError:
                assoc.abort("association not completed in time")
                return None
            for ev in events:
                if isinstance(ev, AssociationRequested):
                    # The association holds whatever followed the request until this
                    # decision, so the request is the last event of this read.
                    if not await self._decide(ev):
                        return None
                    return self.association.resume()
            await self.link.flush()
        return None

    async def _establish_outbound(self, call: OutboundCall) -> list[Event] | None:
        """Initiator: CR, AARQ, and the peer's AARE; then ``call.verify`` on what the peer
        is (AP-title, TLS certificate, address). On success, the events that followed."""
        deadline = time.monotonic() + self.server.association_timeout
        assoc = self.association
        peer = f"{self.link.peer[0]}:{self.link.peer[1]}"
        assoc.start()
        await self.link.flush()
        while not assoc.closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                assoc.abort("association not completed in time")
                self.failure = (
                    f"no association with {peer} within {self.server.association_timeout:g}s"
                )
                return None
            try:
                events = await self.link.receive(remaining)
            except TimeoutError:
                continue
            for i, ev in enumerate(events):
                if isinstance(ev, AssociationClosed):
                    self.failure = f"association refused by {peer}: {ev.reason.value} ({ev.detail})"
                    return None
                if isinstance(ev, AssociationEstablished):
                    if not await self._verify_outbound(call, ev):
                        return None
                    return events[i + 1 :]
            await self.link.flush()
        self.failure = f"connection to {peer} closed: {assoc.close_detail}"
        return None

    async def _verify_outbound(self, call: OutboundCall, ev: AssociationEstablished) -> bool:
        """Judge the peer that accepted our AARQ with ``call.verify`` (its AP-title, else
        the called one; its TLS certificate and address); abort, log and keep the reason
        in :attr:`failure` when it is not the peer we meant to call (False)."""
        assoc = self.association
        cfg = call.config
        ap_title = assoc.peer_ap_title or cfg.remote_ap_title
        ae_qualifier = (
            assoc.peer_ae_qualifier if assoc.peer_ap_title is not None else cfg.remote_ae_qualifier
        )
        decision = call.verify(
            acse.AuthenticationRequest(
                calling_ap_title=ap_title,
                calling_ae_qualifier=ae_qualifier,
                called_ap_title=cfg.local_ap_title,
                called_ae_qualifier=cfg.local_ae_qualifier,
                mechanism=ev.aare.mechanism,
                authentication=ev.aare.authentication,
                peer_certificate=self.link.peer_certificate,
                peer_address=self.link.peer[0],
            )
        )
        peer = f"{self.link.peer[0]}:{self.link.peer[1]}"
        if not decision.accepted:
            assoc.abort(f"peer not accepted: {decision.reason}")
            await self.link.flush()
            self.failure = f"{peer} answered but is not the configured peer: {decision.reason}"
            log.info(  # the caller's line (throttled) is the warning
                "association %d to %s aborted: ap_title=%s ae_qualifier=%s reason=%s",
                self.association_id,
                peer,
                ap_title,
                ae_qualifier,
                decision.reason or f"diagnostic {decision.diagnostic}",
            )
            return False
        params = assoc.parameters
        assert params is not None
        await self._open(
            ap_title, ae_qualifier, cfg.local_ap_title, cfg.local_ae_qualifier, params, "to"
        )
        return True

    async def _decide(self, ev: AssociationRequested) -> bool:
        aarq = ev.aarq
        assoc = self.association
        decision = acse.authenticate(
            aarq,
            self.server.authenticator,
            peer_certificate=self.link.peer_certificate,
            peer_address=self.link.peer[0],
        )
        peer = f"{self.link.peer[0]}:{self.link.peer[1]}"
        if assoc.closed:  # aborted (server stopping) while the authenticator ran
            return False
        if not decision.accepted:
            assoc.refuse(decision.diagnostic)
            await self.link.flush()
            n = self.server.log_throttle.count(f"refused {self.source}")
            if n:
                log.warning(
                    "association %d refused: peer=%s ap_title=%s ae_qualifier=%s diagnostic=%d%s%s",
                    self.association_id,
                    peer,
                    aarq.calling_ap_title,
                    aarq.calling_ae_qualifier,
                    decision.diagnostic,
                    f" reason={decision.reason}" if decision.reason else "",
                    so_far(n),
                )
            return False
        params = assoc.accept()
        await self.link.flush()
        await self._open(
            aarq.calling_ap_title,
            aarq.calling_ae_qualifier,
            aarq.called_ap_title,
            aarq.called_ae_qualifier,
            params,
            "from",
        )
        return True

    async def _open(
        self,
        ap_title: str | None,
        ae_qualifier: int | None,
        called_ap_title: str | None,
        called_ae_qualifier: int | None,
        params: NegotiatedParameters,
        direction: str,
    ) -> None:
        """The association is up (accepted, or called and verified): its context, the
        fast Read path, the start line and hook."""
        assoc = self.association
        ctx = self.ctx = AssociationContext(
            association_id=self.association_id,
            peer_address=self.link.peer,
            ap_title=ap_title,
            ae_qualifier=ae_qualifier,
            called_ap_title=called_ap_title,
            called_ae_qualifier=called_ae_qualifier,
            parameters=params,
            peer_certificate=self.link.peer_certificate,
            _connection=self,
        )
        prepare_read = self.server.prepare_read
        if prepare_read is not None:
            assoc.prepare_read = functools.partial(prepare_read, ctx)
        tls = self.link.transport_info("tls_version")
        log.info(
            "association %d start: peer=%s (%s) ap_title=%s ae_qualifier=%s pdu_size=%d "
            "outstanding=%d/%d%s",
            self.association_id,
            f"{self.link.peer[0]}:{self.link.peer[1]}",
            "it called" if direction == "from" else "we called",
            ap_title,
            ae_qualifier,
            params.max_pdu_size,
            params.max_serv_outstanding_calling,
            params.max_serv_outstanding_called,
            f" tls={tls}" if tls else "",
        )
        if self.server.on_association_start is not None:
            await _maybe_await(self.server.on_association_start(ctx))

    async def _serve(self, events: list[Event]) -> None:
        """The data phase, starting with ``events`` (what followed the request)."""
        assoc = self.association
        idle = self.server.idle_timeout
        while True:
            for ev in events:
                if isinstance(ev, PduReceived):
                    await self._on_pdu(ev)
                elif isinstance(ev, AssociationClosed):
                    break
            await self.link.flush()
            if assoc.closed:
                return
            wait = None
            if idle is not None:  # silence counts: Reads answered by the association too
                wait = idle - (asyncio.get_running_loop().time() - self.link.last_data)
                if wait <= 0:
                    assoc.abort("idle timeout")
                    return
            try:
                events = await self.link.receive(wait)
            except TimeoutError:
                events = []

    async def _on_pdu(self, ev: PduReceived) -> None:
        pdu = ev.pdu
        ctx = self.ctx
        assert ctx is not None
        if isinstance(pdu, ConfirmedRequest):
            if self._answer_now(ctx, pdu):
                return  # sent with the rest of this batch by _serve's flush
            task = asyncio.create_task(self._dispatch(ctx, pdu))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        elif isinstance(pdu, Unconfirmed) and isinstance(pdu.service, InformationReport):
            hook = self.server.on_information_report
            if hook is not None:
                try:
                    await _maybe_await(hook(ctx, pdu.service))
                except Exception:
                    log.exception("association %d: report hook failed", self.association_id)
        elif isinstance(pdu, Reject):
            log.warning("association %d: peer rejected: %s", self.association_id, pdu.reason)

    def _answer_now(self, ctx: AssociationContext, request: ConfirmedRequest) -> bool:
        """Answer ``request`` at once when the handler can (:meth:`MmsHandler.answer_now`):
        no task, and the answer leaves with the batch it came in. False: dispatch it."""
        answer_now = self.server.answer_now
        if answer_now is None:
            return False
        iid = request.invoke_id
        try:
            service = answer_now(ctx, request.service)
        except MmsServiceError as exc:
            self._send(ConfirmedError(iid, exc.error))
            return True
        except Exception:
            self._send(self._handler_failed(request))
            return True
        if service is None:
            return False
        self._send(ConfirmedResponse(iid, service))
        return True

    def _handler_failed(self, request: ConfirmedRequest) -> ConfirmedError:
        log.exception(
            "association %d: handler failed on %s",
            self.association_id,
            type(request.service).__name__,
        )
        return ConfirmedError(
            request.invoke_id, ServiceError(ErrorClass.SERVICE, ServiceCode.OTHER)
        )

    async def _dispatch(self, ctx: AssociationContext, request: ConfirmedRequest) -> None:
        iid = request.invoke_id
        answer: ConfirmedResponse | ConfirmedError
        try:
            answer = ConfirmedResponse(iid, await _call(self.server.handler, ctx, request.service))
        except MmsServiceError as exc:
            answer = ConfirmedError(iid, exc.error)
        except asyncio.CancelledError:
            raise
        except Exception:
            answer = self._handler_failed(request)
        if self._send(answer):
            await self.link.flush()

    def _send(self, answer: ConfirmedResponse | ConfirmedError) -> bool:
        """Queue ``answer`` (or, too large to encode, a ServiceError in its place); False
        when the association is gone."""
        if self.association.closed:
            return False
        try:
            self.association.send_pdu(answer)
        except (PduTooLargeError, MmsEncodeError) as exc:
            log.warning("association %d: response not sent: %s", self.association_id, exc)
            code = ServiceCode.PDU_SIZE if isinstance(exc, PduTooLargeError) else ServiceCode.OTHER
            error = ServiceError(ErrorClass.SERVICE, code)
            self.association.send_pdu(ConfirmedError(answer.invoke_id, error))
        except AssociationError:
            return False
        return True

    async def _teardown(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=2.0)
        assoc = self.association
        if not assoc.closed:
            assoc.abort("server stopping")
        await self.link.close()
        reason = assoc.close_reason or CloseReason.CONNECTION_LOST
        peer = f"{self.link.peer[0]}:{self.link.peer[1]}"
        duration = time.monotonic() - self.started
        ctx = self.ctx
        if ctx is None:
            bad_input = reason is CloseReason.PROTOCOL_ERROR
            n = self.server.log_throttle.count(f"{reason.value} {self.source}")
            # a refusal has its own line, and a call that failed its caller's
            if n and reason is not CloseReason.REFUSED and self.outbound is None:
                log.log(
                    logging.WARNING if bad_input else logging.INFO,
                    "connection %d closed before association: peer=%s reason=%s (%s)%s",
                    self.association_id,
                    peer,
                    reason.value,
                    assoc.close_detail,
                    so_far(n),
                )
            return
        log.info(
            "association %d end: peer=%s ap_title=%s reason=%s (%s) after %.1f s",
            self.association_id,
            peer,
            ctx.ap_title,
            reason.value,
            assoc.close_detail,
            duration,
        )
        ctx._connection = None
        if self.server.on_association_end is not None:
            try:
                await _maybe_await(self.server.on_association_end(ctx, reason, assoc.close_detail))
            except Exception:
                log.exception("association %d: end hook failed", self.association_id)


class _Refuse(asyncio.Protocol):
    """Closes a connection at once (too many TLS handshakes under way)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Close it."""
        transport.close()


class MmsServer:
    """An asyncio MMS server (responder) dispatching services to an :class:`MmsHandler`.

    ``association_timeout`` is the time a new connection has to associate,
    ``idle_timeout`` (None: none) the longest silence of an association,
    ``max_connections`` the open connections at most, ``max_pending_per_source`` the
    connections of one source address that have not associated yet.

    With ``tls`` every connection runs TLS below COTP (:class:`TlsProtocol`); assigning
    :attr:`tls` later (a certificate reload) applies to new connections only, established
    ones keep their session. TLS failures are logged (throttled per source and kind) and
    counted in :attr:`tls_failures`; handshakes under way count against
    ``max_connections``.
    """

    def __init__(
        self,
        handler: MmsHandler,
        *,
        host: str = "127.0.0.1",
        port: int = 102,
        config: AssociationConfig | None = None,
        authenticator: acse.Authenticator = acse.accept_all,
        on_association_start: Callable[[AssociationContext], Awaitable[None] | None] | None = None,
        on_association_end: EndHook | None = None,
        on_information_report: ReportHook | None = None,
        association_timeout: float = 5.0,
        idle_timeout: float | None = None,
        max_connections: int = 256,
        max_pending_per_source: int = 16,
        tls: TlsEndpoint | None = None,
    ) -> None:
        self.handler = handler
        self.tls = tls
        self.tls_failures: dict[str, int] = {}
        """TLS failures by kind (``unknown-ca``, ``expired``, ``pin-mismatch``...)."""
        self.tls_handshakes = 0
        """TLS handshakes completed."""
        self._handshakes: set[TlsProtocol] = set()
        """TLS handshakes under way (accepted and called); :meth:`stop` aborts them."""
        self.answer_now: Callable[[AssociationContext, object], Any] | None = getattr(
            handler, "answer_now", None
        )
        """The handler's ``answer_now``, looked up once (see :class:`MmsHandler`)."""
        self.prepare_read: (
            Callable[[AssociationContext, ReadRequest], PreparedRead | None] | None
        ) = getattr(handler, "prepare_read", None)
        """The handler's ``prepare_read``, looked up once (see :class:`MmsHandler`)."""
        self.host = host
        self.config = config or AssociationConfig()
        self.authenticator = authenticator
        self.on_association_start = on_association_start
        self.on_association_end = on_association_end
        self.on_information_report = on_information_report
        self.association_timeout = association_timeout
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self.max_pending_per_source = max_pending_per_source
        self.log_throttle = Throttle(max_kinds=_MAX_THROTTLED_SOURCES)
        self._port = port
        self._server: asyncio.Server | None = None
        self._connections: set[_ServerConnection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)
        self._stopping = False

    @property
    def port(self) -> int:
        """The TCP port listened on (the real one when constructed with port 0)."""
        if self._server is not None and self._server.sockets:
            return int(self._server.sockets[0].getsockname()[1])
        return self._port

    @property
    def associations(self) -> tuple[AssociationContext, ...]:
        """Contexts of the associations currently established."""
        return tuple(
            c.ctx for c in self._connections if c.ctx is not None and not c.association.closed
        )

    async def start(self) -> None:
        """Start listening."""
        self._stopping = False
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._new_connection, self.host, self._port)
        log.info("MMS server listening on %s:%d", self.host, self.port)

    def _new_connection(self) -> asyncio.Protocol:
        link = _ServerConnection(self, next(self._ids)).link
        tls = self.tls
        if tls is None:
            return link
        if self._handshaking() + len(self._connections) >= self.max_connections:
            return _Refuse()
        proto = TlsProtocol(
            tls.context,
            link,
            server_side=True,
            pins=tls.pins,
            handshake_timeout=tls.handshake_timeout,
            on_failure=self._tls_failed,
            on_established=self._tls_established,
        )
        self._handshakes.add(proto)
        return proto

    def _handshaking(self) -> int:
        """How many TLS handshakes are under way (those that ended are dropped)."""
        self._handshakes = {p for p in self._handshakes if p.failure is None and not p.established}
        return len(self._handshakes)

    async def call(
        self,
        host: str,
        port: int,
        call: OutboundCall,
        *,
        tls: TlsEndpoint | None = None,
        connect_timeout: float = 10.0,
    ) -> CallResult:
        """Open an association to ``host:port`` as its initiator and serve it like an
        accepted one (the peer is the MMS client); returns when it ends.

        TLS follows the TCP role: with ``tls`` (a client-side endpoint) this end is the
        TLS client, offering the last session with that address again. The association is
        subject to :attr:`max_connections` like accepted ones. Never raises for network
        trouble: the result says what happened.
        """
        where = f"{host}:{port}"
        if self._stopping:
            return CallResult(False, f"not calling {where}: server stopping")
        conn = _ServerConnection(self, next(self._ids), call)
        counted: list[TlsProtocol] = []

        def count(proto: TlsProtocol) -> None:
            self._handshakes.add(proto)
            counted.append(proto)

        def uncount() -> None:
            # a handshake that never reported (TCP never came up, or cancelled) frees its slot
            self._handshakes.difference_update(counted)

        try:
            tls_proto = await dial(
                conn.link,
                host,
                port,
                tls,
                connect_timeout=connect_timeout,
                on_failure=functools.partial(self._tls_failed, quiet=True),  # the caller logs
                on_established=self._tls_established,
                before_connect=count,
            )
        except DialError as exc:
            uncount()
            return CallResult(False, str(exc))
        except asyncio.CancelledError:
            uncount()
            conn.association.abort("server stopping")
            raise
        task = conn.task
        if task is None:  # not admitted (limits, stopping): already closed
            why = "server stopping" if self._stopping else "connection limit reached"
            return CallResult(False, f"not connected to {where}: {why}")
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:  # the caller gave up (stop, new call target)
            conn.association.abort("call cancelled")
            conn.link.close_soon()
            raise
        if conn.ctx is None:
            failure = tls_proto.failure if tls_proto is not None else None
            if failure is not None:  # TLS 1.3: the peer refused our certificate after the handshake
                return CallResult(
                    False, f"TLS session with {where} failed: {failure.kind} ({failure.detail})"
                )
            return CallResult(False, conn.failure or f"no association with {where}")
        reason = conn.association.close_reason or CloseReason.CONNECTION_LOST
        return CallResult(
            True,
            f"{reason.value} ({conn.association.close_detail})",
            time.monotonic() - conn.started,
        )

    def _tls_established(self, proto: TlsProtocol) -> None:
        self._handshakes.discard(proto)
        self.tls_handshakes += 1

    def _tls_failed(self, failure: TlsFailure, quiet: bool = False) -> None:
        """Count a TLS failure; log it (throttled per source and kind) unless ``quiet``."""
        self.tls_failures[failure.kind] = self.tls_failures.get(failure.kind, 0) + 1
        if quiet:
            return
        source = failure.peer[0]
        n = self.log_throttle.count(f"tls {failure.kind} {source}")
        if n:
            log.warning(
                "TLS %s with %s:%d failed: %s (%s)%s",
                failure.phase,
                *failure.peer,
                failure.kind,
                failure.detail,
                so_far(n),
            )

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop listening, abort every association and wait (bounded) for their clean-up;
        a call whose connection comes up from now on is closed at once."""
        self._stopping = True
        if self._server is not None:
            self._server.close()
        for proto in list(self._handshakes):
            proto.abort()
        conns = list(self._connections)
        for conn in conns:
            conn.association.abort("server stopping")
        if conns:  # all at once: each is aborted if its peer does not take the ABRT in time
            await asyncio.wait(
                [asyncio.create_task(c.link.close(min(1.0, timeout))) for c in conns]
            )
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=timeout)
        if self._server is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(timeout):
                    await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> MmsServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _start(self, conn: _ServerConnection) -> None:
        """A new connection: admit it within the limits and serve it, or close it."""
        if self._stopping or not self._admit(conn):
            conn.link.close_soon()
            return
        self._connections.add(conn)
        task = conn.task = asyncio.create_task(conn.run())
        self._tasks.add(task)

        def done(_: asyncio.Task[None]) -> None:
            self._connections.discard(conn)
            self._tasks.discard(task)

        task.add_done_callback(done)

    def _admit(self, conn: _ServerConnection) -> bool:
        """Make room for a new connection within the limits (see
        :func:`~adapters.tase2.mms.aio.admission.make_room`), or refuse it (False)."""
        limit = make_room(
            lambda: [c for c in self._connections if not c.association.closed],
            conn.source,
            per_source=self.max_pending_per_source,
            total=self.max_connections,
            now=time.monotonic(),
        )
        if limit is None:
            return True
        n = self.log_throttle.count(f"refused-connection {conn.source}")
        if n:
            log.warning(
                "connection %d from %s:%d refused: %s%s",
                conn.association_id,
                *conn.link.peer,
                limit,
                so_far(n),
            )
        return False
