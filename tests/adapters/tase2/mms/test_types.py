"""MMS TypeSpecification codec: reference bytes, round trips, conformance and bad input."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.tase2.asn1.ber import BerError, tlv
from adapters.tase2.mms.data import (
    Array,
    BinaryTime,
    BitString,
    Boolean,
    Float32,
    Float64,
    Integer,
    Structure,
    Unsigned,
    VisibleString,
)
from adapters.tase2.mms.errors import MmsDecodeError, MmsEncodeError
from adapters.tase2.mms.types import (
    MAX_TYPE_DEPTH,
    ArrayType,
    BinaryTimeType,
    BitStringType,
    BooleanType,
    FloatType,
    IntegerType,
    StructureComponent,
    StructureType,
    TypeSpecification,
    UnsignedType,
    UtcTimeType,
    VisibleStringType,
    conforms,
    decode_type_spec,
    encode_type_spec,
)
from tests.support.tase2.mms_strategies import type_specs

DATA_REAL = FloatType(32, 8)
DATA_FLAGS = BitStringType(8)
DATA_REALQ = StructureType(
    (StructureComponent("Value", DATA_REAL), StructureComponent("Flags", DATA_FLAGS))
)
# SISCO's generated table for Data_RealQ, as in reference section 5.7
DATA_REALQ_WIRE = (
    "a2 23 a1 21 30 11 80 05 56 61 6c 75 65 a1 08 a7 06 02 01 20 02 01 08"
    " 30 0c 80 05 46 6c 61 67 73 a1 03 84 01 08"
)


@pytest.mark.parametrize(
    ("spec", "wire"),
    [
        (DATA_REAL, "a7 06 02 01 20 02 01 08"),
        (FloatType(64, 11), "a7 06 02 01 40 02 01 0b"),
        (IntegerType(32), "85 01 20"),
        (UnsignedType(8), "86 01 08"),
        (BooleanType(), "83 00"),
        (VisibleStringType(-32), "8a 01 e0"),
        (VisibleStringType(-255), "8a 02 ff 01"),
        (BitStringType(12), "84 01 0c"),
        (BitStringType(-128), "84 01 80"),
        (BinaryTimeType(True), "8c 01 ff"),
        (UtcTimeType(), "91 00"),
        (DATA_REALQ, DATA_REALQ_WIRE),
        (ArrayType(3, IntegerType(16)), "a1 08 81 01 03 a2 03 85 01 10"),
    ],
)
def test_reference_encodings(spec: TypeSpecification, wire: str) -> None:
    raw = bytes.fromhex(wire)
    assert encode_type_spec(spec) == raw
    assert decode_type_spec(raw, 0, len(raw)) == (spec, len(raw))


def test_data_realq_timetag_and_transfer_set_name() -> None:
    realq_timetag = StructureType(
        (
            StructureComponent("Value", DATA_REAL),
            StructureComponent("TimeStamp", IntegerType(32)),
            StructureComponent("Flags", DATA_FLAGS),
        )
    )
    mms_object_name = StructureType(
        (
            StructureComponent("Scope", UnsignedType(8)),
            StructureComponent("DomainName", VisibleStringType(32)),
            StructureComponent("Name", VisibleStringType(32)),
        )
    )
    for spec in (realq_timetag, mms_object_name):
        raw = encode_type_spec(spec)
        assert decode_type_spec(raw, 0, len(raw))[0] == spec


def test_packed_and_unnamed_components() -> None:
    spec = StructureType((StructureComponent(None, BooleanType()),), packed=True)
    raw = encode_type_spec(spec)
    assert raw == bytes.fromhex("a2 0b 80 01 ff a1 06 30 04 a1 02 83 00")
    assert decode_type_spec(raw, 0, len(raw))[0] == spec


@given(type_specs)
def test_type_spec_roundtrip(spec: TypeSpecification) -> None:
    raw = encode_type_spec(spec)
    assert decode_type_spec(raw, 0, len(raw)) == (spec, len(raw))


def test_conforms() -> None:
    realq = Structure((Float32(1.0), BitString(8, b"\x00")))
    assert conforms(realq, DATA_REALQ)
    assert not conforms(Structure((Float64(1.0), BitString(8, b"\x00"))), DATA_REALQ)
    assert not conforms(Structure((Float32(1.0),)), DATA_REALQ)
    assert conforms(Integer(32767), IntegerType(16))
    assert not conforms(Integer(32768), IntegerType(16))
    assert conforms(Unsigned(255), UnsignedType(8))
    assert not conforms(Integer(1), UnsignedType(8))
    assert conforms(VisibleString("x" * 32), VisibleStringType(-32))
    assert not conforms(VisibleString("x" * 33), VisibleStringType(-32))
    assert not conforms(VisibleString("x"), VisibleStringType(32))
    assert conforms(BitString(5, b"\x00"), BitStringType(5))
    assert conforms(Array((Boolean(True),) * 2), ArrayType(2, BooleanType()))
    assert not conforms(Array((Boolean(True),)), ArrayType(2, BooleanType()))
    assert conforms(BinaryTime(5, 1), BinaryTimeType(True))
    assert not conforms(BinaryTime(5), BinaryTimeType(True))


def test_encode_errors() -> None:
    for bad in (IntegerType(256), FloatType(32, -1), ArrayType(-1, BooleanType())):
        with pytest.raises(MmsEncodeError):
            encode_type_spec(bad)


def test_depth_is_bounded() -> None:
    raw = b"\x83\x00"
    for _ in range(MAX_TYPE_DEPTH + 1):
        raw = tlv(0xA1, b"\x81\x01\x01" + tlv(0xA2, raw))
    with pytest.raises(MmsDecodeError):
        decode_type_spec(raw, 0, len(raw))


@given(st.binary(max_size=200))
def test_fuzz_random_bytes(raw: bytes) -> None:
    with contextlib.suppress(BerError):
        decode_type_spec(raw, 0, len(raw))


@given(type_specs, st.data())
def test_fuzz_mutated(spec: TypeSpecification, draw: st.DataObject) -> None:
    raw = bytearray(encode_type_spec(spec))
    pos = draw.draw(st.integers(0, len(raw) - 1))
    raw[pos] ^= draw.draw(st.integers(1, 255))
    cut = draw.draw(st.integers(0, len(raw)))
    with contextlib.suppress(BerError):
        decode_type_spec(bytes(raw[:cut]), 0, cut)
