"""Block 5 device values (reference section 6.13), sans-IO, shared by server and client.

The device kinds (command Integer16 0/1, real set-point float32, discrete set-point
Integer16) with their MMS types, the ``_SBO`` / ``_TAG`` object suffixes, the check of an
operate value (:func:`operate_value`), and the ``TagValue`` structure with its codec.
A refused value comes back as :class:`Refusal` (the DataAccessError to answer and a reason
for the audit log); nothing here raises on bad input.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Final

from adapters.tase2.asn1.ber import code_name
from adapters.tase2.mms.data import (
    BitString,
    Data,
    DataAccessError,
    Float32,
    Float64,
    Integer,
    Structure,
    Unsigned,
    VisibleString,
)
from adapters.tase2.mms.types import (
    BitStringType,
    FloatType,
    IntegerType,
    StructureComponent,
    StructureType,
    TypeSpecification,
    VisibleStringType,
)

__all__ = [
    "CHECK_BACK_TYPE",
    "SBO_SUFFIX",
    "TAG_SUFFIX",
    "TAG_TYPE",
    "DeviceKind",
    "Refusal",
    "TagState",
    "TagValue",
    "decode_tag",
    "device_type",
    "encode_tag",
    "operate_value",
]

SBO_SUFFIX: Final = "_SBO"
TAG_SUFFIX: Final = "_TAG"
MAX_DEVICE_NAME: Final = 32 - len(SBO_SUFFIX)
MAX_REASON: Final = 255
INT16_MIN, INT16_MAX = -(1 << 15), (1 << 15) - 1


class DeviceKind(enum.StrEnum):
    """What a device object takes: a command (0/1) or a set-point."""

    COMMAND = "command"
    SETPOINT_REAL = "setpoint_real"
    SETPOINT_DISCRETE = "setpoint_discrete"


CHECK_BACK_TYPE: Final = IntegerType(16)
"""``SBO_CheckBackName``: Integer16."""

TAG_TYPE: Final = StructureType(
    (
        StructureComponent("Flags", BitStringType(3)),
        StructureComponent("Reason", VisibleStringType(-MAX_REASON)),
    )
)
"""``TagValue`` = {Flags BIT STRING(3), Reason VisibleString(255)}."""

_DEVICE_TYPES: Final[dict[DeviceKind, TypeSpecification]] = {
    DeviceKind.COMMAND: IntegerType(16),
    DeviceKind.SETPOINT_REAL: FloatType(32, 8),
    DeviceKind.SETPOINT_DISCRETE: IntegerType(16),
}


def device_type(kind: DeviceKind) -> TypeSpecification:
    """Control_Command / Control_Setpoint_Real / Control_Setpoint_Discrete."""
    return _DEVICE_TYPES[kind]


# --------------------------------------------------------------------------- values


class Refusal:
    """A refused device request: the DataAccessError to answer and why (for the audit)."""

    __slots__ = ("error", "reason")

    def __init__(self, error: DataAccessError, reason: str) -> None:
        self.error = error
        self.reason = reason

    def __repr__(self) -> str:
        return f"Refusal({self.error.name}, {self.reason!r})"

    @property
    def outcome(self) -> str:
        """The error as an audit word (``temporarily-unavailable``...)."""
        return code_name(self.error)


def operate_value(kind: DeviceKind, data: Data) -> float | int | Refusal:
    """The number an operate writes, or why the written value does not fit the device.

    Commands take Integer16 0 or 1; real set-points a float (or an integer); discrete
    set-points an Integer16. A value of the wrong MMS type is type-inconsistent, one out of
    range object-value-invalid.
    """
    if kind is DeviceKind.SETPOINT_REAL:
        if isinstance(data, Float32 | Float64 | Integer | Unsigned):
            value = float(data.value)
        else:
            return Refusal(DataAccessError.TYPE_INCONSISTENT, "a real set-point takes a float")
        if not math.isfinite(value):
            return Refusal(DataAccessError.OBJECT_VALUE_INVALID, f"{value} is not finite")
        return value
    if not isinstance(data, Integer | Unsigned):
        return Refusal(DataAccessError.TYPE_INCONSISTENT, f"{kind} takes an Integer16")
    number = int(data.value)
    if kind is DeviceKind.COMMAND and number not in (0, 1):
        return Refusal(DataAccessError.OBJECT_VALUE_INVALID, f"command {number} is not 0 or 1")
    if not INT16_MIN <= number <= INT16_MAX:
        return Refusal(DataAccessError.OBJECT_VALUE_INVALID, f"{number} is not an Integer16")
    return number


# --------------------------------------------------------------------------- tags


class TagState(enum.IntEnum):
    """Tag flags bits 0-1 (``00`` none, ``40`` open-and-close inhibit, ``80`` close-only)."""

    NONE = 0
    OPEN_AND_CLOSE_INHIBIT = 1
    CLOSE_ONLY_INHIBIT = 2
    INVALID = 3


@dataclass(frozen=True, slots=True)
class TagValue:
    """A device's tag: its state, the reason text, and (when read) whether it is armed."""

    state: TagState = TagState.NONE
    reason: str = ""
    armed: bool = False


def encode_tag(tag: TagValue) -> Structure:
    """TagValue as MMS Data: ``{Flags BIT STRING(3), Reason}``."""
    octet = (int(tag.state) << 6) | (0x20 if tag.armed else 0)
    return Structure((BitString(3, bytes((octet,))), VisibleString(tag.reason)))


def decode_tag(data: Data) -> TagValue | Refusal:
    """A written (or read) TagValue, or why it is not one.

    Liberal in the flags' length (2 to 8 bits); the armed bit of a written value is ignored
    by :meth:`DeviceControl.set_tag`.
    """
    refused = Refusal(DataAccessError.TYPE_INCONSISTENT, "a tag is {Flags BIT STRING(3), Reason}")
    if not isinstance(data, Structure) or len(data.items) != 2:
        return refused
    flags, reason = data.items
    if not isinstance(flags, BitString) or not isinstance(reason, VisibleString):
        return refused
    if not 2 <= flags.nbits <= 8:
        return Refusal(DataAccessError.TYPE_INCONSISTENT, f"tag flags of {flags.nbits} bits")
    if len(reason.value) > MAX_REASON:
        return Refusal(DataAccessError.OBJECT_VALUE_INVALID, "tag reason over 255 characters")
    octet = flags.data[0] if flags.data else 0
    state = TagState(octet >> 6)
    armed = flags.nbits >= 3 and bool(octet & 0x20)
    return TagValue(state, reason.value, armed)
