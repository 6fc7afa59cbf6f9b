"""The served DNP3 database: bus values as static objects and events, controls as commands.

Sans-IO. `ServedDatabase` keeps the current value of every served point, answers py1815's
read provider with the static objects a read names (in blocks, so a large point list spans
fragments), records each bus change as an event in py1815's `EventBuffers` and says which
bus command a control object stands for.

Static objects of the groups py1815 has no encoder for (double-bit g3v2, binary output
status g10v2, analog output status g40v1-3) are written here: one flag octet with the state
in bits 6-7 (IEEE 1815-2012, the group 3 and 10 tables), or the flag octet followed by the
value in the layout of g30v1/v2/v5.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from py1815.application import ObjectHeader, QualifierCode, object_header
from py1815.control import (
    GROUP_ANALOG_OUTPUT_COMMAND,
    GROUP_BINARY_OUTPUT_COMMAND,
    AnalogOutput,
    CommandStatus,
    ControlRelayOutputBlock,
    OperationType,
    TripCloseCode,
)
from py1815.events import EventBuffers, EventClass
from py1815.objects import (
    AnalogPoint,
    AnalogVariation,
    BinaryPoint,
    CounterPoint,
    FrozenCounterVariation,
    encode_analog,
    encode_binary,
    encode_counter,
    encode_frozen_counter,
)
from py1815.session import Control, UnknownObject

from adapters.dnp3.flags import COMM_LOST, DOUBLE_BIT_SHIFT, RESTART, STATE, PointType, flags_of
from adapters.dnp3.outstation.settings import STATIC_VARIATIONS, ServedPoint
from gateway.bus import Value
from gateway.points import PointKind, PointValue, State

BLOCK_POINTS = 64
"""Most points in one static block (one object header): a block never spans fragments."""

GROUP_ORDER = (1, 3, 10, 20, 21, 30, 40)
"""The static groups in the order a class 0 read answers them."""

_TYPE_OF_GROUP = {point_type.static_group: point_type for point_type in PointType}
_EVENT_GROUPS = frozenset({2, 4, 11, 13, 22, 23, 32, 42, 43})
"""Event groups: the session answers those it can from its buffers; any other is empty."""

_ANALOG_LAYOUT = {
    (PointType.ANALOG_INPUT, 1): AnalogVariation.INT32_WITH_FLAG,
    (PointType.ANALOG_INPUT, 2): AnalogVariation.INT16_WITH_FLAG,
    (PointType.ANALOG_INPUT, 3): AnalogVariation.INT32,
    (PointType.ANALOG_INPUT, 4): AnalogVariation.INT16,
    (PointType.ANALOG_INPUT, 5): AnalogVariation.FLOAT32_WITH_FLAG,
    # g40v1/v2/v3 have the layout of g30v1/v2/v5: a flag octet, then the value.
    (PointType.ANALOG_OUTPUT, 1): AnalogVariation.INT32_WITH_FLAG,
    (PointType.ANALOG_OUTPUT, 2): AnalogVariation.INT16_WITH_FLAG,
    (PointType.ANALOG_OUTPUT, 3): AnalogVariation.FLOAT32_WITH_FLAG,
}


@dataclass(slots=True)
class _Current:
    """One served point's value as the master is told it."""

    served: ServedPoint
    value: float = 0.0
    state: int = 0  # DNP3 state: 0/1 single-bit; 0-3 double-bit
    flags: int = RESTART  # never updated since start: not online, restart
    ts_ms: int = 0


def state_bits(pv_value: Value, kind: PointKind, double: bool) -> int:
    """The DNP3 state of a bus value: 0/1 single-bit, 0-3 (between/off/on/invalid) double-bit.

    A bus state point maps ON to 1 (single-bit) and its two-bit state unchanged (double-bit);
    a number maps non-zero to on.
    """
    if kind is PointKind.STATE:
        code = int(pv_value) & 3
        return code if double else int(code == State.ON)
    on = pv_value != 0
    if double:
        return int(State.ON if on else State.OFF)
    return int(on)


