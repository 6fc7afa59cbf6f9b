"""Bus commands -> TASE.2 Writes of remote points, and Write outcomes -> CommandFailure.

Sans-IO: :func:`write_value` builds the MMS Data of a commanded value (inverse of the
client's scale/offset and the point's ISN ax+b, in the remote point's type), and
:func:`failure_of` maps a DataAccessError to the bus's typed failure.
"""

from __future__ import annotations

import math

from adapters.tase2.client.ingest import PointSlot
from adapters.tase2.mms.data import Data, DataAccessError
from adapters.tase2.model.points import PointType
from gateway.bus import CommandError, CommandFailure, Value
from gateway.points import GOOD, PointKind, PointValue, now

__all__ = ["DEFAULT_TYPES", "failure_of", "write_value"]

DEFAULT_TYPES: dict[PointKind, PointType] = {
    PointKind.REAL: PointType.DATA_REAL,
    PointKind.DISCRETE: PointType.DATA_DISCRETE,
    PointKind.STATE: PointType.DATA_STATE,
}
"""The type a write uses for a point whose type is neither configured nor learnt yet."""

_FAILURES: dict[DataAccessError, CommandFailure] = {
    DataAccessError.OBJECT_INVALIDATED: CommandFailure.DEVICE_FAILURE,
    DataAccessError.HARDWARE_FAULT: CommandFailure.DEVICE_FAILURE,
    DataAccessError.TEMPORARILY_UNAVAILABLE: CommandFailure.BUSY,
    DataAccessError.OBJECT_ACCESS_DENIED: CommandFailure.NOT_PERMITTED,
    DataAccessError.OBJECT_UNDEFINED: CommandFailure.UNKNOWN_POINT,
    DataAccessError.INVALID_ADDRESS: CommandFailure.UNKNOWN_POINT,
    DataAccessError.TYPE_UNSUPPORTED: CommandFailure.INVALID_VALUE,
    DataAccessError.TYPE_INCONSISTENT: CommandFailure.INVALID_VALUE,
    DataAccessError.OBJECT_ATTRIBUTE_INCONSISTENT: CommandFailure.INVALID_VALUE,
    DataAccessError.OBJECT_ACCESS_UNSUPPORTED: CommandFailure.NOT_PERMITTED,
    DataAccessError.OBJECT_NON_EXISTENT: CommandFailure.UNKNOWN_POINT,
    DataAccessError.OBJECT_VALUE_INVALID: CommandFailure.INVALID_VALUE,
}


def failure_of(error: DataAccessError) -> CommandFailure:
    """The bus failure for a Write answered with ``error``."""
    return _FAILURES.get(error, CommandFailure.DEVICE_FAILURE)


def write_value(slot: PointSlot, value: Value) -> Data:
    """The MMS Data that writes bus ``value`` to the remote point of ``slot``.

    Raises CommandError(INVALID_VALUE) for a value that is not a finite number or not a
    state, or that no raw value maps to (multiplier 0).
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CommandError(CommandFailure.INVALID_VALUE, f"{value!r} is not a finite number")
    raw: float | int
    if slot.kind is PointKind.STATE:
        if value != int(value) or not 0 <= value <= 3:
            raise CommandError(CommandFailure.INVALID_VALUE, f"{value!r} is not a state (0-3)")
        raw = int(value)
    else:
        if slot.a == 0:
            raise CommandError(CommandFailure.INVALID_VALUE, "the point's multiplier is 0")
        raw = (value - slot.b) / slot.a
        if slot.kind is PointKind.DISCRETE:
            raw = round(raw)
    ptype = slot.effective_type or DEFAULT_TYPES[slot.kind]
    return ptype.info.encode(PointValue(slot.point, raw, GOOD, now(), 0))
