"""Request objects of the master, pinned to their octets (IEEE 1815-2012 object headers)."""

import struct

import pytest
from py1815.control import decode_analog_output, decode_crob

from adapters.dnp3.flags import PointType
from adapters.dnp3.master import requests
from adapters.dnp3.master.settings import MasterPoint
from gateway.bus import CommandError, CommandFailure
from gateway.points import State

CLASS_1_2_3 = bytes.fromhex("3c0206 3c0306 3c0406")


def test_integrity_reads_events_first_then_class_0():
    assert requests.integrity_headers(
        {}, {}, {PointType.ANALOG_INPUT}
    ) == CLASS_1_2_3 + bytes.fromhex("3c0106")


def test_integrity_with_variations_reads_each_mapped_type_by_its_variation():
    body = requests.integrity_headers(
        {PointType.ANALOG_INPUT: 7},
        {PointType.ANALOG_INPUT: 5},
        {PointType.ANALOG_INPUT, PointType.BINARY_INPUT},
    )
    # analog events g32v7, the classes, then g1v0 (default) and g30v5, in type order.
    assert body == bytes.fromhex("200706") + CLASS_1_2_3 + bytes.fromhex("010006 1e0506")


def test_event_poll_of_some_classes():
    assert requests.event_headers([1, 3], {}, set()) == bytes.fromhex("3c0206 3c0406")


def _crob(value=State.ON, **binding):
    point = MasterPoint(point="CB", type="binary-output", index=3, writable=True, **binding)
    objects = requests.crob_objects(3, requests.crob_for(point, value))
    assert objects[:7] == bytes.fromhex("0c0128 0100 0300")  # g12v1, count 1, index 3
    return decode_crob(objects[7:])


def test_crobs_for_each_operation():
    assert _crob().control_code == 0x03  # latch on
    assert _crob(value=State.OFF).control_code == 0x04  # latch off
    assert _crob(operation="trip-close").control_code == 0x41  # close: pulse on + 01
    assert _crob(operation="trip-close", value=State.OFF).control_code == 0x81  # trip
    pulse = _crob(operation="pulse", on_time_ms=500, count=2)
    assert (pulse.control_code, pulse.on_time_ms, pulse.count) == (0x01, 500, 2)


def test_a_pulse_only_to_one_state_refuses_the_other():
    point = MasterPoint(
        point="CB", type="binary-output", index=3, operation="pulse", pulse_state="on"
    )
    with pytest.raises(CommandError) as error:
        requests.crob_for(point, State.OFF)
    assert error.value.failure is CommandFailure.INVALID_VALUE


def test_a_crob_value_must_be_a_state():
    point = MasterPoint(point="CB", type="binary-output", index=3)
    with pytest.raises(CommandError):
        requests.crob_for(point, 9)


@pytest.mark.parametrize(
    ("variation", "raw", "value"),
    [(1, 70000.4, 70000), (2, -12.6, -13), (3, 12.5, 12.5), (4, 1e300, 1e300)],
)
def test_analog_outputs_of_each_width(variation, raw, value):
    objects = requests.analog_output_objects(9, variation, raw)
    assert objects[:7] == struct.pack("<BBBHH", 41, variation, 0x28, 1, 9)
    assert decode_analog_output(objects[7:], variation).value == value


@pytest.mark.parametrize(
    ("variation", "raw"), [(2, 40000), (1, 2**31), (3, 1e39), (3, float("nan"))]
)
def test_an_analog_output_that_does_not_fit_is_refused_not_clipped(variation, raw):
    with pytest.raises(CommandError) as error:
        requests.analog_output_objects(0, variation, raw)
    assert error.value.failure is CommandFailure.INVALID_VALUE
