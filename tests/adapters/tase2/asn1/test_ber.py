"""BER codec: examples of use, edge cases, and property tests (round-trip, fuzz)."""

from __future__ import annotations

import contextlib
import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.tase2.asn1.ber import (
    BerError,
    decode_bit_string,
    decode_boolean,
    decode_header,
    decode_integer,
    decode_oid,
    decode_tlv,
    decode_unsigned,
    encode_bit_string,
    encode_boolean,
    encode_integer,
    encode_length,
    encode_oid,
    encode_unsigned,
    is_constructed,
    iter_tlv,
    tlv,
)

# --------------------------------------------------------------------------- examples


@pytest.mark.parametrize(
    ("n", "encoded"),
    [
        (0, "00"),
        (127, "7f"),
        (128, "8180"),
        (255, "81ff"),
        (256, "820100"),
        (65535, "82ffff"),
        (65536, "83010000"),
    ],
)
def test_length_uses_short_form_then_shortest_long_form(n: int, encoded: str) -> None:
    assert encode_length(n).hex() == encoded


def test_tlv_and_decode_tlv_give_positions_not_copies() -> None:
    # Read ICC1/... request header from Annex A: a0 2a 02 01 01 ...
    pdu = tlv(0xA0, tlv(0x02, encode_integer(1)) + tlv(0xA4, b"\x00" * 37))
    tag, cs, ce, nxt = decode_tlv(pdu, 0, len(pdu))
    assert (tag, cs, ce, nxt) == (0xA0, 2, len(pdu), len(pdu))
    children = list(iter_tlv(pdu, cs, ce))
    assert [c[0] for c in children] == [0x02, 0xA4]
    assert decode_integer(pdu, children[0][1], children[0][2]) == 1


def test_long_form_length() -> None:
    content = bytes(300)
    encoded = tlv(0x04, content)
    assert encoded[:4] == b"\x04\x82\x01\x2c"
    assert decode_tlv(encoded, 0, len(encoded)) == (0x04, 4, 304, 304)


def test_multi_octet_tag() -> None:
    encoded = tlv(0xBF4A, b"\x80\x00")
    assert encoded == bytes.fromhex("bf4a02 8000".replace(" ", ""))
    assert decode_tlv(encoded, 0, len(encoded)) == (0xBF4A, 3, 5, 5)
    assert is_constructed(0xBF4A)
    assert not is_constructed(0x9F4A)


def test_indefinite_length_is_accepted_on_input() -> None:
    # 30 80 { 02 01 01  a0 80 { 04 01 00 } 00 00 } 00 00
    data = bytes.fromhex("3080020101a08004010000000000")
    tag, cs, ce, nxt = decode_tlv(data, 0, len(data))
    assert (tag, cs, ce, nxt) == (0x30, 2, 12, 14)
    inner = list(iter_tlv(data, cs, ce))
    assert [(t, s, e, n) for t, s, e, n in inner] == [(0x02, 4, 5, 5), (0xA0, 7, 10, 12)]


def test_decode_header_reports_indefinite_as_minus_one() -> None:
    assert decode_header(b"\x30\x80\x00\x00", 0, 4) == (0x30, 2, -1)
    assert decode_header(b"\x04\x02ab", 0, 4) == (0x04, 2, 2)


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, "00"),
        (127, "7f"),
        (128, "0080"),
        (-1, "ff"),
        (-128, "80"),
        (-129, "ff7f"),
        (65000, "00fde8"),
    ],
)
def test_integer_minimal_twos_complement(value: int, encoded: str) -> None:
    assert encode_integer(value).hex() == encoded
    raw = bytes.fromhex(encoded)
    assert decode_integer(raw, 0, len(raw)) == value


def test_unsigned_adds_leading_zero_when_high_bit_set() -> None:
    assert encode_unsigned(255) == b"\x00\xff"
    assert encode_unsigned(127) == b"\x7f"
    with pytest.raises(ValueError):
        encode_unsigned(-1)
    with pytest.raises(BerError):
        decode_unsigned(b"\xff", 0, 1)


