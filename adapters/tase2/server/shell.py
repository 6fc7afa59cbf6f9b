"""The TASE.2 server (Blocks 1, 2, 4 and 5): the thin asyncio shell over the sans-IO parts.

:class:`Tase2Server` runs an :class:`~adapters.tase2.mms.aio.server.MmsServer` whose
handler (:class:`~adapters.tase2.server.handler.Tase2Handler`) does what each MMS service
does for a peer. The shell keeps what needs the event loop or the clock:

* association hooks: authenticate a caller against the bilateral tables, open and close
  its :class:`~adapters.tase2.server.peers.PeerSession` and report
  :class:`~adapters.tase2.server.outbox.Outbox`;
* one scheduler task that sleeps until the transfer engine's next deadline or a change,
  sends what is due, and forwards critical-report events;
* live table changes (:meth:`Tase2Server.set_tables`): compiled by
  :class:`~adapters.tase2.server.tables.ServedTables`, applied to the associations of the
  changed tables only by :func:`~adapters.tase2.server.tables.rebind` (an association
  whose table went away or changed its peer or domain is aborted).

Endpoint roles: with ``connect: {mode: active}`` the shell does not listen; one task per
``connect.call`` target calls that table's client (:meth:`MmsServer.call`), checks the
answering peer against the table, serves the association like an accepted one and calls
again when it ends, with back-off after failures; :attr:`Tase2Server.calls` keeps how it goes.

The server knows no bus: a :class:`~adapters.tase2.server.handler.PointSource` gives it
point kinds, current values and a command path (the adapter binds that to the point bus),
and :meth:`Tase2Server.on_changes` takes point changes. Reports go through one outbox task
per association, so a slow peer never delays the others (a peer that lets its outbox
overflow is aborted).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from adapters.tase2.iso.acse import (
    AuthenticationDecision,
    AuthenticationRequest,
    Authenticator,
    UserDiagnostic,
    check_password,
)
from adapters.tase2.mms.access import VariableList
from adapters.tase2.mms.aio.server import (
    AssociationContext,
    CallResult,
    MmsServer,
    OutboundCall,
)
from adapters.tase2.mms.aio.tls_context import TlsEndpoint
from adapters.tase2.mms.association import AssociationConfig, CloseReason
from adapters.tase2.mms.names import ObjectName
from adapters.tase2.mms.services import InformationReport
from adapters.tase2.model.objects import DSConditions
from adapters.tase2.security.selectors import OsiSelectors
from adapters.tase2.server.bilateral import BilateralTableConfig, PeerRejected, PointRule
from adapters.tase2.server.controls import PeerInfo, ServerControls
from adapters.tase2.server.datasets import DataSetRegistry, VccDataSetConfig
from adapters.tase2.server.device_control import TagStore
from adapters.tase2.server.encoded import EncodedValues
from adapters.tase2.server.handler import PointSource, ServiceContext, Tase2Handler
from adapters.tase2.server.outbox import Outbox
from adapters.tase2.server.peers import PeerSession
from adapters.tase2.server.reports import ReportRequest, encode_report
from adapters.tase2.server.settings import CallTarget, ServerConnect, ServerLimits
from adapters.tase2.server.tables import ServedTables, TableChange, rebind
from adapters.tase2.server.transfer import TransferEngine, TransferSetEvent
from gateway.backoff import Backoff
from gateway.logs import Throttle
from gateway.messages import Message
from gateway.points import PointValue

__all__ = ["CallState", "Tase2Server"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(slots=True)
class CallState:
    """How an active server's calls to one table's client go (for the status)."""

    table: str
    address: str = ""
    """The address of the current (or last) call."""
    attempts: int = 0
    completed: int = 0
    """Associations that came up and have ended."""
    failures: int = 0
    """Failures in a row (a call that failed, or an association that ended soon)."""
    last_result: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The state as plain data."""
        return dataclasses.asdict(self)


