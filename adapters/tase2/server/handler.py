"""The TASE.2 service handler: what each MMS service does for a peer of a TASE.2 server.

:class:`Tase2Handler` answers Identify, GetNameList, Read, Write,
GetVariableAccessAttributes and the named-variable-list services for one association,
within what the peer's bilateral table (its :class:`~adapters.tase2.server.bilateral.TableView`)
lets it see and do: points, the VCC and ICC special objects, DS transfer sets, devices and
information messages. It works on the state of a
:class:`~adapters.tase2.server.shell.Tase2Server`, seen through :class:`ServerState`, and on the
application through a :class:`PointSource`; the server is the asyncio shell around it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Final, Protocol

from adapters.tase2.mms.access import Component, VariableEntry, VariableList, VariableListName
from adapters.tase2.mms.aio.server import AssociationContext
from adapters.tase2.mms.data import (
    AccessResult,
    BitString,
    Data,
    DataAccessError,
    Float32,
    Float64,
    Integer,
    Unsigned,
    VisibleString,
)
from adapters.tase2.mms.names import ObjectName, Scope
from adapters.tase2.mms.service_error import AccessCode, ErrorClass, MmsServiceError
from adapters.tase2.mms.services import (
    DefineNamedVariableListRequest,
    DefineNamedVariableListResponse,
    DeleteNamedVariableListRequest,
    DeleteNamedVariableListResponse,
    GetNamedVariableListAttributesRequest,
    GetNamedVariableListAttributesResponse,
    GetNameListRequest,
    GetNameListResponse,
    GetVariableAccessAttributesRequest,
    GetVariableAccessAttributesResponse,
    IdentifyRequest,
    IdentifyResponse,
    ObjectClass,
    ReadRequest,
    ReadResponse,
    WriteRequest,
    WriteResponse,
)
from adapters.tase2.mms.types import TypeSpecification
from adapters.tase2.model.messages import (
    IM_TRANSFER_SET,
    IM_TRANSFER_SET_TYPE,
    INFO_BUFF_PREFIX,
    INFO_MESS_HEADER,
    INFO_MESS_HEADER_TYPE,
    buffer_name,
    buffer_type,
)
from adapters.tase2.model.objects import (
    BILATERAL_TABLE_ID,
    ICC_LISTED_NAMES,
    ICC_SPECIAL_TYPES,
    NEXT_DS_TRANSFER_SET,
    SUPPORTED_FEATURES,
    SUPPORTED_FEATURES_TYPE,
    TASE2_VERSION,
    TASE2_VERSION_TYPE,
    DSTransferSetError,
    encode_mms_object_name,
    supported_features,
    tase2_version,
)
from adapters.tase2.model.points import PointDecodeError
from adapters.tase2.model.transfer_set import DS_TRANSFER_SET_2000_TYPE
from adapters.tase2.server.bilateral import PointAccess, TableView, page_names
from adapters.tase2.server.controls import ServerControls
from adapters.tase2.server.datasets import DataSet, DataSetRegistry
from adapters.tase2.server.outbox import DATA_KEY, PeerSession
from adapters.tase2.server.transfer import TransferEngine, split_component_name
from gateway.points import PointKind, PointValue

__all__ = [
    "SUPPORTED_BLOCKS",
    "PointSource",
    "ServerState",
    "Tase2Handler",
]

log = logging.getLogger(__name__)

SUPPORTED_BLOCKS: Final = (1, 2, 4, 5)
"""Conformance blocks advertised in Supported_Features: only those that really work."""

_VMD_SPECIALS: Final = (TASE2_VERSION, SUPPORTED_FEATURES)
_ICC_SPECIALS: Final = frozenset(ICC_SPECIAL_TYPES)
_IDENTIFIER_OCTETS: Final = 34  # 1A L + at most 32 characters


class PointSource(Protocol):
    """What the server needs from the application: point kinds, values and commands."""

    def kinds(self) -> Mapping[str, PointKind]:
        """Every point the server could serve (id -> kind)."""
        ...

    def current(self, point: str) -> PointValue | None:
        """The point's latest value, or None when the point is gone."""
        ...

    async def command(self, point: str, value: float | int, origin: str) -> DataAccessError | None:
        """Apply a peer's Write; None on success, else the DataAccessError to answer."""
        ...


