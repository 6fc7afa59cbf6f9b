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
from gateway.bus import Value
from gateway.points import PointKind, PointValue, State, Validity

VariantType = ua.VariantType


class ServedValue(ua.DataValue):
    """A DataValue that nobody changes once served: asyncua deep-copies every value it
    hands to a monitored item (most of the cost of a change with a subscriber), and a copy
    of a value that never changes is the value itself."""

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


def datavalue_of(pv: PointValue, vtype: VariantType, now: ua.DateTime) -> ua.DataValue:
    """The DataValue serving a bus value (source time stamp from the bus)."""
    code = status.status_of(pv.quality)
    if (
        vtype is VariantType.Boolean
        and int(pv.value) not in (State.ON, State.OFF)
        and pv.quality.validity is not Validity.NOT_VALID
    ):
        code = status.UNCERTAIN
    return ServedValue(
        Value=ua.Variant(raw_of(pv.value, vtype), vtype),
        StatusCode=ua.StatusCode(ua.UInt32(code)),
        SourceTimestamp=ua.DateTime.fromtimestamp(pv.ts, UTC),
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