class Tase2Server:
    """A TASE.2 server: bilateral tables, data sets, DS transfer sets, reports.

    ``tables`` are the bilateral tables (see :mod:`adapters.tase2.server.bilateral`);
    ``vcc_points`` rules add VCC-scope (VMD-specific) points visible to every peer whose
    table does not say otherwise; ``vcc_data_sets`` are VMD-scope data sets every peer sees
    and may report through its transfer sets (members it may read only). ``on_report_sent``
    is called with each report and the POSIX time its bytes were handed to the socket (for
    latency measurements). ``tag_store`` saves device tags durably; restore saved tags
    (``controls.devices.restore_tags``) before :meth:`start`.
    """

    def __init__(
        self,
        source: PointSource,
        tables: Sequence[BilateralTableConfig],
        *,
        vcc_points: Sequence[PointRule] = (),
        vcc_data_sets: Sequence[VccDataSetConfig] = (),
        limits: ServerLimits | None = None,
        host: str = "127.0.0.1",
        port: int = 102,
        ap_title: str | None = None,
        ae_qualifier: int | None = None,
        max_pdu_size: int = 65000,
        on_report_sent: Callable[[ReportRequest, float], None] | None = None,
        on_event: Callable[[TransferSetEvent], None] | None = None,
        tag_store: TagStore | None = None,
        tls: TlsEndpoint | None = None,
        selectors: OsiSelectors | None = None,
        connect: ServerConnect | None = None,
    ) -> None:
        self.source = source
        self.connect = connect or ServerConnect()
        """The endpoint role: listen (passive, default) or call the clients (active)."""
        self.limits = limits or ServerLimits()
        self.engine = TransferEngine(
            self.limits.transfer_sets,
            critical_timeout=self.limits.critical_timeout,
            max_buffered_changes=self.limits.max_buffered_changes,
        )
        self.registry = DataSetRegistry()
        self.registry.set_vcc(vcc_data_sets)
        self.controls = ServerControls(
            source.kinds,
            source.current,
            source.command,
            clock=time.monotonic,
            wall_clock=time.time,
            buffer_size=self.limits.message_buffer_size,
            tag_store=tag_store,
        )
        self.on_report_sent = on_report_sent
        self.on_event = on_event
        self.tables = ServedTables(tables, vcc_points, source.kinds())
        self._configure_domains()
        self.encoded = EncodedValues()
        """The encodings of current values, shared by Reads and reports."""
        self.handler = Tase2Handler(self)
        tsap, ssel, psel = (selectors or OsiSelectors()).octets()
        self._own = AssociationConfig(
            local_ap_title=ap_title,
            local_ae_qualifier=ae_qualifier,
            max_pdu_size=max_pdu_size,
            local_tsap=tsap,
            local_session_selector=ssel,
            local_presentation_selector=psel,
        )
        self.mms = MmsServer(
            self.handler,
            host=host,
            port=port,
            config=self._own,
            tls=tls,
            authenticator=self._authenticate,
            on_association_start=self._association_start,
            on_association_end=self._association_end,
            on_information_report=self._client_report,
            association_timeout=self.limits.association_timeout,
            max_pending_per_source=self.limits.max_pending_per_source,
            max_connections=self.limits.max_connections,
        )
        self._wake = asyncio.Event()
        self._planned = 0.0
        self._scheduler: asyncio.Task[None] | None = None
        self._peers: dict[AssociationContext, PeerSession] = {}
        self._outboxes: dict[AssociationContext, Outbox] = {}
        self.reports_sent = 0
        self.events: deque[TransferSetEvent] = deque(maxlen=100)
        self._callers: dict[str, asyncio.Task[None]] = {}
        """An active server's caller task, by table id."""
        self.calls: dict[str, CallState] = {}
        """An active server: how calling each table's client goes, by table id."""
        self.failure: str | None = None
        """Why the server cannot go on (a caller task ended); the adapter fails with it."""

    # ------------------------------------------------------------------ life cycle

    @property
    def port(self) -> int:
        """The TCP port listened on."""
        return self.mms.port

    @property
    def associations(self) -> int:
        """Number of established TASE.2 associations."""
        return len(self._peers)

    async def start(self) -> None:
        """Listen (or, active, start calling the clients) and start the report scheduler."""
        if self.connect.active:
            for target in self.connect.call:
                self._start_caller(target)
        else:
            await self.mms.start()
        self._scheduler = asyncio.create_task(self._schedule(), name="tase2-scheduler")

    async def stop(self) -> None:
        """Stop the scheduler, abort every association and stop listening (or calling)."""
        callers = list(self._callers.values())
        self._callers.clear()
        for task in callers:
            task.remove_done_callback(self._caller_done)
            task.cancel()
        if callers:
            await asyncio.wait(callers, timeout=2.0)
        if self._scheduler is not None:
            self._scheduler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scheduler
            self._scheduler = None
        await self.mms.stop()
        for outbox in list(self._outboxes.values()):
            await outbox.close()
        self._outboxes.clear()
        self._peers.clear()

    async def __aenter__(self) -> Tase2Server:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ tables

    def _configure_domains(self) -> None:
        for domain in self.tables.domains():
            self.engine.configure_domain(domain, self.limits.transfer_sets)

    def served_points(self) -> set[str]:
        """Every point some table lets a peer read (what the bus subscription must cover)."""
        return self.tables.served_points()

    def set_tables(
        self, tables: Sequence[BilateralTableConfig], vcc_points: Sequence[PointRule] | None = None
    ) -> list[str]:
        """Apply new bilateral tables (and VCC points) while running; returns the ids of the
        tables whose associations were touched. A table that does not compile raises
        :class:`~adapters.tase2.server.bilateral.BilateralConfigError` and nothing changes.
        """
        changes = self.tables.apply(tables, vcc_points, self.source.kinds())
        self._configure_domains()
        self._rebind(changes)
        return sorted(changes)

    def set_vcc_data_sets(self, configs: Sequence[VccDataSetConfig]) -> list[ObjectName]:
        """Apply new VCC data sets while running; the transfer sets reporting one that was
        removed or changed are stopped (with a log line). Returns the touched list names.
        """
        touched = self.registry.set_vcc(configs)
        if not touched:
            return []
        for ctx, ts_name, ds_name in self.engine.stop_data_sets(set(touched)):
            peer = self._peers.get(ctx) if isinstance(ctx, AssociationContext) else None
            log.info(
                "transfer set %s stopped: association %s (%s): VCC data set %s was changed "
                "or removed",
                ts_name,
                peer.association_id if peer is not None else "?",
                peer.label if peer is not None else "?",
                ds_name,
            )
        return touched

    def refresh_points(self) -> bool:
        """Recompile every view when the set of points or the kind of one changed; True
        when it did."""
        changes = self.tables.refresh(self.source.kinds())
        self._rebind(changes)
        return bool(changes)

    def _rebind(self, changes: dict[str, TableChange]) -> None:
        for tid in sorted(changes):
            view = self.tables.views.get(tid)
            for ctx in rebind(tid, changes[tid], view, self._peers.items(), self.engine):
                assert isinstance(ctx, AssociationContext)
                asyncio.get_running_loop().create_task(ctx.abort())

    # ------------------------------------------------------------------ association hooks

    def _table_of(
        self, request: AuthenticationRequest, called: str | None = None
    ) -> BilateralTableConfig | AuthenticationDecision:
        """The bilateral table of the peer of ``request``, its certificate binding checked,
        or the refusal: the association limit is reached, no table's peer is the caller,
        the certificate does not fit, or (``called``: a peer this server called for that
        table) another table's peer answers."""
        where = f"bilateral table {called}: " if called is not None else ""
        if len(self._peers) >= self.limits.max_associations:
            return AuthenticationDecision.reject(
                UserDiagnostic.NO_REASON_GIVEN,
                f"the limit of {self.limits.max_associations} associations is reached",
            )
        found = self.tables.match(
            request.calling_ap_title, request.calling_ae_qualifier, request.peer_address
        )
        if isinstance(found, PeerRejected):
            return AuthenticationDecision.reject(found.diagnostic, where + found.reason)
        if called is not None and found.id != called:
            return AuthenticationDecision.reject(
                UserDiagnostic.NO_REASON_GIVEN, f"{where}the peer answers as the peer of {found.id}"
            )
        if found.certificate is not None:
            why = found.certificate.refusal(request.peer_certificate)
            if why is not None:
                diagnostic = (
                    UserDiagnostic.AUTHENTICATION_REQUIRED
                    if request.peer_certificate is None
                    else UserDiagnostic.AUTHENTICATION_FAILURE
                )
                return AuthenticationDecision.reject(
                    diagnostic, f"bilateral table {found.id}: {why}"
                )
        return found

    def _authenticate(self, request: AuthenticationRequest, /) -> AuthenticationDecision:
        found = self._table_of(request)
        if isinstance(found, AuthenticationDecision):
            return found
        if found.password is not None:
            decision = check_password(request, found.password.encode())
            if not decision.accepted:
                return AuthenticationDecision.reject(
                    decision.diagnostic, f"bilateral table {found.id}: {decision.reason}"
                )
        return AuthenticationDecision.accept()

    # ------------------------------------------------------------------ active endpoint

    def _call_config(self, target: CallTarget) -> AssociationConfig:
        """This server as initiator towards ``target``: its table's peer is called and its
        password sent."""
        table = self.tables.tables.get(target.table)
        if table is None:
            raise LookupError(f"bilateral table {target.table} is no longer configured")
        rtsap, rssel, rpsel = target.remote_selectors.octets()
        return dataclasses.replace(
            self._own,
            remote_ap_title=table.peer.ap_title,
            remote_ae_qualifier=table.peer.ae_qualifier,
            password=table.password.encode() if table.password is not None else None,
            remote_tsap=rtsap,
            remote_session_selector=rssel,
            remote_presentation_selector=rpsel,
        )

    def _verify_called(self, table_id: str) -> Authenticator:
        """The check of a peer this server called for ``table_id``: the table's peer
        (AP-title, AE-qualifier, addresses) with its certificate binding."""

        def verify(request: AuthenticationRequest, /) -> AuthenticationDecision:
            found = self._table_of(request, table_id)
            if isinstance(found, AuthenticationDecision):
                return found
            return AuthenticationDecision.accept()

        return verify

    def _start_caller(self, target: CallTarget) -> None:
        task = asyncio.create_task(self._call(target), name=f"tase2-call-{target.table}")
        task.add_done_callback(self._caller_done)
        self._callers[target.table] = task

    def set_connect(self, connect: ServerConnect) -> list[str]:
        """Apply a new ``connect`` of an active server in place (same mode): the back-off
        settings take effect at the next delay; a call target added, removed or changed
        gets its caller restarted (its association aborted), the others go on. Returns the
        table ids of the callers restarted."""
        assert connect.mode is self.connect.mode
        old = {t.table: t for t in self.connect.call}
        new = {t.table: t for t in connect.call}
        self.connect = connect
        changed = sorted(t for t in old.keys() | new.keys() if old.get(t) != new.get(t))
        for table in changed:
            task = self._callers.pop(table, None)
            if task is not None:
                task.remove_done_callback(self._caller_done)
                task.cancel()
            for ctx, peer in list(self._peers.items()):
                if peer.table_id == table:
                    asyncio.get_running_loop().create_task(ctx.abort())
            self.calls.pop(table, None)
            if table in new:
                self._start_caller(new[table])
        return changed

    def _caller_done(self, task: asyncio.Task[None]) -> None:
        """A caller task ended without being cancelled: the server fails (see
        :attr:`failure`) instead of silently not calling that client any more."""
        if task.cancelled():
            return
        exc = task.exception()
        self.failure = f"{task.get_name()} ended: {exc!r}" if exc else f"{task.get_name()} ended"
        log.error("%s", self.failure)

    async def _call(self, target: CallTarget) -> None:
        """Call ``target`` for ever: ``backoff_initial`` s after an association ends (the
        same address), after a failure with back-off on the next address (no fail-back to
        the first while one answers). An association that ends within
        ``backoff_max`` seconds counts as a failure for the back-off (a peer that accepts
        and drops at once is not redialled every second)."""
        throttle = Throttle()
        state = self.calls[target.table] = CallState(target.table)
        index = 0
        while True:
            connect = self.connect  # read again: a reload may change the back-off in place
            backoff = Backoff(connect.backoff_initial, connect.backoff_max)
            address = target.addresses[index]
            where = f"{address.host}:{address.port}"
            state.attempts += 1
            state.address = where
            try:
                call = OutboundCall(self._call_config(target), self._verify_called(target.table))
                log.debug("calling %s for bilateral table %s", where, target.table)
                result = await self.mms.call(
                    address.host,
                    address.port,
                    call,
                    tls=self.mms.tls,
                    connect_timeout=connect.connect_timeout,
                )
            except LookupError as exc:
                result = CallResult(False, str(exc))
            except Exception as exc:  # a bug: logged (throttled below), the calls go on
                result = CallResult(False, f"unexpected error: {exc!r}")
            state.last_result = result.detail
            if result.established:
                state.completed += 1
            if result.established and result.duration >= connect.backoff_max:
                state.failures = 0
                throttle.reset()
                delay = backoff.initial
                log.info(
                    "association with %s (bilateral table %s) ended after %.0fs: %s; "
                    "calling again in %.1fs",
                    where,
                    target.table,
                    result.duration,
                    result.detail,
                    delay,
                )
            else:
                state.failures += 1
                if not result.established:
                    index = (index + 1) % len(target.addresses)
                delay = backoff.delay(state.failures)
                what = "failed" if not result.established else "ended soon"
                # throttled on what went wrong, not where: addresses alternate
                kind = result.detail.replace(address.host, "<host>")
                kind = kind.replace(str(address.port), "<port>")
                if throttle.failure(f"{what}: {kind}", state.failures):
                    log.warning(
                        "calling %s for bilateral table %s %s: %s; %d failure(s) in a row; "
                        "next: %s in %.1fs",
                        where,
                        target.table,
                        what,
                        result.detail,
                        state.failures,
                        target.addresses[index],
                        delay,
                    )
            await asyncio.sleep(delay)

    async def _association_start(self, ctx: AssociationContext) -> None:
        found = self.tables.match(ctx.ap_title, ctx.ae_qualifier, ctx.peer_address[0])
        if isinstance(found, PeerRejected):  # the tables changed while it associated
            log.warning("association %d aborted: %s", ctx.association_id, found.reason)
            await ctx.abort()
            return
        view = self.tables.views[found.id]
        label = f"{ctx.peer_address[0]} {ctx.ap_title}/{ctx.ae_qualifier}"
        info = PeerInfo(ctx, found.id, ctx.ap_title, ctx.ae_qualifier, ctx.peer_address[0])
        self._peers[ctx] = PeerSession(
            ctx.association_id,
            found.id,
            view,
            info,
            label,
            since=time.time(),
            tls=self.mms.tls is not None,
        )
        self._outboxes[ctx] = Outbox(ctx, self.limits.max_queued_reports, self._sent)
        self.engine.open_association(ctx, view, ctx.parameters.max_pdu_size)
        log.info(
            "association %d uses bilateral table %s (domain %s, %d points)",
            ctx.association_id,
            found.id,
            found.domain,
            len(view.icc) + len(view.vcc),
        )

    async def _association_end(
        self, ctx: AssociationContext, reason: CloseReason, detail: str
    ) -> None:
        peer = self._peers.pop(ctx, None)
        if peer is None:
            return
        running = [
            ts.name
            for n in self.engine.transfer_set_names(peer.view.domain)
            if (ts := self.engine.get(ObjectName.dom(peer.view.domain, n))) is not None
            and ts.owner is ctx
            and ts.running
        ]
        self.engine.close_association(ctx)
        self.controls.association_ended(peer.info)
        gone = self.registry.drop_association(ctx)
        outbox = self._outboxes.pop(ctx, None)
        if outbox is not None:
            await outbox.close()
        if running or gone:
            log.info(
                "association %d ended (%s): stopped transfer sets [%s], deleted data sets [%s]",
                ctx.association_id,
                reason.value,
                ", ".join(str(n) for n in running),
                ", ".join(str(n) for n in gone),
            )

    def _client_report(self, ctx: AssociationContext, report: InformationReport) -> None:
        if ctx not in self._peers or not isinstance(report.spec, VariableList):
            return
        names = [e.name for e in report.spec.items]
        if not self.engine.on_client_report(ctx, names, report.results, time.time()):
            log.debug("association %d: ignored an InformationReport", ctx.association_id)
        self._forward_events()

    # ------------------------------------------------------------------ what the handler uses

    def peer(self, ctx: ServiceContext) -> PeerSession | None:
        """The TASE.2 record of an association (None before it is established)."""
        return self._peers.get(ctx) if isinstance(ctx, AssociationContext) else None

    def now(self) -> float:
        """POSIX time, for the transfer engine."""
        return time.time()

    def wake(self) -> None:
        """Make the scheduler look at the transfer engine's deadlines again."""
        self._wake.set()

    # ------------------------------------------------------------------ messages and events

    def send_message(self, message: Message) -> int:
        """Send an information message to every association that enabled messages and whose
        table allows them; returns to how many it was queued."""
        sent = 0
        size = self.controls.buffer_size
        if len(message.text) > size:
            log.warning(
                "information message %d is %d octets long; only the first %d are sent",
                message.message_id,
                len(message.text),
                size,
            )
        for ctx, peer in list(self._peers.items()):
            view = peer.view
            if not view.config.messages or not self.controls.im_enabled(ctx):
                continue
            pdu = self.controls.message_pdu(message, view.domain)
            if self._outboxes[ctx].put(pdu, None):
                sent += 1
                self.controls.messages_sent += 1
            else:
                log.warning(
                    "association %d (%s): information message %d dropped, outbox full",
                    ctx.association_id,
                    peer.label,
                    message.message_id,
                )
        return sent

    def operator_request(self, name: ObjectName | None = None) -> int:
        """Force an OperatorRequest report (from ``name`` only, if given)."""
        n = self.engine.operator_request(time.time(), name)
        self._wake.set()
        return n

    def external_event(self, event_code: int) -> int:
        """Raise an OtherExternalEvent with ``event_code``."""
        n = self.engine.external_event(event_code, time.time())
        self._wake.set()
        return n

    # ------------------------------------------------------------------ reports

    def on_changes(self, changes: Sequence[PointValue]) -> None:
        """Point changes from the application: mark them and send what became due now
        (RBE with BufferTime 0); wake the scheduler when a deadline moved earlier.
        """
        if not changes:
            return
        now = time.time()
        self.engine.on_changes(changes, now)
        self.send_due(now)
        deadline = self.engine.next_deadline()
        if deadline is not None and deadline < self._planned:
            self._wake.set()

    def _sent(self, req: ReportRequest, at: float) -> None:
        self.reports_sent += 1
        peer = self._peers.get(req.association)  # type: ignore[call-overload]
        if peer is not None:
            count, _ = peer.reports.get(req.transfer_set, (0, at))
            peer.reports[req.transfer_set] = (count + 1, at)
        if self.on_report_sent is not None:
            self.on_report_sent(req, at)

    def send_due(self, now: float) -> int:
        """Encode and queue every report due at ``now``; returns how many."""
        reqs = self.engine.due(now)
        for req in reqs:
            ctx = req.association
            if not isinstance(ctx, AssociationContext):
                continue
            peer = self._peers.get(ctx)
            outbox = self._outboxes.get(ctx)
            if peer is None or outbox is None:
                continue
            try:
                pdu = encode_report(req, self.source.values, self.encoded)
            except Exception:
                log.exception("report of %s could not be encoded", req.transfer_set)
                continue
            if not outbox.put(pdu, req):
                log.warning(
                    "association %d (%s): %d reports wait for the peer to read them; aborting",
                    ctx.association_id,
                    peer.label,
                    len(outbox.queue),
                )
                outbox.queue.clear()
                asyncio.get_running_loop().create_task(ctx.abort())
        self._forward_events()
        return len(reqs)

    def _forward_events(self) -> None:
        for ev in self.engine.drain_events():
            peer = (
                self._peers.get(ev.association)
                if isinstance(ev.association, AssociationContext)
                else None
            )
            aid = (
                ev.association.association_id
                if isinstance(ev.association, AssociationContext)
                else -1
            )
            log.warning(
                "transfer set %s: %s (association %d%s, report time stamp %s)",
                ev.transfer_set,
                "critical report not acknowledged in time"
                if ev.kind == "critical-timeout"
                else "peer sent Transfer_Report_NACK",
                aid,
                f", {peer.label}" if peer is not None else "",
                ev.time_stamp,
            )
            self.events.append(ev)
            if self.on_event is not None:
                self.on_event(ev)

    async def _schedule(self) -> None:
        """Send due reports; sleep until the next deadline or a change."""
        wake = self._wake
        while True:
            wake.clear()
            try:
                self.send_due(time.time())
            except Exception:
                log.exception("report scheduler failed; continuing")
            deadline = self.engine.next_deadline()
            now = time.time()
            timeout = 1.0 if deadline is None else min(1.0, deadline - now)
            self._planned = now + timeout
            if timeout > 0 and not wake.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):  # wait_for can swallow a cancel (3.11)
                        await wake.wait()
            elif timeout <= 0:
                await asyncio.sleep(0)

    # ------------------------------------------------------------------ status

    def status(self) -> dict[str, Any]:
        """Associations, running transfer sets and report counters (JSON-friendly)."""
        running = sum(
            1
            for domain in self.tables.domains()
            for n in self.engine.transfer_set_names(domain)
            if (ts := self.engine.get(ObjectName.dom(domain, n))) is not None and ts.running
        )
        out: dict[str, Any] = {
            "associations": len(self._peers),
            "tables": sorted(self.tables.tables),
            "transfer_sets_running": running,
            "reports_sent": self.reports_sent,
            "critical_events": len(self.events),
            "operates": self.controls.operates,
            "messages_sent": self.controls.messages_sent,
        }
        if self.mms.tls is not None:
            out["tls_handshakes"] = self.mms.tls_handshakes
            out["tls_failures"] = dict(self.mms.tls_failures)
        out["peers"] = [self._peer_status(ctx, peer) for ctx, peer in self._peers.items()]
        out["connect"] = {"mode": self.connect.mode.value}
        if self.connect.active:
            out["connect"]["calls"] = {t: c.to_dict() for t, c in self.calls.items()}
        return out

    def _peer_status(self, ctx: AssociationContext, peer: PeerSession) -> dict[str, Any]:
        """One association for operators: who, since when, its table and transfer sets."""
        engine = self.engine
        domain = peer.view.domain
        sets = []
        for item in engine.transfer_set_names(domain):
            ts = engine.get(ObjectName.dom(domain, item))
            if ts is None or ts.owner is not ctx:
                continue
            v = ts.value
            count, last = peer.reports.get(ts.name, (0, None))
            sets.append(
                {
                    "name": item,
                    "data_set": None if v.data_set is None else str(v.data_set),
                    "running": ts.running,
                    "conditions": [n for c, n in _CONDITIONS if v.conditions & c],
                    "interval": v.interval,
                    "integrity_check": v.integrity_check,
                    "buffer_time": v.buffer_time,
                    "rbe": v.rbe,
                    "all_changes_reported": v.all_changes_reported,
                    "critical": v.critical,
                    "reports": count,
                    "last_report": _iso(last),
                }
            )
        host, port = ctx.peer_address[:2]
        return {
            "association": peer.association_id,
            "peer": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
            "ap_title": ctx.ap_title,
            "ae_qualifier": ctx.ae_qualifier,
            "table": peer.table_id,
            "domain": domain,
            "since": _iso(peer.since),
            "tls": peer.tls,
            "transfer_sets": sets,
        }


_CONDITIONS = (
    (DSConditions.INTERVAL_TIMEOUT, "interval"),
    (DSConditions.INTEGRITY_TIMEOUT, "integrity"),
    (DSConditions.OBJECT_CHANGE, "object_change"),
    (DSConditions.OPERATOR_REQUEST, "operator_request"),
    (DSConditions.OTHER_EXTERNAL_EVENT, "external_event"),
)
"""The DS conditions as the status names them."""


def _iso(ts: float | None) -> str | None:
    """POSIX seconds as ISO 8601 UTC to the millisecond (None stays None)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
