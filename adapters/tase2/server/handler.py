"""The TASE.2 service handler, sans-IO: what each MMS service does for a peer.

:class:`Tase2Handler` answers Identify, GetNameList, Read, Write,
GetVariableAccessAttributes and the named-variable-list services for the associations of
one server, within what each peer's bilateral table (its
:class:`~adapters.tase2.server.bilateral.TableView`) lets it see and do: points, the VCC and
ICC special objects, DS transfer sets, devices and information messages. Every name goes
through one :func:`~adapters.tase2.server.resolver.resolve`.

It sees an association only through :class:`ServiceContext` and the server only through
:class:`ServerState` (shared objects, the peer record of an association, a clock and a
wake-up for the report scheduler), so it is tested with plain objects; the asyncio shell
is :class:`~adapters.tase2.server.shell.Tase2Server`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from operator import is_not
from typing import Final, Protocol

from adapters.tase2.asn1.ber import code_name, encode_integer
from adapters.tase2.mms.access import (
    Component,
    VariableEntry,
    VariableList,
    VariableListName,
)
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
    encode_access_result,
)
from adapters.tase2.mms.names import ObjectName, Scope
from adapters.tase2.mms.service_error import AccessCode, ErrorClass, MmsServiceError, ServiceError
from adapters.tase2.mms.services import (
    ConfirmedServiceResponse,
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
    INFO_MESS_HEADER,
    INFO_MESS_HEADER_TYPE,
    buffer_name,
    buffer_type,
)
from adapters.tase2.model.objects import (
    ICC_LISTED_NAMES,
    ICC_SPECIAL_TYPES,
    SUPPORTED_FEATURES,
    SUPPORTED_FEATURES_TYPE,
    TASE2_VERSION,
    TASE2_VERSION_TYPE,
    DSConditions,
    DSTransferSetError,
    encode_mms_object_name,
    supported_features,
    tase2_version,
)
from adapters.tase2.model.points import PointDecodeError, PointTypeInfo
from adapters.tase2.model.transfer_set import DS_TRANSFER_SET_2000_TYPE
from adapters.tase2.server.bilateral import PointAccess, TableView, page_names
from adapters.tase2.server.controls import ServerControls
from adapters.tase2.server.datasets import DataSet, DataSetError, DataSetQuota, DataSetRegistry
from adapters.tase2.server.encoded import EncodedValues
from adapters.tase2.server.peers import PeerSession
from adapters.tase2.server.reports import check_report_fits
from adapters.tase2.server.resolver import ObjectKind, Resolved, resolve
from adapters.tase2.server.settings import ServerLimits
from adapters.tase2.server.transfer import TransferEngine
from gateway.points import PointKind, PointValue

__all__ = [
    "SUPPORTED_BLOCKS",
    "PlannedRead",
    "PointSource",
    "ServerState",
    "ServiceContext",
    "Tase2Handler",
    "access_service_error",
]

log = logging.getLogger(__name__)

SUPPORTED_BLOCKS: Final = (1, 2, 4, 5)
"""Conformance blocks advertised in Supported_Features: only those that really work."""

_VMD_SPECIALS: Final = (TASE2_VERSION, SUPPORTED_FEATURES)
_IDENTIFIER_OCTETS: Final = 34  # 1A L + at most 32 characters
_REFUSED_KINDS: Final = frozenset(
    {
        ObjectKind.TASE2_VERSION,
        ObjectKind.SUPPORTED_FEATURES,
        ObjectKind.BILATERAL_TABLE_ID,
        ObjectKind.NEXT_TRANSFER_SET,
        ObjectKind.REPORT_ONLY,
        ObjectKind.MESSAGE_HEADER,
        ObjectKind.MESSAGE_BUFFER,
    }
)
"""Objects a peer may never write."""
_DENIED: Final = encode_access_result(DataAccessError.OBJECT_ACCESS_DENIED)


class PointSource(Protocol):
    """What the server needs from the application: point kinds, values and commands."""

    def kinds(self) -> Mapping[str, PointKind]:
        """Every point the server could serve (id -> kind)."""
        ...

    def current(self, point: str) -> PointValue | None:
        """The point's latest value, or None when the point is gone."""
        ...

    def values(self, points: Sequence[str]) -> list[PointValue | None]:
        """The latest values of ``points`` (None for a point that is gone)."""
        ...

    async def command(self, point: str, value: float | int, origin: str) -> DataAccessError | None:
        """Apply a peer's Write; None on success, else the DataAccessError to answer."""
        ...


