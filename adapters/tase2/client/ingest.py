"""InformationReports (and polled Read results) -> the point bus, without I/O.

:class:`ReportIngest` knows the client's data sets (:class:`SetLayout`: special members
first, then point slots) and the running transfer sets. For each report it

* matches it by name: a full report by its ``variableListName`` (the data set), an RBE
  report member by member through each ``listOfVariable`` name (specials by their ICC name,
  points by their own object name), so the order of an RBE report does not matter;
* decodes every point by shape (:func:`adapters.tase2.model.points.decode_point`: both Data_StateQ
  forms, TimeStamp integer or extended), applies scale/offset and the point's ISN ax+b, and
  publishes values, qualities and time stamps with :meth:`PointBus.update_many` (one call
  per distinct quality and time stamp);
* returns the Transfer_Report_ACK for a critical report, or a Transfer_Report_NACK when a
  report cannot be used (unknown data set or transfer set, malformed members), for the
  shell to send.

:meth:`ReportIngest.handle_pdu` takes the encoded PDU and decodes full reports of
Data_RealQTimeTag points column-wise (:mod:`adapters.tase2.mms.report_fast`); anything else
goes through the general decoder. Nothing here raises on bad input: problems are counted,
logged (at 1, 2, 4, 8... occurrences) and returned.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from adapters.tase2.mms.access import VariableEntry, VariableList, VariableListName
from adapters.tase2.mms.data import AccessResult, Data, DataAccessError, Integer
from adapters.tase2.mms.errors import MmsDecodeError
from adapters.tase2.mms.names import ObjectName, Scope
from adapters.tase2.mms.pdu import Unconfirmed, decode_pdu
from adapters.tase2.mms.report_fast import decode_realq_timetag_report
from adapters.tase2.mms.services import InformationReport
from adapters.tase2.model.layout import PointLayout
from adapters.tase2.model.objects import (
    REPORT_ONLY_NAMES,
    TRANSFER_REPORT_ACK,
    TRANSFER_REPORT_NACK,
    TRANSFER_SET_NAME,
    TRANSFER_SET_TIME_STAMP,
    DSTransferSetError,
    decode_mms_object_name,
    encode_mms_object_name,
    transfer_set_reference,
)
from adapters.tase2.model.points import (
    DecodedPoint,
    PointDecodeError,
    PointType,
    identify_point_type,
)
from gateway.bus import PointBus, Value
from gateway.logs import Throttle
from gateway.points import PointKind, Quality, now

__all__ = [
    "IngestStats",
    "PointSlot",
    "ReportIngest",
    "ReportOutcome",
    "SetLayout",
    "ack_report",
    "nack_report",
]

log = logging.getLogger(__name__)

_NOT_VALID_FLAGS = 0x30
_FAST_TYPE = PointType.DATA_REALQ_TIMETAG


@dataclass(slots=True)
class PointSlot:
    """One remote point bound to one bus point.

    ``a``/``b`` are the combined linear map (the client's scale/offset, then the bus point's
    ISN usage ax+b); state points take the TASE.2 state as is. ``type`` is the configured
    point type; with None (auto) the type of the first value's shape is kept in ``learnt``.
    ``layout`` is the type the server declares (GetVariableAccessAttributes), once asked:
    values are then decoded by it, components matched by name in the server's order.
    """

    point: str
    name: ObjectName
    kind: PointKind
    type: PointType | None = None
    a: float = 1.0
    b: float = 0.0
    writable: bool = False
    learnt: PointType | None = None
    layout: PointLayout | None = None

    @property
    def effective_type(self) -> PointType | None:
        """The type the server declares or its values showed, else the configured one."""
        if self.layout is not None and self.layout.type is not None:
            return self.layout.type
        return self.learnt or self.type

    @property
    def standard(self) -> bool:
        """True unless the server declared the point's components in an order of its own."""
        return self.layout is None or self.layout.standard

    def convert(self, raw: float | int) -> Value:
        """The bus value of a decoded remote value."""
        if self.kind is PointKind.STATE:
            return int(raw)
        value = self.a * raw + self.b
        return round(value) if self.kind is PointKind.DISCRETE else value


