"""The served database: bus values as DNP3 static objects, reads by header, events, and
which command a CROB stands for (sans-IO)."""

from __future__ import annotations

import struct

import pytest
from py1815.application import ObjectHeader, QualifierCode
from py1815.control import ControlRelayOutputBlock, OperationType, TripCloseCode
from py1815.events import EventBuffers, EventClass
from py1815.session import UnknownObject

from adapters.dnp3.outstation.database import ServedDatabase, crob_state
from adapters.dnp3.outstation.settings import ServedPoint
from gateway.points import GOOD, PointKind, PointValue, Quality, State, Validity

ALL = QualifierCode.ALL_OBJECTS
CLASS0 = ObjectHeader(60, 1, ALL)
TS = 1_700_000_000.5
NOT_VALID = Quality(Validity.NOT_VALID)


def pv(point: str, value: float, quality: Quality = GOOD, ts: float = TS) -> PointValue:
    return PointValue(point, value, quality, ts, 1)


def db(*points: ServedPoint) -> ServedDatabase:
    return ServedDatabase(points, EventBuffers())


def test_double_bit_states_travel_in_bits_6_and_7_with_the_flags() -> None:
    d = db(*(ServedPoint(point=f"S{i}", type="double-bit", index=i) for i in range(4)))
    for i, state in enumerate(State):
        d.apply(pv(f"S{i}", int(state)), PointKind.STATE)
    (block,) = d.read_blocks([CLASS0])
    assert block == bytes([3, 2, 0, 0, 3, 0x01, 0x41, 0x81, 0xC1])


def test_binaries_map_a_state_on_or_a_non_zero_number_to_on() -> None:
    d = db(
        ServedPoint(point="S", type="binary-input", index=0),
        ServedPoint(point="N", type="binary-input", index=1),
        ServedPoint(point="S", type="binary-output", index=0),
    )
    d.apply(pv("S", int(State.ON)), PointKind.STATE)
    d.apply(pv("N", 0), PointKind.DISCRETE)
    assert d.read_blocks([CLASS0]) == [
        bytes([1, 2, 0, 0, 1, 0x81, 0x01]),
        bytes([10, 2, 0, 0, 0, 0x81]),
    ]
    d.apply(pv("S", int(State.BETWEEN)), PointKind.STATE)  # single-bit: not on
    assert d.read_blocks([CLASS0])[0][5] == 0x01


def test_a_value_that_is_not_valid_is_served_comm_lost_never_online() -> None:
    d = db(
        ServedPoint(point="MW", type="analog-input", index=0),
        ServedPoint(point="NEVER", type="analog-input", index=1),
        ServedPoint(point="C", type="counter", index=0),
    )
    d.apply(pv("MW", 12.5, NOT_VALID), PointKind.REAL)
    d.apply(pv("C", -4), PointKind.DISCRETE)  # a count cannot be negative
    analogs, counters = d.read_blocks([ObjectHeader(30, 0, ALL), ObjectHeader(20, 0, ALL)])
    assert analogs == bytes([30, 5, 0, 0, 1, 0x04]) + struct.pack("<f", 12.5) + bytes(
        [0x02]
    ) + struct.pack("<f", 0.0)  # never updated: RESTART, not online
    assert counters == bytes([20, 1, 0, 0, 0, 0x04, 0, 0, 0, 0])


def test_reads_name_a_variation_a_range_or_a_group_not_served() -> None:
    d = db(*(ServedPoint(point=f"A{i}", type="analog-input", index=i) for i in (0, 1, 2, 5)))
    for i in (0, 1, 2, 5):
        d.apply(pv(f"A{i}", i * 10.0), PointKind.REAL)
    ranged = d.read_blocks([ObjectHeader(30, 1, QualifierCode.UINT8_START_STOP, start=1, stop=5)])
    assert ranged == [
        bytes([30, 1, 0, 1, 2, 1, 10, 0, 0, 0, 1, 20, 0, 0, 0]),
        bytes([30, 1, 0, 5, 5, 1, 50, 0, 0, 0]),
    ]
    with pytest.raises(UnknownObject):
        d.read_blocks([ObjectHeader(30, 6, ALL)])
    with pytest.raises(UnknownObject):
        d.read_blocks([ObjectHeader(110, 0, ALL)])
    assert d.read_blocks([ObjectHeader(40, 0, ALL), ObjectHeader(4, 0, ALL)]) == []


def test_a_large_group_is_served_in_blocks_that_fit_fragments() -> None:
    d = db(*(ServedPoint(point=f"A{i}", type="analog-input", index=i) for i in range(200)))
    blocks = d.read_blocks([CLASS0])
    assert [len(b) for b in blocks] == [5 + 64 * 5] * 3 + [5 + 8 * 5]


def test_changes_become_events_in_their_class_with_the_bus_time() -> None:
    d = db(
        ServedPoint(point="MW", type="analog-input", index=3, event_class=2, deadband=1.0),
        ServedPoint(point="SW", type="binary-input", index=0),
        ServedPoint(point="SW", type="double-bit", index=0),  # static only
    )
    d.prime(pv("MW", 10.0), PointKind.REAL)
    d.prime(pv("SW", int(State.OFF)), PointKind.STATE)
    assert d.apply(pv("MW", 10.5, ts=TS + 1), PointKind.REAL) == 0  # inside the deadband
    assert d.apply(pv("MW", 11.5, ts=TS + 2), PointKind.REAL) == 1
    assert d.apply(pv("SW", int(State.ON), ts=TS + 3), PointKind.STATE) == 1
    assert d.apply(pv("MW", 11.5, NOT_VALID, ts=TS + 4), PointKind.REAL) == 1  # quality alone
    (analog, lost) = d.events.peek(EventClass.CLASS_2)
    assert (analog.index, analog.timestamp_ms, analog.point.value) == (
        3,
        int((TS + 2) * 1000),
        11.5,
    )
    assert lost.point.flags == 0x04
    (binary,) = d.events.peek(EventClass.CLASS_1)
    assert (binary.index, binary.timestamp_ms, binary.point.state) == (
        0,
        int((TS + 3) * 1000),
        True,
    )


@pytest.mark.parametrize(
    ("operation", "tcc", "pulse", "expected"),
    [
        (OperationType.LATCH_ON, TripCloseCode.NUL, None, True),
        (OperationType.LATCH_OFF, TripCloseCode.NUL, None, False),
        (OperationType.PULSE_ON, TripCloseCode.CLOSE, None, True),
        (OperationType.PULSE_ON, TripCloseCode.TRIP, None, False),
        (OperationType.PULSE_ON, TripCloseCode.NUL, None, None),
        (OperationType.PULSE_ON, TripCloseCode.NUL, "off", False),
        (OperationType.PULSE_OFF, TripCloseCode.NUL, "on", True),
        (OperationType.NUL, TripCloseCode.NUL, "on", None),
    ],
)
def test_what_state_a_crob_commands(
    operation: OperationType, tcc: TripCloseCode, pulse: str | None, expected: bool | None
) -> None:
    sp = ServedPoint.model_validate(
        {"point": "BRK", "type": "binary-output", "index": 0, "writable": True, "pulse": pulse}
    )
    assert crob_state(ControlRelayOutputBlock.build(operation, trip_close=tcc), sp) is expected
