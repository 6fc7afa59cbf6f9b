"""MMS Data codec: reference bytes, round trips, bit strings and hostile input."""

from __future__ import annotations

import contextlib
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.tase2.asn1.ber import BerError, tlv
from adapters.tase2.mms.data import (
    MAX_DATA_DEPTH,
    AccessResult,
    Array,
    BinaryTime,
    BitString,
    Boolean,
    Data,
    DataAccessError,
    Float32,
    Float64,
    Integer,
    OctetString,
    Structure,
    Unsigned,
    UtcTime,
    VisibleString,
    decode_access_result,
    decode_access_results,
    decode_data,
    encode_access_result,
    encode_access_results,
    encode_data,
)
from adapters.tase2.mms.errors import MmsDecodeError, MmsEncodeError
from tests.support.tase2.mms_strategies import access_results, data_values


def roundtrip(value: Data) -> Data:
    raw = encode_data(value)
    decoded, end = decode_data(raw, 0, len(raw))
    assert end == len(raw)
    return decoded


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (Float32(123.5), "87 05 08 42 f7 00 00"),
        (BitString(8, b"\x20"), "84 02 00 20"),
        (BitString.from_bits(5, [0]), "84 02 03 80"),
        (Integer(0), "85 01 00"),
        (Integer(1700000000), "85 04 65 53 f1 00"),
        (Integer(-1), "85 01 ff"),
        (Integer(128), "85 02 00 80"),
        (Unsigned(1), "86 01 01"),
        (Unsigned(255), "86 02 00 ff"),
        (Boolean(True), "83 01 ff"),
        (Boolean(False), "83 01 00"),
        (Float64(1.0), "87 09 0b 3f f0 00 00 00 00 00 00"),
        (VisibleString("ICC1"), "8a 04 49 43 43 31"),
        (OctetString(b"\x01\x02"), "89 02 01 02"),
        (BinaryTime(1000), "8c 04 00 00 03 e8"),
        (BinaryTime(1000, 2), "8c 06 00 00 03 e8 00 02"),
        (UtcTime(1700000000, 0x800000, 0x0A), "91 08 65 53 f1 00 80 00 00 0a"),
        (BitString(0, b""), "84 01 00"),
        (
            Structure((Float32(123.5), BitString(8, b"\x20"))),
            "a2 0b 87 05 08 42 f7 00 00 84 02 00 20",
        ),
        (Array(()), "a1 00"),
    ],
)
def test_reference_encodings(value: Data, wire: str) -> None:
    raw = bytes.fromhex(wire)
    assert encode_data(value) == raw
    assert decode_data(raw, 0, len(raw)) == (value, len(raw))


def test_mms_transfer_set_name_structure() -> None:
    raw = bytes.fromhex("a21a860101 8a0449434331 8a0f44535472616e7366657253657430 31")
    value, _ = decode_data(raw, 0, len(raw))
    assert value == Structure(
        (Unsigned(1), VisibleString("ICC1"), VisibleString("DSTransferSet01"))
    )


def test_liberal_decoding() -> None:
    # non-minimal integer, long-form length, unsigned without the leading 00, boolean 01,
    # set unused bits (cleared on decode), indefinite-length structure
    cases: list[tuple[str, Data]] = [
        ("85 03 00 00 05", Integer(5)),
        ("85 81 01 05", Integer(5)),
        ("86 01 ff", Unsigned(255)),
        ("83 01 01", Boolean(True)),
        ("84 02 03 ff", BitString(5, b"\xf8")),
        ("a2 80 85 01 01 00 00", Structure((Integer(1),))),
    ]
    for wire, expected in cases:
        raw = bytes.fromhex(wire)
        assert decode_data(raw, 0, len(raw)) == (expected, len(raw))