class ServerState(Protocol):
    """What :class:`Tase2Handler` uses of its :class:`~adapters.tase2.server.shell.Tase2Server`:
    the shared objects and the operations that change them."""

    source: PointSource
    engine: TransferEngine
    registry: DataSetRegistry
    controls: ServerControls

    def data_set(self, ctx: AssociationContext, peer: PeerSession, name: ObjectName) -> DataSet:
        """The data set ``name`` as this peer sees it, else an access service error."""
        ...

    def define_data_set(
        self,
        ctx: AssociationContext,
        peer: PeerSession,
        name: ObjectName,
        entries: Sequence[VariableEntry],
    ) -> DataSet:
        """DefineNamedVariableList: checked against the table, the size limit and the PDU."""
        ...

    def delete_data_sets(
        self, ctx: AssociationContext, peer: PeerSession, request: DeleteNamedVariableListRequest
    ) -> tuple[int, int]:
        """DeleteNamedVariableList: (matched, deleted); other domains are never touched."""
        ...

    def write_transfer_set(
        self, ctx: AssociationContext, name: ObjectName, component: str | None, value: Data
    ) -> DataAccessError | None:
        """A Write of a DSTransferSet (whole, or one component); logs starts and stops."""
        ...


def _peer(ctx: AssociationContext) -> PeerSession:
    peer = ctx.data.get(DATA_KEY)
    if not isinstance(peer, PeerSession):
        raise MmsServiceError.of(ErrorClass.ACCESS, AccessCode.OBJECT_ACCESS_DENIED)
    return peer


_ACCESS_CODES: Final = {
    DataAccessError.OBJECT_NON_EXISTENT: AccessCode.OBJECT_NON_EXISTENT,
    DataAccessError.OBJECT_ACCESS_UNSUPPORTED: AccessCode.OBJECT_ACCESS_UNSUPPORTED,
    DataAccessError.OBJECT_INVALIDATED: AccessCode.OBJECT_INVALIDATED,
}


def access_service_error(error: DataAccessError) -> MmsServiceError:
    """A DataAccessError as the matching access-class service error."""
    code = _ACCESS_CODES.get(error, AccessCode.OBJECT_ACCESS_DENIED)
    return MmsServiceError.of(ErrorClass.ACCESS, code)


def _command_value(kind: PointKind, access: PointAccess, data: Data) -> float | int | None:
    """The number a peer's Write asks for, or None when the value does not fit the point.

    Accepts the point's own TASE.2 type (its Value, or the state bits of a Data_State) and,
    for convenience, a bare number: float or integer for a real point, integer for a
    discrete point, integer 0-3 for a state point.
    """
    value: float | int | None = None
    try:
        value = access.type.info.decode(data).value
    except PointDecodeError:
        if isinstance(data, Float32 | Float64) and kind is PointKind.REAL:
            value = float(data.value)
        elif isinstance(data, Integer | Unsigned):
            value = int(data.value)
        elif isinstance(data, BitString) and kind is PointKind.STATE and data.nbits == 8:
            value = data.data[0] >> 6 if data.data else None
    if value is None:
        return None
    if kind is PointKind.REAL:
        return float(value)
    if isinstance(value, float):
        if not value.is_integer():
            return None
        value = int(value)
    if kind is PointKind.STATE and not 0 <= value <= 3:
        return None
    return value


# --------------------------------------------------------------------------- the handler