@pytest.mark.parametrize(
    ("oid", "encoded"),
    [
        ("2.2.1.0.1", "52010001"),  # ACSE abstract syntax
        ("1.0.9506.2.1", "28ca220201"),  # MMS abstract syntax
        ("1.0.9506.2.3", "28ca220203"),  # MMS application context
        ("2.1.1", "5101"),  # BER
        ("1.1.1.999", "29018767"),  # libiec61850 default AP-title
        ("2.2.3.1", "520301"),  # password mechanism
        ("2.999.3", "883703"),
    ],
)
def test_object_identifiers(oid: str, encoded: str) -> None:
    assert encode_oid(oid).hex() == encoded
    raw = bytes.fromhex(encoded)
    assert decode_oid(raw, 0, len(raw)) == oid


def test_boolean_and_bit_string() -> None:
    assert encode_boolean(True) == b"\xff"
    assert decode_boolean(b"\x01", 0, 1) is True
    # sender-acse-requirements: 1 bit "authentication" encoded as libiec61850 does: 04 80
    assert decode_bit_string(b"\x04\x80", 0, 2) == (b"\x80", 4)
    assert encode_bit_string(b"\xff\xff", 10) == b"\x06\xff\xc0"


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("hex_data", "offset", "words"),
    [
        ("", 0, "truncated BER tag"),
        ("30", 1, "truncated BER length"),
        ("3005 0201", 1, "exceeds"),
        ("3085 0000000001", 1, "more than 4"),
        ("3082 01", 1, "truncated BER long-form"),
        ("1f", 1, "multi-octet tag"),
        ("1f8181 8101 00", 0, "longer than 4"),
        ("0480 0000", 0, "primitive"),
        ("3080 020101", 0, "end-of-contents"),
    ],
)
def test_malformed_input_names_problem_and_offset(hex_data: str, offset: int, words: str) -> None:
    data = bytes.fromhex(hex_data.replace(" ", ""))
    with pytest.raises(BerError) as info:
        decode_tlv(data, 0, len(data))
    assert info.value.offset == offset
    assert words in info.value.message


def test_length_claiming_two_gigabytes_fails_without_allocating() -> None:
    data = b"\x04\x84\x7f\xff\xff\xff" + bytes(10)
    tracemalloc.start()
    try:
        with pytest.raises(BerError, match="exceeds"):
            decode_tlv(data, 0, len(data))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100_000


def test_end_beyond_buffer_is_a_ber_error() -> None:
    # decode_tlv trusts `end <= len(data)` (hot path); iter_tlv checks it once
    with pytest.raises(BerError):
        list(iter_tlv(b"\x04\x05ab", 0, 100))


def test_iter_tlv_rejects_trailing_garbage() -> None:
    data = b"\x02\x01\x05\x02"
    with pytest.raises(BerError) as info:
        list(iter_tlv(data, 0, len(data)))
    assert info.value.offset == 4


def test_oid_errors() -> None:
    with pytest.raises(BerError):
        decode_oid(b"", 0, 0)
    with pytest.raises(BerError, match="truncated"):
        decode_oid(b"\x2b\x86", 0, 2)
    with pytest.raises(ValueError):
        encode_oid("1.40")
    with pytest.raises(ValueError):
        encode_oid("not.an.oid")


def test_deeply_nested_indefinite_lengths_are_bounded() -> None:
    depth = 1000
    data = b"\x30\x80" * depth + b"\x00\x00" * depth
    with pytest.raises(BerError, match="too deeply"):
        decode_tlv(data, 0, len(data))


# --------------------------------------------------------------------------- properties

tags = st.one_of(
    st.integers(0, 0xFF).filter(lambda t: t & 0x1F != 0x1F),
    st.integers(0x1F, 0x7F).map(lambda n: 0x9F00 | n),
    st.integers(0x80, 0x3FFF).map(lambda n: 0xBF0000 | ((n >> 7 | 0x80) << 8) | (n & 0x7F)),
)