def test_bit_string_helpers() -> None:
    bits = BitString.from_bits(12, [0, 4, 11])
    assert bits.data == b"\x88\x10"
    assert [bits.bit(n) for n in (0, 1, 4, 11)] == [True, False, True, True]
    assert bits.set_bits() == [0, 4, 11]
    assert encode_data(bits) == bytes.fromhex("84 03 04 88 10")
    with pytest.raises(IndexError):
        bits.bit(12)
    with pytest.raises(MmsEncodeError):
        BitString(9, b"\x00")
    with pytest.raises(MmsEncodeError):
        BitString.from_bits(3, [3])
    # unused bits in the model are not sent
    assert encode_data(BitString(3, b"\xff")) == bytes.fromhex("84 02 05 e0")


def test_utc_time_timestamp() -> None:
    t = UtcTime.from_timestamp(1700000000.5, quality=0x0A)
    assert (t.seconds, t.fraction, t.quality) == (1700000000, 0x800000, 0x0A)
    assert t.timestamp == 1700000000.5


def test_encode_errors() -> None:
    for bad in (
        Unsigned(-1),
        Float32(1e39),
        VisibleString("é"),
        BinaryTime(-1),
        BinaryTime(0, 70000),
        UtcTime(-1),
    ):
        with pytest.raises(MmsEncodeError):
            encode_data(bad)
    with pytest.raises(MmsEncodeError):
        encode_data("not data")  # type: ignore[arg-type]


@pytest.mark.parametrize("code", list(DataAccessError))
def test_every_data_access_error(code: DataAccessError) -> None:
    raw = encode_access_result(code)
    assert raw == bytes((0x80, 0x01, int(code)))
    assert decode_access_result(raw, 0, len(raw)) == (code, 3)


def test_unknown_data_access_error_rejected() -> None:
    with pytest.raises(MmsDecodeError):
        decode_access_result(b"\x80\x01\x0c", 0, 3)


@given(data_values)
def test_data_roundtrip(value: Data) -> None:
    assert roundtrip(value) == value


@given(st.floats(width=32))
def test_float32_bits_survive(x: float) -> None:
    decoded = roundtrip(Float32(x))
    assert isinstance(decoded, Float32)
    assert math.isnan(x) == math.isnan(decoded.value)
    if not math.isnan(x):
        assert decoded.value == x


@given(st.lists(access_results, max_size=6))
def test_access_results_roundtrip(results: list[AccessResult]) -> None:
    raw = encode_access_results(results)
    assert decode_access_results(raw, 0, len(raw)) == tuple(results)


def test_depth_is_bounded() -> None:
    deep = b"\x85\x01\x00"
    for _ in range(MAX_DATA_DEPTH + 1):
        deep = tlv(0xA2, deep)
    with pytest.raises(MmsDecodeError):
        decode_data(deep, 0, len(deep))
    ok = b"\x85\x01\x00"
    for _ in range(MAX_DATA_DEPTH):
        ok = tlv(0xA2, ok)
    assert decode_data(ok, 0, len(ok))[1] == len(ok)
    # a very deep indefinite-length nest is refused without recursion errors
    nest = b"\xa2\x80" * 5000 + b"\x00\x00" * 5000
    with pytest.raises(BerError):
        decode_data(nest, 0, len(nest))


def test_huge_length_claim() -> None:
    raw = b"\xa2\x84\x7f\xff\xff\xff\x85\x01\x00"
    with pytest.raises(BerError):
        decode_data(raw, 0, len(raw))


@given(st.binary(max_size=200))
def test_fuzz_random_bytes(raw: bytes) -> None:
    with contextlib.suppress(BerError):
        decode_access_results(raw, 0, len(raw))


@given(data_values, st.data())
def test_fuzz_mutated(value: Data, draw: st.DataObject) -> None:
    raw = bytearray(encode_data(value))
    for _ in range(draw.draw(st.integers(1, 4))):
        op = draw.draw(st.sampled_from(["flip", "cut", "insert"]))
        pos = draw.draw(st.integers(0, max(len(raw) - 1, 0)))
        if op == "flip" and raw:
            raw[pos] ^= draw.draw(st.integers(1, 255))
        elif op == "cut":
            del raw[pos:]
        else:
            raw[pos:pos] = draw.draw(st.binary(min_size=1, max_size=4))
    with contextlib.suppress(BerError):
        decode_data(bytes(raw), 0, len(raw))
