"""The TASE.2 server (Blocks 1, 2, 4 and 5): a thin asyncio layer over the sans-IO objects.

:class:`Tase2Server` runs an :class:`~adapters.tase2.mms.aio.server.MmsServer` whose handler
(:class:`~adapters.tase2.server.handler.Tase2Handler`, what each MMS service does for a peer)
implements the TASE.2 object model on top of

* :mod:`adapters.tase2.server.bilateral` - which peer may associate (``match_peer``) and what it
  may see and do (a compiled :class:`~adapters.tase2.server.bilateral.TableView` per table);
* :mod:`adapters.tase2.server.datasets` - the data sets (named variable lists);
* :mod:`adapters.tase2.server.transfer` - the DS transfer sets and their report scheduler;
* :mod:`adapters.tase2.server.reports` - the report encoder;
* :mod:`adapters.tase2.server.controls` - device control (Block 5: select, operate, tags, audit)
  and information messages (Block 4: ``IM_Transfer_Set``, :meth:`Tase2Server.send_message`).

The server knows no bus: a :class:`PointSource` gives it point kinds, current values and a
command path (the adapter binds that to the point bus), and :meth:`Tase2Server.on_changes`
takes point changes. One scheduler task sleeps until the transfer engine's next deadline or
a change, sends what is due, and forwards critical-report events. Reports go through one
outbox task per association (:mod:`adapters.tase2.server.outbox`), so a slow peer never delays the
others (a peer that lets its outbox overflow is aborted).

Live table changes (:meth:`Tase2Server.set_tables`) touch only the associations of the
tables that changed: a table whose peer identity or domain changed, or that was removed,
aborts its associations; otherwise they get the recompiled view and transfer sets whose
data sets lost a readable point are stopped (see :meth:`TransferEngine.update_view`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from adapters.tase2.asn1.ber import encode_integer
from adapters.tase2.iso.acse import AuthenticationDecision, AuthenticationRequest, UserDiagnostic
from adapters.tase2.mms.access import VariableEntry, VariableList
from adapters.tase2.mms.aio.server import AssociationContext, MmsServer
from adapters.tase2.mms.association import AssociationConfig, CloseReason
from adapters.tase2.mms.data import Data, DataAccessError
from adapters.tase2.mms.names import ObjectName, Scope
from adapters.tase2.mms.service_error import (
    AccessCode,
    ErrorClass,
    MmsServiceError,
    ResourceCode,
    ServiceError,
)
from adapters.tase2.mms.services import (
    DeleteNamedVariableListRequest,
    DeleteScope,
    InformationReport,
)
from adapters.tase2.model.objects import DSConditions, DSTransferSetError
from adapters.tase2.server.bilateral import (
    BilateralTableConfig,
    PeerRejected,
    PointRule,
    TableView,
    check_tables,
    compile_table,
    is_pattern,
    match_peer,
)
from adapters.tase2.server.controls import PeerInfo, ServerControls
from adapters.tase2.server.datasets import DataSet, DataSetError, DataSetRegistry, VccDataSetConfig
from adapters.tase2.server.handler import (
    SUPPORTED_BLOCKS,
    PointSource,
    Tase2Handler,
    access_service_error,
)
from adapters.tase2.server.outbox import DATA_KEY, Outbox, PeerSession
from adapters.tase2.server.reports import ReportRequest, encode_report, full_report_max_size
from adapters.tase2.server.transfer import TransferEngine, TransferSetEvent
from gateway.messages import Message
from gateway.points import PointKind, PointValue

__all__ = [
    "SUPPORTED_BLOCKS",
    "PointSource",
    "ServerLimits",
    "Tase2Server",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """Resource limits of one server.

    ``max_associations`` concurrent associations (further ones are refused);
    ``transfer_sets_per_domain`` DSTransferSetNN objects per ICC domain;
    ``max_data_set_size`` members per data set; ``critical_timeout`` seconds to wait for a
    Transfer_Report_ACK; ``max_buffered_changes`` the AllChangesReported buffer per transfer
    set; ``max_queued_reports`` reports waiting for one peer's socket before it is aborted;
    ``message_buffer_size`` the longest information message text (``Info_Buff_<size>``).
    """

    max_associations: int = 32
    transfer_sets_per_domain: int = 10
    max_data_set_size: int = 2000
    critical_timeout: float = 5.0
    max_buffered_changes: int = 10_000
    max_queued_reports: int = 2000
    message_buffer_size: int = 1024


# --------------------------------------------------------------------------- the server


class Tase2Server:
    """A TASE.2 server: bilateral tables, data sets, DS transfer sets, reports.

    ``tables`` are the bilateral tables (see :mod:`adapters.tase2.server.bilateral`);
    ``vcc_points`` rules add VCC-scope (VMD-specific) points visible to every peer whose
    table does not say otherwise; ``vcc_data_sets`` are VMD-scope data sets every peer sees
    and may report through its transfer sets (members it may read only). ``on_report_sent``
    is called with each report and the POSIX time its bytes were handed to the socket (for
    latency measurements).
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
    ) -> None:
        check_tables(tables)
        self.source = source
        self.limits = limits or ServerLimits()
        self.engine = TransferEngine(
            self.limits.transfer_sets_per_domain,
            critical_timeout=self.limits.critical_timeout,
            max_buffered_changes=self.limits.max_buffered_changes,
        )
        self.registry = DataSetRegistry()
        self.registry.set_vcc(vcc_data_sets)
        self.controls = ServerControls(
            source.kinds,
            source.current,
            source.command,
            buffer_size=self.limits.message_buffer_size,
        )
        self.on_report_sent = on_report_sent
        self.on_event = on_event
        self._tables: dict[str, BilateralTableConfig] = {t.id: t for t in tables}
        self._vcc = tuple(vcc_points)
        self._views: dict[str, TableView] = {}
        self._point_ids: frozenset[str] = frozenset()
        self._compile_all()
        self.handler = Tase2Handler(self)
        self.mms = MmsServer(
            self.handler,
            host=host,
            port=port,
            config=AssociationConfig(
                local_ap_title=ap_title,
                local_ae_qualifier=ae_qualifier,
                max_pdu_size=max_pdu_size,
            ),
            authenticator=self._authenticate,
            on_association_start=self._association_start,
            on_association_end=self._association_end,
            on_information_report=self._client_report,
        )
        self._wake = asyncio.Event()
        self._planned = 0.0
        self._scheduler: asyncio.Task[None] | None = None
        self._peers: dict[AssociationContext, PeerSession] = {}
        self.reports_sent = 0
        self.events: deque[TransferSetEvent] = deque(maxlen=100)

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
        """Listen and start the report scheduler."""
        await self.mms.start()
        self._scheduler = asyncio.create_task(self._schedule(), name="tase2-scheduler")

    async def stop(self) -> None:
        """Stop the scheduler, abort every association and stop listening."""
        if self._scheduler is not None:
            self._scheduler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scheduler
            self._scheduler = None
        await self.mms.stop()
        for peer in list(self._peers.values()):
            await peer.outbox.close()
        self._peers.clear()

    async def __aenter__(self) -> Tase2Server:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ tables and views

    def _table_with_vcc(self, table: BilateralTableConfig) -> BilateralTableConfig:
        if not self._vcc:
            return table
        exact = {r.match for r in table.points if not is_pattern(r.match)}
        extra = tuple(
            r.model_copy(update={"scope": "vcc"})
            for r in self._vcc
            if is_pattern(r.match) or r.match not in exact
        )
        return table.model_copy(update={"points": (*table.points, *extra)})

    def _compile(
        self, tables: Mapping[str, BilateralTableConfig], kinds: Mapping[str, PointKind]
    ) -> dict[str, TableView]:
        ids = sorted(kinds)
        return {
            tid: compile_table(self._table_with_vcc(t), kinds, ids) for tid, t in tables.items()
        }

    def _compile_all(self) -> None:
        kinds = self.source.kinds()
        self._views = self._compile(self._tables, kinds)
        self._point_ids = frozenset(kinds)
        for table in self._tables.values():
            self.engine.configure_domain(table.domain, self.limits.transfer_sets_per_domain)

    def served_points(self) -> set[str]:
        """Every point some table lets a peer read (what the bus subscription must cover)."""
        out: set[str] = set()
        for view in self._views.values():
            out.update(a.point for a in view.icc.values() if a.read)
            out.update(a.point for a in view.vcc.values() if a.read)
        return out

    def set_tables(
        self, tables: Sequence[BilateralTableConfig], vcc_points: Sequence[PointRule] | None = None
    ) -> list[str]:
        """Apply new bilateral tables (and VCC points) while running; returns the ids of the
        tables whose associations were touched.

        Everything is compiled first: a table that does not compile raises
        :class:`~adapters.tase2.server.bilateral.BilateralConfigError` and nothing changes. Then
        only
        the associations of changed tables are updated (see module docstring).
        """
        check_tables(tables)
        new = {t.id: t for t in tables}
        vcc_changed = vcc_points is not None and tuple(vcc_points) != self._vcc
        old_vcc = self._vcc
        if vcc_points is not None:
            self._vcc = tuple(vcc_points)
        changed = {
            tid for tid in self._tables.keys() | new.keys() if self._tables.get(tid) != new.get(tid)
        }
        if vcc_changed:
            changed |= set(new)
        try:
            kinds = self.source.kinds()
            views = self._compile({tid: new[tid] for tid in changed if tid in new}, kinds)
        except Exception:
            self._vcc = old_vcc
            raise
        old_tables = self._tables
        self._tables = new
        for tid in changed:
            if tid in views:
                self._views[tid] = views[tid]
            else:
                self._views.pop(tid, None)
        for table in new.values():
            self.engine.configure_domain(table.domain, self.limits.transfer_sets_per_domain)
        for tid in sorted(changed):
            self._rebind(tid, old_tables.get(tid), new.get(tid))
        return sorted(changed)

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
                ctx.association_id if isinstance(ctx, AssociationContext) else "?",
                peer.label if peer is not None else "?",
                ds_name,
            )
        return touched

    def refresh_points(self) -> bool:
        """Recompile every view when the set of points changed; True when it did."""
        kinds = self.source.kinds()
        if frozenset(kinds) == self._point_ids:
            return False
        self._views = self._compile(self._tables, kinds)
        self._point_ids = frozenset(kinds)
        for tid, table in self._tables.items():
            self._rebind(tid, table, table)
        return True

    def _rebind(
        self, tid: str, old: BilateralTableConfig | None, new: BilateralTableConfig | None
    ) -> None:
        """Give the associations of table ``tid`` its new view, or abort them."""
        for ctx, peer in list(self._peers.items()):
            if peer.table_id != tid:
                continue
            if new is None or old is None or new.peer != old.peer or new.domain != old.domain:
                log.warning(
                    "association %d (%s): bilateral table %s %s; aborting the association",
                    ctx.association_id,
                    peer.label,
                    tid,
                    "was removed" if new is None else "changed its peer or domain",
                )
                asyncio.get_running_loop().create_task(ctx.abort())
                continue
            view = self._views[tid]
            peer.view = view
            for name in self.engine.update_view(ctx, view):
                log.info(
                    "transfer set %s stopped: association %d (%s): its data set has points "
                    "bilateral table %s no longer lets the peer read",
                    name,
                    ctx.association_id,
                    peer.label,
                    tid,
                )

    # ------------------------------------------------------------------ association hooks

    def _authenticate(self, request: AuthenticationRequest, /) -> AuthenticationDecision:
        if len(self._peers) >= self.limits.max_associations:
            return AuthenticationDecision.reject(
                UserDiagnostic.NO_REASON_GIVEN,
                f"the limit of {self.limits.max_associations} associations is reached",
            )
        found = match_peer(
            list(self._tables.values()),
            request.calling_ap_title,
            request.calling_ae_qualifier,
            request.peer_address,
        )
        if isinstance(found, PeerRejected):
            return AuthenticationDecision.reject(found.diagnostic, found.reason)
        return AuthenticationDecision.accept()

    async def _association_start(self, ctx: AssociationContext) -> None:
        found = match_peer(
            list(self._tables.values()), ctx.ap_title, ctx.ae_qualifier, ctx.peer_address[0]
        )
        if isinstance(found, PeerRejected):  # the tables changed while it associated
            log.warning("association %d aborted: %s", ctx.association_id, found.reason)
            await ctx.abort()
            return
        view = self._views[found.id]
        label = f"{ctx.peer_address[0]} {ctx.ap_title}/{ctx.ae_qualifier}"
        outbox = Outbox(ctx, self.limits.max_queued_reports, self._sent)
        info = PeerInfo(ctx, found.id, ctx.ap_title, ctx.ae_qualifier, ctx.peer_address[0])
        peer = PeerSession(found.id, view, outbox, info, label)
        ctx.data[DATA_KEY] = peer
        self._peers[ctx] = peer
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
        await peer.outbox.close()
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

    # ------------------------------------------------------------------ data sets

    def data_set(self, ctx: AssociationContext, peer: PeerSession, name: ObjectName) -> DataSet:
        """The data set ``name`` as this peer sees it, else an access service error."""
        if name.scope == Scope.DOMAIN and name.domain != peer.view.domain:
            raise access_service_error(DataAccessError.OBJECT_ACCESS_DENIED)
        ds = self.registry.get(ctx, name, peer.view)
        if ds is None:
            raise access_service_error(DataAccessError.OBJECT_NON_EXISTENT)
        return ds

    def define_data_set(
        self,
        ctx: AssociationContext,
        peer: PeerSession,
        name: ObjectName,
        entries: Sequence[VariableEntry],
    ) -> DataSet:
        """DefineNamedVariableList: checked against the table, the size limit and the PDU."""
        try:
            ds = self.registry.define(ctx, name, entries, peer.view, self.limits.max_data_set_size)
        except DataSetError as exc:
            log.warning("association %d: data set %s refused: %s", ctx.association_id, name, exc)
            raise MmsServiceError(exc.service_error, str(exc)) from None
        pool = self.engine.transfer_set_names(peer.view.domain)
        longest = max(pool, key=len, default="DSTransferSet00")
        size = full_report_max_size(ds, ObjectName.dom(peer.view.domain, longest))
        limit = ctx.parameters.max_pdu_size
        if size > limit:
            self.registry.delete(ctx, name, lambda _ds: False)
            message = (
                f"data set {name} refused: a full report of its {len(ds.members)} members needs "
                f"up to {size} octets, more than the negotiated MMS PDU size of {limit}; "
                "split it over several data sets"
            )
            log.warning("association %d: %s", ctx.association_id, message)
            raise MmsServiceError(
                ServiceError(ErrorClass.RESOURCE, ResourceCode.CAPABILITY_UNAVAILABLE), message
            )
        return ds

    def delete_data_sets(
        self, ctx: AssociationContext, peer: PeerSession, request: DeleteNamedVariableListRequest
    ) -> tuple[int, int]:
        """DeleteNamedVariableList: (matched, deleted); other domains are never touched.

        The server's VCC data sets are not deletable: a request that matches one deletes
        the rest and answers access/object-access-denied with numberDeleted.
        """
        domain = peer.view.domain
        registry = self.registry
        refused: list[ObjectName] = []
        if request.scope == DeleteScope.SPECIFIC:
            refused = [n for n in request.names or () if registry.is_vcc(n)]
            names = [
                n
                for n in request.names or ()
                if n.scope == Scope.AA or (n.scope == Scope.DOMAIN and n.domain == domain)
            ]
        elif request.scope == DeleteScope.VMD:
            refused = [ObjectName.vmd(n) for n in registry.names(ctx, Scope.VMD)]
            names = []
        elif request.scope == DeleteScope.AA_SPECIFIC:
            names = [ObjectName.aa(n) for n in self.registry.names(ctx, Scope.AA)]
        elif request.scope == DeleteScope.DOMAIN and request.domain == domain:
            names = [
                ObjectName.dom(domain, n) for n in self.registry.names(ctx, Scope.DOMAIN, domain)
            ]
        else:
            names = []
        matched = deleted = 0
        for name in names:
            m, d = self.registry.delete(ctx, name, self.engine.data_set_in_use)
            matched += m
            deleted += d
        if refused:
            message = (
                f"data set {', '.join(str(n) for n in refused)} is configured by the server "
                f"and cannot be deleted ({deleted} other data sets deleted)"
            )
            log.warning("association %d: %s", ctx.association_id, message)
            raise MmsServiceError(
                ServiceError(
                    ErrorClass.ACCESS,
                    AccessCode.OBJECT_ACCESS_DENIED,
                    service_specific=(0x86, encode_integer(deleted)),
                ),
                message,
            )
        return matched, deleted

    # ------------------------------------------------------------------ transfer sets

    def write_transfer_set(
        self, ctx: AssociationContext, name: ObjectName, component: str | None, value: Data
    ) -> DataAccessError | None:
        """A Write of a DSTransferSet (whole, or one component); logs starts and stops."""
        engine = self.engine
        ts = engine.get(name)
        assert ts is not None
        was_running = ts.running
        peer = self._peers.get(ctx)
        label = peer.label if peer is not None else "?"
        view = peer.view if peer is not None else None
        lookup = lambda n: self.registry.get(ctx, n, view)  # noqa: E731
        try:
            if component is None:
                engine.write(ctx, name, value, time.time(), lookup)
            else:
                engine.write_component(ctx, name, component, value, time.time(), lookup)
        except DSTransferSetError as exc:
            log.warning(
                "association %d (%s): write of %s%s refused (%s): %s",
                ctx.association_id,
                label,
                name,
                f"${component}" if component else "",
                exc.error.name.lower().replace("_", "-"),
                exc,
            )
            return exc.error
        if ts.running and not was_running:
            a = ts.value
            log.info(
                "transfer set %s started: association %d (%s) data set %s conditions=%s "
                "interval=%d integrity=%d buffer=%d rbe=%s all_changes=%s critical=%s",
                name,
                ctx.association_id,
                label,
                a.data_set,
                "|".join(str(c.name).lower() for c in DSConditions if c in a.conditions) or "none",
                a.interval,
                a.integrity_check,
                a.buffer_time,
                a.rbe,
                a.all_changes_reported,
                a.critical,
            )
            self._wake.set()
        elif was_running and not ts.running:
            log.info(
                "transfer set %s stopped by association %d (%s)", name, ctx.association_id, label
            )
        return None

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
            if peer.outbox.put(pdu, None):
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

    def _current(self, point: str) -> PointValue | None:
        return self.source.current(point)

    def _sent(self, req: ReportRequest, at: float) -> None:
        self.reports_sent += 1
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
            if peer is None:
                continue
            try:
                pdu = encode_report(req, self._current)
            except Exception:
                log.exception("report of %s could not be encoded", req.transfer_set)
                continue
            if not peer.outbox.put(pdu, req):
                log.warning(
                    "association %d (%s): %d reports wait for the peer to read them; aborting",
                    ctx.association_id,
                    peer.label,
                    len(peer.outbox.queue),
                )
                peer.outbox.queue.clear()
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
                    await asyncio.wait_for(wake.wait(), timeout)
            elif timeout <= 0:
                await asyncio.sleep(0)

    # ------------------------------------------------------------------ status

    def status(self) -> dict[str, Any]:
        """Associations, running transfer sets and report counters (JSON-friendly)."""
        running = sum(
            1
            for t in self._tables.values()
            for n in self.engine.transfer_set_names(t.domain)
            if (ts := self.engine.get(ObjectName.dom(t.domain, n))) is not None and ts.running
        )
        return {
            "associations": len(self._peers),
            "tables": sorted(self._tables),
            "transfer_sets_running": running,
            "reports_sent": self.reports_sent,
            "critical_events": len(self.events),
            "operates": self.controls.operates,
            "messages_sent": self.controls.messages_sent,
        }
