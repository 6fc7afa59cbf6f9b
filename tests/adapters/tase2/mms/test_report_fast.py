"""The Data_RealQTimeTag report fast path against the general codec (the reference)."""

from __future__ import annotations

import contextlib
import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.tase2.asn1.ber import BerError
from adapters.tase2.mms.access import VariableAccessSpecification, VariableListName
from adapters.tase2.mms.data import (
    AccessResult,
    BitString,
    DataAccessError,
    Float32,
    Integer,
    Structure,
)
from adapters.tase2.mms.errors import MmsDecodeError, MmsEncodeError
from adapters.tase2.mms.names import ObjectName
from adapters.tase2.mms.pdu import Unconfirmed, decode_pdu, encode_pdu
from adapters.tase2.mms.report_fast import (
    RealQTimeTagColumns,
    columns_to_results,
    decode_realq_timetag_report,
    decode_realq_timetag_results,
    encode_realq_timetag_report,
    encode_realq_timetag_results,
)
from adapters.tase2.mms.services import InformationReport
from tests.support.tase2.mms_strategies import access_results, object_names, variable_access_specs

SPEC = VariableListName(ObjectName.dom("ICC1", "DS1"))

float32s = st.floats(width=32, allow_nan=False)
typical_ts = st.integers(1 << 23, (1 << 31) - 1)
any_ts = st.one_of(typical_ts, st.integers(-(2**40), 2**40), st.integers(-300, 300))
octets = st.integers(0, 255)


@st.composite
def columns(draw: st.DrawFn, timestamps: st.SearchStrategy[int] = any_ts) -> RealQTimeTagColumns:
    n = draw(st.integers(0, 40))
    return RealQTimeTagColumns(
        draw(st.lists(float32s, min_size=n, max_size=n)),
        draw(st.lists(timestamps, min_size=n, max_size=n)),
        draw(st.lists(octets, min_size=n, max_size=n)),
    )


def general_report(
    spec: VariableAccessSpecification, points: RealQTimeTagColumns, prefix: tuple[AccessResult, ...]
) -> bytes:
    return encode_pdu(Unconfirmed(InformationReport(spec, prefix + columns_to_results(points))))


def test_known_point_bytes() -> None:
    raw = encode_realq_timetag_results([123.5], [1700000000], [0x20])
    assert raw == bytes.fromhex("a2 11 87 05 08 42 f7 00 00 85 04 65 53 f1 00 84 02 00 20")
    raw = encode_realq_timetag_results([123.5], [0], [0x20])
    assert raw == bytes.fromhex("a2 0e 87 05 08 42 f7 00 00 85 01 00 84 02 00 20")


@given(variable_access_specs, columns(), st.lists(access_results, max_size=3).map(tuple))
def test_fast_encoder_equals_general(
    spec: VariableAccessSpecification, points: RealQTimeTagColumns, prefix: tuple[AccessResult, ...]
) -> None:
    fast = encode_realq_timetag_report(spec, points.values, points.timestamps, points.flags, prefix)
    assert fast == general_report(spec, points, prefix)


@given(columns(typical_ts))
def test_fast_encoder_equals_general_on_the_fixed_stride(points: RealQTimeTagColumns) -> None:
    fast = encode_realq_timetag_report(SPEC, points.values, points.timestamps, points.flags)
    assert fast == general_report(SPEC, points, ())


@given(variable_access_specs, columns(), st.lists(access_results, max_size=3).map(tuple))
def test_fast_decoder_equals_general(
    spec: VariableAccessSpecification, points: RealQTimeTagColumns, prefix: tuple[AccessResult, ...]
) -> None:
    raw = general_report(spec, points, prefix)
    decoded = decode_realq_timetag_report(raw, prefix_count=len(prefix))
    assert decoded is not None
    general = decode_pdu(raw)
    assert isinstance(general, Unconfirmed) and isinstance(general.service, InformationReport)
    assert decoded.spec == general.service.spec
    assert decoded.prefix == general.service.results[: len(prefix)]
    assert columns_to_results(decoded.points) == general.service.results[len(prefix) :]


@given(st.floats(width=32))
def test_nan_and_infinities_survive(x: float) -> None:
    raw = encode_realq_timetag_results([x], [1700000000], [0])
    assert raw[5:9] == encode_realq_timetag_results([x], [5], [0])[5:9]
    points = decode_realq_timetag_results(raw, 0, len(raw))
    assert points is not None
    value = points.values[0]
    assert (math.isnan(value) and math.isnan(x)) or value == x


def test_other_shapes_return_none() -> None:
    for results in (
        (DataAccessError.OBJECT_ACCESS_DENIED,),
        (Structure((Float32(1.0), BitString(8, b"\x00"))),),
        (Structure((Float32(1.0), Integer(1), BitString(5, b"\x00"))),),
        (Integer(3),),
    ):
        raw = encode_pdu(Unconfirmed(InformationReport(SPEC, results)))
        assert decode_realq_timetag_report(raw) is None
    raw = encode_realq_timetag_report(SPEC, [1.0], [1700000000], [0])
    assert decode_realq_timetag_report(raw, prefix_count=2) is None


def test_liberal_point_encodings_take_the_slow_path() -> None:
    # non-minimal time stamp and long-form structure length
    raw = bytes.fromhex("a2 81 12 87 05 08 42 f7 00 00 85 05 00 65 53 f1 00 84 02 00 20")
    points = decode_realq_timetag_results(raw, 0, len(raw))
    assert points == RealQTimeTagColumns([123.5], [1700000000], [0x20])


def test_encoder_errors() -> None:
    with pytest.raises(MmsEncodeError):
        encode_realq_timetag_results([1.0], [1700000000, 1], [0])
    with pytest.raises(MmsEncodeError):
        encode_realq_timetag_results([1.0], [1700000000], [256])
    with pytest.raises(MmsEncodeError):
        encode_realq_timetag_results([1e39], [1700000000], [0])
    with pytest.raises(MmsEncodeError):
        encode_realq_timetag_results([1e39], [0], [0])


def test_not_a_report() -> None:
    with pytest.raises(MmsDecodeError):
        decode_realq_timetag_report(bytes.fromhex("8b 00"))


@given(object_names, columns(typical_ts), st.data())
def test_fuzz_mutated_reports(
    name: ObjectName, points: RealQTimeTagColumns, draw: st.DataObject
) -> None:
    raw = bytearray(
        encode_realq_timetag_report(
            VariableListName(name), points.values, points.timestamps, points.flags
        )
    )
    for _ in range(draw.draw(st.integers(1, 3))):
        pos = draw.draw(st.integers(0, len(raw) - 1))
        if draw.draw(st.booleans()):
            raw[pos] ^= draw.draw(st.integers(1, 255))
        else:
            del raw[pos:]
            if not raw:
                break
    with contextlib.suppress(BerError):
        decode_realq_timetag_report(bytes(raw))


@given(st.binary(max_size=200))
def test_fuzz_random_results(raw: bytes) -> None:
    with contextlib.suppress(BerError):
        decode_realq_timetag_results(raw, 0, len(raw))


def test_struct_layout_matches_template() -> None:
    raw = encode_realq_timetag_results([2.5, -1.0], [2**30, -(2**30)], [1, 255])
    assert [struct.unpack(">5xf2xi3xB", raw[i : i + 19]) for i in (0, 19)] == [
        (2.5, 2**30, 1),
        (-1.0, -(2**30), 255),
    ]
