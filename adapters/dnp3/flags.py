"""DNP3 point flags and control statuses, and how they map to the gateway's (sans-IO).

The flag octet of a DNP3 object (IEEE 1815-2012, the flag tables of groups 1-4, 10, 20-23,
30-32, 40 and 42) shares its low five bits across every point type: ONLINE, RESTART,
COMM_LOST, REMOTE_FORCED and LOCAL_FORCED. The upper bits depend on the type: the state of a
binary (bit 7) or of a double-bit binary (bits 6-7), CHATTER_FILTER for binaries, OVER_RANGE
and REFERENCE_ERR for analogs, DISCONTINUITY for counters.

The mapping to TASE.2 quality, in order of precedence:

* not ONLINE, or COMM_LOST (the outstation lost its own source: the value is old): not valid;
* RESTART (not updated since the outstation restarted), OVER_RANGE, REFERENCE_ERR,
  CHATTER_FILTER or a counter DISCONTINUITY: suspect;
* otherwise valid.

REMOTE_FORCED or LOCAL_FORCED makes the current source *entered* (a value set by hand).
"""

from __future__ import annotations

import enum

from py1815.control import CommandStatus

from gateway.bus import CommandFailure
from gateway.points import Quality, Source, State, Validity


class PointType(enum.StrEnum):
    """The kinds of DNP3 point the gateway reads and serves, by their static group."""

    BINARY_INPUT = "binary-input"  # group 1, events group 2
    DOUBLE_BIT = "double-bit"  # group 3, events group 4
    BINARY_OUTPUT = "binary-output"  # status group 10, events 11; commands group 12
    COUNTER = "counter"  # group 20, events 22
    FROZEN_COUNTER = "frozen-counter"  # group 21, events 23
    ANALOG_INPUT = "analog-input"  # group 30, events 32
    ANALOG_OUTPUT = "analog-output"  # status group 40, events 42; commands group 41

    @property
    def is_binary(self) -> bool:
        """Whether the value is a state (single- or double-bit), not a number."""
        return self in _BINARIES

    @property
    def static_group(self) -> int:
        return _STATIC_GROUP[self]


_BINARIES = frozenset({PointType.BINARY_INPUT, PointType.DOUBLE_BIT, PointType.BINARY_OUTPUT})
_STATIC_GROUP = {
    PointType.BINARY_INPUT: 1,
    PointType.DOUBLE_BIT: 3,
    PointType.BINARY_OUTPUT: 10,
    PointType.COUNTER: 20,
    PointType.FROZEN_COUNTER: 21,
    PointType.ANALOG_INPUT: 30,
    PointType.ANALOG_OUTPUT: 40,
}

ONLINE = 0x01
RESTART = 0x02
COMM_LOST = 0x04
REMOTE_FORCED = 0x08
LOCAL_FORCED = 0x10
CHATTER_FILTER = 0x20  # binaries
OVER_RANGE = 0x20  # analogs
REFERENCE_ERR = 0x40  # analogs
DISCONTINUITY = 0x40  # counters
STATE = 0x80  # single-bit binaries
DOUBLE_BIT_SHIFT = 6  # double-bit binaries: bits 6-7

_FORCED = REMOTE_FORCED | LOCAL_FORCED
_SUSPECT_BITS = {
    PointType.BINARY_INPUT: RESTART | CHATTER_FILTER,
    PointType.DOUBLE_BIT: RESTART | CHATTER_FILTER,
    PointType.BINARY_OUTPUT: RESTART,
    PointType.COUNTER: RESTART | DISCONTINUITY,
    PointType.FROZEN_COUNTER: RESTART | DISCONTINUITY,
    PointType.ANALOG_INPUT: RESTART | OVER_RANGE | REFERENCE_ERR,
    PointType.ANALOG_OUTPUT: RESTART | OVER_RANGE | REFERENCE_ERR,
}
_SUSPECT_FLAG = {
    PointType.BINARY_INPUT: CHATTER_FILTER,
    PointType.DOUBLE_BIT: CHATTER_FILTER,
    PointType.BINARY_OUTPUT: RESTART,
    PointType.COUNTER: DISCONTINUITY,
    PointType.FROZEN_COUNTER: DISCONTINUITY,
    PointType.ANALOG_INPUT: REFERENCE_ERR,
    PointType.ANALOG_OUTPUT: REFERENCE_ERR,
}
_STATE_BITS = {
    PointType.BINARY_INPUT: STATE,
    PointType.DOUBLE_BIT: 0xC0,
    PointType.BINARY_OUTPUT: STATE,
}


def _quality_of(flags: int, point_type: PointType, time_invalid: bool) -> Quality:
    flags &= 0xFF & ~_STATE_BITS.get(point_type, 0)
    if not flags & ONLINE or flags & COMM_LOST:
        validity = Validity.NOT_VALID
    elif flags & _SUSPECT_BITS[point_type]:
        validity = Validity.SUSPECT
    else:
        validity = Validity.VALID
    source = Source.ENTERED if flags & _FORCED else Source.TELEMETERED
    return Quality(validity, source, timestamp_invalid=time_invalid)


def _build_tables() -> dict[tuple[PointType, bool], tuple[Quality, ...]]:
    return {
        (point_type, time_invalid): tuple(
            _quality_of(flags, point_type, time_invalid) for flags in range(256)
        )
        for point_type in PointType
        for time_invalid in (False, True)
    }