@dataclass(slots=True)
class SetLayout:
    """One MMS data set of the client: its members (special names or point slots).

    ``critical`` says whether its transfer set asks for acknowledgements;
    ``transfer_set`` is set while a transfer set reports it.
    """

    name: ObjectName
    members: tuple[str | PointSlot, ...]
    critical: bool = False
    transfer_set: ObjectName | None = None
    fast_prefix: int | None = field(default=None, init=False)
    _points: list[str] = field(default_factory=list, init=False)
    _a: list[float] = field(default_factory=list, init=False)
    _b: list[float] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        k = 0
        while k < len(self.members) and isinstance(self.members[k], str):
            k += 1
        rest = self.members[k:]
        slots = [m for m in rest if isinstance(m, PointSlot)]
        if (
            len(slots) == len(rest)
            and slots
            and all(
                s.effective_type is _FAST_TYPE and s.standard and s.kind is PointKind.REAL
                for s in slots
            )
        ):
            self.fast_prefix = k
            self._points = [s.point for s in slots]
            self._a = [s.a for s in slots]
            self._b = [s.b for s in slots]

    @property
    def slots(self) -> list[PointSlot]:
        """The point members, in member order."""
        return [m for m in self.members if isinstance(m, PointSlot)]


@dataclass(frozen=True, slots=True)
class ReportOutcome:
    """What one report did: points applied, the reply to send (ACK/NACK), a problem."""

    points: int = 0
    reply: InformationReport | None = None
    problem: str | None = None
    transfer_set: ObjectName | None = None


@dataclass(slots=True)
class IngestStats:
    """Counters of the report path (monotonic)."""

    reports: int = 0
    points: int = 0
    unknown: int = 0
    malformed: int = 0
    point_errors: int = 0
    acks: int = 0
    nacks: int = 0
    last_report: float | None = None


def ack_report(transfer_set: ObjectName, time_stamp: int | None) -> InformationReport:
    """Transfer_Report_ACK (+ Transfer_Set_Time_Stamp when the report had one), section 6.10."""
    domain = transfer_set.domain or ""
    names = [VariableEntry(ObjectName.dom(domain, TRANSFER_REPORT_ACK))]
    values: list[AccessResult] = [encode_mms_object_name(transfer_set)]
    if time_stamp is not None:
        names.append(VariableEntry(ObjectName.dom(domain, TRANSFER_SET_TIME_STAMP)))
        values.append(Integer(time_stamp))
    return InformationReport(VariableList(tuple(names)), tuple(values))


def nack_report(transfer_set: ObjectName) -> InformationReport:
    """Transfer_Report_NACK naming the transfer set (section 6.10)."""
    name = ObjectName.dom(transfer_set.domain or "", TRANSFER_REPORT_NACK)
    return InformationReport(
        VariableList((VariableEntry(name),)), (encode_mms_object_name(transfer_set),)
    )


class _Batch:
    """Decoded point values gathered for the bus, grouped at flush time."""

    __slots__ = ("flags", "points", "stamps", "values")

    def __init__(self) -> None:
        self.points: list[str] = []
        self.values: list[Value] = []
        self.flags: list[int] = []
        self.stamps: list[float | None] = []

    def add(self, point: str, value: Value, flags: int, ts: float | None) -> None:
        self.points.append(point)
        self.values.append(value)
        self.flags.append(flags)
        self.stamps.append(ts)


def publish_columns(
    bus: PointBus,
    points: Sequence[str],
    values: Sequence[Value],
    flags: Sequence[int],
    stamps: Sequence[float | None],
) -> None:
    """Publish per-point qualities and time stamps with as few ``update_many`` as possible:
    one per distinct (quality, time stamp); a None time stamp means receive time."""
    n = len(points)
    if not n:
        return
    f0, t0 = flags[0], stamps[0]
    if flags.count(f0) == n and stamps.count(t0) == n:
        bus.update_many(points, values, Quality.from_flags(f0), t0)
        return
    groups: dict[tuple[int, float | None], tuple[list[str], list[Value]]] = {}
    for p, v, f, t in zip(points, values, flags, stamps, strict=True):
        g = groups.get((f, t))
        if g is None:
            groups[(f, t)] = g = ([], [])
        g[0].append(p)
        g[1].append(v)
    for (f, t), (ps, vs) in groups.items():
        bus.update_many(ps, vs, Quality.from_flags(f), t)


