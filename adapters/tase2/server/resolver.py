"""Which TASE.2 object an MMS name designates for one peer, sans-IO.

Read, Write and GetVariableAccessAttributes all start here, so that the three services
agree on what a name is. :func:`resolve` looks, in this order, for

1. ``IM_Transfer_Set`` (association or VMD scope);
2. the VMD objects ``TASE2_Version`` and ``Supported_Features``;
3. in the peer's own ICC domain: ``Bilateral_Table_ID``, ``Next_DSTransfer_Set``, the
   report-only special variables, the Block 4 message objects (when the table allows
   messages) and the DS transfer sets (also by the flattened component name
   ``DSTransferSet01$Status`` that libiec61850-derived peers use);
4. a device object of the peer's table;
5. otherwise a point, which the table's :class:`~adapters.tase2.server.bilateral.TableView`
   checks.

What a service may do with each kind (read it, write it, type it) is the service's decision.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final, Protocol

from adapters.tase2.mms.names import ObjectName, Scope
from adapters.tase2.model.messages import IM_TRANSFER_SET, INFO_BUFF_PREFIX, INFO_MESS_HEADER
from adapters.tase2.model.objects import (
    BILATERAL_TABLE_ID,
    ICC_SPECIAL_TYPES,
    NEXT_DS_TRANSFER_SET,
    SUPPORTED_FEATURES,
    TASE2_VERSION,
)
from adapters.tase2.server.bilateral import TableView
from adapters.tase2.server.device_control import DeviceObject
from adapters.tase2.server.transfer import split_component_name

__all__ = ["ObjectKind", "Resolved", "TransferSets", "resolve"]


class ObjectKind(enum.Enum):
    """The kinds of object a name can designate."""

    IM_TRANSFER_SET = "IM_Transfer_Set"
    TASE2_VERSION = "TASE2_Version"
    SUPPORTED_FEATURES = "Supported_Features"
    BILATERAL_TABLE_ID = "Bilateral_Table_ID"
    NEXT_TRANSFER_SET = "Next_DSTransfer_Set"
    REPORT_ONLY = "report-only special variable"
    MESSAGE_HEADER = "Info_Mess_Header"
    MESSAGE_BUFFER = "information buffer"
    TRANSFER_SET = "DS transfer set"
    DEVICE = "device"
    POINT = "point"


class TransferSets(Protocol):
    """What the resolver needs of the transfer engine: does a transfer set exist."""

    def get(self, name: ObjectName, /) -> object | None:
        """The transfer set called ``name``, or None."""
        ...


@dataclass(frozen=True, slots=True)
class Resolved:
    """What a name designates: its ``kind``, the object's ``name`` (for a flattened
    component name, the transfer set's), the ``component`` that such a name selects, and
    the ``device`` object for a device."""

    kind: ObjectKind
    name: ObjectName
    component: str | None = None
    device: DeviceObject | None = None


_VMD_OBJECTS: Final = {
    TASE2_VERSION: ObjectKind.TASE2_VERSION,
    SUPPORTED_FEATURES: ObjectKind.SUPPORTED_FEATURES,
}
_ICC_OBJECTS: Final = {item: ObjectKind.REPORT_ONLY for item in ICC_SPECIAL_TYPES} | {
    BILATERAL_TABLE_ID: ObjectKind.BILATERAL_TABLE_ID,
    NEXT_DS_TRANSFER_SET: ObjectKind.NEXT_TRANSFER_SET,
}


def resolve(view: TableView, transfer_sets: TransferSets, name: ObjectName) -> Resolved:
    """What ``name`` designates for the peer whose table is compiled as ``view``."""
    item = name.item
    if name.scope == Scope.DOMAIN:
        if name.domain == view.domain:
            found = _in_own_domain(view, transfer_sets, name)
            if found is not None:
                return found
    elif item == IM_TRANSFER_SET:
        return Resolved(ObjectKind.IM_TRANSFER_SET, name)
    elif name.scope == Scope.VMD and item in _VMD_OBJECTS:
        return Resolved(_VMD_OBJECTS[item], name)
    device = view.devices.get(name)
    if device is not None:
        return Resolved(ObjectKind.DEVICE, name, device=device)
    return Resolved(ObjectKind.POINT, name)


def _in_own_domain(
    view: TableView, transfer_sets: TransferSets, name: ObjectName
) -> Resolved | None:
    item = name.item
    kind = _ICC_OBJECTS.get(item)
    if kind is not None:
        return Resolved(kind, name)
    if view.config.messages:
        if item == INFO_MESS_HEADER:
            return Resolved(ObjectKind.MESSAGE_HEADER, name)
        if item.startswith(INFO_BUFF_PREFIX):
            return Resolved(ObjectKind.MESSAGE_BUFFER, name)
    if transfer_sets.get(name) is not None:
        return Resolved(ObjectKind.TRANSFER_SET, name)
    split = split_component_name(item)
    if split is not None:
        assert name.domain is not None
        ts = ObjectName.dom(name.domain, split[0])
        if transfer_sets.get(ts) is not None:
            return Resolved(ObjectKind.TRANSFER_SET, ts, component=split[1])
    return None
