"""How a command the TASE.2 client sends to the remote server fails on the bus.

The one mapping from MMS outcomes to the bus's typed :class:`~gateway.bus.CommandFailure`,
for point writes (the adapter) and device steps (:mod:`~adapters.tase2.client.devices`, the
probe) alike: :func:`failure_of` for a DataAccessError the server answers with,
:func:`guard` for a request that times out, is refused as a service or loses its
association, and :class:`DeviceError` to carry the outcome.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from adapters.tase2.asn1.ber import code_name
from adapters.tase2.errors import RemoteError
from adapters.tase2.mms.aio.client import (
    MmsConnectionLost,
    MmsRejected,
    MmsRequestTimeout,
    MmsServiceError,
)
from adapters.tase2.mms.association import AssociationError
from adapters.tase2.mms.data import DataAccessError
from gateway.bus import CommandError, CommandFailure

__all__ = ["DeviceError", "failure_of", "guard", "refused"]

T = TypeVar("T")

_FAILURES: dict[DataAccessError, CommandFailure] = {
    DataAccessError.OBJECT_INVALIDATED: CommandFailure.DEVICE_FAILURE,
    DataAccessError.HARDWARE_FAULT: CommandFailure.DEVICE_FAILURE,
    DataAccessError.TEMPORARILY_UNAVAILABLE: CommandFailure.BUSY,
    DataAccessError.OBJECT_ACCESS_DENIED: CommandFailure.NOT_PERMITTED,
    DataAccessError.OBJECT_UNDEFINED: CommandFailure.UNKNOWN_POINT,
    DataAccessError.INVALID_ADDRESS: CommandFailure.UNKNOWN_POINT,
    DataAccessError.TYPE_UNSUPPORTED: CommandFailure.INVALID_VALUE,
    DataAccessError.TYPE_INCONSISTENT: CommandFailure.INVALID_VALUE,
    DataAccessError.OBJECT_ATTRIBUTE_INCONSISTENT: CommandFailure.INVALID_VALUE,
    DataAccessError.OBJECT_ACCESS_UNSUPPORTED: CommandFailure.NOT_PERMITTED,
    DataAccessError.OBJECT_NON_EXISTENT: CommandFailure.UNKNOWN_POINT,
    DataAccessError.OBJECT_VALUE_INVALID: CommandFailure.INVALID_VALUE,
}


class DeviceError(CommandError, RemoteError):
    """A command on the remote server failed (a point write, a device select, operate or
    tag step); ``failure`` is the bus's typed failure, ``error`` the DataAccessError the
    server answered (if it answered with one)."""

    def __init__(
        self, failure: CommandFailure, detail: str, error: DataAccessError | None = None
    ) -> None:
        super().__init__(failure, detail)
        self.error = error


def failure_of(error: DataAccessError) -> CommandFailure:
    """The bus failure for a request the server answered with ``error``."""
    return _FAILURES.get(error, CommandFailure.DEVICE_FAILURE)


def refused(what: str, error: DataAccessError) -> DeviceError:
    """The error for ``what`` (e.g. ``operate ICC1/BRK7``) answered with ``error``."""
    return DeviceError(failure_of(error), f"{what}: {code_name(error)}", error)


async def guard(what: str, call: Awaitable[T]) -> T:
    """Await the request ``call``; a time-out, a refused service or a lost association
    becomes a :class:`DeviceError` about ``what``."""
    try:
        return await call
    except MmsRequestTimeout as exc:
        raise DeviceError(CommandFailure.TIMEOUT, f"{what}: {exc}") from None
    except MmsServiceError as exc:
        raise DeviceError(CommandFailure.NOT_PERMITTED, f"{what}: {exc}") from None
    except (MmsConnectionLost, MmsRejected, AssociationError) as exc:
        raise DeviceError(CommandFailure.DEVICE_FAILURE, f"{what}: {exc}") from None