class ServedDatabase:
    """What the outstation serves: every point's current value, static reads, events."""

    def __init__(self, points: Sequence[ServedPoint], events: EventBuffers) -> None:
        self.events = events
        self.recorded = 0
        self._by_group: dict[int, list[_Current]] = {}
        self._by_point: dict[str, list[_Current]] = {}
        self._by_key: dict[tuple[PointType, int], _Current] = {}
        self.reload(points)

    def reload(self, points: Sequence[ServedPoint]) -> None:
        """Serve these points from now on (a reload); the event buffers stay as they are.

        A point whose binding did not change keeps its current value; the others start as
        never updated until `prime` gives them their bus value.
        """
        kept = {(c.served, c.served.point): c for cs in self._by_point.values() for c in cs}
        self._by_group, self._by_point, self._by_key = {}, {}, {}
        for sp in sorted(points, key=lambda p: (p.type.static_group, p.index)):
            current = kept.get((sp, sp.point)) or _Current(sp)
            self._by_group.setdefault(sp.type.static_group, []).append(current)
            self._by_point.setdefault(sp.point, []).append(current)
            self._by_key[sp.type, sp.index] = current

    @property
    def points(self) -> set[str]:
        return set(self._by_point)

    def served(self, point_type: PointType, index: int) -> ServedPoint | None:
        """The point served at a type and index, if any."""
        current = self._by_key.get((point_type, index))
        return None if current is None else current.served

    # -- bus values -----------------------------------------------------------------

    def prime(self, pv: PointValue, kind: PointKind) -> None:
        """Take a bus value as the current one without reporting it (start, new points)."""
        for current in self._by_point.get(pv.point, ()):
            self._set(current, pv, kind)
            sp = current.served
            if sp.type is PointType.BINARY_INPUT:
                self.events.prime_binary(sp.index, BinaryPoint(bool(current.state), current.flags))
            elif sp.type is PointType.ANALOG_INPUT:
                self.events.prime_analog(sp.index, AnalogPoint(current.value, current.flags))

    def apply(self, pv: PointValue, kind: PointKind) -> int:
        """Take a bus change: the new static value, and an event where the point has a class.

        Returns how many events were recorded (a deadband or an unchanged binary records
        none).
        """
        recorded = 0
        for current in self._by_point.get(pv.point, ()):
            self._set(current, pv, kind)
            sp = current.served
            if not sp.events:
                continue
            event_class = EventClass(sp.events)
            if sp.type is PointType.BINARY_INPUT:
                event = self.events.record_binary(
                    sp.index,
                    BinaryPoint(bool(current.state), current.flags),
                    event_class=event_class,
                    timestamp_ms=current.ts_ms,
                    synchronized=not pv.quality.timestamp_invalid,
                )
                recorded += event is not None
            elif sp.type is PointType.ANALOG_INPUT:
                analog = self.events.record_analog(
                    sp.index,
                    AnalogPoint(current.value, current.flags),
                    event_class=event_class,
                    deadband=sp.deadband,
                    timestamp_ms=current.ts_ms,
                )
                recorded += analog is not None
            elif sp.type is PointType.FROZEN_COUNTER:
                self.events.record_frozen_counter(
                    sp.index,
                    _counter(current),
                    event_class=event_class,
                    timestamp_ms=current.ts_ms,
                )
                recorded += 1
        self.recorded += recorded
        return recorded

    def _set(self, current: _Current, pv: PointValue, kind: PointKind) -> None:
        point_type = current.served.type
        flags = flags_of(pv.quality, point_type)
        if point_type.is_binary:
            current.state = state_bits(pv.value, kind, point_type is PointType.DOUBLE_BIT)
        else:
            value = float(pv.value)
            if point_type in (PointType.COUNTER, PointType.FROZEN_COUNTER) and not (
                math.isfinite(value) and value >= 0
            ):
                value, flags = 0.0, COMM_LOST  # a count that cannot be served: not online
            current.value = value
        current.flags = flags
        current.ts_ms = int(pv.ts * 1000)

    # -- static reads (py1815's BlockReadProvider) ----------------------------------

    def read(self, headers: Sequence[ObjectHeader]) -> bytes:
        """The static objects the headers name, as one body."""
        return b"".join(self.read_blocks(headers))

    def read_blocks(self, headers: Sequence[ObjectHeader]) -> Sequence[bytes]:
        """The static objects the headers name, one object header per block.

        A class 0 read is every static point in its configured variation; a group read in
        variation 0 the same for that group; a group read in a variation serves that one.
        Raises UnknownObject for a group or variation this outstation does not serve.
        """
        blocks: list[bytes] = []
        for header in headers:
            if header.is_class_request:
                if header.event_class == 0:
                    for group in GROUP_ORDER:
                        blocks += self._blocks(group, self._by_group.get(group, ()), None)
                continue
            group = header.group
            if group in _EVENT_GROUPS:
                continue  # the events the session cannot answer: there are none to send
            point_type = _TYPE_OF_GROUP.get(group)
            if point_type is None:
                raise UnknownObject(f"group {group} is not served")
            variation = header.variation or None
            if variation is not None and variation not in STATIC_VARIATIONS[point_type]:
                raise UnknownObject(f"group {group} variation {variation} is not served")
            chosen = _select(self._by_group.get(group, []), header)
            blocks += self._blocks(group, chosen, variation)
        return blocks

    @staticmethod
    def _blocks(group: int, points: Iterable[_Current], variation: int | None) -> list[bytes]:
        """Runs of consecutive indices in one variation, each as a ranged object block."""
        blocks: list[bytes] = []
        run: list[_Current] = []
        run_variation = 0

        def close() -> None:
            if run:
                first, last = run[0].served.index, run[-1].served.index
                header = object_header(group, run_variation, start=first, stop=last)
                blocks.append(header + b"".join(encode(c, run_variation) for c in run))

        for current in points:
            v = current.served.static_variation if variation is None else variation
            if run and (
                v != run_variation
                or current.served.index != run[-1].served.index + 1
                or len(run) >= BLOCK_POINTS
            ):
                close()
                run = []
            if not run:
                run_variation = v
            run.append(current)
        close()
        return blocks

    # -- controls -------------------------------------------------------------------

    def control_target(
        self, control: Control, kind: PointKind
    ) -> tuple[str, Value] | CommandStatus:
        """The bus command (point, value) a control stands for, or the status refusing it.

        A CROB addresses binary-output points, an analog output analog-output points, and
        only those marked writable; anything else is NOT_SUPPORTED. `kind` is the bus kind
        of the addressed point (PointKind.REAL when unknown).
        """
        command = control.command
        if control.group == GROUP_BINARY_OUTPUT_COMMAND and isinstance(
            command, ControlRelayOutputBlock
        ):
            sp = self.served(PointType.BINARY_OUTPUT, control.index)
            if sp is None or not sp.writable:
                return CommandStatus.NOT_SUPPORTED
            on = crob_state(command, sp)
            if on is None:
                return CommandStatus.NOT_SUPPORTED
            if kind is PointKind.STATE:
                return sp.point, int(State.ON if on else State.OFF)
            return sp.point, int(on)
        if control.group == GROUP_ANALOG_OUTPUT_COMMAND and isinstance(command, AnalogOutput):
            sp = self.served(PointType.ANALOG_OUTPUT, control.index)
            if sp is None or not sp.writable:
                return CommandStatus.NOT_SUPPORTED
            value = float(command.value)
            if not math.isfinite(value):
                return CommandStatus.FORMAT_ERROR
            if kind is not PointKind.REAL:
                if value != round(value):
                    return CommandStatus.OUT_OF_RANGE
                return sp.point, round(value)
            return sp.point, value
        return CommandStatus.NOT_SUPPORTED

    def control_point(self, control: Control) -> str | None:
        """The bus point a control addresses (writable or not), for its bus kind."""
        point_type = (
            PointType.BINARY_OUTPUT
            if control.group == GROUP_BINARY_OUTPUT_COMMAND
            else PointType.ANALOG_OUTPUT
        )
        sp = self.served(point_type, control.index)
        return None if sp is None else sp.point