class Negotiated(Protocol):
    """The negotiated parameters of an association that the handler uses."""

    @property
    def max_pdu_size(self) -> int:
        """The negotiated maximum MMS PDU size, in octets."""
        ...


class ServiceContext(Protocol):
    """What the handler uses of an association (the asyncio ``AssociationContext`` is one)."""

    @property
    def association_id(self) -> int:
        """A number for log lines."""
        ...

    @property
    def peer_address(self) -> tuple[str, int]:
        """The peer's IP address and port."""
        ...

    @property
    def parameters(self) -> Negotiated:
        """The negotiated parameters."""
        ...

    def __hash__(self) -> int:
        """Associations key the data sets and transfer sets they own."""
        ...


class ServerState(Protocol):
    """What :class:`Tase2Handler` uses of its server: the shared objects, the peer record of
    an association, the time, and a way to wake the report scheduler."""

    source: PointSource
    encoded: EncodedValues
    engine: TransferEngine
    registry: DataSetRegistry
    controls: ServerControls
    limits: ServerLimits

    def peer(self, ctx: ServiceContext) -> PeerSession | None:
        """The TASE.2 record of an association, or None when it has none (yet)."""
        ...

    def now(self) -> float:
        """POSIX time."""
        ...

    def wake(self) -> None:
        """A transfer set started: the scheduler must look at its deadlines again."""
        ...


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


Run = tuple[PointTypeInfo, int]
"""Consecutive readable points of one type: the type and how many points."""


class PlannedRead:
    """A Read of points planned once for one peer (see :meth:`Tase2Handler.prepare_read`):
    which points it reads, in runs of one type, and the octets of the errors between them.

    Calling it gives the AccessResults from the current values, or None once the plan may
    no longer hold (the peer's table, the data sets or the transfer sets changed). The
    last AccessResults are kept while the values are the same objects (the source hands
    out a new one on each change).
    """

    __slots__ = (
        "_data_sets",
        "_encoded",
        "_engine",
        "_last",
        "_names_version",
        "_peer",
        "_points",
        "_results",
        "_steps",
        "_values",
        "_version",
        "_view",
    )

    def __init__(
        self, server: ServerState, peer: PeerSession, accesses: list[PointAccess | bytes]
    ) -> None:
        self._peer, self._view = peer, peer.view
        self._engine, self._data_sets = server.engine, server.registry
        self._names_version, self._version = server.engine.names_version, server.registry.version
        self._values, self._encoded = server.source.values, server.encoded
        self._points = tuple(a.point for a in accesses if isinstance(a, PointAccess))
        self._steps = _runs(accesses)
        self._last: list[PointValue | None] | None = None
        self._results = b""

    def __call__(self) -> bytes | None:
        """The AccessResults of the Read now, or None when it must be planned again."""
        if (
            self._peer.view is not self._view
            or self._engine.names_version != self._names_version
            or self._data_sets.version != self._version
        ):
            return None
        values, last = self._values(self._points), self._last
        if last is None or any(map(is_not, values, last)):  # 0.0 == -0.0, not alike encoded
            self._results, self._last = self._encode(values), values
        return self._results

    def _encode(self, values: list[PointValue | None]) -> bytes:
        join = self._encoded.join
        out: list[bytes] = []
        at = 0
        for step in self._steps:
            if isinstance(step, bytes):
                out.append(step)
            else:
                info, count = step
                out.append(join(info, values[at : at + count]))
                at += count
        return b"".join(out)


