"""The DNP3 master's object decoder against bodies built by hand from IEEE 1815-2012's layouts,
against py1815's encoders and decoder, and against arbitrary bytes."""

from __future__ import annotations

import math
import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from py1815 import control, objects
from py1815.application import QualifierCode
from py1815.decode import Decoded, decode_objects
from py1815.decode import PointType as Py1815Point

from adapters.dnp3.flags import ONLINE, PointType
from adapters.dnp3.objects import ControlEcho, DecodedBody, ObjectRun, decode_body

BI, DB, BO = PointType.BINARY_INPUT, PointType.DOUBLE_BIT, PointType.BINARY_OUTPUT
CTR, FRZ = PointType.COUNTER, PointType.FROZEN_COUNTER
AI, AO = PointType.ANALOG_INPUT, PointType.ANALOG_OUTPUT

T = 0x0123456789AB
"""A 48-bit DNP3 time, ms since the epoch; on the wire (little-endian): ``TIME``."""
TIME = "ab 89 67 45 23 01"


def body(text: str) -> bytes:
    """Octets written as hex, with ``|`` between fields for reading (ignored)."""
    return bytes.fromhex(text.replace("|", " "))


def run_of(data: bytes) -> ObjectRun:
    """The one run a body holds, read without a problem."""
    decoded = decode_body(data)
    assert decoded.problem is None
    assert len(decoded.runs) == 1
    assert not decoded.echoes
    return decoded.runs[0]


def as_tuple(run: ObjectRun) -> tuple[Any, ...]:
    return (
        run.point_type,
        run.event,
        list(run.indices),
        run.values,
        run.flags,
        run.times,
    )


