"""OPC UA StatusCodes <-> TASE.2 quality and bus command outcomes (sans-IO).

A StatusCode's two top bits are its severity (OPC UA Part 4, 7.39): 00 Good, 01 Uncertain,
10 Bad; bits 16-27 the sub-code. Values:

* Good: valid; GoodLocalOverride: valid, source *entered*.
* Uncertain: suspect; UncertainLastUsableValue: held (the last value, no longer updated);
  UncertainSubstituteValue: suspect, source *entered*.
* Bad (any sub-code: comm failure, sensor failure, device failure, out of service, waiting
  for initial data...): not valid. A value that is not valid is never served as good.

Served values: valid -> Good (entered: GoodLocalOverride), held -> UncertainLastUsableValue,
suspect -> Uncertain, not valid -> BadNoCommunication.
"""

from __future__ import annotations

from gateway.bus import CommandFailure
from gateway.points import Quality, Source, Validity

GOOD = 0x00000000
GOOD_LOCAL_OVERRIDE = 0x00960000
UNCERTAIN = 0x40000000
UNCERTAIN_LAST_USABLE_VALUE = 0x40900000
UNCERTAIN_SUBSTITUTE_VALUE = 0x40910000
BAD = 0x80000000
BAD_NO_COMMUNICATION = 0x80310000
BAD_USER_ACCESS_DENIED = 0x801F0000
BAD_NOT_WRITABLE = 0x803B0000
BAD_NOT_SUPPORTED = 0x803D0000
BAD_WRITE_NOT_SUPPORTED = 0x80730000
BAD_TYPE_MISMATCH = 0x80740000
BAD_OUT_OF_RANGE = 0x803C0000
BAD_NODE_ID_UNKNOWN = 0x80340000
BAD_NODE_ID_INVALID = 0x80330000
BAD_TIMEOUT = 0x800A0000
BAD_TOO_MANY_OPERATIONS = 0x80100000
BAD_RESOURCE_UNAVAILABLE = 0x80040000
BAD_INVALID_STATE = 0x80AF0000
BAD_DEVICE_FAILURE = 0x808B0000

_SEVERITY = 0xC0000000
_CODE = 0xFFFF0000  # severity and sub-code, without the info bits


def severity(code: int) -> int:
    """GOOD, UNCERTAIN or BAD (the two top bits; 11 is reserved and read as bad)."""
    top = code & _SEVERITY
    return top if top in (GOOD, UNCERTAIN) else BAD


def quality_of(code: int, *, time_invalid: bool = False) -> Quality:
    """The TASE.2 quality of a value with StatusCode `code` (see the module docstring)."""
    code &= 0xFFFFFFFF
    kind = severity(code)
    source = Source.TELEMETERED
    if kind == GOOD:
        validity = Validity.VALID
        if code & _CODE == GOOD_LOCAL_OVERRIDE:
            source = Source.ENTERED
    elif kind == UNCERTAIN:
        validity = Validity.SUSPECT
        if code & _CODE == UNCERTAIN_LAST_USABLE_VALUE:
            validity = Validity.HELD
        elif code & _CODE == UNCERTAIN_SUBSTITUTE_VALUE:
            source = Source.ENTERED
    else:
        validity = Validity.NOT_VALID
    return Quality(validity, source, timestamp_invalid=time_invalid)


def status_of(quality: Quality) -> int:
    """The StatusCode a bus value is served with (see the module docstring)."""
    validity = quality.validity
    if validity is Validity.VALID:
        return GOOD_LOCAL_OVERRIDE if quality.source is Source.ENTERED else GOOD
    if validity is Validity.HELD:
        return UNCERTAIN_LAST_USABLE_VALUE
    if validity is Validity.SUSPECT:
        return UNCERTAIN
    return BAD_NO_COMMUNICATION


_FAILURE_OF_CODE = {
    BAD_USER_ACCESS_DENIED: CommandFailure.NOT_PERMITTED,
    BAD_NOT_WRITABLE: CommandFailure.NOT_PERMITTED,
    BAD_NOT_SUPPORTED: CommandFailure.NOT_PERMITTED,
    BAD_WRITE_NOT_SUPPORTED: CommandFailure.NOT_PERMITTED,
    BAD_TYPE_MISMATCH: CommandFailure.INVALID_VALUE,
    BAD_OUT_OF_RANGE: CommandFailure.INVALID_VALUE,
    BAD_NODE_ID_UNKNOWN: CommandFailure.UNKNOWN_POINT,
    BAD_NODE_ID_INVALID: CommandFailure.UNKNOWN_POINT,
    BAD_TIMEOUT: CommandFailure.TIMEOUT,
    BAD_TOO_MANY_OPERATIONS: CommandFailure.BUSY,
    BAD_RESOURCE_UNAVAILABLE: CommandFailure.BUSY,
    BAD_INVALID_STATE: CommandFailure.NOT_SELECTED,
}


def failure_of(code: int) -> CommandFailure | None:
    """The bus failure of a Write's (or Call's) result: None for Good, else by sub-code;
    any other non-good result is a device failure."""
    code &= 0xFFFFFFFF
    if severity(code) == GOOD:
        return None
    return _FAILURE_OF_CODE.get(code & _CODE, CommandFailure.DEVICE_FAILURE)


_CODE_OF_FAILURE = {
    CommandFailure.NOT_PERMITTED: BAD_USER_ACCESS_DENIED,
    CommandFailure.NOT_SELECTED: BAD_INVALID_STATE,
    CommandFailure.BUSY: BAD_TOO_MANY_OPERATIONS,
    CommandFailure.TIMEOUT: BAD_TIMEOUT,
    CommandFailure.DEVICE_FAILURE: BAD_DEVICE_FAILURE,
    CommandFailure.INVALID_VALUE: BAD_OUT_OF_RANGE,
    CommandFailure.UNKNOWN_POINT: BAD_NODE_ID_UNKNOWN,
}


def code_of(failure: CommandFailure | None) -> int:
    """The StatusCode a served Write is answered with for a bus command's outcome."""
    return GOOD if failure is None else _CODE_OF_FAILURE[failure]
