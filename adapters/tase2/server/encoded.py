"""The encoded AccessResult of each point's current value, kept until the value changes.

A polled point is read far more often than it changes; the bus hands out the same
:class:`~gateway.points.PointValue` object until the next change, so its encoding per
point type is kept beside it and reused while that object is current.
"""

from __future__ import annotations

from adapters.tase2.model.points import PointType, PointTypeInfo
from gateway.points import PointValue

__all__ = ["EncodedValues"]


class EncodedValues:
    """AccessResult octets of point values, per point and TASE.2 type, while current."""

    __slots__ = ("_by_type",)

    def __init__(self) -> None:
        self._by_type: dict[PointType, dict[str, tuple[PointValue, bytes]]] = {}

    def of(self, info: PointTypeInfo, pv: PointValue) -> bytes:
        """``pv`` encoded as ``info``'s type (as ``info.encode_bytes(pv)``)."""
        cache = self._by_type.get(info.type)
        if cache is None:
            cache = self._by_type[info.type] = {}
        hit = cache.get(pv.point)
        if hit is not None and hit[0] is pv:
            return hit[1]
        octets = info.encode_bytes(pv)
        cache[pv.point] = (pv, octets)
        return octets