# Each case: header (group, variation, qualifier, range) | objects, and what it decodes to:
# (point type, event, indices, values, flags, times).
PINNED = {
    # g1v1 packed, start-stop 1-octet 3..12: bits low first 0xA5 = 1,0,1,0,0,1,0,1; 0x02 = 0,1
    "g1v1": (
        "01 01 00 03 0c | a5 02",
        (BI, False, list(range(3, 13)), [1, 0, 1, 0, 0, 1, 0, 1, 0, 1], [1] * 10, None),
    ),
    # g1v2 flags, start-stop 2-octet 258..259: 0x81 online + state on, 0x02 restart + off
    "g1v2": ("01 02 01 02 01 03 01 | 81 | 02", (BI, False, [258, 259], [1, 0], [1, 2], None)),
    # g2v1 flags, count 2 with 1-octet index: [5] 0x81, [9] 0xa1 (chatter + on)
    "g2v1": ("02 01 17 02 | 05 81 | 09 a1", (BI, True, [5, 9], [1, 1], [1, 0x21], None)),
    # g2v2 flags + absolute time, count 1 with 2-octet index 7
    "g2v2": (f"02 02 28 01 00 | 07 00 01 {TIME}", (BI, True, [7], [0], [1], [T])),
    # g3v1 packed 2-bit, start-stop 0..4: 0x9c = 00 11 01 10 from the low pair; 0x01 = 01
    "g3v1": (
        "03 01 00 00 04 | 9c 01",
        (DB, False, [0, 1, 2, 3, 4], [0, 3, 1, 2, 1], [1] * 5, None),
    ),
    # g3v2 flags (state bits 6-7), start-stop 1..3: 0x81 on(2), 0x41 off(1), 0xe3 indet.(3)
    "g3v2": (
        "03 02 00 01 03 | 81 | 41 | e3",
        (DB, False, [1, 2, 3], [2, 1, 3], [1, 1, 0x23], None),
    ),
    # g4v1 flags, index 2: 0x82 = determined on, restart and not online
    "g4v1": ("04 01 17 01 | 02 82", (DB, True, [2], [2], [0x02], None)),
    # g4v2 flags + time, index 3
    "g4v2": (f"04 02 17 01 | 03 41 {TIME}", (DB, True, [3], [1], [1], [T])),
    # g10v1 packed, start-stop 0..1: 0x02 = 0, 1
    "g10v1": ("0a 01 00 00 01 | 02", (BO, False, [0, 1], [0, 1], [1, 1], None)),
    # g10v2 flags, start-stop 0..0: 0x81
    "g10v2": ("0a 02 00 00 00 | 81", (BO, False, [0], [1], [1], None)),
    # g11v1 flags, index 1: 0x01 online, off
    "g11v1": ("0b 01 17 01 | 01 01", (BO, True, [1], [0], [1], None)),
    # g11v2 flags + time, 2-octet index 256
    "g11v2": (f"0b 02 28 01 00 | 00 01 81 {TIME}", (BO, True, [256], [1], [1], [T])),
    # counters are unsigned: g20v1 flags + u32, g20v2 flags + u16; v3/v4 (delta) read alike
    "g20v1": ("14 01 00 00 00 | 01 78 56 34 12", (CTR, False, [0], [0x12345678], [1], None)),
    "g20v2": ("14 02 00 00 00 | 41 ff ff", (CTR, False, [0], [0xFFFF], [0x41], None)),
    "g20v3": ("14 03 00 00 00 | 01 ff ff ff ff", (CTR, False, [0], [0xFFFFFFFF], [1], None)),
    "g20v4": ("14 04 00 00 00 | 01 34 12", (CTR, False, [0], [0x1234], [1], None)),
    # g20v5 u32 without flag, g20v6 u16 without flag: flags ONLINE
    "g20v5": (
        "14 05 00 05 06 | ff ff ff ff | 01 00 00 00",
        (CTR, False, [5, 6], [2**32 - 1, 1], [1, 1], None),
    ),
    "g20v6": ("14 06 00 00 00 | 34 12", (CTR, False, [0], [0x1234], [1], None)),
    # frozen counters: v1/v2 flags + u32/u16, v5/v6 the same + freeze time, v9/v10 no flag
    "g21v1": ("15 01 00 00 00 | 01 78 56 34 12", (FRZ, False, [0], [0x12345678], [1], None)),
    "g21v2": ("15 02 00 00 00 | 01 34 12", (FRZ, False, [0], [0x1234], [1], None)),
    "g21v5": (f"15 05 00 00 00 | 03 ff ff ff ff {TIME}", (FRZ, False, [0], [2**32 - 1], [3], [T])),
    "g21v6": (f"15 06 00 00 00 | 01 34 12 {TIME}", (FRZ, False, [0], [0x1234], [1], [T])),
    "g21v9": ("15 09 00 00 00 | 78 56 34 12", (FRZ, False, [0], [0x12345678], [1], None)),
    "g21v10": ("15 0a 00 00 00 | 34 12", (FRZ, False, [0], [0x1234], [1], None)),
    # counter events (g22) and frozen counter events (g23), 1-octet index 4
    "g22v1": ("16 01 17 01 | 04 01 78 56 34 12", (CTR, True, [4], [0x12345678], [1], None)),
    "g22v2": ("16 02 17 01 | 04 01 34 12", (CTR, True, [4], [0x1234], [1], None)),
    "g22v5": (f"16 05 17 01 | 04 01 78 56 34 12 {TIME}", (CTR, True, [4], [0x12345678], [1], [T])),
    "g22v6": (f"16 06 17 01 | 04 01 34 12 {TIME}", (CTR, True, [4], [0x1234], [1], [T])),
    "g23v1": ("17 01 17 01 | 04 01 78 56 34 12", (FRZ, True, [4], [0x12345678], [1], None)),
    "g23v2": ("17 02 17 01 | 04 01 34 12", (FRZ, True, [4], [0x1234], [1], None)),
    "g23v5": (f"17 05 17 01 | 04 01 78 56 34 12 {TIME}", (FRZ, True, [4], [0x12345678], [1], [T])),
    "g23v6": (f"17 06 17 01 | 04 01 34 12 {TIME}", (FRZ, True, [4], [0x1234], [1], [T])),
    # analogs are signed: g30v1 flags + i32, v2 flags + i16, v3 i32, v4 i16, v5 flags +
    # float32, v6 flags + float64
    "g30v1": ("1e 01 00 00 00 | 01 ff ff ff ff", (AI, False, [0], [-1], [1], None)),
    "g30v2": ("1e 02 00 00 00 | 21 fe ff", (AI, False, [0], [-2], [0x21], None)),
    "g30v3": ("1e 03 00 00 00 | 00 00 00 80", (AI, False, [0], [-(2**31)], [1], None)),
    "g30v4": ("1e 04 00 00 00 | 00 80", (AI, False, [0], [-32768], [1], None)),
    "g30v5": ("1e 05 00 00 00 | 41 00 00 c0 3f", (AI, False, [0], [1.5], [0x41], None)),
    "g30v6": ("1e 06 00 00 00 | 01 00 00 00 00 00 00 04 c0", (AI, False, [0], [-2.5], [1], None)),
    # analog events, 2-octet index 0x0203: v1-v8 as g30 with (v3, v4, v7, v8) the time after
    "g32v1": ("20 01 28 01 00 | 03 02 01 ff ff ff ff", (AI, True, [515], [-1], [1], None)),
    "g32v2": ("20 02 28 01 00 | 03 02 01 fe ff", (AI, True, [515], [-2], [1], None)),
    "g32v3": (f"20 03 28 01 00 | 03 02 01 ff ff ff ff {TIME}", (AI, True, [515], [-1], [1], [T])),
    "g32v4": (f"20 04 28 01 00 | 03 02 01 fe ff {TIME}", (AI, True, [515], [-2], [1], [T])),
    "g32v5": ("20 05 28 01 00 | 03 02 01 00 00 c0 3f", (AI, True, [515], [1.5], [1], None)),
    "g32v6": (
        "20 06 28 01 00 | 03 02 01 00 00 00 00 00 00 04 c0",
        (AI, True, [515], [-2.5], [1], None),
    ),
    "g32v7": (f"20 07 28 01 00 | 03 02 01 00 00 c0 3f {TIME}", (AI, True, [515], [1.5], [1], [T])),
    "g32v8": (
        f"20 08 28 01 00 | 03 02 01 00 00 00 00 00 00 04 c0 {TIME}",
        (AI, True, [515], [-2.5], [1], [T]),
    ),
    # analog output status: flags + i32, i16, float32, float64
    "g40v1": ("28 01 00 00 00 | 01 ff ff ff ff", (AO, False, [0], [-1], [1], None)),
    "g40v2": ("28 02 00 00 00 | 01 fe ff", (AO, False, [0], [-2], [1], None)),
    "g40v3": ("28 03 00 00 00 | 01 00 00 c0 3f", (AO, False, [0], [1.5], [1], None)),
    "g40v4": ("28 04 00 00 00 | 01 00 00 00 00 00 00 04 c0", (AO, False, [0], [-2.5], [1], None)),
    # analog output events, 1-octet index 9
    "g42v1": ("2a 01 17 01 | 09 01 ff ff ff ff", (AO, True, [9], [-1], [1], None)),
    "g42v2": ("2a 02 17 01 | 09 01 fe ff", (AO, True, [9], [-2], [1], None)),
    "g42v3": (f"2a 03 17 01 | 09 01 ff ff ff ff {TIME}", (AO, True, [9], [-1], [1], [T])),
    "g42v4": (f"2a 04 17 01 | 09 01 fe ff {TIME}", (AO, True, [9], [-2], [1], [T])),
    "g42v5": ("2a 05 17 01 | 09 01 00 00 c0 3f", (AO, True, [9], [1.5], [1], None)),
    "g42v6": ("2a 06 17 01 | 09 01 00 00 00 00 00 00 04 c0", (AO, True, [9], [-2.5], [1], None)),
    "g42v7": (f"2a 07 17 01 | 09 01 00 00 c0 3f {TIME}", (AO, True, [9], [1.5], [1], [T])),
    "g42v8": (
        f"2a 08 17 01 | 09 01 00 00 00 00 00 00 04 c0 {TIME}",
        (AO, True, [9], [-2.5], [1], [T]),
    ),
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_each_variation_decodes_as_the_standard_lays_it_out(name: str) -> None:
    text, expected = PINNED[name]
    assert as_tuple(run_of(body(text))) == expected


def test_start_stop_indices_are_a_range_and_prefixed_ones_a_list() -> None:
    assert run_of(body("1e 04 00 02 03 | 01 00 02 00")).indices == range(2, 4)
    assert run_of(body("1e 04 17 02 | 05 01 00 | 02 02 00")).indices == [5, 2]


# g30v4 (i16, no flag) objects 7 and -1 behind every supported qualifier.
QUALIFIERS = {
    # start-stop, 1/2/4-octet: 4..5
    0x00: ("04 05", "", [4, 5]),
    0x01: ("04 00 05 00", "", [4, 5]),
    0x02: ("04 00 00 00 05 00 00 00", "", [4, 5]),
    # count, 1/2/4-octet, no prefix: indices 0..count-1
    0x07: ("02", "", [0, 1]),
    0x08: ("02 00", "", [0, 1]),
    0x09: ("02 00 00 00", "", [0, 1]),
    # count with an index before each object: 1, 2, 4 octets (0x39: 4-octet count too)
    0x17: ("02", "08 | 03 |", [8, 3]),
    0x28: ("02 00", "08 00 | 03 01 |", [8, 259]),
    0x39: ("02 00 00 00", "08 00 00 00 | 03 00 01 00 |", [8, 65539]),
    # the other combinations of prefix codes 1-3 and count range codes
    0x18: ("02 00", "08 | 03 |", [8, 3]),
    0x19: ("02 00 00 00", "08 | 03 |", [8, 3]),
    0x27: ("02", "08 00 | 03 01 |", [8, 259]),
    0x29: ("02 00 00 00", "08 00 | 03 01 |", [8, 259]),
    0x37: ("02", "08 00 00 00 | 03 00 01 00 |", [8, 65539]),
    0x38: ("02 00", "08 00 00 00 | 03 00 01 00 |", [8, 65539]),
    # an index prefix with a start-stop range: the range counts, the prefixes index
    0x10: ("00 01", "08 | 03 |", [8, 3]),
    0x21: ("00 00 01 00", "08 00 | 03 01 |", [8, 259]),
    0x32: ("00 00 00 00 01 00 00 00", "08 00 00 00 | 03 00 01 00 |", [8, 65539]),
}


@pytest.mark.parametrize("qualifier", sorted(QUALIFIERS), ids=lambda q: f"0x{q:02x}")
def test_every_supported_qualifier(qualifier: int) -> None:
    range_field, prefixes, indices = QUALIFIERS[qualifier]
    first, _, second = prefixes.partition("|")
    second = second.rstrip("|")
    data = body(f"1e 04 {qualifier:02x} {range_field} | {first} 07 00 | {second} ff ff")
    run = run_of(data)
    assert (list(run.indices), run.values, run.flags) == (indices, [7, -1], [1, 1])


@pytest.mark.parametrize("prefix_code", [0, 1, 2, 3])
@pytest.mark.parametrize("range_code", [0, 1, 2, 7, 8, 9])
def test_every_prefix_code_with_every_range_code(prefix_code: int, range_code: int) -> None:
    width = {0: 1, 1: 2, 2: 4, 7: 1, 8: 2, 9: 4}[range_code]
    if range_code < 7:  # start 4, stop 6
        range_field = (4).to_bytes(width, "little") + (6).to_bytes(width, "little")
    else:  # count 3
        range_field = (3).to_bytes(width, "little")
    prefix_width = {0: 0, 1: 1, 2: 2, 3: 4}[prefix_code]
    chosen = [0xFF, 0x10, 0x00] if prefix_width else []  # the prefixes, out of order
    objects_ = b"".join(
        (chosen[n].to_bytes(prefix_width, "little") if prefix_width else b"")
        + struct.pack("<h", value)
        for n, value in enumerate([7, -1, 300])
    )
    qualifier = prefix_code << 4 | range_code
    run = run_of(bytes([30, 4, qualifier]) + range_field + objects_)
    implied = [4, 5, 6] if range_code < 7 else [0, 1, 2]
    assert list(run.indices) == (chosen or implied)
    assert (run.values, run.flags) == ([7, -1, 300], [1, 1, 1])


def test_relative_time_events_add_the_last_common_time_before_them() -> None:
    data = body(
        # g2v3 before any common time: flags + 16-bit offset 0x0010
        "02 03 17 01 | 01 81 10 00 |"
        # g51v1 common time (synchronized), count 1: T
        f"33 01 07 01 | {TIME} |"
        # g2v3 index 4, offset 16; g4v3 index 6 (double-bit on), offset 0xffff
        "02 03 17 01 | 04 01 10 00 | 04 03 17 01 | 06 81 ff ff |"
        # g51v2 (unsynchronized) T + 1000, then g2v3 index 5 offset 1
        "33 02 07 01 | 93 8d 67 45 23 01 | 02 03 17 01 | 05 81 01 00"
    )
    decoded = decode_body(data)
    assert decoded.problem is None
    assert [(r.point_type, list(r.indices), r.values, r.times) for r in decoded.runs] == [
        (BI, [1], [1], [None]),
        (BI, [4], [0], [T + 16]),
        (DB, [6], [2], [T + 0xFFFF]),
        (BI, [5], [1], [T + 1000 + 1]),
    ]
    assert all(r.event for r in decoded.runs)


def test_control_echoes() -> None:
    data = body(
        # g12v1 CROB, 2-octet index 3: code 0x41 (pulse on, close), count 1, on 100 ms,
        # off 200 ms, status 2 (no select)
        "0c 01 28 01 00 | 03 00 | 41 01 64 00 00 00 c8 00 00 00 02 |"
        # g41v1 i32 + status, 1-octet index 1: 10, status 0
        "29 01 17 01 | 01 0a 00 00 00 00 |"
        # g41v2 i16 + status: -2, status octet 0x88: 8 (too many operations), bit 7 is
        # reserved and dropped
        "29 02 17 01 | 02 fe ff 88 |"
        # g41v3 float32 + status: 1.5, status 0; g41v4 float64 + status: -2.5, status 1
        "29 03 17 01 | 03 00 00 c0 3f 00 |"
        "29 04 17 01 | 04 00 00 00 00 00 00 04 c0 01"
    )
    decoded = decode_body(data)
    assert decoded.problem is None
    assert not decoded.runs
    assert decoded.echoes == [
        ControlEcho(12, 1, 3, 2, body("41 01 64 00 00 00 c8 00 00 00 02")),
        ControlEcho(41, 1, 1, 0, body("0a 00 00 00 00")),
        ControlEcho(41, 2, 2, 8, body("fe ff 88")),
        ControlEcho(41, 3, 3, 0, body("00 00 c0 3f 00")),
        ControlEcho(41, 4, 4, 1, body("00 00 00 00 00 00 04 c0 01")),
    ]


def test_times_are_collected_and_time_delays_read_past() -> None:
    data = body(
        # g50v1 absolute time, count 1; g52v2 fine time delay 100 ms; g52v1 coarse 2 s
        f"32 01 07 01 | {TIME} | 34 02 07 01 | 64 00 | 34 01 07 01 | 02 00 |"
        # g50v3 last recorded time: T + 1; then a g30v4 object
        "32 03 07 01 | ac 89 67 45 23 01 | 1e 04 00 00 00 | 07 00"
    )
    decoded = decode_body(data)
    assert decoded == DecodedBody(
        [ObjectRun(AI, False, range(1), [7], [1], None)], [], [T, T + 1], None
    )


def test_several_headers_in_one_body() -> None:
    data = body("01 02 00 00 01 | 81 01 | 1e 05 17 01 | 02 01 00 00 c0 3f")
    decoded = decode_body(data)
    assert decoded.problem is None
    assert [as_tuple(r) for r in decoded.runs] == [
        (BI, False, [0, 1], [1, 0], [1, 1], None),
        (AI, False, [2], [1.5], [1], None),
    ]


def test_an_empty_body_and_an_empty_run() -> None:
    assert decode_body(b"") == DecodedBody([], [], [], None)
    run = run_of(body("20 07 28 00 00"))
    assert (list(run.indices), run.values, run.flags, run.times) == ([], [], [], [])


def test_floats_are_read_bit_exact() -> None:
    nan = struct.pack("<f", math.nan)
    run = run_of(body("1e 05 00 00 02 | 01") + nan + body("01 00 00 80 7f | 01 01 00 00 00"))
    assert math.isnan(run.values[0])
    assert run.values[1:] == [math.inf, struct.unpack("<f", b"\x01\x00\x00\x00")[0]]


# A valid first header (g30v4 index 0 = 7, octets 0-6), then a bad one at body offset 7.
FIRST = "1e 04 00 00 00 07 00"
PROBLEMS = {
    "all objects": ("1e 04 06", "g30v4 qualifier 0x06 at body offset 7: unsupported qualifier"),
    "variable size": ("1e 04 0b 01", "g30v4 qualifier 0x0b at body offset 7: unsupported"),
    "size prefix": ("1e 04 47 01 00", "g30v4 qualifier 0x47 at body offset 7: unsupported"),
    "reserved bit": ("1e 04 80 00 00", "g30v4 qualifier 0x80 at body offset 7: unsupported"),
    "unknown group": ("0d 01 17 01 00 00", "g13v1 qualifier 0x17 at body offset 7: unsupported"),
    "variation 0": ("1e 00 00 00 00", "g30v0 qualifier 0x00 at body offset 7: unsupported"),
    "delta frozen": ("15 03 00 00 00 01 00 00 00 00", "g21v3 qualifier 0x00 at body offset 7"),
    "packed with index": ("01 01 17 01 00 01", "g1v1 qualifier 0x17 at body offset 7: packed"),
    "stop before start": ("1e 04 00 05 04", "g30v4 qualifier 0x00 at body offset 7: stop index 4"),
    "header cut": ("1e 04", "object header truncated at body offset 7"),
    "range cut": ("1e 04 01 00", "g30v4 qualifier 0x01 at body offset 7: range field truncated"),
    "objects cut": ("1e 04 00 00 01 07 00 08", "g30v4 qualifier 0x00 at body offset 7: 2 objects"),
    "echo cut": ("0c 01 17 01 00 41 01", "g12v1 qualifier 0x17 at body offset 7: 1 objects"),
    "time cut": ("32 01 07 01 00", "g50v1 qualifier 0x07 at body offset 7: 1 objects"),
    "delay cut": ("34 02 07 02 00 00", "g52v2 qualifier 0x07 at body offset 7: 2 objects"),
    "huge count": ("1e 04 09 ff ff ff ff 00", "g30v4 qualifier 0x09 at body offset 7: 4294967295"),
}


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_a_bad_header_stops_decoding_keeps_what_came_before_and_says_where(name: str) -> None:
    rest, problem = PROBLEMS[name]
    decoded = decode_body(body(FIRST + rest))
    assert decoded.problem is not None
    assert decoded.problem.startswith(problem), decoded.problem
    assert [as_tuple(r) for r in decoded.runs] == [(AI, False, [0], [7], [1], None)]


# ---------------------------------------------------------------------------------------------
# py1815 as an independent oracle: its encoders build the bodies, its decoder reads them too.

PY1815_POINTS = {
    Py1815Point.BINARY_INPUT: BI,
    Py1815Point.BINARY_OUTPUT: BO,
    Py1815Point.COUNTER: CTR,
    Py1815Point.FROZEN_COUNTER: FRZ,
    Py1815Point.ANALOG_INPUT: AI,
    Py1815Point.ANALOG_OUTPUT: AO,
}


def same_number(value: float | int | bool | None) -> object:
    """A value as compared: floats bit-exact (every NaN alike), bools and ints as ints."""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else struct.pack("<d", value)
    return value if value is None else int(value)


Row = tuple[object, ...]


def ours(decoded: DecodedBody) -> tuple[list[Row], list[Row]]:
    """Our points (type, event, index, value, flags, time) and echoes (group, variation,
    index, raw), in order."""
    points: list[Row] = []
    for run in decoded.runs:
        times = run.times if run.times is not None else [None] * len(run.values)
        points.extend(
            (run.point_type, run.event, index, same_number(value), flags, time)
            for index, value, flags, time in zip(
                run.indices, run.values, run.flags, times, strict=True
            )
        )
    echoes: list[Row] = [(e.group, e.variation, e.index, e.raw) for e in decoded.echoes]
    return points, echoes


def theirs(decoded: Decoded) -> tuple[list[Row], list[Row]]:
    """py1815's objects in the same shape (no flag octet: ONLINE)."""
    points: list[Row] = []
    echoes: list[Row] = []
    for item in decoded.objects:
        if item.point is not None:
            flags = ONLINE if item.flags is None else item.flags
            points.append(
                (
                    PY1815_POINTS[item.point],
                    item.event,
                    item.index,
                    same_number(item.value),
                    flags,
                    item.time_ms,
                )
            )
        elif item.group in (12, 41):
            echoes.append((item.group, item.variation, item.index, item.raw))
    return points, echoes


indices16 = st.integers(0, 0xFFFF)
times48 = st.integers(0, 2**48 - 1)
low_flags = st.integers(0, 0x7F)
numbers = st.one_of(
    st.integers(-(2**31), 2**31 - 1).map(float),
    st.floats(width=32),
    st.floats(),
)
counts = st.integers(0, 2**32 - 1)
statuses = st.sampled_from(list(control.CommandStatus))


def events(
    draw: st.DrawFn, item: st.SearchStrategy[bytes], *, choose: bool = True
) -> tuple[list[tuple[int, bytes]], QualifierCode | None]:
    """1-8 (index, object) pairs and the qualifier to send them under: None lets
    ``event_block`` choose (when ``choose``), 8-bit ones get indices that fit."""
    options: list[QualifierCode | None] = [None] if choose else []
    options += [QualifierCode.UINT8_COUNT_UINT8_INDEX, QualifierCode.UINT16_COUNT_UINT16_INDEX]
    qualifier = draw(st.sampled_from(options))
    top = 0xFF if qualifier is QualifierCode.UINT8_COUNT_UINT8_INDEX else 0xFFFF
    items = draw(st.lists(st.tuples(st.integers(0, top), item), min_size=1, max_size=8))
    return items, qualifier


@st.composite
def py1815_block(draw: st.DrawFn) -> bytes:
    """One object header and its objects (or a common time), from py1815's encoders."""
    kind = draw(st.integers(0, 12))
    start = draw(st.integers(0, 400))
    binary = st.builds(objects.BinaryPoint, st.booleans(), low_flags)
    analog = st.builds(objects.AnalogPoint, numbers, low_flags)
    counter = st.builds(objects.CounterPoint, counts, low_flags)
    if kind == 0:
        return objects.binary_range(start, draw(st.lists(binary, min_size=1, max_size=20)))
    if kind == 1:
        variation = draw(st.sampled_from(list(objects.AnalogVariation)))
        points = draw(st.lists(analog, min_size=1, max_size=10))
        return objects.analog_range(start, points, variation=variation)
    if kind == 2:
        return objects.counter_range(start, draw(st.lists(counter, min_size=1, max_size=10)))
    if kind == 3:
        frozen_variation = draw(st.sampled_from(list(objects.FrozenCounterVariation)))
        timed = frozen_variation is objects.FrozenCounterVariation.INT32_WITH_FLAG_AND_TIME
        frozen = st.tuples(counter, times48 if timed else st.none())
        frozen_points = draw(st.lists(frozen, min_size=1, max_size=10))
        return objects.frozen_counter_range(start, frozen_points, variation=frozen_variation)
    if kind == 4:
        with_time = draw(st.booleans())
        event = st.builds(
            lambda point, time: objects.encode_binary_event(
                point, with_time=with_time, timestamp_ms=time if with_time else None
            ),
            binary,
            times48,
        )
        items, qualifier = events(draw, event)
        return objects.event_block(2, 2 if with_time else 1, items, qualifier=qualifier)
    if kind == 5:
        event = st.builds(objects.encode_binary_event_relative, binary, st.integers(0, 0xFFFF))
        items, qualifier = events(draw, event)
        return objects.event_block(2, 3, items, qualifier=qualifier)
    if kind == 6:
        event_variation = draw(st.sampled_from(list(objects.AnalogEventVariation)))
        timed = event_variation.value >= 3
        event = st.builds(
            lambda point, time: objects.encode_analog_event(
                point, variation=event_variation, timestamp_ms=time if timed else None
            ),
            analog,
            times48,
        )
        items, qualifier = events(draw, event)
        return objects.event_block(32, event_variation.value, items, qualifier=qualifier)
    if kind == 7:
        event = st.builds(
            lambda point, time: objects.encode_frozen_counter_event(point, timestamp_ms=time),
            counter,
            times48,
        )
        items, qualifier = events(draw, event)
        return objects.event_block(23, 5, items, qualifier=qualifier)
    if kind == 8:
        status = st.builds(
            lambda state, flags: control.encode_binary_output_status(state=state, flags=flags),
            st.booleans(),
            low_flags,
        )
        items, qualifier = events(draw, status, choose=False)
        assert qualifier is not None
        return objects.indexed_block(10, 2, items, qualifier=qualifier)
    if kind == 9:
        status_variation = draw(st.integers(1, 4))
        status = st.builds(
            lambda value, flags: control.encode_analog_output_status(
                value, status_variation, flags=flags
            ),
            numbers,
            low_flags,
        )
        items, qualifier = events(draw, status, choose=False)
        assert qualifier is not None
        return objects.indexed_block(40, status_variation, items, qualifier=qualifier)
    if kind == 10:
        crob = st.builds(
            control.ControlRelayOutputBlock,
            st.integers(0, 0xFF),
            st.integers(0, 0xFF),
            st.integers(0, 2**32 - 1),
            st.integers(0, 2**32 - 1),
            statuses,
        )
        items, qualifier = events(draw, crob.map(control.encode_crob))
        return objects.event_block(12, 1, items, qualifier=qualifier)
    if kind == 11:
        output_variation = draw(st.integers(1, 4))
        value = st.integers(-(2**15), 2**15 - 1).map(float)
        if output_variation >= 3:
            value |= st.floats(width=32, allow_nan=False, allow_infinity=False)
        output = st.builds(control.AnalogOutput, value, st.just(output_variation), statuses)
        items, qualifier = events(draw, output.map(control.encode_analog_output))
        return objects.event_block(41, output_variation, items, qualifier=qualifier)
    return objects.common_time(draw(times48), synchronized=draw(st.booleans()))


@given(st.lists(py1815_block(), max_size=5))
def test_bodies_from_py1815s_encoders_read_as_py1815_reads_them(blocks: list[bytes]) -> None:
    data = b"".join(blocks)
    mine, reference = decode_body(data), decode_objects(data)
    assert reference.problem is None
    assert mine.problem is None
    assert ours(mine) == theirs(reference)
    for echo in mine.echoes:
        assert echo.status == control.decode_control(echo.group, echo.variation, echo.raw).status


SIZES = {
    **{(1, 2): 1, (2, 1): 1, (2, 2): 7, (2, 3): 3, (10, 2): 1, (11, 1): 1, (11, 2): 7},
    **{(20, 1): 5, (20, 2): 3, (20, 5): 4, (20, 6): 2},
    **{(21, 1): 5, (21, 2): 3, (21, 5): 11, (21, 6): 9, (21, 9): 4, (21, 10): 2},
    **{(group, 1): 5 for group in (22, 23)},
    **{(group, 2): 3 for group in (22, 23)},
    **{(group, 5): 11 for group in (22, 23)},
    **{(group, 6): 9 for group in (22, 23)},
    **{(30, 1): 5, (30, 2): 3, (30, 3): 4, (30, 4): 2, (30, 5): 5, (30, 6): 9},
    **{(group, v): n for group in (32, 42) for v, n in enumerate((5, 3, 11, 9, 5, 9, 11, 15), 1)},
    **{(40, 1): 5, (40, 2): 3, (40, 3): 5, (40, 4): 9},
    **{(12, 1): 11, (41, 1): 5, (41, 2): 3, (41, 3): 5, (41, 4): 9},
}
"""Octets of one object (IEEE 1815-2012) of the variations both decoders read, but packed."""


@st.composite
def raw_block(draw: st.DrawFn) -> bytes:
    """One header of a variation both decoders read, with arbitrary object octets."""
    kind = draw(st.integers(0, 9))
    if kind == 0:  # packed binaries, start-stop 1 or 2 octets
        group = draw(st.sampled_from([1, 10]))
        start = draw(st.integers(0, 300))
        count = draw(st.integers(1, 20))
        if start + count <= 0x100 and draw(st.booleans()):
            header = bytes([group, 1, 0x00, start, start + count - 1])
        else:
            header = bytes([group, 1, 0x01]) + struct.pack("<HH", start, start + count - 1)
        return header + draw(st.binary(min_size=(count + 7) // 8, max_size=(count + 7) // 8))
    if kind == 1:  # a common time, an absolute time or a time delay, count 1
        group, variation, size = draw(
            st.sampled_from([(51, 1, 6), (51, 2, 6), (50, 1, 6), (52, 1, 2), (52, 2, 2)])
        )
        return bytes([group, variation, 0x07, 1]) + draw(st.binary(min_size=size, max_size=size))
    group, variation = draw(st.sampled_from(sorted(SIZES)))
    size = SIZES[group, variation]
    qualifier = draw(st.sampled_from([0x00, 0x01, 0x17, 0x28]))
    count = draw(st.integers(1 if qualifier < 0x10 else 0, 8))
    if qualifier == 0x00:
        start = draw(st.integers(0, 0x100 - count))
        header = bytes([start, start + count - 1])
    elif qualifier == 0x01:
        start = draw(st.integers(0, 0x10000 - count))
        header = struct.pack("<HH", start, start + count - 1)
    else:
        header = bytes([count]) if qualifier == 0x17 else struct.pack("<H", count)
    objects_ = b"".join(
        (
            draw(st.binary(min_size=qualifier >> 4, max_size=qualifier >> 4))
            + draw(st.binary(min_size=size, max_size=size))
        )
        for _ in range(count)
    )
    return bytes([group, variation, qualifier]) + header + objects_


@given(st.lists(raw_block(), max_size=6))
def test_arbitrary_objects_read_as_py1815_reads_them(blocks: list[bytes]) -> None:
    data = b"".join(blocks)
    mine, reference = decode_body(data), decode_objects(data)
    assert reference.problem is None
    assert mine.problem is None
    assert ours(mine) == theirs(reference)
    assert mine.times == [o.time_ms for o in reference.objects if o.group == 50]


@st.composite
def other_block(draw: st.DrawFn) -> bytes:
    """A header py1815 does not read: double-bit binaries, or a qualifier it has no name for
    (4-octet ranges, counts without prefixes, 4-octet prefixes and the mixed widths)."""
    if draw(st.booleans()):
        group, variation = draw(st.sampled_from([(3, 1), (3, 2), (4, 1), (4, 2), (4, 3)]))
        size = {(3, 2): 1, (4, 1): 1, (4, 2): 7, (4, 3): 3}.get((group, variation), 0)
    else:
        group, variation = draw(st.sampled_from(sorted(SIZES)))
        size = SIZES[group, variation]
    range_code = draw(st.sampled_from([0, 1, 2, 7, 8, 9]))
    prefix_code = 0 if size == 0 else draw(st.integers(0, 3))
    count = draw(st.integers(1 if range_code < 3 else 0, 9))
    width = {0: 1, 1: 2, 2: 4, 7: 1, 8: 2, 9: 4}[range_code]
    if range_code < 3:
        start = draw(st.integers(0, 2 ** (8 * width) - count))
        range_field = (start).to_bytes(width, "little") + (start + count - 1).to_bytes(
            width, "little"
        )
    else:
        range_field = count.to_bytes(width, "little")
    if size == 0:  # g3v1: 2-bit packed
        data = draw(st.binary(min_size=(count + 3) // 4, max_size=(count + 3) // 4))
    else:
        one = (1 << (prefix_code - 1) if prefix_code else 0) + size
        data = draw(st.binary(min_size=one * count, max_size=one * count))
    return bytes([group, variation, prefix_code << 4 | range_code]) + range_field + data


any_block = st.one_of(raw_block(), py1815_block(), other_block())


def check_shape(decoded: DecodedBody) -> None:
    """Never an internal error, and every run's lists parallel."""
    assert not (decoded.problem or "").startswith("internal"), decoded.problem
    for run in decoded.runs:
        assert len(run.indices) == len(run.values) == len(run.flags)
        assert run.times is None or len(run.times) == len(run.values)
        assert all(0 <= flags <= 0xFF for flags in run.flags)


@given(st.lists(any_block, min_size=1, max_size=5), st.data())
def test_a_cut_body_keeps_the_whole_headers_before_the_cut_and_names_the_cut_one(
    blocks: list[bytes], data: st.DataObject
) -> None:
    whole = b"".join(blocks)
    full = decode_body(whole)
    assert full.problem is None
    check_shape(full)
    cut = data.draw(st.integers(0, len(whole) - 1))
    kept = b""
    for block in blocks:
        if len(kept) + len(block) > cut:
            break
        kept += block
    decoded = decode_body(whole[:cut])
    check_shape(decoded)
    before = decode_body(kept)
    assert ours(decoded) == ours(before)
    assert decoded.times == before.times
    if cut == len(kept):
        assert decoded.problem is None
    else:
        assert decoded.problem is not None
        assert f"at body offset {len(kept)}" in decoded.problem


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    check_shape(decode_body(data))


@given(st.lists(any_block, min_size=1, max_size=5), st.data())
def test_mutated_bodies_never_raise(blocks: list[bytes], data: st.DataObject) -> None:
    octets = bytearray(b"".join(blocks))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(octets)))
        action = data.draw(st.sampled_from(["set", "insert", "delete"]))
        if action == "insert" or at == len(octets):
            octets[at:at] = bytes([data.draw(st.integers(0, 0xFF))])
        elif action == "set":
            octets[at] = data.draw(st.integers(0, 0xFF))
        else:
            del octets[at]
    check_shape(decode_body(bytes(octets)))
