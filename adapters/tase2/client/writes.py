"""Bus commands -> TASE.2 Writes of remote points.

Sans-IO: :func:`write_value` builds the MMS Data of a commanded value (inverse of the
client's scale/offset and the point's ISN ax+b, in the remote point's type). What a failed
Write becomes on the bus is decided in :mod:`~adapters.tase2.client.failures`.
"""

from __future__ import annotations

import math

from adapters.tase2.client.ingest import PointSlot
from adapters.tase2.mms.data import Data
from adapters.tase2.model.points import PointType
from gateway.bus import CommandError, CommandFailure, Value
from gateway.points import GOOD, PointKind, PointValue, now

__all__ = ["DEFAULT_TYPES", "write_value"]

DEFAULT_TYPES: dict[PointKind, PointType] = {
    PointKind.REAL: PointType.DATA_REAL,
    PointKind.DISCRETE: PointType.DATA_DISCRETE,
    PointKind.STATE: PointType.DATA_STATE,
}
"""The type a write uses for a point whose type is neither configured nor learnt yet."""


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
