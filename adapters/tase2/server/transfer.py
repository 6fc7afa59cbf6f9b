"""The DS transfer set engine (reference sections 6.5-6.10), sans-IO: no sockets, no clock.

One :class:`TransferEngine` serves every association of a server. It owns, per ICC domain,
a pool of ``DSTransferSetNN`` objects; reading ``Next_DSTransfer_Set`` allocates one to the
reading association (:meth:`TransferEngine.allocate`), writing it (whole structure or one
component) starts or stops it, and the association's end frees it.

Time is passed in (POSIX seconds). The shell feeds bus changes to :meth:`on_changes`, asks
:meth:`due` for the reports to send now, sleeps until :meth:`next_deadline`, and feeds
client reports (Transfer_Report_ACK/NACK) to :meth:`on_client_report`. Critical-report
time-outs and NACKs come out of :meth:`drain_events`.

Scheduling rules, per running transfer set (``start`` = StartTime, or the time of the
enabling write when StartTime is 0 or past):

* nothing is reported, and no change is recorded, before ``start``;
* IntervalTimeOut: a report every Interval s, the first at StartTime when that lies in the
  future, else one Interval after the start; full data set, or, with RBE, the points
  changed since the last report (no report when nothing changed);
* IntegrityTimeOut: a full report every IntegrityCheck s from ``start`` (with or without
  RBE);
* ObjectChange: with BufferTime 0 each call of :meth:`on_changes` that touches the data set
  yields one report (RBE: the changed points; else the full set), except that a non-RBE
  transfer set that also has IntervalTimeOut holds changes for the next interval report
  (libtase2's behaviour); with BufferTime > 0 the first change opens a window of BufferTime
  s at whose end the changes are reported;
* AllChangesReported (RBE): every change in the window is sent, in change order, repeats
  included (at most ``max_buffered_changes`` kept; older ones dropped and counted); without
  it each changed point appears once with its latest value, in data-set order;
* OperatorRequest (:meth:`operator_request`) and OtherExternalEvent (:meth:`external_event`,
  filtered by EventCodeRequested, 0 = any code): a full report each;
* a full report supersedes the changes buffered so far (its values are current);
* RBE reports larger than the negotiated PDU are split into several reports; a data set
  whose *full* report cannot fit is refused when the transfer set is started;
* Critical: every report awaits Transfer_Report_ACK; an ACK clears the outstanding reports
  of that transfer set up to its Transfer_Set_Time_Stamp (all of them without one); a NACK
  clears them and raises a ``nack`` event; a report not ACKed within ``critical_timeout``
  raises one ``critical-timeout`` event. Reporting continues meanwhile (libtase2).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Container, Hashable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from adapters.tase2.mms.data import AccessResult, Data, DataAccessError, Integer, Structure
from adapters.tase2.mms.names import ObjectName, Scope
from adapters.tase2.model.objects import (
    NO_CONDITIONS,
    TRANSFER_REPORT_ACK,
    TRANSFER_REPORT_NACK,
    TRANSFER_SET_TIME_STAMP,
    DSConditions,
    DSTransferSetError,
    decode_mms_object_name,
)
from adapters.tase2.model.points import gmt_based_s
from adapters.tase2.model.transfer_set import (
    DSTransferSetModel,
    DSTransferSetValue,
    apply_component,
    parse_ds_transfer_set,
)
from adapters.tase2.server.bilateral import TableView
from adapters.tase2.server.datasets import DataSet
from adapters.tase2.server.reports import ReportRequest, envelope_overhead, full_report_max_size
from gateway.points import PointValue

__all__ = [
    "COMPONENT_SEPARATOR",
    "DataSetLookup",
    "TransferEngine",
    "TransferSet",
    "TransferSetEvent",
    "split_component_name",
]

COMPONENT_SEPARATOR = "$"
"""Separator of flattened component names (``DSTransferSet01$Status``), as libiec61850-derived
servers split them; the portable addressing is MMS alternate access ``component``."""

DataSetLookup = Callable[[ObjectName], DataSet | None]
"""How the engine finds a data set named in DataSetName (as seen by the writing association)."""

_INTERVAL = DSConditions.INTERVAL_TIMEOUT
_INTEGRITY = DSConditions.INTEGRITY_TIMEOUT
_CHANGE = DSConditions.OBJECT_CHANGE
_OPERATOR = DSConditions.OPERATOR_REQUEST
_EXTERNAL = DSConditions.OTHER_EXTERNAL_EVENT
_INF = math.inf
_ATTR = DataAccessError.OBJECT_ATTRIBUTE_INCONSISTENT
_ACK_NAMES = (TRANSFER_REPORT_ACK, TRANSFER_REPORT_NACK)


def split_component_name(item: str) -> tuple[str, str] | None:
    """``"DSTransferSet01$Status"`` -> ``("DSTransferSet01", "Status")``; None without ``$``."""
    head, sep, tail = item.partition(COMPONENT_SEPARATOR)
    return (head, tail) if sep and head and tail else None


@dataclass(frozen=True, slots=True)
class TransferSetEvent:
    """Something the application should hear about: a critical report that was not
    acknowledged in time (``critical-timeout``) or was refused (``nack``).

    ``time_stamp`` is the Transfer_Set_Time_Stamp of the report concerned (for ``nack``, of
    the oldest outstanding report, or None when none was outstanding).
    """

    kind: Literal["critical-timeout", "nack"]
    association: Hashable
    transfer_set: ObjectName
    time_stamp: int | None
    at: float


class TransferSet:
    """One ``DSTransferSetNN`` object: its name, owning association and attributes."""

    __slots__ = ("name", "owner", "run", "value")

    def __init__(self, name: ObjectName) -> None:
        self.name = name
        self.owner: Hashable | None = None
        self.value = DSTransferSetValue()
        self.run: _Run | None = None

    @property
    def running(self) -> bool:
        """True while Status is TRUE and reports are being scheduled."""
        return self.run is not None


@dataclass(slots=True, eq=False)
class _Run:
    """Scheduler state of one running transfer set."""

    ts: TransferSet
    association: Hashable
    data_set: DataSet
    attrs: DSTransferSetValue
    max_pdu: int
    max_buffered: int
    start: float
    next_interval: float = _INF
    next_integrity: float = _INF
    buffer_deadline: float = _INF
    deadline: float = _INF
    change_due: bool = False
    operator: bool = False
    events: list[int] = field(default_factory=list)
    changed: dict[int, PointValue] = field(default_factory=dict)
    recorded: list[tuple[int, PointValue]] = field(default_factory=list)
    dropped: int = 0
    outstanding: list[tuple[int, float]] = field(default_factory=list)
    # derived flags (set in __post_init__)
    rbe: bool = False
    all_changes: bool = False
    on_change: bool = False
    hold_for_interval: bool = False
    buffer_time: float = 0.0

    def __post_init__(self) -> None:
        a = self.attrs
        conds = a.conditions
        self.rbe = a.rbe
        self.all_changes = a.rbe and a.all_changes_reported
        self.on_change = bool(conds & _CHANGE)
        self.buffer_time = float(a.buffer_time)
        self.hold_for_interval = not a.rbe and bool(conds & _INTERVAL) and a.buffer_time == 0

    def mark(self, index: int, pv: PointValue, now: float) -> None:
        """Record a change of member ``index`` (the per-point hot path)."""
        if now < self.start:
            return
        if self.all_changes:
            rec = self.recorded
            if len(rec) >= self.max_buffered:
                del rec[0]
                self.dropped += 1
            rec.append((index, pv))
        else:
            self.changed[index] = pv
        if self.on_change:
            if self.buffer_time > 0:
                if self.buffer_deadline == _INF:
                    self.buffer_deadline = now + self.buffer_time
                    if self.buffer_deadline < self.deadline:
                        self.deadline = self.buffer_deadline
            elif not self.hold_for_interval:
                self.change_due = True
                if now < self.deadline:
                    self.deadline = now

    def recompute_deadline(self) -> None:
        """The earliest time this run needs attention."""
        d = min(self.next_interval, self.next_integrity, self.buffer_deadline)
        if self.outstanding:
            d = min(d, self.outstanding[0][1])
        if self.change_due or self.operator or self.events:
            d = min(d, self.start)
        self.deadline = d

    def clear_changes(self) -> None:
        """Forget the buffered changes (they were reported)."""
        self.changed.clear()
        self.recorded.clear()
        self.dropped = 0
        self.change_due = False
        self.buffer_deadline = _INF


def _advance(t: float, period: float, now: float) -> float:
    """The next slot ``t + k * period`` after ``now`` (missed slots are skipped, no burst)."""
    if t > now:
        return t
    return t + (math.floor((now - t) / period) + 1) * period


class TransferEngine:
    """All DS transfer sets of a server and their report scheduler (see module docstring).

    ``transfer_sets`` is the pool size per ICC domain (change it per domain with
    :meth:`configure_domain`); ``critical_timeout`` the ACK time-out in s;
    ``max_buffered_changes`` the AllChangesReported buffer per transfer set.
    """

    def __init__(
        self,
        transfer_sets: int = 10,
        *,
        critical_timeout: float = 5.0,
        max_buffered_changes: int = 10_000,
        name_format: str = "DSTransferSet{:02d}",
    ) -> None:
        self.default_count = transfer_sets
        self.critical_timeout = critical_timeout
        self.max_buffered_changes = max_buffered_changes
        self.name_format = name_format
        self._pools: dict[str, list[TransferSet]] = {}
        self._by_name: dict[ObjectName, TransferSet] = {}
        self._assoc: dict[Hashable, tuple[TableView, int]] = {}
        self._runs: dict[TransferSet, _Run] = {}
        self._index: dict[str, list[tuple[_Run, int]]] = {}
        self._events: list[TransferSetEvent] = []
        self.names_version = 0
        """Bumped whenever a transfer set is added or removed (what names resolve to)."""

    # ------------------------------------------------------------------ domains, associations

    def configure_domain(self, domain: str, count: int) -> None:
        """Set the number of transfer sets of ``domain`` (growing adds objects; shrinking
        removes only free ones from the end).
        """
        pool = self._pools.setdefault(domain, [])
        size = len(pool)
        while len(pool) < count:
            ts = TransferSet(ObjectName.dom(domain, self.name_format.format(len(pool) + 1)))
            pool.append(ts)
            self._by_name[ts.name] = ts
        while len(pool) > count and pool[-1].owner is None:
            del self._by_name[pool.pop().name]
        if len(pool) != size:
            self.names_version += 1

    def _pool(self, domain: str) -> list[TransferSet]:
        if domain not in self._pools:
            self.configure_domain(domain, self.default_count)
        return self._pools[domain]

    def open_association(self, association: Hashable, view: TableView, max_pdu: int) -> None:
        """Register an association: its bilateral view and negotiated MMS PDU size."""
        self._assoc[association] = (view, max_pdu)
        self._pool(view.domain)

    def update_view(self, association: Hashable, view: TableView) -> list[ObjectName]:
        """Give an association a recompiled view (its table changed); transfer sets whose
        data sets it no longer allows are stopped. Returns their names.
        """
        _, max_pdu = self._assoc[association]
        self._assoc[association] = (view, max_pdu)
        stopped = []
        for run in [r for r in self._runs.values() if r.association == association]:
            if self._member_problem(view, run.data_set) is not None:
                self._stop(run.ts)
                stopped.append(run.ts.name)
        return stopped

    def stop_data_sets(
        self, names: Container[ObjectName]
    ) -> list[tuple[Hashable, ObjectName, ObjectName]]:
        """Stop the running transfer sets reporting a data set named in ``names`` (it was
        removed or redefined); returns ``(association, transfer set, data set)`` of each.
        They stay allocated to their associations, with Status FALSE.
        """
        stopped = []
        for run in [r for r in self._runs.values() if r.data_set.name in names]:
            self._stop(run.ts)
            run.ts.value = replace(run.ts.value, status=False)
            stopped.append((run.association, run.ts.name, run.data_set.name))
        return stopped

    def close_association(self, association: Hashable) -> list[ObjectName]:
        """Association ended: stop and free its transfer sets; returns their names."""
        self._assoc.pop(association, None)
        freed = []
        for ts in self._by_name.values():
            if ts.owner == association:
                self._stop(ts)
                ts.owner = None
                ts.value = DSTransferSetValue()
                freed.append(ts.name)
        return freed

    # ------------------------------------------------------------------ objects

    def transfer_set_names(self, domain: str) -> list[str]:
        """Item names of the transfer sets of ``domain`` (for GetNameList), sorted."""
        return sorted(ts.name.item for ts in self._pool(domain))

    def get(self, name: ObjectName) -> TransferSet | None:
        """The transfer set object of this name, or None."""
        return self._by_name.get(name)

    def data_set_in_use(self, data_set: DataSet) -> bool:
        """True while a running transfer set reports ``data_set`` (refuse deleting it)."""
        return any(r.data_set is data_set for r in self._runs.values())

    def allocate(self, association: Hashable) -> ObjectName:
        """Read of ``Next_DSTransfer_Set``: reserve a free transfer set of the association's
        domain and return its name (answer it as an MMSObjectName).

        Raises :class:`DSTransferSetError` (temporarily-unavailable) when all are taken.
        """
        view, _ = self._assoc[association]
        pool = self._pool(view.domain)
        for ts in pool:
            if ts.owner is None:
                ts.owner = association
                return ts.name
        raise DSTransferSetError(
            f"all {len(pool)} transfer sets of {view.domain} are in use",
            DataAccessError.TEMPORARILY_UNAVAILABLE,
        )

    def read(self, association: Hashable, name: ObjectName) -> Structure | DataAccessError:
        """Read of a transfer set (2000 model, 13 components); access-denied outside the
        association's domain, non-existent for an unknown name.
        """
        ts = self._by_name.get(name)
        if ts is None:
            return DataAccessError.OBJECT_NON_EXISTENT
        view, _ = self._assoc[association]
        if name.domain != view.domain:
            return DataAccessError.OBJECT_ACCESS_DENIED
        return ts.value.to_data(DSTransferSetModel.MODEL_2000)

    # ------------------------------------------------------------------ writes

    def _writable(self, association: Hashable, name: ObjectName) -> TransferSet:
        ts = self._by_name.get(name)
        if ts is None:
            raise DSTransferSetError(
                f"{name} is no transfer set", DataAccessError.OBJECT_NON_EXISTENT
            )
        view, _ = self._assoc[association]
        if name.domain != view.domain or (ts.owner is not None and ts.owner != association):
            raise DSTransferSetError(
                f"{name} belongs to another association or domain",
                DataAccessError.OBJECT_ACCESS_DENIED,
            )
        return ts

    def write(
        self,
        association: Hashable,
        name: ObjectName,
        value: Data,
        now: float,
        data_sets: DataSetLookup,
    ) -> None:
        """Whole-structure Write of a transfer set (2000 or 1996 model).

        A free transfer set is allocated to the writer on the fly (liberal: some clients
        skip Next_DSTransfer_Set). Raises :class:`DSTransferSetError`, whose ``error`` is
        the answer: object-non-existent (no such transfer set), object-access-denied
        (another association's, another domain's, or a data set member the table does not
        allow), object-attribute-inconsistent (malformed structure; a change other than
        Status while running; a start that cannot work: no or unknown data set, BlockData,
        Interval or IntegrityCheck 0 with their condition, a full report larger than the
        negotiated PDU), object-value-invalid (impossible values, see
        :func:`~adapters.tase2.model.transfer_set.parse_ds_transfer_set`). A refused write changes
        nothing.
        """
        ts = self._writable(association, name)
        new, _ = parse_ds_transfer_set(value)
        self._apply(association, ts, new, now, data_sets)

    def write_component(
        self,
        association: Hashable,
        name: ObjectName,
        component: str,
        value: Data,
        now: float,
        data_sets: DataSetLookup,
    ) -> None:
        """Write of one component (``Status``, ``Interval``, ...); same rules as
        :meth:`write` (while running only Status may change), plus object-non-existent for
        an unknown component.
        """
        ts = self._writable(association, name)
        new = apply_component(ts.value, component, value)
        self._apply(association, ts, new, now, data_sets)

    def _apply(
        self,
        association: Hashable,
        ts: TransferSet,
        new: DSTransferSetValue,
        now: float,
        data_sets: DataSetLookup,
    ) -> None:
        if ts.run is not None:
            if not ts.value.same_except_status(new):
                raise DSTransferSetError(
                    f"{ts.name} is running: only Status may change (stop it first)", _ATTR
                )
            if new.status:
                return  # already running: nothing to do
            self._stop(ts)
            ts.owner = association
            ts.value = new
            return
        run = self._prepare(association, ts, new, now, data_sets) if new.status else None
        ts.owner = association
        ts.value = new
        if run is not None:
            self._start(run)

    def _member_problem(self, view: TableView, ds: DataSet) -> str | None:
        for m in ds.members:
            if m.point is not None:
                access = view.check_read(m.name)
                if isinstance(access, DataAccessError):
                    return f"member {m.name} is not readable for this peer"
        return None

    def _prepare(
        self,
        association: Hashable,
        ts: TransferSet,
        a: DSTransferSetValue,
        now: float,
        data_sets: DataSetLookup,
    ) -> _Run:
        view, max_pdu = self._assoc[association]
        conds = a.conditions
        if a.data_set is None:
            raise DSTransferSetError(f"{ts.name}: no DataSetName to report", _ATTR)
        if a.block_data:
            raise DSTransferSetError(f"{ts.name}: BlockData (Block 3) is not supported", _ATTR)
        if conds & _INTERVAL and a.interval <= 0:
            raise DSTransferSetError(f"{ts.name}: IntervalTimeOut with Interval 0", _ATTR)
        if conds & _INTEGRITY and a.integrity_check <= 0:
            raise DSTransferSetError(f"{ts.name}: IntegrityTimeOut with IntegrityCheck 0", _ATTR)
        ds_name = a.data_set
        if ds_name.scope == Scope.DOMAIN and ds_name.domain != view.domain:
            raise DSTransferSetError(
                f"{ts.name}: data set {ds_name} is in another domain",
                DataAccessError.OBJECT_ACCESS_DENIED,
            )
        ds = data_sets(ds_name)
        if ds is None:
            raise DSTransferSetError(f"{ts.name}: data set {ds_name} does not exist", _ATTR)
        problem = self._member_problem(view, ds)
        if problem is not None:
            raise DSTransferSetError(
                f"{ts.name}: data set {ds_name}: {problem}", DataAccessError.OBJECT_ACCESS_DENIED
            )
        size = full_report_max_size(ds, ts.name)
        if size > max_pdu:
            raise DSTransferSetError(
                f"{ts.name}: a full report of data set {ds_name} ({len(ds.members)} members) "
                f"needs up to {size} octets, more than the negotiated MMS PDU size of "
                f"{max_pdu}; split the data set",
                _ATTR,
            )
        start = float(a.start_time) if a.start_time > now else now
        run = _Run(ts, association, ds, a, max_pdu, self.max_buffered_changes, start)
        if conds & _INTERVAL:
            run.next_interval = start if a.start_time > now else start + a.interval
        if conds & _INTEGRITY:
            run.next_integrity = start + a.integrity_check
        run.recompute_deadline()
        return run

    def _start(self, run: _Run) -> None:
        run.ts.run = run
        self._runs[run.ts] = run
        index = self._index
        for i, m in enumerate(run.data_set.members):
            if m.point is not None:
                entries = index.get(m.point)
                if entries is None:
                    index[m.point] = [(run, i)]
                else:
                    entries.append((run, i))

    def _stop(self, ts: TransferSet) -> None:
        run = ts.run
        if run is None:
            return
        ts.run = None
        del self._runs[ts]
        index = self._index
        for p in set(run.data_set.point_ids):
            kept = [e for e in index.get(p, ()) if e[0] is not run]
            if kept:
                index[p] = kept
            else:
                index.pop(p, None)

    # ------------------------------------------------------------------ inputs

    def on_changes(self, changes: Iterable[PointValue], now: float) -> None:
        """Bus changes: mark each changed point in every running transfer set containing it
        (through the per-point index; transfer sets without the point are not visited).
        """
        index = self._index
        for pv in changes:
            entries = index.get(pv.point)
            if entries is not None:
                for run, i in entries:
                    run.mark(i, pv, now)

    def operator_request(self, now: float, name: ObjectName | None = None) -> int:
        """Force a full report (OperatorRequest) from the running transfer sets that request
        that condition (only ``name`` if given). Returns how many were triggered.
        """
        n = 0
        for run in self._runs.values():
            wanted = name is None or run.ts.name == name
            if run.attrs.conditions & _OPERATOR and wanted and now >= run.start:
                run.operator = True
                run.recompute_deadline()
                n += 1
        return n

    def external_event(self, event_code: int, now: float) -> int:
        """An application event (OtherExternalEvent): a full report with Event_Code_Detected
        from each running transfer set requesting that condition whose EventCodeRequested is
        ``event_code`` or 0 (any). Returns how many were triggered. The code must fit
        Event_Code_Detected (Integer16), else ValueError.
        """
        if not -(1 << 15) <= event_code < 1 << 15:
            raise ValueError(f"event code {event_code} does not fit an Integer16")
        n = 0
        for run in self._runs.values():
            a = run.attrs
            wanted = a.event_code_requested in (0, event_code)
            if a.conditions & _EXTERNAL and wanted and now >= run.start:
                run.events.append(event_code)
                run.recompute_deadline()
                n += 1
        return n

    # ------------------------------------------------------------------ outputs

    def next_deadline(self) -> float | None:
        """When :meth:`due` next has something to do (None: nothing scheduled)."""
        d = min((r.deadline for r in self._runs.values()), default=_INF)
        return None if d == _INF else d

    def due(self, now: float) -> list[ReportRequest]:
        """The reports to send now, and the critical time-outs (see :meth:`drain_events`)."""
        out: list[ReportRequest] = []
        for run in list(self._runs.values()):
            if run.deadline <= now:
                self._collect(run, now, out)
        return out

    def drain_events(self) -> list[TransferSetEvent]:
        """Critical-report events raised since the last call."""
        events, self._events = self._events, []
        return events

    def _collect(self, run: _Run, now: float, out: list[ReportRequest]) -> None:
        a = run.attrs
        cond = NO_CONDITIONS
        full = False
        if run.next_interval <= now:
            cond |= _INTERVAL
            full = full or not run.rbe
            run.next_interval = _advance(run.next_interval, a.interval, now)
        if run.next_integrity <= now:
            cond |= _INTEGRITY
            full = True
            run.next_integrity = _advance(run.next_integrity, a.integrity_check, now)
        if run.change_due or run.buffer_deadline <= now:
            cond |= _CHANGE
            full = full or not run.rbe
            run.change_due = False
            run.buffer_deadline = _INF
        if run.operator:
            cond |= _OPERATOR
            full = True
            run.operator = False
        has_changes = bool(run.changed or run.recorded)
        if cond & _INTERVAL and run.hold_for_interval and has_changes and run.on_change:
            cond |= _CHANGE
        stamp = gmt_based_s(now)
        first = len(out)
        if cond:
            if full:
                out.append(self._full(run, cond, 0, stamp))
                run.clear_changes()
            elif has_changes:
                self._rbe(run, cond, stamp, out)
                run.clear_changes()
        for code in run.events:
            out.append(self._full(run, _EXTERNAL, code, stamp))
        run.events.clear()
        self._expire(run, now)
        if a.critical:
            deadline = now + self.critical_timeout
            run.outstanding.extend((r.time_stamp, deadline) for r in out[first:])
        run.recompute_deadline()

    def _full(self, run: _Run, cond: DSConditions, code: int, stamp: int) -> ReportRequest:
        ds = run.data_set
        return ReportRequest(
            run.association,
            run.ts.name,
            ds,
            cond,
            code,
            stamp,
            True,
            ds.all_indices,
            ds.no_values,
            run.attrs.critical,
        )

    def _rbe(self, run: _Run, cond: DSConditions, stamp: int, out: list[ReportRequest]) -> None:
        ds = run.data_set
        members = ds.members
        items: Sequence[tuple[int, PointValue]]
        items = run.recorded if run.all_changes else sorted(run.changed.items())
        head = ds.special_indices
        head_size = sum(len(members[i].entry) + members[i].max_size for i in head)
        budget = run.max_pdu - envelope_overhead(run.max_pdu) - head_size
        chunk_idx: list[int] = []
        chunk_pv: list[PointValue | None] = []
        used = 0
        dropped = run.dropped
        for i, pv in items:
            m = members[i]
            size = len(m.entry) + m.max_size
            if chunk_idx and used + size > budget:
                out.append(self._rbe_report(run, cond, stamp, head, chunk_idx, chunk_pv, dropped))
                dropped = 0
                chunk_idx, chunk_pv, used = [], [], 0
            chunk_idx.append(i)
            chunk_pv.append(pv)
            used += size
        if chunk_idx:
            out.append(self._rbe_report(run, cond, stamp, head, chunk_idx, chunk_pv, dropped))

    def _rbe_report(
        self,
        run: _Run,
        cond: DSConditions,
        stamp: int,
        head: tuple[int, ...],
        idx: list[int],
        pvs: list[PointValue | None],
        dropped: int,
    ) -> ReportRequest:
        return ReportRequest(
            run.association,
            run.ts.name,
            run.data_set,
            cond,
            0,
            stamp,
            False,
            head + tuple(idx),
            (None,) * len(head) + tuple(pvs),
            run.attrs.critical,
            dropped,
        )

    # ------------------------------------------------------------------ critical reports

    def _expire(self, run: _Run, now: float) -> None:
        outstanding = run.outstanding
        while outstanding and outstanding[0][1] <= now:
            stamp, _ = outstanding.pop(0)
            self._events.append(
                TransferSetEvent("critical-timeout", run.association, run.ts.name, stamp, now)
            )

    def acknowledge(
        self, association: Hashable, transfer_set: ObjectName, time_stamp: int | None
    ) -> bool:
        """Transfer_Report_ACK: clear the outstanding critical reports of ``transfer_set`` up
        to ``time_stamp`` (all when None). False when the transfer set is not this
        association's running one.
        """
        ts = self._by_name.get(transfer_set)
        if ts is None or ts.run is None or ts.run.association != association:
            return False
        run = ts.run
        if time_stamp is None:
            run.outstanding.clear()
        else:
            run.outstanding[:] = [o for o in run.outstanding if o[0] > time_stamp]
        run.recompute_deadline()
        return True

    def negative_acknowledge(
        self, association: Hashable, transfer_set: ObjectName, now: float
    ) -> bool:
        """Transfer_Report_NACK: clear the outstanding reports and raise a ``nack`` event."""
        ts = self._by_name.get(transfer_set)
        if ts is None or ts.run is None or ts.run.association != association:
            return False
        run = ts.run
        stamp = run.outstanding[0][0] if run.outstanding else None
        run.outstanding.clear()
        run.recompute_deadline()
        self._events.append(TransferSetEvent("nack", association, transfer_set, stamp, now))
        return True

    def on_client_report(
        self,
        association: Hashable,
        names: Sequence[ObjectName],
        results: Sequence[AccessResult],
        now: float,
    ) -> bool:
        """An InformationReport from the client (listOfVariable form): handle it if it is a
        Transfer_Report_ACK (with optional Transfer_Set_Time_Stamp) or Transfer_Report_NACK.
        Returns True when it was one (even if it named an unknown transfer set).
        """
        if not names or len(names) != len(results):
            return False
        kind = names[0].item
        if names[0].scope != Scope.DOMAIN or kind not in (
            TRANSFER_REPORT_ACK,
            TRANSFER_REPORT_NACK,
        ):
            return False
        first = results[0]
        try:
            target = None if isinstance(first, DataAccessError) else decode_mms_object_name(first)
        except DSTransferSetError:
            target = None
        if target is None:
            return True
        if kind == TRANSFER_REPORT_NACK:
            self.negative_acknowledge(association, target, now)
            return True
        stamp: int | None = None
        for n, r in zip(names[1:], results[1:], strict=True):
            if n.item == TRANSFER_SET_TIME_STAMP and isinstance(r, Integer):
                stamp = r.value
        self.acknowledge(association, target, stamp)
        return True