def crob_state(command: ControlRelayOutputBlock, sp: ServedPoint) -> bool | None:
    """The state a CROB commands (True on, False off), or None for one not supported.

    Close -> on and trip -> off whatever the operation; without a trip/close code, latch
    on -> on, latch off -> off, and a pulse (on or off) commands the point's `pulse` state
    (a point without `pulse` refuses pulses).
    """
    if command.clear or command.queued:
        return None
    tcc = command.trip_close
    if tcc is TripCloseCode.CLOSE:
        return True
    if tcc is TripCloseCode.TRIP:
        return False
    if tcc is not TripCloseCode.NUL:
        return None
    op = command.operation
    if op == OperationType.LATCH_ON:
        return True
    if op == OperationType.LATCH_OFF:
        return False
    if op in (OperationType.PULSE_ON, OperationType.PULSE_OFF) and sp.pulse is not None:
        return sp.pulse == "on"
    return None


def _counter(current: _Current) -> CounterPoint:
    return CounterPoint(int(current.value), current.flags)


def encode(current: _Current, variation: int) -> bytes:
    """One static object of a served point in a variation of its group."""
    point_type = current.served.type
    flags = current.flags
    if point_type is PointType.BINARY_INPUT:
        return encode_binary(BinaryPoint(bool(current.state), flags))
    if point_type is PointType.BINARY_OUTPUT:
        return bytes([(flags & ~STATE | (STATE if current.state else 0)) & 0xFF])
    if point_type is PointType.DOUBLE_BIT:
        return bytes([(flags & 0x3F) | ((current.state & 3) << DOUBLE_BIT_SHIFT)])
    if point_type is PointType.COUNTER:
        return encode_counter(_counter(current))
    if point_type is PointType.FROZEN_COUNTER:
        fv = FrozenCounterVariation(variation)
        timed = fv is FrozenCounterVariation.INT32_WITH_FLAG_AND_TIME
        return encode_frozen_counter(
            _counter(current), variation=fv, timestamp_ms=current.ts_ms if timed else None
        )
    return encode_analog(AnalogPoint(current.value, flags), _ANALOG_LAYOUT[point_type, variation])


def _select(points: list[_Current], header: ObjectHeader) -> list[_Current]:
    """The points of one group a header's qualifier names."""
    qualifier = header.qualifier
    if qualifier is QualifierCode.ALL_OBJECTS:
        return points
    if qualifier in (QualifierCode.UINT8_START_STOP, QualifierCode.UINT16_START_STOP):
        start = header.start or 0
        stop = start if header.stop is None else header.stop
        return [c for c in points if start <= c.served.index <= stop]
    if qualifier in (QualifierCode.UINT8_COUNT, QualifierCode.UINT16_COUNT):
        return points[: header.count or 0]
    if header.indices is not None:
        wanted = set(header.indices)
        return [c for c in points if c.served.index in wanted]
    return points


__all__ = ["ServedDatabase", "crob_state", "encode", "state_bits"]
