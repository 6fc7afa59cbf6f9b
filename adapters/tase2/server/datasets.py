"""Data sets (MMS named variable lists) as the TASE.2 server sees them, sans-IO.

A :class:`DataSet` is a named variable list whose members are resolved once, at definition:
each member is either one of the report-only special variables of the peer's ICC domain
(Transfer_Set_Name, DSConditions_Detected, Event_Code_Detected, Transfer_Set_Time_Stamp) or a
point the peer may read, with its point type. The encoded names and size bounds that reports
need are precomputed here so the report path does no per-member work it can avoid.

:class:`DataSetRegistry` keeps the data sets of all associations (DefineNamedVariableList,
GetNamedVariableListAttributes, DeleteNamedVariableList, GetNameList class
namedVariableList), and the server-configured VCC (VMD-scope) data sets: a
:class:`VccDataSetConfig` lists report-only special names and bus point ids; it is resolved
per peer (:func:`resolve_vcc_data_set`) against that peer's table, because each table names
and types the points for its peer. Peers can neither define nor delete VMD-scope lists.

Device objects (Block 5: ``Dev``, ``Dev_SBO``, ``Dev_TAG``) are listed, typed and read, but
are never data-set members. IEC 60870-6-802 makes them Control objects, operated by Write
and Read on the object itself, and transfer sets report Data Value objects (indication
points); a command object in a data set has no report value, and reading ``Dev_SBO``
through a data set would select the device. So a definition naming one is refused with
access/object-access-unsupported (the object exists; this use of it is not supported) and
a message saying that device objects cannot be data-set members. A device's state is
reported through its status point, which a table can serve as an ordinary point.
``Dev_TAG`` members, which libtase2 offers, are refused too: tag changes do not pass
through the transfer engine, so such a member would never report a change.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, field_validator

from adapters.tase2.asn1.ber import code_name, tlv
from adapters.tase2.errors import RemoteError
from adapters.tase2.mms.access import VariableEntry
from adapters.tase2.mms.data import DataAccessError
from adapters.tase2.mms.names import ObjectName, Scope, encode_object_name, is_valid_identifier
from adapters.tase2.mms.service_error import (
    AccessCode,
    DefinitionCode,
    ErrorClass,
    ResourceCode,
    ServiceError,
)
from adapters.tase2.mms.services import DeleteNamedVariableListRequest, DeleteScope
from adapters.tase2.model.objects import (
    REPORT_ONLY_NAMES,
    SPECIAL_MAX_SIZE,
)
from adapters.tase2.model.points import PointType
from adapters.tase2.server.bilateral import TableView

__all__ = [
    "DataSet",
    "DataSetError",
    "DataSetMember",
    "DataSetQuota",
    "DataSetRegistry",
    "DeleteOutcome",
    "VccDataSetConfig",
    "build_data_set",
    "make_data_set",
    "resolve_vcc_data_set",
]

_ACCESS_CODE = {
    DataAccessError.OBJECT_NON_EXISTENT: AccessCode.OBJECT_NON_EXISTENT,
    DataAccessError.OBJECT_ACCESS_DENIED: AccessCode.OBJECT_ACCESS_DENIED,
    DataAccessError.OBJECT_ACCESS_UNSUPPORTED: AccessCode.OBJECT_ACCESS_UNSUPPORTED,
}


@dataclass(frozen=True, slots=True)
class DataSetMember:
    """One member of a data set: a special report variable or a point.

    ``special`` is the special variable's name (one of ``REPORT_ONLY_NAMES``) or None;
    ``point`` and ``type`` are set for points. ``entry`` is the member's encoded
    listOfVariable entry (``30 L A0 L <ObjectName>``), used by RBE reports;
    ``max_size`` bounds its encoded value (AccessResult).
    """

    name: ObjectName
    special: str | None
    point: str | None
    type: PointType | None
    entry: bytes
    max_size: int


@dataclass(frozen=True, slots=True)
class DataSet:
    """A named variable list with resolved members (see module docstring).

    ``owner`` is the association that defined it (it is deleted when that association
    ends); ``list_name_spec`` is the encoded ``variableListName`` (``A1 L <ObjectName>``) of
    full reports; ``runs`` groups consecutive point members of one type as
    ``(start, end, type)`` for the batch encoders (specials are runs with type None).
    ``deletable`` is False for the server-configured VCC data sets.
    """

    name: ObjectName
    members: tuple[DataSetMember, ...]
    owner: Hashable | None = None
    list_name_spec: bytes = b""
    runs: tuple[tuple[int, int, PointType | None], ...] = ()
    all_indices: tuple[int, ...] = ()
    no_values: tuple[None, ...] = ()
    special_indices: tuple[int, ...] = ()
    point_ids: tuple[str, ...] = field(default=())
    run_points: tuple[tuple[str, ...], ...] = ()
    deletable: bool = True

    @property
    def entries(self) -> tuple[VariableEntry, ...]:
        """The members as MMS variable entries (GetNamedVariableListAttributes)."""
        return tuple(VariableEntry(m.name) for m in self.members)


@dataclass(frozen=True, slots=True)
class DeleteOutcome:
    """What a DeleteNamedVariableList did: lists ``matched`` and ``deleted``, and the
    server-configured lists it ``refused`` to delete."""

    matched: int
    deleted: int
    refused: tuple[ObjectName, ...] = ()


class DataSetError(RemoteError, ValueError):
    """A refused data set definition; ``service_error`` is what to answer the request with,
    ``limit`` the name of the server limit it would exceed (None for other refusals)."""

    def __init__(self, message: str, service_error: ServiceError, limit: str | None = None) -> None:
        super().__init__(message)
        self.service_error = service_error
        self.limit = limit


def _access_error(message: str, error: DataAccessError) -> DataSetError:
    code = _ACCESS_CODE.get(error, AccessCode.OBJECT_ACCESS_DENIED)
    return DataSetError(message, ServiceError(ErrorClass.ACCESS, code))


def _member(view: TableView, entry: VariableEntry) -> DataSetMember:
    name = entry.name
    encoded = tlv(0x30, tlv(0xA0, encode_object_name(name)))
    if entry.alternate_access is not None:
        raise _access_error(
            f"member {name} uses alternate access, which transfer sets do not allow",
            DataAccessError.OBJECT_ACCESS_UNSUPPORTED,
        )
    if name.scope == Scope.DOMAIN and name.domain == view.domain and name.item in REPORT_ONLY_NAMES:
        return DataSetMember(name, name.item, None, None, encoded, SPECIAL_MAX_SIZE[name.item])
    device = view.devices.get(name)
    if device is not None:
        raise _access_error(
            f"member {name} is a device object ({device.role.value} of device "
            f"{device.rule.name}); device objects are Block 5 control objects and cannot "
            "be data-set members (report the device's status point instead)",
            DataAccessError.OBJECT_ACCESS_UNSUPPORTED,
        )
    access = view.check_read(name)
    if isinstance(access, DataAccessError):
        raise _access_error(f"member {name}: {code_name(access)}", access)
    info = access.type.info
    return DataSetMember(name, None, access.point, access.type, encoded, info.max_size)


def build_data_set(
    name: ObjectName,
    entries: Sequence[VariableEntry],
    view: TableView,
    owner: Hashable | None = None,
    max_members: int | None = None,
) -> DataSet:
    """Resolve and check a DefineNamedVariableList for the peer of ``view``.

    Raises :class:`DataSetError` whose ``service_error`` is

    * access/object-access-denied: the list is named outside the peer's ICC domain
      (VMD scope included) or a member is a point the peer may not read;
    * access/object-non-existent: a member that is no object of the server;
    * access/object-access-unsupported: a member with alternate access (components, index)
      or a device object (see the module docstring);
    * resource/capability-unavailable: more than ``max_members`` members;
    * definition/object-undefined: no members.
    """
    if name.scope == Scope.VMD or (name.scope == Scope.DOMAIN and name.domain != view.domain):
        raise _access_error(
            f"data set {name} is outside the peer's domain {view.domain}",
            DataAccessError.OBJECT_ACCESS_DENIED,
        )
    if not entries:
        raise DataSetError(
            f"data set {name} has no members",
            ServiceError(ErrorClass.DEFINITION, DefinitionCode.OBJECT_UNDEFINED),
        )
    if max_members is not None and len(entries) > max_members:
        raise DataSetError(
            f"data set {name} has {len(entries)} members, the limit is {max_members}",
            ServiceError(ErrorClass.RESOURCE, ResourceCode.CAPABILITY_UNAVAILABLE),
            "data_set_size",
        )
    members = tuple(_member(view, e) for e in entries)
    return make_data_set(name, members, owner)


def make_data_set(
    name: ObjectName,
    members: tuple[DataSetMember, ...],
    owner: Hashable | None = None,
    deletable: bool = True,
) -> DataSet:
    """A :class:`DataSet` from already resolved members (precomputes the report helpers)."""
    runs: list[tuple[int, int, PointType | None]] = []
    start = 0
    for i in range(1, len(members) + 1):
        if i == len(members) or members[i].type != members[start].type or members[i].special:
            runs.append((start, i, members[start].type))
            start = i
    n = len(members)
    return DataSet(
        name=name,
        members=members,
        owner=owner,
        list_name_spec=tlv(0xA1, encode_object_name(name)),
        runs=tuple(runs),
        all_indices=tuple(range(n)),
        no_values=(None,) * n,
        special_indices=tuple(
            i for s in REPORT_ONLY_NAMES for i, m in enumerate(members) if m.special == s
        ),
        point_ids=tuple(m.point for m in members if m.point is not None),
        run_points=tuple(
            tuple(m.point for m in members[a:b] if m.point is not None) for a, b, _ in runs
        ),
        deletable=deletable,
    )


class VccDataSetConfig(BaseModel):
    """A server-configured VCC data set: a VMD-scope named variable list every peer sees.

    ``members`` are report-only special names (``Transfer_Set_Name``,
    ``DSConditions_Detected``, ``Event_Code_Detected``, ``Transfer_Set_Time_Stamp``) and bus
    point ids, in report order.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    members: tuple[str, ...] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not is_valid_identifier(value):
            raise ValueError(f"data set name {value!r} is not an MMS identifier (max 32 chars)")
        return value

    @field_validator("members")
    @classmethod
    def _check_members(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        seen: set[str] = set()
        for m in value:
            if not is_valid_identifier(m):
                raise ValueError(f"member {m!r} is not a point id or special name")
            if m in seen:
                raise ValueError(f"member {m!r} is listed twice")
            seen.add(m)
        return value

    def point_ids(self) -> set[str]:
        """The members that are bus point ids (not special names)."""
        return {m for m in self.members if m not in REPORT_ONLY_NAMES}


def _vcc_member(view: TableView, member: str) -> DataSetMember:
    """One VCC data set member as the peer of ``view`` sees it.

    Specials are the peer's ICC-domain report variables; a point takes the peer's name and
    type for it. A point the table does not give the peer keeps a VMD-scope name without
    type: reading it, or starting a transfer set on the list, is refused.
    """
    if member in REPORT_ONLY_NAMES:
        name = ObjectName.dom(view.domain, member)
        entry = tlv(0x30, tlv(0xA0, encode_object_name(name)))
        return DataSetMember(name, member, None, None, entry, SPECIAL_MAX_SIZE[member])
    access = view.icc.get(member) or view.vcc.get(member)
    if access is None:
        name = ObjectName.vmd(member)
        entry = tlv(0x30, tlv(0xA0, encode_object_name(name)))
        return DataSetMember(name, None, member, None, entry, 0)
    entry = tlv(0x30, tlv(0xA0, encode_object_name(access.name)))
    return DataSetMember(access.name, None, member, access.type, entry, access.type.info.max_size)


def resolve_vcc_data_set(config: VccDataSetConfig, view: TableView) -> DataSet:
    """The VCC data set ``config`` as the peer of ``view`` sees it (not deletable)."""
    members = tuple(_vcc_member(view, m) for m in config.members)
    return make_data_set(ObjectName.vmd(config.name), members, None, deletable=False)


@dataclass(frozen=True, slots=True)
class DataSetQuota:
    """What one association may define in all: ``data_sets`` data sets (its AA-scope ones
    and the ICC-domain ones it created) with ``members`` members together. Beyond them a
    definition is refused with resource/capability-unavailable (see
    :meth:`DataSetRegistry.define`)."""

    data_sets: int
    members: int


class DataSetRegistry:
    """The data sets of all associations, by name (association scope kept per association),
    and the server-configured VCC data sets; what each association uses of its
    :class:`DataSetQuota` is counted as it defines and deletes."""

    __slots__ = ("_aa", "_domain", "_usage", "_vcc", "version")

    def __init__(self) -> None:
        self._domain: dict[ObjectName, DataSet] = {}
        self._aa: dict[Hashable, dict[ObjectName, DataSet]] = {}
        self._vcc: dict[str, VccDataSetConfig] = {}
        self._usage: dict[Hashable, tuple[int, int]] = {}
        self.version = 0
        """Bumped whenever a data set is defined or deleted, or the VCC sets are replaced."""

    def usage(self, association: Hashable) -> tuple[int, int]:
        """``(data sets, members)`` that ``association`` has defined and not deleted."""
        return self._usage.get(association, (0, 0))

    def _count(self, owner: Hashable | None, ds: DataSet, sign: int) -> None:
        if owner is None:
            return
        sets, members = self._usage.get(owner, (0, 0))
        sets += sign
        members += sign * len(ds.members)
        if sets <= 0:
            self._usage.pop(owner, None)
        else:
            self._usage[owner] = (sets, members)

    def get(
        self, association: Hashable, name: ObjectName, view: TableView | None = None
    ) -> DataSet | None:
        """The data set ``name`` as seen by ``association`` (its own AA-scope sets); a VCC
        data set is resolved for the peer of ``view`` (None without a view).
        """
        if name.scope == Scope.AA:
            return self._aa.get(association, {}).get(name)
        if name.scope == Scope.VMD:
            config = self._vcc.get(name.item)
            if config is None or view is None:
                return None
            return resolve_vcc_data_set(config, view)
        return self._domain.get(name)

    def set_vcc(self, configs: Sequence[VccDataSetConfig]) -> list[ObjectName]:
        """Replace the VCC data sets; returns the names of those removed or changed (their
        transfer sets must stop), sorted.
        """
        new = {c.name: c for c in configs}
        touched = [n for n, c in self._vcc.items() if new.get(n) != c]
        self._vcc = new
        self.version += 1
        return [ObjectName.vmd(n) for n in sorted(touched)]

    def is_vcc(self, name: ObjectName) -> bool:
        """True when ``name`` is a server-configured VCC data set."""
        return name.scope == Scope.VMD and name.item in self._vcc

    def define(
        self,
        association: Hashable,
        name: ObjectName,
        entries: Sequence[VariableEntry],
        view: TableView,
        max_members: int | None = None,
        quota: DataSetQuota | None = None,
    ) -> DataSet:
        """DefineNamedVariableList: check, resolve and store; raises :class:`DataSetError`
        (definition/object-exists when the name is taken; resource/capability-unavailable
        when the association's ``quota`` of data sets or of members in all would be
        exceeded, with the limit's setting name in ``limit``; else see
        :func:`build_data_set`).

        Capability-unavailable rather than memory-unavailable: the server is not out of
        memory, this association has used what the configuration lets one association
        have (the same answer as for a data set over ``data_set_size``).
        """
        if self.get(association, name) is not None:
            raise DataSetError(
                f"data set {name} already exists",
                ServiceError(ErrorClass.DEFINITION, DefinitionCode.OBJECT_EXISTS),
            )
        if quota is not None:
            sets, members = self.usage(association)
            if sets >= quota.data_sets:
                raise DataSetError(
                    f"data set {name}: the association already has {sets} data sets, "
                    f"the limit (max_data_sets) is {quota.data_sets}",
                    ServiceError(ErrorClass.RESOURCE, ResourceCode.CAPABILITY_UNAVAILABLE),
                    "max_data_sets",
                )
            if members + len(entries) > quota.members:
                raise DataSetError(
                    f"data set {name}: {len(entries)} more members would make "
                    f"{members + len(entries)} in the association's data sets, the limit "
                    f"(max_data_set_members) is {quota.members}",
                    ServiceError(ErrorClass.RESOURCE, ResourceCode.CAPABILITY_UNAVAILABLE),
                    "max_data_set_members",
                )
        ds = build_data_set(name, entries, view, association, max_members)
        if name.scope == Scope.AA:
            self._aa.setdefault(association, {})[name] = ds
        else:
            self._domain[name] = ds
        self._count(association, ds, +1)
        self.version += 1
        return ds

    def delete(
        self, association: Hashable, name: ObjectName, in_use: Callable[[DataSet], bool]
    ) -> tuple[int, int]:
        """DeleteNamedVariableList of one name: ``(matched, deleted)``.

        A data set in use by a running transfer set (``in_use``) is matched but not deleted.
        A data set that does not exist gives ``(0, 0)`` (answered positively, per MMS habit).
        """
        ds = self.get(association, name)
        if ds is None:
            return 0, 0
        if in_use(ds):
            return 1, 0
        if name.scope == Scope.AA:
            del self._aa[association][name]
        else:
            del self._domain[name]
        self._count(ds.owner, ds, -1)
        self.version += 1
        return 1, 1

    def delete_requested(
        self,
        association: Hashable,
        domain: str,
        request: DeleteNamedVariableListRequest,
        in_use: Callable[[DataSet], bool],
    ) -> DeleteOutcome:
        """DeleteNamedVariableList for a peer of ICC domain ``domain``.

        Names of other domains are never touched. The server's VCC data sets are not
        deletable: a request that names them (or asks for every VMD-scope list) deletes the
        rest and lists them in :attr:`DeleteOutcome.refused`.
        """
        refused: list[ObjectName] = []
        names: list[ObjectName] = []
        if request.scope == DeleteScope.SPECIFIC:
            refused = [n for n in request.names or () if self.is_vcc(n)]
            names = [
                n
                for n in request.names or ()
                if n.scope == Scope.AA or (n.scope == Scope.DOMAIN and n.domain == domain)
            ]
        elif request.scope == DeleteScope.VMD:
            refused = [ObjectName.vmd(n) for n in self.names(association, Scope.VMD)]
        elif request.scope == DeleteScope.AA_SPECIFIC:
            names = [ObjectName.aa(n) for n in self.names(association, Scope.AA)]
        elif request.scope == DeleteScope.DOMAIN and request.domain == domain:
            names = [
                ObjectName.dom(domain, n) for n in self.names(association, Scope.DOMAIN, domain)
            ]
        matched = deleted = 0
        for name in names:
            m, d = self.delete(association, name, in_use)
            matched += m
            deleted += d
        return DeleteOutcome(matched, deleted, tuple(refused))

    def names(self, association: Hashable, scope: Scope, domain: str | None = None) -> list[str]:
        """Sorted item names of the data sets in a scope (GetNameList namedVariableList)."""
        if scope == Scope.AA:
            return sorted(n.item for n in self._aa.get(association, {}))
        if scope == Scope.VMD:
            return sorted(self._vcc)
        return sorted(n.item for n in self._domain if n.scope == scope and n.domain == domain)

    def drop_association(self, association: Hashable) -> list[ObjectName]:
        """Delete every data set the association defined (its AA scope and the domain sets it
        created); returns their names. Call after the transfer engine released it.
        """
        gone = list(self._aa.pop(association, {}))
        for name, ds in list(self._domain.items()):
            if ds.owner == association:
                del self._domain[name]
                gone.append(name)
        self._usage.pop(association, None)
        if gone:
            self.version += 1
        return gone
