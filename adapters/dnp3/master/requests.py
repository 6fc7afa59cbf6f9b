"""The object headers and objects of the master's requests (sans-IO).

Polls: an integrity poll reads the event classes first (so that a present value is not
overwritten by an older change), then the static data; types given a variation in the
settings are read by that variation (opendnp3 test outstations send analogs as 32-bit
integers and events without time unless asked). Controls: one CROB (g12v1) or analog
output (g41) under qualifier 0x28, count 1.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Collection, Iterable, Mapping

from py1815.application import all_objects_header, class_header
from py1815.control import (
    AnalogOutput,
    ControlRelayOutputBlock,
    OperationType,
    TripCloseCode,
    encode_analog_output,
    encode_crob,
)

from adapters.dnp3.flags import PointType
from adapters.dnp3.master.settings import MasterPoint, Operation
from gateway.bus import CommandError, CommandFailure, Value
from gateway.points import State

EVENT_GROUP = {
    PointType.BINARY_INPUT: 2,
    PointType.DOUBLE_BIT: 4,
    PointType.BINARY_OUTPUT: 11,
    PointType.COUNTER: 22,
    PointType.FROZEN_COUNTER: 23,
    PointType.ANALOG_INPUT: 32,
    PointType.ANALOG_OUTPUT: 42,
}
EVENT_CLASSES = (1, 2, 3)
_COUNT1_INDEX16 = 0x28
_OUTPUT_LIMITS = {1: (-(1 << 31), (1 << 31) - 1), 2: (-(1 << 15), (1 << 15) - 1)}
_FLOAT32_MAX = 3.4028234663852886e38


def event_headers(
    classes: Iterable[int], variations: Mapping[PointType, int], types: Collection[PointType]
) -> bytes:
    """Read events: the mapped types with a configured variation by it, then the classes."""
    explicit = b"".join(
        all_objects_header(EVENT_GROUP[t], v) for t, v in variations.items() if t in types
    )
    return explicit + b"".join(class_header(c) for c in classes)


def integrity_headers(
    event_variations: Mapping[PointType, int],
    static_variations: Mapping[PointType, int],
    types: Collection[PointType],
) -> bytes:
    """Events of every class, then every mapped static type (class 0 when no variation is set)."""
    events = event_headers(EVENT_CLASSES, event_variations, types)
    if not static_variations:
        return events + class_header(0)
    ordered = [t for t in PointType if t in types]
    return events + b"".join(
        all_objects_header(t.static_group, static_variations.get(t, 0)) for t in ordered
    )


def unsolicited_headers() -> bytes:
    """The classes that ENABLE/DISABLE_UNSOLICITED name: 1, 2 and 3."""
    return b"".join(class_header(c) for c in EVENT_CLASSES)


OBJECT_HEADER_SIZE = 7
"""Group, variation, qualifier 0x28, count and index: what precedes a control's object."""


def _one(group: int, variation: int, index: int, obj: bytes) -> bytes:
    return struct.pack("<BBBHH", group, variation, _COUNT1_INDEX16, 1, index) + obj


def crob_for(binding: MasterPoint, value: Value) -> ControlRelayOutputBlock:
    """The CROB that commands a bus state (or 0/1) on a binary output; CommandError if none."""
    on = _wanted_on(binding, value)
    if binding.operation is Operation.LATCH:
        operation = OperationType.LATCH_ON if on else OperationType.LATCH_OFF
        trip_close = TripCloseCode.NUL
    elif binding.operation is Operation.TRIP_CLOSE:
        operation = OperationType.PULSE_ON
        trip_close = TripCloseCode.CLOSE if on else TripCloseCode.TRIP
    else:
        pulse_state = binding.pulse_state
        if pulse_state is not None and on != (pulse_state == "on"):
            raise CommandError(
                CommandFailure.INVALID_VALUE, f"{binding.point} pulses only to {pulse_state}"
            )
        operation = OperationType.PULSE_ON
        trip_close = TripCloseCode.NUL
    return ControlRelayOutputBlock.build(
        operation,
        trip_close=trip_close,
        count=binding.count,
        on_time_ms=binding.on_time_ms,
        off_time_ms=binding.off_time_ms,
    )


def _wanted_on(binding: MasterPoint, value: Value) -> bool:
    """ON or OFF from a bus state, through the binding's state table (raw 1 is on)."""
    table = binding.state_table
    try:
        raw = table.raw_of(State(int(value)))
    except ValueError:
        raise CommandError(CommandFailure.INVALID_VALUE, f"{value!r} is not a state") from None
    if raw not in (0, 1):
        raise CommandError(CommandFailure.INVALID_VALUE, f"state code {raw} is not off/on")
    return raw == 1


def crob_objects(index: int, crob: ControlRelayOutputBlock) -> bytes:
    """The object header and CROB of a SELECT, OPERATE or DIRECT_OPERATE."""
    return _one(12, 1, index, encode_crob(crob))


def analog_output_objects(index: int, variation: int, raw: float) -> bytes:
    """The object header and analog output of a command; CommandError when `raw` does not
    fit the variation (never sent clipped)."""
    if not math.isfinite(raw):
        raise CommandError(CommandFailure.INVALID_VALUE, f"{raw!r} is not a finite number")
    if variation in _OUTPUT_LIMITS:
        low, high = _OUTPUT_LIMITS[variation]
        number: float = round(raw)
        if not low <= number <= high:
            raise CommandError(
                CommandFailure.INVALID_VALUE, f"{raw} does not fit g41v{variation} ({low}..{high})"
            )
    else:
        number = raw
        if variation == 3 and abs(raw) > _FLOAT32_MAX:
            raise CommandError(CommandFailure.INVALID_VALUE, f"{raw} does not fit a float32")
    command = AnalogOutput(value=number, variation=variation)
    return _one(41, variation, index, encode_analog_output(command))