QUALITY_TABLES = _build_tables()
"""(point type, time stamp invalid) -> a 256-entry table: flag octet -> Quality. The hot
path indexes it directly."""


def quality_of(flags: int, point_type: PointType, *, time_invalid: bool = False) -> Quality:
    """The TASE.2 quality of a DNP3 flag octet (see the module docstring)."""
    return QUALITY_TABLES[point_type, time_invalid][flags & 0xFF]


def state_of(flags: int, point_type: PointType) -> State:
    """The TASE.2 state carried in a binary's flag octet (bit 7, or bits 6-7 double-bit).

    DNP3's double-bit codes (0 intermediate, 1 determined off, 2 determined on,
    3 indeterminate) are TASE.2's state codes (between, off, on, invalid).
    """
    if point_type is PointType.DOUBLE_BIT:
        return State((flags >> DOUBLE_BIT_SHIFT) & 3)
    return State.ON if flags & STATE else State.OFF


def flags_of(quality: Quality, point_type: PointType) -> int:
    """The DNP3 flag octet (without state bits) that serves a bus quality to a master.

    Not valid: COMM_LOST and not ONLINE. Held: ONLINE and COMM_LOST (the value is the
    last one received). Suspect: ONLINE and REFERENCE_ERR (analogs), CHATTER_FILTER
    (binary inputs), DISCONTINUITY (counters) or RESTART (binary outputs, which have no
    better flag), each of which `quality_of` reads back as suspect. An entered source sets
    LOCAL_FORCED.
    """
    validity = quality.validity
    if validity is Validity.NOT_VALID:
        flags = COMM_LOST
    elif validity is Validity.HELD:
        flags = ONLINE | COMM_LOST
    elif validity is Validity.SUSPECT:
        flags = ONLINE | _SUSPECT_FLAG[point_type]
    else:
        flags = ONLINE
    if quality.source is Source.ENTERED:
        flags |= LOCAL_FORCED
    return flags


_FAILURE_OF_STATUS = {
    CommandStatus.TIMEOUT: CommandFailure.TIMEOUT,
    CommandStatus.NO_SELECT: CommandFailure.NOT_SELECTED,
    CommandStatus.FORMAT_ERROR: CommandFailure.INVALID_VALUE,
    CommandStatus.NOT_SUPPORTED: CommandFailure.NOT_PERMITTED,
    CommandStatus.ALREADY_ACTIVE: CommandFailure.BUSY,
    CommandStatus.HARDWARE_ERROR: CommandFailure.DEVICE_FAILURE,
    CommandStatus.LOCAL: CommandFailure.NOT_PERMITTED,
    CommandStatus.TOO_MANY_OPS: CommandFailure.BUSY,
    CommandStatus.NOT_AUTHORIZED: CommandFailure.NOT_PERMITTED,
    CommandStatus.AUTOMATION_INHIBIT: CommandFailure.NOT_PERMITTED,
    CommandStatus.PROCESSING_LIMITED: CommandFailure.BUSY,
    CommandStatus.OUT_OF_RANGE: CommandFailure.INVALID_VALUE,
    CommandStatus.DOWNSTREAM_LOCAL: CommandFailure.NOT_PERMITTED,
    CommandStatus.ALREADY_COMPLETE: CommandFailure.BUSY,
    CommandStatus.BLOCKED: CommandFailure.NOT_PERMITTED,
    CommandStatus.CANCELLED: CommandFailure.DEVICE_FAILURE,
    CommandStatus.BLOCKED_OTHER_MASTER: CommandFailure.BUSY,
    CommandStatus.DOWNSTREAM_FAIL: CommandFailure.DEVICE_FAILURE,
    CommandStatus.NON_PARTICIPATING: CommandFailure.NOT_PERMITTED,
}


def describe_status(code: int) -> str:
    """A control status code as a name, for logs and command details."""
    try:
        return CommandStatus(code).name.lower().replace("_", " ")
    except ValueError:
        return f"status {code}"


def failure_of_status(code: int) -> CommandFailure | None:
    """The bus failure of a control status (None for success; unknown codes: device failure)."""
    if code == CommandStatus.SUCCESS:
        return None
    try:
        return _FAILURE_OF_STATUS.get(CommandStatus(code), CommandFailure.DEVICE_FAILURE)
    except ValueError:
        return CommandFailure.DEVICE_FAILURE


_STATUS_OF_FAILURE = {
    CommandFailure.NOT_PERMITTED: CommandStatus.NOT_AUTHORIZED,
    CommandFailure.NOT_SELECTED: CommandStatus.NO_SELECT,
    CommandFailure.BUSY: CommandStatus.ALREADY_ACTIVE,
    CommandFailure.TIMEOUT: CommandStatus.TIMEOUT,
    CommandFailure.DEVICE_FAILURE: CommandStatus.HARDWARE_ERROR,
    CommandFailure.INVALID_VALUE: CommandStatus.OUT_OF_RANGE,
    CommandFailure.UNKNOWN_POINT: CommandStatus.NOT_SUPPORTED,
}


def status_of_failure(failure: CommandFailure | None) -> CommandStatus:
    """The control status an outstation answers for a bus command's outcome."""
    if failure is None:
        return CommandStatus.SUCCESS
    return _STATUS_OF_FAILURE[failure]