class Tase2Handler:
    """The MMS services of a TASE.2 server, on the state of one
    :class:`~adapters.tase2.server.shell.Tase2Server`."""

    def __init__(self, server: ServerState) -> None:
        self.server = server

    # ------------------------------------------------------------------ Identify, GetNameList

    async def identify(self, ctx: AssociationContext, request: IdentifyRequest) -> IdentifyResponse:
        """Our vendor, model and revision."""
        return IdentifyResponse("iccp-gateway", "tase2-server", "0.1")

    async def get_name_list(
        self, ctx: AssociationContext, request: GetNameListRequest
    ) -> GetNameListResponse:
        """Names the peer's table lets it see, one page at a time."""
        peer = _peer(ctx)
        names = self._names(ctx, peer, request)
        limit = max(1, min(1000, (ctx.parameters.max_pdu_size - 32) // _IDENTIFIER_OCTETS))
        page, more = page_names(names, request.continue_after, limit)
        return GetNameListResponse(tuple(page), more_follows=more)

    def _names(
        self, ctx: AssociationContext, peer: PeerSession, request: GetNameListRequest
    ) -> list[str]:
        view = peer.view
        server = self.server
        scope = request.scope
        if scope == Scope.DOMAIN and request.domain != view.domain:
            raise access_service_error(DataAccessError.OBJECT_ACCESS_DENIED)
        cls = request.object_class
        if cls == ObjectClass.DOMAIN:
            return [view.domain] if scope == Scope.VMD else []
        if cls == ObjectClass.NAMED_VARIABLE:
            messages = view.config.messages
            if scope == Scope.VMD:
                return view.merge_names(Scope.VMD, _VMD_SPECIALS)
            if scope == Scope.DOMAIN:
                extra = [*ICC_LISTED_NAMES, *server.engine.transfer_set_names(view.domain)]
                if messages:
                    extra += [INFO_MESS_HEADER, buffer_name(server.controls.buffer_size)]
                return view.merge_names(Scope.DOMAIN, extra)
            return [IM_TRANSFER_SET] if messages else []
        if cls == ObjectClass.NAMED_VARIABLE_LIST:
            return server.registry.names(ctx, scope, request.domain)
        return []

    # ------------------------------------------------------------------ Read

    async def read(self, ctx: AssociationContext, request: ReadRequest) -> ReadResponse:
        """Read variables, or a data set (each member re-checked against the table)."""
        peer = _peer(ctx)
        spec = request.spec
        if isinstance(spec, VariableListName):
            ds = self.server.data_set(ctx, peer, spec.name)
            results = tuple(self._read_member(peer, ds, i) for i in range(len(ds.members)))
        else:
            results = tuple(self._read_entry(ctx, peer, e) for e in spec.items)
        return ReadResponse(results, spec if request.specification_with_result else None)

    def _read_member(self, peer: PeerSession, ds: DataSet, index: int) -> AccessResult:
        member = ds.members[index]
        if member.special is not None:
            return DataAccessError.OBJECT_ACCESS_DENIED  # report-only variables
        return self._read_point(peer.view, member.name)

    def _read_point(self, view: TableView, name: ObjectName) -> AccessResult:
        access = view.check_read(name)
        if isinstance(access, DataAccessError):
            return access
        pv = self.server.source.current(access.point)
        if pv is None:
            return DataAccessError.TEMPORARILY_UNAVAILABLE
        return access.type.info.encode(pv)

    def _read_entry(
        self, ctx: AssociationContext, peer: PeerSession, entry: VariableEntry
    ) -> AccessResult:
        name = entry.name
        view = peer.view
        engine = self.server.engine
        if entry.alternate_access is not None:
            return DataAccessError.OBJECT_ACCESS_UNSUPPORTED
        if name.item == IM_TRANSFER_SET and name.scope != Scope.DOMAIN:
            return self.server.controls.read_im(peer.info, view.config.messages)
        device = view.devices.get(name)
        if device is not None:
            return self.server.controls.read(peer.info, device)
        if name.scope == Scope.VMD:
            if name.item == TASE2_VERSION:
                return tase2_version()
            if name.item == SUPPORTED_FEATURES:
                return supported_features(SUPPORTED_BLOCKS)
        elif name.scope == Scope.DOMAIN and name.domain == view.domain:
            item = name.item
            if item == BILATERAL_TABLE_ID:
                return VisibleString(view.table_id)
            if item == NEXT_DS_TRANSFER_SET:
                try:
                    allocated = engine.allocate(ctx)
                except DSTransferSetError as exc:
                    log.warning("association %d: %s", ctx.association_id, exc)
                    return exc.error
                log.debug("association %d: allocated %s", ctx.association_id, allocated)
                return encode_mms_object_name(allocated)
            if item in _ICC_SPECIALS or _is_message_object(item, view):
                return DataAccessError.OBJECT_ACCESS_DENIED
            if engine.get(name) is not None:
                return engine.read(ctx, name)
        return self._read_point(view, name)

    # ------------------------------------------------------------------ Write

    async def write(self, ctx: AssociationContext, request: WriteRequest) -> WriteResponse:
        """Write transfer sets (whole or one component) and writable points (bus commands)."""
        peer = _peer(ctx)
        spec = request.spec
        if not isinstance(spec, VariableList):
            raise access_service_error(DataAccessError.OBJECT_ACCESS_UNSUPPORTED)
        if len(spec.items) != len(request.values):
            raise MmsServiceError.of(ErrorClass.ACCESS, AccessCode.OBJECT_ACCESS_DENIED)
        results: list[DataAccessError | None] = []
        for entry, value in zip(spec.items, request.values, strict=True):
            results.append(await self._write_entry(ctx, peer, entry, value))
        return WriteResponse(tuple(results))

    async def _write_entry(
        self, ctx: AssociationContext, peer: PeerSession, entry: VariableEntry, value: Data
    ) -> DataAccessError | None:
        name = entry.name
        view = peer.view
        server = self.server
        if name.scope == Scope.DOMAIN and name.domain == view.domain:
            target = _transfer_set_target(server.engine, entry)
            if target is not None:
                ts_name, component = target
                return server.write_transfer_set(ctx, ts_name, component, value)
            if name.item in _ICC_SPECIALS or _is_message_object(name.item, view):
                return DataAccessError.OBJECT_ACCESS_DENIED
        if name.scope == Scope.VMD and name.item in _VMD_SPECIALS:
            return DataAccessError.OBJECT_ACCESS_DENIED
        if entry.alternate_access is not None:
            return DataAccessError.OBJECT_ACCESS_UNSUPPORTED
        if name.item == IM_TRANSFER_SET and name.scope != Scope.DOMAIN:
            return server.controls.write_im(peer.info, view.config.messages, value)
        device = view.devices.get(name)
        if device is not None:
            return await server.controls.write(peer.info, device, value)
        access = view.check_write(name)
        if isinstance(access, DataAccessError):
            return access
        kind = server.source.kinds().get(access.point)
        if kind is None:
            return DataAccessError.OBJECT_NON_EXISTENT
        number = _command_value(kind, access, value)
        if number is None:
            return DataAccessError.TYPE_INCONSISTENT
        origin = f"tase2:{peer.table_id}:{ctx.peer_address[0]}"
        return await server.source.command(access.point, number, origin)

    # ------------------------------------------------------------------ GVAA

    async def get_variable_access_attributes(
        self, ctx: AssociationContext, request: GetVariableAccessAttributesRequest
    ) -> GetVariableAccessAttributesResponse:
        """The exact TASE.2 type, with component names."""
        peer = _peer(ctx)
        return GetVariableAccessAttributesResponse(self._type_of(peer, request.name))

    def _type_of(self, peer: PeerSession, name: ObjectName) -> TypeSpecification:
        view = peer.view
        device = view.devices.get(name)
        if device is not None:
            return device.type
        if name.item == IM_TRANSFER_SET and name.scope != Scope.DOMAIN and view.config.messages:
            return IM_TRANSFER_SET_TYPE
        if name.scope == Scope.VMD:
            if name.item == TASE2_VERSION:
                return TASE2_VERSION_TYPE
            if name.item == SUPPORTED_FEATURES:
                return SUPPORTED_FEATURES_TYPE
        elif name.scope == Scope.DOMAIN and name.domain == view.domain:
            special = ICC_SPECIAL_TYPES.get(name.item)
            if special is not None:
                return special
            if view.config.messages and name.item == INFO_MESS_HEADER:
                return INFO_MESS_HEADER_TYPE
            if _is_message_object(name.item, view):
                return buffer_type(self.server.controls.buffer_size)
            if self.server.engine.get(name) is not None:
                return DS_TRANSFER_SET_2000_TYPE
        access = view.check_read(name)
        if isinstance(access, DataAccessError):
            writable = view.check_write(name)
            if isinstance(writable, DataAccessError):
                raise access_service_error(access)
            access = writable
        return access.type.info.spec

    # ------------------------------------------------------------------ data sets

    async def define_named_variable_list(
        self, ctx: AssociationContext, request: DefineNamedVariableListRequest
    ) -> DefineNamedVariableListResponse:
        """Create a data set in the peer's domain or at association scope."""
        self.server.define_data_set(ctx, _peer(ctx), request.name, request.variables)
        return DefineNamedVariableListResponse()

    async def delete_named_variable_list(
        self, ctx: AssociationContext, request: DeleteNamedVariableListRequest
    ) -> DeleteNamedVariableListResponse:
        """Delete data sets (not those a running transfer set reports)."""
        matched, deleted = self.server.delete_data_sets(ctx, _peer(ctx), request)
        return DeleteNamedVariableListResponse(matched, deleted)

    async def get_named_variable_list_attributes(
        self, ctx: AssociationContext, request: GetNamedVariableListAttributesRequest
    ) -> GetNamedVariableListAttributesResponse:
        """The members of a data set."""
        ds = self.server.data_set(ctx, _peer(ctx), request.name)
        return GetNamedVariableListAttributesResponse(ds.entries, mms_deletable=ds.deletable)


def _is_message_object(item: str, view: TableView) -> bool:
    """True for the report-only Block 4 objects of a table that allows messages."""
    return view.config.messages and (item == INFO_MESS_HEADER or item.startswith(INFO_BUFF_PREFIX))


def _transfer_set_target(
    engine: TransferEngine, entry: VariableEntry
) -> tuple[ObjectName, str | None] | None:
    """(transfer set, component or None) when a Write addresses a DSTransferSet.

    A component is addressed by MMS alternate access (``component``) or by the flattened
    name ``DSTransferSet01$Status`` of libiec61850-derived peers.
    """
    name = entry.name
    assert name.domain is not None
    if engine.get(name) is not None:
        alt = entry.alternate_access
        if alt is None:
            return name, None
        sel = alt[0].selection
        if len(alt) == 1 and isinstance(sel.selector, Component) and sel.nested is None:
            return name, sel.selector.name
        return name, "?"  # any other alternate access: no such component
    split = split_component_name(name.item)
    if split is not None:
        ts = ObjectName.dom(name.domain, split[0])
        if engine.get(ts) is not None and entry.alternate_access is None:
            return ts, split[1]
    return None
