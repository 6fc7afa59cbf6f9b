"""The steps that start and stop a DS transfer set on a remote server, over an MMS client.

Both the ``tase2-client`` adapter and ``iccp-gateway probe --watch`` report through a
transfer set, and do it the same way:

1. :func:`replace_data_set` - delete the data set if a previous session left it, then
   define it;
2. :func:`reserve_transfer_set` - read ``Next_DSTransfer_Set`` for a transfer set, then read
   that transfer set once: its value shows the 12- or 13-component model the server uses;
3. :func:`write_transfer_set` - write the whole structure in that shape (Status TRUE starts
   it, FALSE stops it).

A server that will not go along raises :class:`SetupError`, naming the step and the
server's DataAccessError.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

from adapters.tase2.client.plan import transfer_set_data
from adapters.tase2.errors import RemoteError
from adapters.tase2.mms.aio.client import MmsClient, MmsRejected
from adapters.tase2.mms.data import AccessResult, DataAccessError
from adapters.tase2.mms.names import ObjectName
from adapters.tase2.mms.service_error import MmsServiceError
from adapters.tase2.model.objects import NEXT_DS_TRANSFER_SET, decode_mms_object_name
from adapters.tase2.model.transfer_set import DSTransferSetValue

__all__ = [
    "ReservedTransferSet",
    "SetupError",
    "replace_data_set",
    "reserve_transfer_set",
    "write_transfer_set",
]


class SetupError(RemoteError):
    """The server would not define the data set or start the transfer set.

    ``error`` is the DataAccessError it answered with, when it answered with one.
    """

    def __init__(self, message: str, error: DataAccessError | None = None) -> None:
        super().__init__(message)
        self.error = error


@dataclass(frozen=True, slots=True)
class ReservedTransferSet:
    """A transfer set ``Next_DSTransfer_Set`` gave this association, and the value it read
    back (its ``shape``: which DSTransferSet model the server uses)."""

    name: ObjectName
    shape: AccessResult


async def replace_data_set(
    client: MmsClient, name: ObjectName, members: Sequence[ObjectName]
) -> None:
    """Define data set ``name``, deleting first one a previous session may have left."""
    with contextlib.suppress(MmsServiceError, MmsRejected):
        await client.delete_named_variable_list(name)
    await client.define_named_variable_list(name, list(members))


async def reserve_transfer_set(client: MmsClient, domain: str) -> ReservedTransferSet:
    """Reserve a transfer set of ICC ``domain`` and read its current value."""
    (reserved,) = await client.read(ObjectName.dom(domain, NEXT_DS_TRANSFER_SET))
    if isinstance(reserved, DataAccessError):
        raise SetupError(f"no transfer set available ({reserved.name.lower()})", reserved)
    name = decode_mms_object_name(reserved, NEXT_DS_TRANSFER_SET)
    if name is None:
        raise SetupError(f"{NEXT_DS_TRANSFER_SET} named no transfer set")
    (shape,) = await client.read(name)
    return ReservedTransferSet(name, shape)


async def write_transfer_set(
    client: MmsClient, reserved: ReservedTransferSet, value: DSTransferSetValue
) -> None:
    """Write ``value`` whole, in the shape the server showed; raises :class:`SetupError`
    when the server refuses it."""
    error = await client.write(reserved.name, transfer_set_data(value, reserved.shape))
    if error is not None:
        verb = "start" if value.status else "stop"
        raise SetupError(f"{reserved.name} refused to {verb}: {error.name.lower()}", error)