@given(st.integers(0, 2**32 - 1))
def test_length_round_trip(n: int) -> None:
    encoded = b"\x04" + encode_length(n)
    # only the header is read: an `end` far beyond the buffer stands in for n content octets
    assert decode_header(encoded, 0, len(encoded) + n) == (0x04, len(encoded), n)


@given(tags, st.binary(max_size=300))
def test_tlv_round_trip(tag: int, content: bytes) -> None:
    encoded = tlv(tag, content)
    t, cs, ce, nxt = decode_tlv(encoded, 0, len(encoded))
    assert t == tag
    assert encoded[cs:ce] == content
    assert nxt == len(encoded)


@given(st.integers(-(2**80), 2**80))
def test_integer_round_trip(value: int) -> None:
    raw = encode_integer(value)
    assert decode_integer(raw, 0, len(raw)) == value
    assert len(raw) == 1 or not (
        (raw[0] == 0 and raw[1] < 0x80) or (raw[0] == 0xFF and raw[1] >= 0x80)
    )


@given(st.integers(0, 2**70))
def test_unsigned_round_trip(value: int) -> None:
    raw = encode_unsigned(value)
    assert decode_unsigned(raw, 0, len(raw)) == value


oids = st.builds(
    lambda first, second, rest: ".".join(map(str, [first, second, *rest])),
    st.integers(0, 1),
    st.integers(0, 39),
    st.lists(st.integers(0, 2**40), max_size=8),
) | st.builds(
    lambda second, rest: ".".join(map(str, [2, second, *rest])),
    st.integers(0, 10_000),
    st.lists(st.integers(0, 2**40), max_size=8),
)


@given(oids)
def test_oid_round_trip(oid: str) -> None:
    raw = encode_oid(oid)
    assert decode_oid(raw, 0, len(raw)) == oid


@given(st.binary(max_size=8), st.integers(0, 64))
def test_bit_string_round_trip(value: bytes, nbits: int) -> None:
    nbits = min(nbits, len(value) * 8)
    raw = encode_bit_string(value, nbits)
    octets, count = decode_bit_string(raw, 0, len(raw))
    assert count == nbits
    assert encode_bit_string(octets, count) == raw


def walk(data: bytes, start: int, end: int, budget: list[int]) -> None:
    """Decode everything below [start, end) recursively, as an MMS decoder would."""
    for tag, cs, ce, _ in iter_tlv(data, start, end):
        budget[0] -= 1
        assert budget[0] > 0, "decoder did not make progress"
        if is_constructed(tag):
            walk(data, cs, ce, budget)
        elif tag == 0x02 and ce > cs:
            decode_integer(data, cs, ce)
        elif tag == 0x06 and ce > cs:
            decode_oid(data, cs, ce)


@given(st.binary(max_size=200))
def test_random_bytes_raise_only_ber_error(data: bytes) -> None:
    try:
        walk(data, 0, len(data), [10_000])
    except BerError as exc:
        assert 0 <= exc.offset <= len(data)


nested = st.recursive(
    st.builds(tlv, st.sampled_from([0x02, 0x04, 0x80, 0x81, 0x1A]), st.binary(max_size=20)),
    lambda inner: st.builds(
        lambda tag, parts: tlv(tag, b"".join(parts)),
        st.sampled_from([0x30, 0xA0, 0xA1, 0x61, 0xBF4A]),
        st.lists(inner, max_size=4),
    ),
    max_leaves=20,
)


@given(nested, st.data())
def test_mutated_valid_encodings_raise_only_ber_error(valid: bytes, data: st.DataObject) -> None:
    walk(valid, 0, len(valid), [10_000])
    mutated = bytearray(valid)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(mutated) - 1))
        mutated[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(mutated)))
    for candidate in (bytes(mutated), bytes(mutated[:cut])):
        with contextlib.suppress(BerError):
            walk(candidate, 0, len(candidate), [10_000])
