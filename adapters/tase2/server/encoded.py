"""The encoded AccessResult of each point's current value, kept until the value changes.

A polled point is read far more often than it changes; the bus hands out the same
:class:`~gateway.points.PointValue` object until the next change, so its encoding per
point type is kept beside it and reused while that object is current.
"""

from __future__ import annotations

from collections.abc import Iterable

from adapters.tase2.mms.data import DataAccessError, encode_access_result
from adapters.tase2.model.points import PointType, PointTypeInfo
from gateway.points import PointValue

__all__ = ["UNAVAILABLE", "EncodedValues"]

UNAVAILABLE = encode_access_result(DataAccessError.TEMPORARILY_UNAVAILABLE)
"""The AccessResult of a point that is gone from the bus."""


class EncodedValues:
    """AccessResult octets of point values, per point and TASE.2 type, while current."""

    __slots__ = ("_by_type",)

    def __init__(self) -> None:
        self._by_type: dict[PointType, dict[str, tuple[PointValue, bytes]]] = {}

    def join(self, info: PointTypeInfo, values: Iterable[PointValue | None]) -> bytes:
        """The AccessResults of ``values`` as ``info``'s type, concatenated (each as
        ``info.encode_bytes``; a point that is gone is temporarily-unavailable)."""
        cache = self._by_type.get(info.type)
        if cache is None:
            cache = self._by_type[info.type] = {}
        encode = info.encode_bytes
        out = []
        for pv in values:
            if pv is None:
                out.append(UNAVAILABLE)
                continue
            hit = cache.get(pv.point)
            if hit is not None and hit[0] is pv:
                out.append(hit[1])
                continue
            octets = encode(pv)
            cache[pv.point] = (pv, octets)
            out.append(octets)
        return b"".join(out)
