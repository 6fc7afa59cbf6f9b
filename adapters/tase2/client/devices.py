"""Block 5 on the client side: select, operate, get tag and set tag on a remote server.

A :class:`~adapters.tase2.client.settings.ClientDevice` configures one remote device taken
into one local bus point (a bus command on the point operates the device). The functions
here run one step each
over an :class:`~adapters.tase2.mms.aio.client.MmsClient` and raise :class:`DeviceError`, which
carries the bus's typed :class:`~gateway.bus.CommandFailure` (mapped in
:mod:`~adapters.tase2.client.failures`); :func:`operate_device` is the whole sequence
(select with the check-back id check when the device is select-before-operate, then the
operate Write). The probe uses the same functions.
"""

from __future__ import annotations

import math

from adapters.tase2.client.failures import DeviceError, guard, refused
from adapters.tase2.mms.aio.client import MmsClient
from adapters.tase2.mms.data import Data, DataAccessError, Float32, Integer
from adapters.tase2.mms.names import ObjectName
from adapters.tase2.model.devices import (
    SBO_SUFFIX,
    TAG_SUFFIX,
    DeviceKind,
    Refusal,
    TagValue,
    decode_tag,
    encode_tag,
)
from gateway.bus import CommandFailure

__all__ = [
    "DeviceError",
    "device_data",
    "get_tag",
    "operate",
    "operate_device",
    "select",
    "set_tag",
]


def device_data(kind: DeviceKind, value: float | int) -> Data:
    """The MMS value an operate writes: Integer16 0/1, float32, or Integer16."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DeviceError(CommandFailure.INVALID_VALUE, f"{value!r} is not a finite number")
    if kind is DeviceKind.SETPOINT_REAL:
        return Float32(float(value))
    if value != int(value):
        raise DeviceError(CommandFailure.INVALID_VALUE, f"{value!r} is not an integer")
    number = int(value)
    if kind is DeviceKind.COMMAND and number not in (0, 1):
        raise DeviceError(CommandFailure.INVALID_VALUE, f"a command is 0 or 1, not {number}")
    if not -(1 << 15) <= number < 1 << 15:
        raise DeviceError(CommandFailure.INVALID_VALUE, f"{number} is not an Integer16")
    return Integer(number)


async def select(client: MmsClient, name: ObjectName, expected: int | None = None) -> int:
    """Read ``<name>_SBO``: arm the device; returns the check-back id (checked against
    ``expected`` when given)."""
    sbo = ObjectName(name.scope, name.item + SBO_SUFFIX, name.domain)
    (result,) = await guard(f"select {sbo}", client.read(sbo))
    if isinstance(result, DataAccessError):
        raise refused(f"select {sbo}", result)
    if not isinstance(result, Integer):
        raise DeviceError(CommandFailure.DEVICE_FAILURE, f"select {sbo}: no check-back id")
    if expected is not None and result.value != expected:
        raise DeviceError(
            CommandFailure.DEVICE_FAILURE,
            f"select {sbo}: check-back id {result.value}, expected {expected}",
        )
    return result.value


async def operate(client: MmsClient, name: ObjectName, data: Data) -> None:
    """Write the command or set-point ``data`` to the device ``name``."""
    error = await guard(f"operate {name}", client.write(name, data))
    if error is not None:
        raise refused(f"operate {name}", error)


async def operate_device(
    client: MmsClient,
    name: ObjectName,
    kind: DeviceKind,
    value: float | int,
    *,
    sbo: bool = False,
    check_back_id: int | None = None,
) -> int | None:
    """Select (when ``sbo``) and operate; returns the check-back id of the select."""
    data = device_data(kind, value)
    got = await select(client, name, check_back_id) if sbo else None
    await operate(client, name, data)
    return got


async def get_tag(client: MmsClient, name: ObjectName) -> TagValue:
    """Read ``<name>_TAG``."""
    tag_name = ObjectName(name.scope, name.item + TAG_SUFFIX, name.domain)
    (result,) = await guard(f"get tag {tag_name}", client.read(tag_name))
    if isinstance(result, DataAccessError):
        raise refused(f"get tag {tag_name}", result)
    tag = decode_tag(result)
    if isinstance(tag, Refusal):
        raise DeviceError(CommandFailure.DEVICE_FAILURE, f"get tag {tag_name}: {tag.reason}")
    return tag


async def set_tag(client: MmsClient, name: ObjectName, tag: TagValue) -> None:
    """Write ``<name>_TAG``."""
    tag_name = ObjectName(name.scope, name.item + TAG_SUFFIX, name.domain)
    data = encode_tag(TagValue(tag.state, tag.reason))
    error = await guard(f"set tag {tag_name}", client.write(tag_name, data))
    if error is not None:
        raise refused(f"set tag {tag_name}", error)
