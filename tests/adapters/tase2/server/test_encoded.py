"""Encoded point values, kept while the bus holds the same value."""

from __future__ import annotations

import dataclasses

from adapters.tase2.mms.data import DataAccessError, encode_access_result
from adapters.tase2.model.points import PointType
from adapters.tase2.server.encoded import EncodedValues
from gateway.points import GOOD, PointValue

T0 = 1_700_000_000.0


def test_a_value_is_encoded_once_while_it_is_current() -> None:
    encodings: list[str] = []
    real = PointType.DATA_REALQ_TIMETAG.info

    def counting(pv: PointValue) -> bytes:
        encodings.append(pv.point)
        return real.encode_bytes(pv)

    info = dataclasses.replace(real, encode_bytes=counting)
    p1, p2 = PointValue("P1", 1.5, GOOD, T0, 0), PointValue("P2", 2.5, GOOD, T0, 0)
    encoded = EncodedValues()
    octets = encoded.join(info, [p1, None, p2])
    assert octets == real.encode_bytes(p1) + encode_access_result(
        DataAccessError.TEMPORARILY_UNAVAILABLE
    ) + real.encode_bytes(p2)
    assert encoded.join(info, [p2, p1]) == real.encode_bytes(p2) + real.encode_bytes(p1)
    assert encodings == ["P1", "P2"]  # the second join took both from what was kept
    newer = PointValue("P1", 3.5, GOOD, T0 + 1, 1)
    assert encoded.join(info, [newer]) == real.encode_bytes(newer)
    assert encodings == ["P1", "P2", "P1"]


def test_each_point_type_keeps_its_own_encoding() -> None:
    pv = PointValue("P1", 1.5, GOOD, T0, 0)
    encoded = EncodedValues()
    for ptype in (PointType.DATA_REAL, PointType.DATA_REALQ, PointType.DATA_REALQ_TIMETAG):
        assert encoded.join(ptype.info, [pv]) == ptype.info.encode_bytes(pv)
