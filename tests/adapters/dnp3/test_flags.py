"""DNP3 flags <-> TASE.2 quality, and control statuses <-> bus failures."""

import pytest
from py1815.control import CommandStatus

from adapters.dnp3.flags import (
    PointType,
    failure_of_status,
    flags_of,
    quality_of,
    state_of,
    status_of_failure,
)
from gateway.bus import CommandFailure
from gateway.points import Quality, Source, State, Validity

AI, BI, DB, CT, BO = (
    PointType.ANALOG_INPUT,
    PointType.BINARY_INPUT,
    PointType.DOUBLE_BIT,
    PointType.COUNTER,
    PointType.BINARY_OUTPUT,
)


@pytest.mark.parametrize(
    ("flags", "point_type", "validity"),
    [
        (0x01, AI, Validity.VALID),
        (0x00, AI, Validity.NOT_VALID),  # not online
        (0x05, AI, Validity.NOT_VALID),  # comm lost
        (0x03, AI, Validity.SUSPECT),  # restart
        (0x21, AI, Validity.SUSPECT),  # over-range
        (0x41, AI, Validity.SUSPECT),  # reference error
        (0x21, BI, Validity.SUSPECT),  # chatter filter
        (0x81, BI, Validity.VALID),  # the state bit is no flag
        (0xC1, DB, Validity.VALID),  # nor are the two state bits
        (0x41, CT, Validity.SUSPECT),  # discontinuity
        (0x21, CT, Validity.VALID),  # rollover: obsolete, not a quality
    ],
)
def test_flags_to_validity(flags, point_type, validity):
    assert quality_of(flags, point_type).validity is validity


def test_forced_values_are_entered_and_time_quality_is_carried():
    assert quality_of(0x11, AI).source is Source.ENTERED
    assert quality_of(0x09, BI).source is Source.ENTERED
    assert quality_of(0x01, AI, time_invalid=True).timestamp_invalid
    assert not quality_of(0x01, AI).timestamp_invalid


def test_states_of_single_and_double_bit_binaries():
    assert state_of(0x81, BI) is State.ON and state_of(0x01, BI) is State.OFF
    assert [state_of(code << 6 | 1, DB) for code in range(4)] == [
        State.BETWEEN,
        State.OFF,
        State.ON,
        State.INVALID,
    ]


@pytest.mark.parametrize("point_type", list(PointType))
@pytest.mark.parametrize("validity", list(Validity))
def test_a_served_quality_reads_back_no_better_than_it_was(point_type, validity):
    served = flags_of(Quality(validity), point_type)
    back = quality_of(served, point_type).validity
    if validity is Validity.VALID:
        assert back is Validity.VALID
    else:  # held, suspect, not valid: never read back as good
        assert back is not Validity.VALID
    assert quality_of(flags_of(Quality(source=Source.ENTERED), point_type), point_type).source is (
        Source.ENTERED
    )


def test_control_statuses_and_bus_failures_map_both_ways():
    assert failure_of_status(CommandStatus.SUCCESS) is None
    assert failure_of_status(CommandStatus.LOCAL) is CommandFailure.NOT_PERMITTED
    assert failure_of_status(CommandStatus.NO_SELECT) is CommandFailure.NOT_SELECTED
    assert failure_of_status(CommandStatus.HARDWARE_ERROR) is CommandFailure.DEVICE_FAILURE
    assert failure_of_status(200) is CommandFailure.DEVICE_FAILURE  # unknown code
    for failure in CommandFailure:
        assert status_of_failure(failure) is not CommandStatus.SUCCESS
    assert status_of_failure(None) is CommandStatus.SUCCESS