def _runs(accesses: list[PointAccess | bytes]) -> tuple[Run | bytes, ...]:
    """Consecutive points of one type as runs; error octets stay as they are."""
    steps: list[Run | bytes] = []
    count = 0
    info: PointTypeInfo | None = None
    for access in accesses:
        if isinstance(access, PointAccess) and access.type.info is info:
            count += 1
            continue
        if info is not None:
            steps.append((info, count))
        if isinstance(access, bytes):
            steps.append(access)
            info, count = None, 0
        else:
            info, count = access.type.info, 1
    if info is not None:
        steps.append((info, count))
    return tuple(steps)


def _point_step(view: TableView, name: ObjectName) -> PointAccess | bytes:
    """A readable point's access, or the octets of the error a Read of it gets."""
    access = view.check_read(name)
    return encode_access_result(access) if isinstance(access, DataAccessError) else access


class Tase2Handler:
    """The MMS services of a TASE.2 server, on the state of one :class:`ServerState`."""

    def __init__(self, server: ServerState) -> None:
        self.server = server

    def _peer(self, ctx: ServiceContext) -> PeerSession:
        peer = self.server.peer(ctx)
        if peer is None:
            raise MmsServiceError.of(ErrorClass.ACCESS, AccessCode.OBJECT_ACCESS_DENIED)
        return peer

    def _resolve(self, peer: PeerSession, name: ObjectName) -> Resolved:
        return resolve(peer.view, self.server.engine, name)

    # ------------------------------------------------------------------ answered at once

    def answer_now(self, ctx: ServiceContext, service: object) -> ConfirmedServiceResponse | None:
        """Identify, GetNameList, Read and GetVariableAccessAttributes only look at what the
        server holds: answered in the step that received them (see MmsHandler)."""
        if isinstance(service, ReadRequest):
            return self.read_now(ctx, service)
        if isinstance(service, GetNameListRequest):
            return self.get_name_list_now(ctx, service)
        if isinstance(service, GetVariableAccessAttributesRequest):
            return self.get_variable_access_attributes_now(ctx, service)
        if isinstance(service, IdentifyRequest):
            return self.identify_now(ctx, service)
        return None

    async def identify(self, ctx: ServiceContext, request: IdentifyRequest) -> IdentifyResponse:
        """Identify (as :meth:`identify_now`)."""
        return self.identify_now(ctx, request)

    async def get_name_list(
        self, ctx: ServiceContext, request: GetNameListRequest
    ) -> GetNameListResponse:
        """GetNameList (as :meth:`get_name_list_now`)."""
        return self.get_name_list_now(ctx, request)

    async def read(self, ctx: ServiceContext, request: ReadRequest) -> ReadResponse:
        """Read (as :meth:`read_now`)."""
        return self.read_now(ctx, request)

    async def get_variable_access_attributes(
        self, ctx: ServiceContext, request: GetVariableAccessAttributesRequest
    ) -> GetVariableAccessAttributesResponse:
        """GetVariableAccessAttributes (as :meth:`get_variable_access_attributes_now`)."""
        return self.get_variable_access_attributes_now(ctx, request)

    # ------------------------------------------------------------------ Identify, GetNameList

    def identify_now(self, ctx: ServiceContext, request: IdentifyRequest) -> IdentifyResponse:
        """Our vendor, model and revision."""
        return IdentifyResponse("iccp-gateway", "tase2-server", "0.1")

    def get_name_list_now(
        self, ctx: ServiceContext, request: GetNameListRequest
    ) -> GetNameListResponse:
        """Names the peer's table lets it see, one page at a time."""
        peer = self._peer(ctx)
        names = self._names(ctx, peer, request)
        limit = max(1, min(1000, (ctx.parameters.max_pdu_size - 32) // _IDENTIFIER_OCTETS))
        page, more = page_names(names, request.continue_after, limit)
        return GetNameListResponse(tuple(page), more_follows=more)

    def _names(
        self, ctx: ServiceContext, peer: PeerSession, request: GetNameListRequest
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

    def read_now(self, ctx: ServiceContext, request: ReadRequest) -> ReadResponse:
        """Read variables, or a data set (each member re-checked against the table)."""
        peer = self._peer(ctx)
        spec = request.spec
        if isinstance(spec, VariableListName):
            ds = self._data_set(ctx, peer, spec.name)
            results = tuple(self._read_member(peer, ds, i) for i in range(len(ds.members)))
        else:
            results = tuple(self._read_entry(ctx, peer, e) for e in spec.items)
        return ReadResponse(results, spec if request.specification_with_result else None)

    def prepare_read(self, ctx: ServiceContext, request: ReadRequest) -> PlannedRead | None:
        """What :meth:`read_now` answers ``request`` with, as encoded AccessResults from
        the values at each call, when it reads only points (named, or the members of a
        data set); None for anything else.

        What each variable is (a readable point, or the error to answer) is worked out
        here, once; the :class:`PlannedRead` looks up only the values (their encodings
        are kept while they do not change).
        """
        peer = self.server.peer(ctx)
        if peer is None:
            return None
        view = peer.view
        spec = request.spec
        if isinstance(spec, VariableListName):
            try:
                ds = self._data_set(ctx, peer, spec.name)
            except MmsServiceError:
                return None
            accesses = [
                _DENIED if m.special is not None else _point_step(view, m.name) for m in ds.members
            ]
        else:
            accesses = []
            for entry in spec.items:
                if entry.alternate_access is not None:
                    return None
                if self._resolve(peer, entry.name).kind is not ObjectKind.POINT:
                    return None
                accesses.append(_point_step(view, entry.name))
        return PlannedRead(self.server, peer, accesses)

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
        self, ctx: ServiceContext, peer: PeerSession, entry: VariableEntry
    ) -> AccessResult:
        if entry.alternate_access is not None:
            return DataAccessError.OBJECT_ACCESS_UNSUPPORTED
        view = peer.view
        server = self.server
        target = self._resolve(peer, entry.name)
        match target.kind:
            case ObjectKind.IM_TRANSFER_SET:
                return server.controls.read_im(peer.info, view.config.messages)
            case ObjectKind.TASE2_VERSION:
                return tase2_version()
            case ObjectKind.SUPPORTED_FEATURES:
                return supported_features(SUPPORTED_BLOCKS)
            case ObjectKind.BILATERAL_TABLE_ID:
                return VisibleString(view.table_id)
            case ObjectKind.NEXT_TRANSFER_SET:
                return self._allocate(ctx)
            case ObjectKind.REPORT_ONLY | ObjectKind.MESSAGE_HEADER | ObjectKind.MESSAGE_BUFFER:
                return DataAccessError.OBJECT_ACCESS_DENIED
            case ObjectKind.TRANSFER_SET if target.component is None:
                return server.engine.read(ctx, target.name)
            case ObjectKind.DEVICE:
                assert target.device is not None
                return server.controls.read(peer.info, target.device)
        return self._read_point(view, entry.name)

    def _allocate(self, ctx: ServiceContext) -> AccessResult:
        """A read of Next_DSTransfer_Set: a free transfer set of the peer's domain."""
        try:
            allocated = self.server.engine.allocate(ctx)
        except DSTransferSetError as exc:
            log.warning("association %d: %s", ctx.association_id, exc)
            return exc.error
        log.debug("association %d: allocated %s", ctx.association_id, allocated)
        return encode_mms_object_name(allocated)

    # ------------------------------------------------------------------ Write

    async def write(self, ctx: ServiceContext, request: WriteRequest) -> WriteResponse:
        """Write transfer sets (whole or one component) and writable points (bus commands)."""
        peer = self._peer(ctx)
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
        self, ctx: ServiceContext, peer: PeerSession, entry: VariableEntry, value: Data
    ) -> DataAccessError | None:
        view = peer.view
        server = self.server
        target = self._resolve(peer, entry.name)
        flattened_with_alternate = target.component is not None and entry.alternate_access
        if target.kind is ObjectKind.TRANSFER_SET and not flattened_with_alternate:
            component = _written_component(target, entry)
            return self._write_transfer_set(ctx, peer, target.name, component, value)
        if target.kind in _REFUSED_KINDS:
            return DataAccessError.OBJECT_ACCESS_DENIED
        if entry.alternate_access is not None:
            return DataAccessError.OBJECT_ACCESS_UNSUPPORTED
        if target.kind is ObjectKind.IM_TRANSFER_SET:
            return server.controls.write_im(peer.info, view.config.messages, value)
        if target.device is not None:
            return await server.controls.write(peer.info, target.device, value)
        access = view.check_write(entry.name)
        if isinstance(access, DataAccessError):
            found = view.lookup(entry.name)
            point = found.point if found is not None else ""
            server.controls.refused_write(peer.info, str(entry.name), point, value, access)
            return access
        kind = server.source.kinds().get(access.point)
        if kind is None:
            return DataAccessError.OBJECT_NON_EXISTENT
        number = _command_value(kind, access, value)
        if number is None:
            return DataAccessError.TYPE_INCONSISTENT
        origin = f"tase2:{peer.table_id}:{ctx.peer_address[0]}"
        return await server.source.command(access.point, number, origin)

    def _write_transfer_set(
        self,
        ctx: ServiceContext,
        peer: PeerSession,
        name: ObjectName,
        component: str | None,
        value: Data,
    ) -> DataAccessError | None:
        """A Write of a DSTransferSet (whole, or one component); logs starts and stops."""
        server = self.server
        engine = server.engine
        ts = engine.get(name)
        assert ts is not None
        was_running = ts.running
        lookup = lambda n: server.registry.get(ctx, n, peer.view)  # noqa: E731
        try:
            if component is None:
                engine.write(ctx, name, value, server.now(), lookup)
            else:
                engine.write_component(ctx, name, component, value, server.now(), lookup)
        except DSTransferSetError as exc:
            log.warning(
                "association %d (%s): write of %s%s refused (%s): %s",
                ctx.association_id,
                peer.label,
                name,
                f"${component}" if component else "",
                code_name(exc.error),
                exc,
            )
            return exc.error
        if ts.running and not was_running:
            a = ts.value
            log.info(
                "transfer set %s started: association %d (%s) data set %s conditions=%s "
                "interval=%d integrity=%d buffer=%d rbe=%s all_changes=%s critical=%s",
                name,
                ctx.association_id,
                peer.label,
                a.data_set,
                "|".join(str(c.name).lower() for c in DSConditions if c in a.conditions) or "none",
                a.interval,
                a.integrity_check,
                a.buffer_time,
                a.rbe,
                a.all_changes_reported,
                a.critical,
            )
            server.wake()
        elif was_running and not ts.running:
            log.info(
                "transfer set %s stopped by association %d (%s)",
                name,
                ctx.association_id,
                peer.label,
            )
        return None

    # ------------------------------------------------------------------ GVAA

    def get_variable_access_attributes_now(
        self, ctx: ServiceContext, request: GetVariableAccessAttributesRequest
    ) -> GetVariableAccessAttributesResponse:
        """The exact TASE.2 type, with component names."""
        peer = self._peer(ctx)
        return GetVariableAccessAttributesResponse(self._type_of(peer, request.name))

    def _type_of(self, peer: PeerSession, name: ObjectName) -> TypeSpecification:
        view = peer.view
        target = self._resolve(peer, name)
        match target.kind:
            case ObjectKind.DEVICE:
                assert target.device is not None
                return target.device.type
            case ObjectKind.IM_TRANSFER_SET if view.config.messages:
                return IM_TRANSFER_SET_TYPE
            case ObjectKind.TASE2_VERSION:
                return TASE2_VERSION_TYPE
            case ObjectKind.SUPPORTED_FEATURES:
                return SUPPORTED_FEATURES_TYPE
            case (
                ObjectKind.BILATERAL_TABLE_ID
                | ObjectKind.NEXT_TRANSFER_SET
                | ObjectKind.REPORT_ONLY
            ):
                return ICC_SPECIAL_TYPES[name.item]
            case ObjectKind.MESSAGE_HEADER:
                return INFO_MESS_HEADER_TYPE
            case ObjectKind.MESSAGE_BUFFER:
                return buffer_type(self.server.controls.buffer_size)
            case ObjectKind.TRANSFER_SET if target.component is None:
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
        self, ctx: ServiceContext, request: DefineNamedVariableListRequest
    ) -> DefineNamedVariableListResponse:
        """Create a data set in the peer's domain or at association scope: checked against
        the table, the size limit, the association's quota of data sets and members, and
        the negotiated PDU size. Refusals over a configured limit are logged per
        association and limit at the 1st, 2nd, 4th... time, naming the limit."""
        peer = self._peer(ctx)
        name = request.name
        registry = self.server.registry
        engine = self.server.engine
        limits = self.server.limits
        quota = DataSetQuota(limits.max_data_sets, limits.max_data_set_members)
        try:
            ds = registry.define(
                ctx, name, request.variables, peer.view, limits.data_set_size, quota
            )
            pool = engine.transfer_set_names(peer.view.domain)
            longest = max(pool, key=len, default="DSTransferSet00")
            try:
                check_report_fits(
                    ds, ObjectName.dom(peer.view.domain, longest), ctx.parameters.max_pdu_size
                )
            except DataSetError:
                registry.delete(ctx, name, lambda _ds: False)
                raise
        except DataSetError as exc:
            if exc.limit is None:
                log.warning(
                    "association %d: data set %s refused: %s", ctx.association_id, name, exc
                )
            elif n := peer.limit_log.count(exc.limit):
                log.warning(
                    "association %d (%s): data set refused over limits.%s (refusal %d of "
                    "this limit): %s",
                    ctx.association_id,
                    peer.label,
                    exc.limit,
                    n,
                    exc,
                )
            raise MmsServiceError(exc.service_error, str(exc)) from None
        return DefineNamedVariableListResponse()

    async def delete_named_variable_list(
        self, ctx: ServiceContext, request: DeleteNamedVariableListRequest
    ) -> DeleteNamedVariableListResponse:
        """Delete data sets (not those a running transfer set reports, nor the server's)."""
        peer = self._peer(ctx)
        server = self.server
        done = server.registry.delete_requested(
            ctx, peer.view.domain, request, server.engine.data_set_in_use
        )
        if done.refused:
            message = (
                f"data set {', '.join(str(n) for n in done.refused)} is configured by the "
                f"server and cannot be deleted ({done.deleted} other data sets deleted)"
            )
            log.warning("association %d: %s", ctx.association_id, message)
            raise MmsServiceError(
                ServiceError(
                    ErrorClass.ACCESS,
                    AccessCode.OBJECT_ACCESS_DENIED,
                    service_specific=(0x86, encode_integer(done.deleted)),
                ),
                message,
            )
        return DeleteNamedVariableListResponse(done.matched, done.deleted)

    async def get_named_variable_list_attributes(
        self, ctx: ServiceContext, request: GetNamedVariableListAttributesRequest
    ) -> GetNamedVariableListAttributesResponse:
        """The members of a data set."""
        ds = self._data_set(ctx, self._peer(ctx), request.name)
        return GetNamedVariableListAttributesResponse(ds.entries, mms_deletable=ds.deletable)

    def _data_set(self, ctx: ServiceContext, peer: PeerSession, name: ObjectName) -> DataSet:
        """The data set ``name`` as this peer sees it, else an access service error."""
        if name.scope == Scope.DOMAIN and name.domain != peer.view.domain:
            raise access_service_error(DataAccessError.OBJECT_ACCESS_DENIED)
        ds = self.server.registry.get(ctx, name, peer.view)
        if ds is None:
            raise access_service_error(DataAccessError.OBJECT_NON_EXISTENT)
        return ds


def _written_component(target: Resolved, entry: VariableEntry) -> str | None:
    """Which part of a transfer set a Write addresses: None for the whole structure, else a
    component name.

    A component is addressed by MMS alternate access (``component``) or by the flattened
    name ``DSTransferSet01$Status`` (then without alternate access).
    """
    alt = entry.alternate_access
    if target.component is not None or alt is None:
        return target.component
    sel = alt[0].selection
    if len(alt) == 1 and isinstance(sel.selector, Component) and sel.nested is None:
        return sel.selector.name
    return "?"  # any other alternate access: no such component