class ReportIngest:
    """Turns reports and Read results into bus updates (see the module docstring)."""

    def __init__(self, bus: PointBus, domain: str, clock: Callable[[], float] = now) -> None:
        self.bus = bus
        self.domain = domain
        self.stats = IngestStats()
        self._clock = clock
        self._layouts: dict[ObjectName, SetLayout] = {}
        self._by_name: dict[ObjectName, PointSlot] = {}
        self._by_transfer_set: dict[ObjectName, SetLayout] = {}
        self._warned = Throttle()
        self.wanted: set[ObjectName] = set()
        """Points whose values did not decode: the shell asks the server for their types."""

    # ------------------------------------------------------------------ set-up

    def set_slots(self, slots: Sequence[PointSlot]) -> None:
        """The client's point slots (every mode): RBE members are matched by these names."""
        self._by_name = {s.name: s for s in slots}

    def add_layout(self, layout: SetLayout) -> None:
        """Know a data set the client defined."""
        self._layouts[layout.name] = layout

    def bind(self, layout: SetLayout, transfer_set: ObjectName) -> None:
        """``transfer_set`` reports ``layout`` (call before enabling it: the first report may
        arrive before the Write's answer)."""
        layout.transfer_set = transfer_set
        self._by_transfer_set[transfer_set] = layout

    def unbind(self, layout: SetLayout) -> None:
        """The transfer set of ``layout`` is no longer in use."""
        if layout.transfer_set is not None:
            self._by_transfer_set.pop(layout.transfer_set, None)
            layout.transfer_set = None

    def remove_layout(self, layout: SetLayout) -> None:
        """Forget a data set the client deleted (or failed to start)."""
        self.unbind(layout)
        self._layouts.pop(layout.name, None)

    def clear(self) -> None:
        """Forget every data set and transfer set (the association ended)."""
        self._layouts.clear()
        self._by_transfer_set.clear()

    # ------------------------------------------------------------------ problems

    def _warn(self, kind: str, message: str, *args: object) -> None:
        """Log a recurring problem at its 1st, 2nd, 4th, 8th... occurrence."""
        count = self._warned.count(kind)
        if count:
            log.warning(message + " (%d so far)", *args, count)

    def _refuse(
        self, kind: str, problem: str, transfer_set: ObjectName | None, critical: bool | None
    ) -> ReportOutcome:
        """Count and log an unusable report; NACK it when its transfer set is critical or
        unknown to us (``critical`` None)."""
        if kind == "unknown":
            self.stats.unknown += 1
        else:
            self.stats.malformed += 1
        reply = None
        if transfer_set is not None and critical is not False:
            reply = nack_report(transfer_set)
            self.stats.nacks += 1
        self._warn(
            kind,
            "report %s: %s%s",
            "unusable" if kind == "malformed" else "not ours",
            problem,
            f"; NACK sent for {transfer_set}" if reply is not None else "",
        )
        return ReportOutcome(0, reply, problem, transfer_set)

    def _critical(self, transfer_set: ObjectName | None) -> bool | None:
        layout = None if transfer_set is None else self._by_transfer_set.get(transfer_set)
        return None if layout is None else layout.critical

    # ------------------------------------------------------------------ reports

    def handle(self, report: InformationReport) -> ReportOutcome:
        """Apply one decoded InformationReport; never raises."""
        try:
            return self._handle(report)
        except Exception as exc:  # a report must never take the client down
            log.exception("report handling failed")
            return self._refuse("malformed", f"handling failed: {exc!r}", None, False)

    def handle_pdu(self, raw: bytes) -> ReportOutcome:
        """Apply one encoded unconfirmed PDU (fast path for Data_RealQTimeTag full reports)."""
        try:
            fast = decode_realq_timetag_report(raw, 3) if raw[:1] == b"\xa3" else None
        except MmsDecodeError:
            fast = None
        except Exception:
            fast = None
        if fast is not None and isinstance(fast.spec, VariableListName):
            layout = self._layouts.get(fast.spec.name)
            cols = fast.points
            if (
                layout is not None
                and layout.fast_prefix == 3
                and len(cols.values) == len(layout._points)
            ):
                return self._apply_fast(
                    layout, fast.prefix, cols.values, cols.timestamps, cols.flags
                )
        try:
            pdu = decode_pdu(raw)
        except MmsDecodeError as exc:
            return self._refuse("malformed", f"undecodable PDU: {exc}", None, False)
        if not isinstance(pdu, Unconfirmed) or not isinstance(pdu.service, InformationReport):
            return self._refuse(
                "unknown", f"not an InformationReport: {type(pdu).__name__}", None, False
            )
        return self.handle(pdu.service)

    def _apply_fast(
        self,
        layout: SetLayout,
        prefix: Sequence[AccessResult],
        values: Sequence[float],
        stamps: Sequence[int],
        flags: Sequence[int],
    ) -> ReportOutcome:
        specials: dict[str, AccessResult] = {}
        for m, r in zip(layout.members, prefix, strict=False):
            if isinstance(m, str):
                specials[m] = r
        ts_name, stamp, problem = self._specials(specials)
        converted = [a * x + b for a, b, x in zip(layout._a, layout._b, values, strict=True)]
        publish_columns(
            self.bus,
            layout._points,
            converted,
            [f & 0x3F for f in flags],
            [float(t) for t in stamps],
        )
        return self._done(len(converted), ts_name or layout.transfer_set, stamp, problem, layout)

    def _specials(
        self, specials: dict[str, AccessResult]
    ) -> tuple[ObjectName | None, int | None, str | None]:
        ts_name: ObjectName | None = None
        stamp: int | None = None
        problem: str | None = None
        tsn = specials.get(TRANSFER_SET_NAME)
        if tsn is not None and not isinstance(tsn, DataAccessError):
            try:
                ts_name = transfer_set_reference(tsn, self.domain, what=TRANSFER_SET_NAME)
            except DSTransferSetError as exc:
                problem = str(exc)
        stamp_r = specials.get(TRANSFER_SET_TIME_STAMP)
        if isinstance(stamp_r, Integer):
            stamp = stamp_r.value
        return ts_name, stamp, problem

    def _done(
        self,
        points: int,
        ts_name: ObjectName | None,
        stamp: int | None,
        problem: str | None,
        layout: SetLayout | None,
    ) -> ReportOutcome:
        stats = self.stats
        stats.reports += 1
        stats.points += points
        stats.last_report = self._clock()
        critical = layout.critical if layout is not None else self._critical(ts_name)
        if ts_name is None:
            if problem is not None:
                self._warn("malformed", "report partly unusable: %s", problem)
            return ReportOutcome(points, None, problem, None)
        if problem is not None:
            stats.malformed += 1
            reply = None
            if critical is not False:
                reply = nack_report(ts_name)
                stats.nacks += 1
            self._warn("malformed", "report of %s partly unusable: %s", ts_name, problem)
            return ReportOutcome(points, reply, problem, ts_name)
        if critical:
            stats.acks += 1
            return ReportOutcome(points, ack_report(ts_name, stamp), None, ts_name)
        return ReportOutcome(points, None, None, ts_name)

    def _handle(self, report: InformationReport) -> ReportOutcome:
        spec = report.spec
        results = report.results
        if isinstance(spec, VariableListName):
            layout = self._layouts.get(spec.name)
            if layout is None:
                # some servers name the transfer set, not the data set, and put a header
                # (its name, a time, the conditions) before the members' values
                layout = self._reported_by(spec.name)
                extra = len(results) - len(layout.members) if layout is not None else 0
                if extra > 0:
                    results = results[extra:]
            if layout is None:
                ts_name = self._guess_transfer_set(results)
                return self._refuse(
                    "unknown", f"unknown data set {spec.name}", ts_name, self._critical(ts_name)
                )
            if len(results) != len(layout.members):
                ts_name = self._guess_transfer_set(results) or layout.transfer_set
                return self._refuse(
                    "malformed",
                    f"data set {spec.name} has {len(layout.members)} members, "
                    f"the report {len(results)} values",
                    ts_name,
                    layout.critical,
                )
            return self._apply(layout.members, results, layout)
        names = [e.name for e in spec.items]
        if len(names) != len(results):
            return self._refuse(
                "malformed", f"{len(names)} names but {len(results)} values", None, False
            )
        members: list[str | PointSlot | None] = []
        known = 0
        unknown: list[ObjectName] = []
        for name in names:
            if name.scope == Scope.DOMAIN and name.item in REPORT_ONLY_NAMES:
                members.append(name.item)
                continue
            slot = self._by_name.get(name)
            if slot is None:
                unknown.append(name)
            else:
                known += 1
            members.append(slot)
        if not known and TRANSFER_SET_NAME not in members:
            return self._refuse(
                "unknown", f"report of {', '.join(map(str, names[:3]))}...", None, False
            )
        outcome = self._apply(members, results, None)
        if unknown:
            self._warn(
                "unknown-points",
                "report names %d unknown variable(s), e.g. %s",
                len(unknown),
                unknown[0],
            )
        return outcome

    def _reported_by(self, name: ObjectName) -> SetLayout | None:
        """The data set that the transfer set ``name`` (in any scope) reports."""
        layout = self._by_transfer_set.get(name)
        if layout is None:
            layout = next(
                (lay for ts, lay in self._by_transfer_set.items() if ts.item == name.item), None
            )
        return layout

    def _guess_transfer_set(self, results: Sequence[AccessResult]) -> ObjectName | None:
        """The Transfer_Set_Name of a report we cannot place (first member, by convention)."""
        if not results or isinstance(results[0], DataAccessError):
            return None
        try:
            return decode_mms_object_name(results[0])
        except DSTransferSetError:
            return None

    def _apply(
        self,
        members: Sequence[str | PointSlot | None],
        results: Sequence[AccessResult],
        layout: SetLayout | None,
    ) -> ReportOutcome:
        batch = _Batch()
        specials: dict[str, AccessResult] = {}
        bad: list[str] = []
        for m, r in zip(members, results, strict=True):
            if m is None:
                continue
            if isinstance(m, str):
                specials[m] = r
                continue
            problem = self._decode_into(batch, m, r)
            if problem is not None:
                bad.append(problem)
        publish_columns(self.bus, batch.points, batch.values, batch.flags, batch.stamps)
        ts_name, stamp, problem = self._specials(specials)
        if ts_name is None and layout is not None:
            ts_name = layout.transfer_set
        if bad:
            self.stats.point_errors += len(bad)
            problem = f"{len(bad)} point(s) undecodable, e.g. {bad[0]}"
        return self._done(len(batch.points), ts_name, stamp, problem, layout)

    def _decode_into(self, batch: _Batch, slot: PointSlot, result: AccessResult) -> str | None:
        """Decode one point into ``batch``; returns a problem text instead of raising."""
        if isinstance(result, DataAccessError):
            # the server has no value: keep the last one, not valid, at receive time
            batch.add(slot.point, self._current(slot.point), _NOT_VALID_FLAGS, None)
            return None
        try:
            decoded = self._decode(slot, result)
        except PointDecodeError as exc:
            batch.add(slot.point, self._current(slot.point), _NOT_VALID_FLAGS, None)
            slot.layout = None
            self.wanted.add(slot.name)  # ask the server what it is
            return f"{slot.name}: {exc}"
        raw = decoded.value
        value = self._current(slot.point) if raw is None else slot.convert(raw)
        # a time stamp of 0 (1970) is a server that never set it: receive time, marked
        ts = decoded.ts or None
        batch.add(slot.point, value, int(decoded.quality), ts)
        return None

    def _decode(self, slot: PointSlot, result: Data) -> DecodedPoint:
        """The point's value: by its declared layout, else its configured or learnt type
        (liberally: a configured type the value does not fit gives way to its shape)."""
        if slot.layout is not None:
            return slot.layout.decode(result)
        ptype = slot.learnt or slot.type
        if ptype is None:
            ptype = self._learn(slot, result)
        try:
            return ptype.info.decode(result)
        except PointDecodeError:
            if slot.learnt is not None or slot.type is None:
                raise
        ptype = self._learn(slot, result)
        decoded = ptype.info.decode(result)
        log.warning(
            "%s is configured as %s but the server sends %s; decoding it as such",
            slot.name,
            slot.type,
            ptype,
        )
        return decoded

    @staticmethod
    def _learn(slot: PointSlot, result: AccessResult) -> PointType:
        """The point type of ``result``'s shape, remembered in ``slot.learnt``.

        The bus point's kind settles the two shapes that fit two types: ``{integer, 8-bit
        string}`` is Data_StateQTimeTag for a state point (else Data_DiscreteQ), and a bare
        8-bit string is Data_Flags for a point that is not a state (else Data_State).
        """
        ptype = None if isinstance(result, DataAccessError) else identify_point_type(result)
        if ptype is None:
            raise PointDecodeError(f"not a TASE.2 point value: {result!r}")
        if ptype is PointType.DATA_DISCRETEQ and slot.kind is PointKind.STATE:
            ptype = PointType.DATA_STATEQ_TIMETAG
        elif ptype is PointType.DATA_STATE and slot.kind is not PointKind.STATE:
            ptype = PointType.DATA_FLAGS
        slot.learnt = ptype
        return ptype

    def _current(self, point: str) -> Value:
        try:
            return self.bus.get(point).value
        except Exception:
            return 0.0

    # ------------------------------------------------------------------ polling

    def apply_read(self, slots: Sequence[PointSlot], results: Sequence[AccessResult]) -> int:
        """Publish polled values (``results`` aligned with ``slots``); returns points applied.

        A DataAccessError marks that point not valid; an undecodable value too (logged).
        """
        if len(results) != len(slots):
            self._warn("read", "Read answered %d values for %d points", len(results), len(slots))
            return 0
        batch = _Batch()
        for slot, result in zip(slots, results, strict=True):
            problem = self._decode_into(batch, slot, result)
            if problem is not None:
                self.stats.point_errors += 1
                self._warn("read-point", "polled value unusable: %s", problem)
        publish_columns(self.bus, batch.points, batch.values, batch.flags, batch.stamps)
        self.stats.points += len(batch.points)
        return len(batch.points)
