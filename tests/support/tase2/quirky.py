"""A TASE.2 server of our own that can be quirky the ways real (FreeTASE2-like) servers are.

It is a test peer for the client and the probe (issue 14), built on our MMS layers: one
:class:`QuirkyServer` is the :class:`~adapters.tase2.mms.aio.server.MmsHandler` and the state
a test changes and inspects; :func:`running_quirky` serves it on 127.0.0.1. Each field of
:class:`Quirks` is one way of being non-standard:

* ``point_order`` - the component order of the float points (in their type and every value);
* ``point_time_zero`` - point TimeStamps stay 0 until a test gives one explicitly;
* ``next_ds_transfer_set`` - ``Next_DSTransfer_Set`` as an MMSObjectName (standard), as
  ``{Available, Max, Name}`` (struct), as a bare item name (string), or as a struct that
  never changes, always names ``DSTS_1`` and reserves nothing (fixed: whoever starts a
  transfer set owns it);
* ``data_set_name`` - DataSetName of the transfer sets (and Transfer_Set_Name in reports) as
  an MMSObjectName or as a VisibleString item name;
* ``dsts_types`` - the standard DSTransferSet type, or FreeTASE2's (BinaryTime StartTime,
  Integer Status, an integer mask DSConditionsRequested last);
* ``transfer_set_writes`` - transfer sets take whole writes only, ``$``-component writes
  only (``DSTS_1$Status``, or MMS alternate access), no writes at all, or both but a whole
  write and most components are answered success and ignored (ignore_whole);
* ``reports`` - reports name the data set (standard) or the transfer set, with a header;
* ``missing`` - point names that exist nowhere (a data set naming one is refused with
  ``missing_member_error``, ACCESS/object-non-existent by default, without saying which);
* ``keep_data_sets`` - data sets outlive the association that defined them;
* ``max_data_set_members`` - larger data sets are refused (DEFINITION/other);
* ``dsts_components`` - 13 (2000 model) or 12 (1996 model) DSTransferSet components;
* ``supported_features`` / ``supported_features_bits`` - the blocks advertised, in a bit
  string of that size.

:data:`FREETASE2` is every quirk of the FreeTASE2 server (libiec61850 1.6) at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Literal

from adapters.tase2.mms.access import Component, VariableEntry, VariableList, VariableListName
from adapters.tase2.mms.aio.server import AssociationContext, MmsServer, UnsupportedHandler
from adapters.tase2.mms.association import CloseReason
from adapters.tase2.mms.data import (
    AccessResult,
    BinaryTime,
    BitString,
    Boolean,
    Data,
    DataAccessError,
    Float32,
    Integer,
    Structure,
    VisibleString,
)
from adapters.tase2.mms.names import ObjectName, Scope, is_valid_identifier
from adapters.tase2.mms.service_error import AccessCode, DefinitionCode, ErrorClass, MmsServiceError
from adapters.tase2.mms.services import (
    DefineNamedVariableListRequest,
    DefineNamedVariableListResponse,
    DeleteNamedVariableListRequest,
    DeleteNamedVariableListResponse,
    DeleteScope,
    GetNamedVariableListAttributesRequest,
    GetNamedVariableListAttributesResponse,
    GetNameListRequest,
    GetNameListResponse,
    GetVariableAccessAttributesRequest,
    GetVariableAccessAttributesResponse,
    IdentifyRequest,
    IdentifyResponse,
    InformationReport,
    ObjectClass,
    ReadRequest,
    ReadResponse,
    WriteRequest,
    WriteResponse,
)
from adapters.tase2.mms.types import (
    BinaryTimeType,
    BitStringType,
    BooleanType,
    IntegerType,
    StructureComponent,
    StructureType,
    TypeSpecification,
    VisibleStringType,
    conforms,
)
from adapters.tase2.model.objects import (
    BILATERAL_TABLE_ID,
    BILATERAL_TABLE_ID_TYPE,
    DS_CONDITIONS_DETECTED,
    DS_CONDITIONS_TYPE,
    MMS_OBJECT_NAME_TYPE,
    NEXT_DS_TRANSFER_SET,
    SUPPORTED_FEATURES,
    TASE2_VERSION,
    TASE2_VERSION_TYPE,
    TRANSFER_SET_NAME,
    TRANSFER_SET_TIME_STAMP,
    DSConditions,
    DSTransferSetError,
    ds_conditions_to_data,
    encode_mms_object_name,
    tase2_version,
)
from adapters.tase2.model.points import (
    FLAGS8,
    FLOAT32,
    GMT_BASED_S_TYPE,
    IDENTIFIER32,
    INT16,
    INT32,
)
from adapters.tase2.model.transfer_set import (
    DS_TRANSFER_SET_1996_TYPE,
    DS_TRANSFER_SET_2000_TYPE,
    DSTransferSetModel,
    DSTransferSetValue,
    apply_component,
)

__all__ = [
    "DEFAULT_QUIRKS",
    "DS_TRANSFER_SET_FREETASE2_TYPE",
    "FREETASE2",
    "NEXT_STRUCT_TYPE",
    "Quirks",
    "QuirkyServer",
    "QuirkyTransferSet",
    "binary_time",
    "binary_time_seconds",
    "running_quirky",
]

log = logging.getLogger(__name__)

POINT_COMPONENTS: dict[str, TypeSpecification] = {
    "Value": FLOAT32,
    "TimeStamp": GMT_BASED_S_TYPE,
    "Flags": FLAGS8,
}
"""The components a quirky float point may have, by name."""

NEXT_STRUCT_TYPE = StructureType(
    (
        StructureComponent("Available", INT16),
        StructureComponent("Max", INT16),
        StructureComponent("Name", IDENTIFIER32),
    )
)
"""``Next_DSTransfer_Set`` of the ``struct`` quirk: free sets, all sets, the item name."""

DS_TRANSFER_SET_FREETASE2_TYPE = StructureType(
    (
        StructureComponent("DataSetName", VisibleStringType(-129)),
        StructureComponent("StartTime", BinaryTimeType(with_date=True)),
        StructureComponent("Interval", INT32),
        StructureComponent("TLE", INT32),
        StructureComponent("BufferTime", INT32),
        StructureComponent("IntegrityCheck", INT32),
        StructureComponent("BlockData", BooleanType()),
        StructureComponent("Critical", BooleanType()),
        StructureComponent("RBE", BooleanType()),
        StructureComponent("AllChangesReported", BooleanType()),
        StructureComponent("Status", IntegerType(8)),
        StructureComponent("EventCodeRequested", INT16),
        StructureComponent("DSConditionsRequested", INT16),
    )
)
"""The DSTransferSet type of ``dsts_types="freetase2"`` (FreeTASE2's order and types)."""

IGNORE_WHOLE_CHANGES = frozenset({"DataSetName", "Status", "Interval", "DSConditionsRequested"})
"""The only components whose writes change anything under ``transfer_set_writes="ignore_whole"``."""

EPOCH_1984 = 441_763_200
"""1984-01-01T00:00:00Z in seconds since 1970 (the epoch of MMS BinaryTime)."""

REPORT_ONLY = (TRANSFER_SET_NAME, DS_CONDITIONS_DETECTED, TRANSFER_SET_TIME_STAMP)
MIN_PERIOD = 0.2
"""Shortest time between two reports of one transfer set, in seconds."""
NAME_PAGE = 100
"""Names per GetNameList answer."""


@dataclass(frozen=True, slots=True)
class Quirks:
    """How a :class:`QuirkyServer` departs from the standard (the defaults are standard)."""

    point_order: tuple[str, ...] = ("Value", "TimeStamp", "Flags")
    point_time_zero: bool = False
    next_ds_transfer_set: Literal["standard", "struct", "string", "fixed"] = "standard"
    data_set_name: Literal["object_name", "string"] = "object_name"
    dsts_types: Literal["standard", "freetase2"] = "standard"
    transfer_set_writes: Literal["whole", "components", "refuse", "ignore_whole"] = "whole"
    reports: Literal["data_set", "transfer_set"] = "data_set"
    missing: frozenset[str] = frozenset()
    missing_member_error: tuple[ErrorClass, int] = (
        ErrorClass.ACCESS,
        AccessCode.OBJECT_NON_EXISTENT,
    )
    keep_data_sets: bool = False
    max_data_set_members: int | None = None
    dsts_components: int = 13
    supported_features: tuple[int, ...] = (1, 2)
    supported_features_bits: int = 12

    def __post_init__(self) -> None:
        unknown = [c for c in self.point_order if c not in POINT_COMPONENTS]
        if unknown or len(set(self.point_order)) != len(self.point_order):
            raise ValueError(f"point_order {self.point_order}: components are {POINT_COMPONENTS}")
        if self.dsts_components not in (12, 13):
            raise ValueError(f"dsts_components {self.dsts_components}: 12 or 13")
        if self.dsts_types == "freetase2" and (
            self.dsts_components != 13 or self.data_set_name != "string"
        ):
            raise ValueError('dsts_types "freetase2" has 13 components and a string DataSetName')
        bits = self.supported_features_bits
        if any(not 1 <= b <= bits for b in self.supported_features):
            raise ValueError(f"supported_features {self.supported_features}: blocks 1..{bits}")


DEFAULT_QUIRKS = Quirks()
"""A standard server."""

FREETASE2 = Quirks(
    point_order=("Value", "Flags", "TimeStamp"),
    point_time_zero=True,
    next_ds_transfer_set="fixed",
    data_set_name="string",
    dsts_types="freetase2",
    transfer_set_writes="ignore_whole",
    reports="transfer_set",
    missing_member_error=(ErrorClass.DEFINITION, DefinitionCode.OBJECT_UNDEFINED),
    keep_data_sets=True,
    max_data_set_members=64,
    supported_features=(1, 2, 5),
    supported_features_bits=16,
)
"""The FreeTASE2 server (C, on libiec61850 1.6), as far as research has seen it."""


def binary_time(seconds: int) -> BinaryTime:
    """A 6-octet BinaryTime of ``seconds`` since 1970 (0 is BinaryTime 0)."""
    if seconds == 0:
        return BinaryTime(0, 0)
    days, rest = divmod(seconds - EPOCH_1984, 86_400)
    return BinaryTime(rest * 1000, days)


def binary_time_seconds(value: BinaryTime) -> int:
    """The seconds since 1970 of a BinaryTime (BinaryTime 0 is 0)."""
    if value.ms == 0 and not value.days:
        return 0
    return EPOCH_1984 + (value.days or 0) * 86_400 + value.ms // 1000


def _access_error(code: AccessCode) -> MmsServiceError:
    return MmsServiceError.of(ErrorClass.ACCESS, code)


@dataclass(slots=True, eq=False)
class QuirkyTransferSet:
    """One ``DSTS_n`` object: its attributes, the association holding it, its report task."""

    name: ObjectName
    value: DSTransferSetValue = field(default_factory=DSTransferSetValue)
    owner: int | None = None
    task: asyncio.Task[None] | None = None
    last_report: tuple[AccessResult, ...] | None = None


class QuirkyServer(UnsupportedHandler):
    """The MMS handler of a quirky TASE.2 server and its state, for tests to change and read.

    ``data_sets`` are the data sets currently defined (name -> members), ``transfer_sets``
    the ``DSTS_n`` objects by item name, ``writes`` every
    variable written, in order (a component written by alternate access is recorded under
    its ``$`` name), ``reports_sent`` the InformationReports sent. While ``silent`` is true
    no request is answered (they are answered when it turns false) and no report is sent.
    """

    def __init__(
        self,
        quirks: Quirks = DEFAULT_QUIRKS,
        domain: str = "ICC1",
        points: int = 10,
        bilateral_table_id: str = "BLT_Q",
        transfer_sets: int = 4,
    ) -> None:
        self.quirks = quirks
        self.domain = domain
        self.bilateral_table_id = bilateral_table_id
        self.data_sets: dict[ObjectName, list[ObjectName]] = {}
        self.writes: list[tuple[ObjectName, Data]] = []
        self.reports_sent = 0
        self._owners: dict[ObjectName, int] = {}
        self._values: dict[str, tuple[float, int, int]] = {}
        now = 0 if quirks.point_time_zero else int(time.time())
        for i in range(1, points + 1):
            self._values[f"pt{i:03d}"] = (float(i), 0, now)
        self.transfer_sets = {
            f"DSTS_{i}": QuirkyTransferSet(ObjectName.dom(domain, f"DSTS_{i}"))
            for i in range(1, transfer_sets + 1)
        }
        self.point_type = StructureType(
            tuple(StructureComponent(c, POINT_COMPONENTS[c]) for c in quirks.point_order)
        )
        self.model = DSTransferSetModel(quirks.dsts_components)
        base = (
            DS_TRANSFER_SET_2000_TYPE
            if self.model is DSTransferSetModel.MODEL_2000
            else DS_TRANSFER_SET_1996_TYPE
        )
        if quirks.data_set_name == "string":
            first = StructureComponent("DataSetName", IDENTIFIER32)
            base = StructureType((first, *base.components[1:]))
        if quirks.dsts_types == "freetase2":
            base = DS_TRANSFER_SET_FREETASE2_TYPE
        self.dsts_type: StructureType = base
        self._talking = asyncio.Event()
        self._talking.set()

    # ------------------------------------------------------------------ what tests use

    @property
    def silent(self) -> bool:
        """True while the server answers nothing (the TCP connection stays open)."""
        return not self._talking.is_set()

    @silent.setter
    def silent(self, value: bool) -> None:
        if value:
            self._talking.clear()
        else:
            self._talking.set()

    def set_value(self, point: str, value: float, flags: int = 0, ts: int | None = None) -> None:
        """Give ``point`` a new value, Flags octet and time stamp (default: now, or the
        stamp it had with ``point_time_zero``)."""
        if point not in self._values:
            raise KeyError(f"no point {point!r}")
        if ts is None:
            ts = self._values[point][2] if self.quirks.point_time_zero else int(time.time())
        self._values[point] = (value, flags, ts)

    def running(self) -> list[str]:
        """The names of the transfer sets that are reporting."""
        return [n for n, ts in self.transfer_sets.items() if ts.value.status]

    async def close(self) -> None:
        """Stop every report task."""
        for ts in self.transfer_sets.values():
            await self._stop(ts)

    async def on_association_end(
        self, ctx: AssociationContext, reason: CloseReason, detail: str
    ) -> None:
        """Free the association's transfer sets (with a fixed ``Next_DSTransfer_Set`` only
        their Status is cleared); delete its data sets unless they are kept."""
        fixed = self.quirks.next_ds_transfer_set == "fixed"
        for ts in self.transfer_sets.values():
            if ts.owner == ctx.association_id:
                await self._stop(ts)
                ts.owner = None
                if not fixed:
                    ts.value = DSTransferSetValue()
        if not self.quirks.keep_data_sets:
            for name, owner in list(self._owners.items()):
                if owner == ctx.association_id:
                    del self._owners[name]
                    self.data_sets.pop(name, None)

    # ------------------------------------------------------------------ the objects

    def _type_of(self, name: ObjectName) -> TypeSpecification | None:
        """The type of a whole named variable, or None when it does not exist."""
        if name.item in self.quirks.missing:
            return None
        if name.scope == Scope.VMD:
            vcc: dict[str, TypeSpecification] = {
                TASE2_VERSION: TASE2_VERSION_TYPE,
                SUPPORTED_FEATURES: BitStringType(self.quirks.supported_features_bits),
            }
            return vcc.get(name.item)
        if name.scope != Scope.DOMAIN or name.domain != self.domain:
            return None
        if name.item in self._values:
            return self.point_type
        if name.item in self.transfer_sets:
            return self.dsts_type
        fixed: dict[str, TypeSpecification] = {
            BILATERAL_TABLE_ID: BILATERAL_TABLE_ID_TYPE,
            NEXT_DS_TRANSFER_SET: self._next_type(),
            TRANSFER_SET_NAME: IDENTIFIER32
            if self.quirks.data_set_name == "string"
            else MMS_OBJECT_NAME_TYPE,
            DS_CONDITIONS_DETECTED: DS_CONDITIONS_TYPE,
            TRANSFER_SET_TIME_STAMP: GMT_BASED_S_TYPE,
        }
        return fixed.get(name.item)

    def _next_type(self) -> TypeSpecification:
        kind = self.quirks.next_ds_transfer_set
        if kind in ("struct", "fixed"):
            return NEXT_STRUCT_TYPE
        return IDENTIFIER32 if kind == "string" else MMS_OBJECT_NAME_TYPE

    def _point_value(self, item: str) -> Structure:
        value, flags, ts = self._values[item]
        parts: dict[str, Data] = {
            "Value": Float32(value),
            "TimeStamp": Integer(ts),
            "Flags": BitString(8, bytes((flags,))),
        }
        return Structure(tuple(parts[c] for c in self.quirks.point_order))

    def _dsts_value(self, ts: QuirkyTransferSet) -> Structure:
        if self.quirks.dsts_types == "freetase2":
            v = ts.value
            return Structure(
                (
                    VisibleString("" if v.data_set is None else v.data_set.item),
                    binary_time(v.start_time),
                    Integer(v.interval),
                    Integer(v.tle),
                    Integer(v.buffer_time),
                    Integer(v.integrity_check),
                    Boolean(v.block_data),
                    Boolean(v.critical),
                    Boolean(v.rbe),
                    Boolean(v.all_changes_reported),
                    Integer(int(v.status)),
                    Integer(v.event_code_requested),
                    Integer(int(v.conditions)),
                )
            )
        data = ts.value.to_data(self.model)
        if self.quirks.data_set_name == "string":
            ds = ts.value.data_set
            return Structure((VisibleString("" if ds is None else ds.item), *data.items[1:]))
        return data

    def _value_of(self, ctx: AssociationContext | None, name: ObjectName) -> AccessResult:
        """The value of an existing whole variable (reading Next_DSTransfer_Set reserves)."""
        item = name.item
        if item == TASE2_VERSION:
            return tase2_version()
        if item == SUPPORTED_FEATURES:
            bits = [b - 1 for b in self.quirks.supported_features]
            return BitString.from_bits(self.quirks.supported_features_bits, bits)
        if item == BILATERAL_TABLE_ID:
            return VisibleString(self.bilateral_table_id)
        if item in self._values:
            return self._point_value(item)
        if item in self.transfer_sets:
            return self._dsts_value(self.transfer_sets[item])
        if item == NEXT_DS_TRANSFER_SET and self.quirks.next_ds_transfer_set == "fixed":
            n = Integer(len(self.transfer_sets))
            return Structure((n, n, VisibleString(next(iter(self.transfer_sets), ""))))
        if item == NEXT_DS_TRANSFER_SET and ctx is not None:
            return self._reserve(ctx)
        return DataAccessError.OBJECT_ACCESS_DENIED  # the report-only variables

    def _reserve(self, ctx: AssociationContext) -> AccessResult:
        free = [ts for ts in self.transfer_sets.values() if ts.owner is None]
        if not free:
            return DataAccessError.TEMPORARILY_UNAVAILABLE
        ts = free[0]
        ts.owner = ctx.association_id
        kind = self.quirks.next_ds_transfer_set
        if kind == "struct":
            n = len(self.transfer_sets)
            return Structure((Integer(len(free) - 1), Integer(n), VisibleString(ts.name.item)))
        if kind == "string":
            return VisibleString(ts.name.item)
        return encode_mms_object_name(ts.name)

    def _split(self, entry: VariableEntry) -> tuple[ObjectName, str | None] | None:
        """The whole variable and the component an entry names (``a$b`` or alternate
        access); None for an access this server does not support."""
        name, comp = entry.name, None
        head, sep, tail = name.item.partition("$")
        if sep:
            if "$" in tail or not head or not tail:
                return None
            name, comp = replace(name, item=head), tail
        alt = entry.alternate_access
        if alt is not None:
            sel = alt[0].selection if len(alt) == 1 else None
            if comp is not None or sel is None or sel.nested is not None:
                return None
            if not isinstance(sel.selector, Component):
                return None
            comp = sel.selector.name
        return name, comp

    @staticmethod
    def _component(spec: TypeSpecification, comp: str) -> int | None:
        """The index of component ``comp`` in a structure type, or None."""
        if isinstance(spec, StructureType):
            for i, c in enumerate(spec.components):
                if c.name == comp:
                    return i
        return None

    def _component_type(
        self, spec: TypeSpecification | None, comp: str
    ) -> TypeSpecification | None:
        index = None if spec is None else self._component(spec, comp)
        if index is None or not isinstance(spec, StructureType):
            return None
        return spec.components[index].type

    def _read_one(self, ctx: AssociationContext | None, entry: VariableEntry) -> AccessResult:
        split = self._split(entry)
        if split is None:
            return DataAccessError.OBJECT_ACCESS_UNSUPPORTED
        name, comp = split
        spec = self._type_of(name)
        if spec is None:
            return DataAccessError.OBJECT_NON_EXISTENT
        index = None if comp is None else self._component(spec, comp)
        if comp is not None and index is None:
            return DataAccessError.OBJECT_NON_EXISTENT
        value = self._value_of(ctx, name)
        if index is None or not isinstance(value, Structure):
            return value
        return value.items[index]

    # ------------------------------------------------------------------ services

    async def _answer(self) -> None:
        await self._talking.wait()

    async def identify(self, ctx: AssociationContext, request: IdentifyRequest) -> IdentifyResponse:
        """A FreeTASE2-like identity."""
        await self._answer()
        return IdentifyResponse("quirky", "tase2-test-peer", "0.1")

    def _names(self, request: GetNameListRequest) -> list[str]:
        cls, scope = request.object_class, request.scope
        if scope == Scope.DOMAIN and request.domain != self.domain:
            raise _access_error(AccessCode.OBJECT_NON_EXISTENT)
        if cls == ObjectClass.DOMAIN:
            return [self.domain] if scope == Scope.VMD else []
        if cls == ObjectClass.NAMED_VARIABLE_LIST:
            return [
                n.item for n in self.data_sets if n.scope == scope and n.domain == request.domain
            ]
        if cls != ObjectClass.NAMED_VARIABLE:
            return []
        if scope == Scope.VMD:
            candidates = [TASE2_VERSION, SUPPORTED_FEATURES]
        elif scope == Scope.DOMAIN:
            fixed = [BILATERAL_TABLE_ID, NEXT_DS_TRANSFER_SET, *REPORT_ONLY]
            candidates = [*fixed, *self.transfer_sets, *self._values]
        else:
            return []
        return [n for n in candidates if n not in self.quirks.missing]

    async def get_name_list(
        self, ctx: AssociationContext, request: GetNameListRequest
    ) -> GetNameListResponse:
        """Sorted names of a class in a scope, :data:`NAME_PAGE` per answer."""
        await self._answer()
        names = sorted(self._names(request))
        if request.continue_after is not None:
            names = [n for n in names if n > request.continue_after]
        return GetNameListResponse(tuple(names[:NAME_PAGE]), len(names) > NAME_PAGE)

    async def read(self, ctx: AssociationContext, request: ReadRequest) -> ReadResponse:
        """Whole variables, ``$`` or alternate-access components, or a data set's members."""
        await self._answer()
        spec = request.spec
        if isinstance(spec, VariableListName):
            members = self.data_sets.get(spec.name)
            if members is None:
                raise _access_error(AccessCode.OBJECT_NON_EXISTENT)
            entries: tuple[VariableEntry, ...] = tuple(VariableEntry(m) for m in members)
        else:
            entries = spec.items
        results = tuple(self._read_one(ctx, e) for e in entries)
        return ReadResponse(results, spec if request.specification_with_result else None)

    async def get_variable_access_attributes(
        self, ctx: AssociationContext, request: GetVariableAccessAttributesRequest
    ) -> GetVariableAccessAttributesResponse:
        """The type of a variable (or of a ``$`` component), with component names."""
        await self._answer()
        split = self._split(VariableEntry(request.name))
        spec = None if split is None else self._type_of(split[0])
        if split is not None and split[1] is not None:
            spec = self._component_type(spec, split[1])
        if spec is None:
            raise _access_error(AccessCode.OBJECT_NON_EXISTENT)
        return GetVariableAccessAttributesResponse(spec)

    async def write(self, ctx: AssociationContext, request: WriteRequest) -> WriteResponse:
        """Transfer sets take writes as ``quirks.transfer_set_writes`` says; nothing else is
        writable."""
        await self._answer()
        spec = request.spec
        if not isinstance(spec, VariableList) or len(spec.items) != len(request.values):
            raise _access_error(AccessCode.OBJECT_ACCESS_UNSUPPORTED)
        results: list[DataAccessError | None] = []
        for entry, value in zip(spec.items, request.values, strict=True):
            split = self._split(entry)
            name = entry.name
            if split is not None and split[1] is not None and entry.alternate_access:
                name = replace(split[0], item=f"{split[0].item}${split[1]}")
            self.writes.append((name, value))
            results.append(self._write_one(ctx, split, value))
        return WriteResponse(tuple(results))

    def _write_one(
        self, ctx: AssociationContext, split: tuple[ObjectName, str | None] | None, value: Data
    ) -> DataAccessError | None:
        if split is None:
            return DataAccessError.OBJECT_ACCESS_UNSUPPORTED
        name, comp = split
        if self._type_of(name) is None:
            return DataAccessError.OBJECT_NON_EXISTENT
        ts = self.transfer_sets.get(name.item)
        mode = self.quirks.transfer_set_writes
        if ts is None or mode == "refuse":
            return DataAccessError.OBJECT_ACCESS_DENIED
        if (mode == "whole" and comp is not None) or (mode == "components" and comp is None):
            return DataAccessError.OBJECT_ACCESS_DENIED
        comps = self.dsts_type.components
        if comp is None:
            if not isinstance(value, Structure) or not conforms(value, self.dsts_type):
                return DataAccessError.TYPE_INCONSISTENT
            pairs = [(c.name or "", d) for c, d in zip(comps, value.items, strict=True)]
        else:
            comp_type = self._component_type(self.dsts_type, comp)
            if comp_type is None:
                return DataAccessError.OBJECT_NON_EXISTENT
            if not conforms(value, comp_type):
                return DataAccessError.TYPE_INCONSISTENT
            pairs = [(comp, value)]
        if mode == "ignore_whole" and (comp is None or comp not in IGNORE_WHOLE_CHANGES):
            return None  # answered success, changes nothing
        try:
            new = ts.value
            for comp_name, d in pairs:
                new = self._apply(new, comp_name, d)
        except DSTransferSetError as exc:
            return exc.error
        return self._change(ctx, ts, new)

    def _apply(self, current: DSTransferSetValue, comp: str, d: Data) -> DSTransferSetValue:
        if self.quirks.dsts_types == "freetase2":  # conforms() checked the types
            if comp == "StartTime" and isinstance(d, BinaryTime):
                return replace(current, start_time=binary_time_seconds(d))
            if comp == "Status" and isinstance(d, Integer):
                return replace(current, status=d.value != 0)
            if comp == "DSConditionsRequested" and isinstance(d, Integer):
                return replace(current, conditions=DSConditions(d.value & 0x1F))
        if comp != "DataSetName" or self.quirks.data_set_name != "string":
            return apply_component(current, comp, d)
        assert isinstance(d, VisibleString)  # conforms() checked it
        if d.value and not is_valid_identifier(d.value):
            raise DSTransferSetError(f"{d.value!r}", DataAccessError.OBJECT_VALUE_INVALID)
        ds = ObjectName.dom(self.domain, d.value) if d.value else None
        return replace(current, data_set=ds)

    def _change(
        self, ctx: AssociationContext, ts: QuirkyTransferSet, new: DSTransferSetValue
    ) -> DataAccessError | None:
        old = ts.value
        if old.status and not old.same_except_status(new):
            return DataAccessError.OBJECT_ATTRIBUTE_INCONSISTENT  # only Status while running
        fixed = self.quirks.next_ds_transfer_set == "fixed"
        if new.status and not old.status:
            if new.data_set not in self.data_sets:
                return DataAccessError.OBJECT_ATTRIBUTE_INCONSISTENT
            ts.last_report = None
            ts.task = asyncio.create_task(self._report_loop(ctx, ts))
        elif old.status and not new.status and ts.task is not None:
            ts.task.cancel()
            ts.task = None
        elif fixed and new.status and ts.owner != ctx.association_id:
            if ts.task is not None:  # a new owner: the reports go to it now
                ts.task.cancel()
            ts.task = asyncio.create_task(self._report_loop(ctx, ts))
        if not fixed or new.status:  # fixed: the writer of Status 1 owns it (gets the reports)
            ts.owner = ctx.association_id
        elif old.status:
            ts.owner = None
        ts.value = new
        return None

    async def define_named_variable_list(
        self, ctx: AssociationContext, request: DefineNamedVariableListRequest
    ) -> DefineNamedVariableListResponse:
        """A data set of existing whole variables in this domain (or the association)."""
        await self._answer()
        name = request.name
        if name.scope == Scope.VMD or (name.scope == Scope.DOMAIN and name.domain != self.domain):
            raise _access_error(AccessCode.OBJECT_ACCESS_DENIED)
        if name in self.data_sets:
            raise MmsServiceError.of(ErrorClass.DEFINITION, DefinitionCode.OBJECT_EXISTS)
        most = self.quirks.max_data_set_members
        if most is not None and len(request.variables) > most:
            raise MmsServiceError.of(ErrorClass.DEFINITION, DefinitionCode.OTHER)
        for entry in request.variables:
            if entry.alternate_access is not None or "$" in entry.name.item:
                raise _access_error(AccessCode.OBJECT_ACCESS_UNSUPPORTED)
            if self._type_of(entry.name) is None:
                raise MmsServiceError.of(*self.quirks.missing_member_error)  # names no member
        self.data_sets[name] = [e.name for e in request.variables]
        self._owners[name] = ctx.association_id
        return DefineNamedVariableListResponse()

    async def delete_named_variable_list(
        self, ctx: AssociationContext, request: DeleteNamedVariableListRequest
    ) -> DeleteNamedVariableListResponse:
        """Delete named data sets; one a running transfer set reports is matched, not deleted."""
        await self._answer()
        if request.scope != DeleteScope.SPECIFIC:
            raise _access_error(AccessCode.OBJECT_ACCESS_UNSUPPORTED)
        in_use = {ts.value.data_set for ts in self.transfer_sets.values() if ts.value.status}
        matched = [n for n in request.names or () if n in self.data_sets]
        deleted = [n for n in matched if n not in in_use]
        for name in deleted:
            del self.data_sets[name]
            self._owners.pop(name, None)
        return DeleteNamedVariableListResponse(len(matched), len(deleted))

    async def get_named_variable_list_attributes(
        self, ctx: AssociationContext, request: GetNamedVariableListAttributesRequest
    ) -> GetNamedVariableListAttributesResponse:
        """The members of a data set."""
        await self._answer()
        members = self.data_sets.get(request.name)
        if members is None:
            raise _access_error(AccessCode.OBJECT_NON_EXISTENT)
        return GetNamedVariableListAttributesResponse(
            tuple(VariableEntry(m) for m in members), mms_deletable=True
        )

    # ------------------------------------------------------------------ reports

    @staticmethod
    def _period(value: DSTransferSetValue) -> float:
        """Seconds between two reports: Interval, else IntegrityCheck, else 1 (at least
        :data:`MIN_PERIOD`)."""
        seconds = value.interval or value.integrity_check or 1
        return max(MIN_PERIOD, float(seconds))

    def _report(self, ts: QuirkyTransferSet) -> InformationReport:
        """A full report of the data set a transfer set names, members in order."""
        ds = ts.value.data_set
        assert ds is not None
        if self.quirks.reports == "transfer_set":
            return self._transfer_set_report(ts, ds)
        results: list[AccessResult] = []
        for member in self.data_sets.get(ds, []):
            if member.domain == self.domain and member.item == TRANSFER_SET_NAME:
                string = self.quirks.data_set_name == "string"
                results.append(
                    VisibleString(ts.name.item) if string else encode_mms_object_name(ts.name)
                )
            elif member.domain == self.domain and member.item == DS_CONDITIONS_DETECTED:
                results.append(ds_conditions_to_data(DSConditions.INTERVAL_TIMEOUT))
            elif member.domain == self.domain and member.item == TRANSFER_SET_TIME_STAMP:
                results.append(Integer(int(time.time())))
            else:
                results.append(self._read_one(None, VariableEntry(member)))
        return InformationReport(VariableListName(ds), tuple(results))

    def _transfer_set_report(self, ts: QuirkyTransferSet, ds: ObjectName) -> InformationReport:
        """A FreeTASE2 report: named by the transfer set (VMD scope), a header [its name, now,
        DSConditions 4 when a member changed since the last report, else 2], then the
        members, the report-only ones with static values."""
        static: dict[str, AccessResult] = {
            TRANSFER_SET_NAME: VisibleString(""),
            DS_CONDITIONS_DETECTED: Integer(0),
            TRANSFER_SET_TIME_STAMP: BinaryTime(0, 0),
        }
        members: list[AccessResult] = []
        for member in self.data_sets.get(ds, []):
            special = member.domain == self.domain and member.item in static
            members.append(
                static[member.item] if special else self._read_one(None, VariableEntry(member))
            )
        changed = ts.last_report is not None and ts.last_report != tuple(members)
        ts.last_report = tuple(members)
        conditions = DSConditions.OBJECT_CHANGE if changed else DSConditions.INTEGRITY_TIMEOUT
        item = ts.name.item
        header = (VisibleString(item), binary_time(int(time.time())), Integer(int(conditions)))
        return InformationReport(VariableListName(ObjectName.vmd(item)), (*header, *members))

    async def _report_loop(self, ctx: AssociationContext, ts: QuirkyTransferSet) -> None:
        """Report at once, then every period, until stopped or the association ends."""
        try:
            while not ctx.closed:
                if not self.silent:
                    await ctx.send_information_report(self._report(ts))
                    self.reports_sent += 1
                await asyncio.sleep(self._period(ts.value))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a test peer logs and stops; it never raises
            log.warning("quirky %s: reports stopped: %s", ts.name, exc)

    async def _stop(self, ts: QuirkyTransferSet) -> None:
        task, ts.task = ts.task, None
        ts.value = replace(ts.value, status=False)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


@contextlib.asynccontextmanager
async def running_quirky(
    quirks: Quirks = DEFAULT_QUIRKS,
    *,
    domain: str = "ICC1",
    points: int = 10,
    bilateral_table_id: str = "BLT_Q",
    transfer_sets: int = 4,
) -> AsyncIterator[tuple[QuirkyServer, int]]:
    """A :class:`QuirkyServer` served on 127.0.0.1 (a port the system picks); yields it and
    the port. The keywords are the server's."""
    server = QuirkyServer(quirks, domain, points, bilateral_table_id, transfer_sets)
    mms = MmsServer(server, host="127.0.0.1", port=0, on_association_end=server.on_association_end)
    async with mms:
        try:
            yield server, mms.port
        finally:
            server.silent = False
            await server.close()
