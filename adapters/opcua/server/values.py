"""Bus values as OPC UA DataValues, and client-written Variants as bus values.

Reals are Double; discretes Int32 or Int64; a state is its Int32 code (0 between, 1 off,
2 on, 3 invalid) or a Boolean (on = true; between and invalid are served Uncertain at best).
The StatusCode is `status.status_of(quality)`, so a value that is not valid is never Good.
"""

from __future__ import annotations

import math
from datetime import UTC

from asyncua import ua

from adapters.opcua import status
from adapters.opcua.ranges import INTEGER_RANGES
from gateway.bus import Value
from gateway.points import PointKind, PointValue, Quality, State, Validity

VariantType = ua.VariantType


class ServedValue(ua.DataValue):
    """A DataValue that nobody changes once served: asyncua deep-copies every value it
    hands to a monitored item (most of the cost of a change with a subscriber), and a copy
    of a value that never changes is the value itself. Its StatusCode is shared between the
    values served with it, for the same reason."""

    __slots__ = ()

    def __deepcopy__(self, memo: dict[int, object]) -> ServedValue:
        return self


class WriteRefused(Exception):
    """A client's write that cannot become a command; `code` is the StatusCode to answer."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(detail)
        self.code = code


def variant_type(kind: PointKind, type_: str, discrete_type: str, state_as: str) -> VariantType:
    """The Variant type a point is served as."""
    if kind is PointKind.REAL:
        return VariantType.Double
    chosen = (
        type_ if type_ != "auto" else (discrete_type if kind is PointKind.DISCRETE else state_as)
    )
    if chosen == "boolean" and kind is PointKind.STATE:
        return VariantType.Boolean
    return VariantType.Int64 if chosen == "int64" else VariantType.Int32


def raw_of(value: float | int, vtype: VariantType) -> float | int | bool:
    """The Python value of a bus value in a Variant of `vtype`."""
    if vtype is VariantType.Double:
        return float(value)
    if vtype is VariantType.Boolean:
        return int(value) == State.ON
    return int(value)


_STATUS: dict[tuple[Quality, VariantType, bool], ua.StatusCode] = {}
"""(quality, type, served state is on/off) -> the StatusCode served (shared: it is never
changed once served, see `ServedValue`; a few dozen entries at most)."""


def _status(quality: Quality, vtype: VariantType, on_off: bool) -> ua.StatusCode:
    key = (quality, vtype, on_off)
    code = _STATUS.get(key)
    if code is None:
        value = status.status_of(quality)
        if not on_off and quality.validity is not Validity.NOT_VALID:
            value = status.UNCERTAIN  # a Boolean state that is neither on nor off
        code = _STATUS[key] = ua.StatusCode(ua.UInt32(value))
    return code


_RANGES = INTEGER_RANGES
"""The integer types a bus value may not fit (a Double takes any, a Boolean any state)."""

OUT_OF_RANGE = ua.StatusCode(ua.UInt32(status.BAD_OUT_OF_RANGE))
"""The StatusCode of a served value that does not fit its variable's type (shared)."""


def fits(value: float | int, vtype: VariantType) -> bool:
    """Whether a bus value can be served in a Variant of `vtype`."""
    bounds = _RANGES.get(vtype)
    if bounds is None:
        return True
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return bounds[0] <= int(value) <= bounds[1]


def source_time(ts: float) -> ua.DateTime:
    """A bus source time stamp (POSIX seconds) as a DataValue's SourceTimestamp."""
    return ua.DateTime.fromtimestamp(ts, UTC)


def datavalue_of(
    pv: PointValue, vtype: VariantType, now: ua.DateTime, stamp: ua.DateTime | None = None
) -> ua.DataValue:
    """The DataValue serving a bus value: source time stamp from the bus (`stamp`, where the
    caller has it already, is `source_time(pv.ts)`), server time stamp `now`. A value that
    does not fit the variable's type is served without a value and with `OUT_OF_RANGE` (an
    Int32 Variant of 2**31 would break the encoding of every client's publish response)."""
    value = pv.value
    if not fits(value, vtype):
        return ServedValue(
            Value=ua.Variant(),
            StatusCode=OUT_OF_RANGE,
            SourceTimestamp=source_time(pv.ts) if stamp is None else stamp,
            ServerTimestamp=now,
        )
    on_off = vtype is not VariantType.Boolean or int(value) in (State.ON, State.OFF)
    return ServedValue(
        Value=ua.Variant(raw_of(value, vtype), vtype),
        StatusCode=_status(pv.quality, vtype, on_off),
        SourceTimestamp=source_time(pv.ts) if stamp is None else stamp,
        ServerTimestamp=now,
    )


def value_of_write(variant: ua.Variant | None, kind: PointKind, vtype: VariantType) -> Value:
    """The bus value a client's written Variant stands for; raises WriteRefused."""
    raw = None if variant is None else variant.Value
    if isinstance(raw, bool):
        if vtype is VariantType.Boolean:
            return State.ON if raw else State.OFF
        raise WriteRefused(status.BAD_TYPE_MISMATCH, f"a Boolean for a {vtype.name} variable")
    if not isinstance(raw, int | float) or (isinstance(raw, float) and not math.isfinite(raw)):
        raise WriteRefused(status.BAD_TYPE_MISMATCH, f"{raw!r} is not a number")
    if kind is PointKind.REAL:
        return float(raw)
    if isinstance(raw, float) and not raw.is_integer():
        raise WriteRefused(status.BAD_TYPE_MISMATCH, f"{raw!r} is not an integer")
    number = int(raw)
    if kind is PointKind.STATE:
        if vtype is VariantType.Boolean or number not in tuple(State):
            raise WriteRefused(status.BAD_OUT_OF_RANGE, f"{number} is not a state code (0-3)")
        return State(number)
    return number
