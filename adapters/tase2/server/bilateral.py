"""Bilateral tables (reference section 7): who a peer is, and what it may see and do.

A :class:`BilateralTableConfig` names one peer (AP-title, AE-qualifier, optional IP
addresses), its ICC domain, and its points by explicit id or glob pattern with read/write
rights and a TASE.2 point type. :func:`match_peer` picks the table for an incoming AARQ;
:func:`compile_table` turns a table plus the bus's point ids into a :class:`TableView`, the
per-association access view the server consults on every Read, Write, data set definition,
transfer set start and GetNameList.

Devices (Block 5, :mod:`adapters.tase2.model.devices`) are compiled into ``TableView.devices``
(their ``Dev``, ``Dev_SBO`` and ``Dev_TAG`` objects); ``messages`` says whether the peer may
enable information messages (Block 4).
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from bisect import bisect_left, bisect_right
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from adapters.tase2.errors import LocalError
from adapters.tase2.iso.acse import UserDiagnostic, check_ap_title
from adapters.tase2.mms.data import DataAccessError
from adapters.tase2.mms.names import ObjectName, Scope, is_valid_identifier
from adapters.tase2.model.points import PointType
from adapters.tase2.security.binding import CertificateRule
from adapters.tase2.security.endpoint import in_networks
from adapters.tase2.server.device_control import DeviceObject, DeviceRule, compile_devices
from gateway.points import PointKind

__all__ = [
    "DEFAULT_POINT_TYPES",
    "BilateralConfigError",
    "BilateralTableConfig",
    "DeviceRule",
    "PeerIdentity",
    "PeerRejected",
    "PointAccess",
    "PointRule",
    "TableView",
    "check_tables",
    "compile_table",
    "is_pattern",
    "match_peer",
    "page_names",
    "resolve_rules",
]

DEFAULT_POINT_TYPES: Final[dict[PointKind, PointType]] = {
    PointKind.REAL: PointType.DATA_REALQ_TIMETAG,
    PointKind.STATE: PointType.DATA_STATEQ_TIMETAG,
    PointKind.DISCRETE: PointType.DATA_DISCRETEQ_TIMETAG,
}
"""The point type served when neither the point's rule nor the table names one."""

_GLOB_CHARS = frozenset("*?[")
_PRINTABLE = re.compile(r"[\x20-\x7e]{1,32}")


def is_pattern(match: str) -> bool:
    """True when a rule's ``match`` is a glob pattern (contains ``*``, ``?`` or ``[``)."""
    return not _GLOB_CHARS.isdisjoint(match)


def _oid_arcs(oid: str) -> tuple[int, ...]:
    return tuple(int(a) for a in oid.strip().split("."))


class PointRule(BaseModel):
    """Access to the points a rule matches: an exact bus point id or a glob pattern.

    ``scope`` says where the peer sees the point: ``icc`` as a domain-specific name in its
    ICC domain, ``vcc`` as a VMD-specific name. ``type`` overrides the table's default
    point type for the point's kind. Exact ids win over patterns; among patterns the
    first one listed wins.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    match: str = Field(min_length=1)
    read: bool = True
    write: bool = False
    type: PointType | None = None
    scope: Literal["icc", "vcc"] = "icc"

    @field_validator("match")
    @classmethod
    def _check_match(cls, value: str) -> str:
        if not is_pattern(value) and not is_valid_identifier(value):
            raise ValueError(f"{value!r} is neither a point id nor a glob pattern")
        if is_pattern(value):
            re.compile(fnmatch.translate(value))
        return value


class PeerIdentity(BaseModel):
    """How a calling peer is recognised: its AP-title (dotted OID) and AE-qualifier, and
    optionally the IP addresses or networks it may call from (empty = any address).

    An ``ae_qualifier`` of None matches any (or no) AE-qualifier.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    ap_title: str
    ae_qualifier: int | None = None
    addresses: tuple[str, ...] = ()

    @field_validator("ap_title")
    @classmethod
    def _check_oid(cls, value: str) -> str:
        return check_ap_title(value)

    @field_validator("addresses")
    @classmethod
    def _check_addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for a in value:
            ipaddress.ip_network(a, strict=False)
        return value

    def matches(self, ap_title: str | None, ae_qualifier: int | None, address: str | None) -> bool:
        """True when a caller with these identifiers is this peer."""
        if ap_title is None:
            return False
        try:
            if _oid_arcs(ap_title) != _oid_arcs(self.ap_title):
                return False
        except ValueError:
            return False
        if self.ae_qualifier is not None and ae_qualifier != self.ae_qualifier:
            return False
        return not self.addresses or in_networks(address, self.addresses)


class BilateralTableConfig(BaseModel):
    """One bilateral table: id (served as ``Bilateral_Table_ID``), ICC domain, peer, points.

    ``default_types`` gives the point type per point kind for points whose rule names none.
    ``devices`` are the Block 5 devices the peer sees (see
    :class:`~adapters.tase2.model.devices.DeviceRule`); ``messages`` lets the peer enable
    information messages (Block 4, ``IM_Transfer_Set``).

    Security (Secure ICCP): ``certificate`` binds the table to a TLS client certificate
    (subject and/or SHA-256 fingerprints); ``password`` requires the ACSE password
    (authentication-value) in the peer's AARQ. A caller that matches the table's peer
    identity but fails either is refused with an ACSE authentication diagnostic.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    domain: str
    peer: PeerIdentity
    certificate: CertificateRule | None = None
    password: str | None = Field(default=None, min_length=1, repr=False)
    points: tuple[PointRule, ...] = ()
    default_types: dict[PointKind, PointType] = Field(
        default_factory=lambda: dict(DEFAULT_POINT_TYPES)
    )
    devices: tuple[DeviceRule, ...] = ()
    messages: bool = False

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not _PRINTABLE.fullmatch(value):
            raise ValueError("a bilateral table id is 1-32 printable ASCII characters")
        return value

    @field_validator("domain")
    @classmethod
    def _check_domain(cls, value: str) -> str:
        if not is_valid_identifier(value):
            raise ValueError(f"ICC domain {value!r} is not an MMS identifier (max 32 chars)")
        return value

    @model_validator(mode="after")
    def _check_rules(self) -> BilateralTableConfig:
        seen: set[str] = set()
        for rule in self.points:
            if not is_pattern(rule.match):
                if rule.match in seen:
                    raise ValueError(f"point {rule.match!r} is listed twice")
                seen.add(rule.match)
        for kind, ptype in self.default_types.items():
            if kind not in ptype.info.kinds:
                raise ValueError(f"default type {ptype} cannot carry {kind} points")
        names: set[str] = set()
        for dev in self.devices:
            if dev.name in names:
                raise ValueError(f"device {dev.name!r} is listed twice")
            names.add(dev.name)
        compile_devices(self.devices, self.domain)  # raises on clashing object names
        return self


class BilateralConfigError(LocalError, ValueError):
    """A bilateral table that cannot be compiled; ``problems`` lists every reason."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def check_tables(tables: Sequence[BilateralTableConfig]) -> None:
    """Raise :class:`BilateralConfigError` unless table ids and ICC domains are unique."""
    problems: list[str] = []
    ids: set[str] = set()
    domains: set[str] = set()
    for t in tables:
        if t.id in ids:
            problems.append(f"bilateral table id {t.id!r} is used twice")
        if t.domain in domains:
            problems.append(f"ICC domain {t.domain!r} is used by two bilateral tables")
        ids.add(t.id)
        domains.add(t.domain)
    if problems:
        raise BilateralConfigError(problems)


# --------------------------------------------------------------------------- peer matching


@dataclass(frozen=True, slots=True)
class PeerRejected:
    """No table matches the caller: refuse the association with this AARE diagnostic."""

    reason: str
    diagnostic: UserDiagnostic = UserDiagnostic.CALLING_AP_TITLE_NOT_RECOGNIZED


def match_peer(
    tables: Sequence[BilateralTableConfig],
    ap_title: str | None,
    ae_qualifier: int | None,
    address: str | None = None,
) -> BilateralTableConfig | PeerRejected:
    """The first table whose peer identity matches the caller, else :class:`PeerRejected`.

    With no tables configured every caller is refused (libtase2 would let everyone in; a
    gateway serving utility data should not).
    """
    for table in tables:
        if table.peer.matches(ap_title, ae_qualifier, address):
            return table
    return PeerRejected(
        f"calling AP-title {ap_title} AE-qualifier {ae_qualifier} from {address or '?'} "
        "matches no bilateral table"
    )


# --------------------------------------------------------------------------- compilation


@dataclass(frozen=True, slots=True)
class PointAccess:
    """What one peer may do with one point, and how the point is typed and named for it."""

    point: str
    name: ObjectName
    type: PointType
    read: bool
    write: bool


def resolve_rules(rules: Sequence[PointRule], sorted_ids: Sequence[str]) -> dict[str, int]:
    """Point id -> index of the rule that governs it, for every id some rule matches.

    ``sorted_ids`` must be sorted. Exact ids win; then the first matching pattern. Each
    pattern only scans the ids sharing its literal prefix (found by bisection), so
    ``PLANT1_*`` over 100,000 ids costs a slice, not 100,000 regex matches.
    """
    out: dict[str, int] = {}
    id_set = set(sorted_ids) if len(sorted_ids) > 64 else sorted_ids
    for i, rule in enumerate(rules):
        if not is_pattern(rule.match) and rule.match in id_set:
            out[rule.match] = i
    for i, rule in enumerate(rules):
        pattern = rule.match
        if not is_pattern(pattern):
            continue
        cut = min(pattern.find(c) for c in "*?[" if c in pattern)
        prefix = pattern[:cut]
        lo = bisect_left(sorted_ids, prefix)
        hi = bisect_left(sorted_ids, prefix + "\U0010ffff", lo) if prefix else len(sorted_ids)
        candidates = sorted_ids[lo:hi]
        if pattern[cut:] != "*":
            match = re.compile(fnmatch.translate(pattern)).match
            candidates = [p for p in candidates if match(p)]
        for p in candidates:
            out.setdefault(p, i)
    return out


class TableView:
    """One bilateral table compiled against the bus's points: the peer's access view.

    Use :meth:`check_read` / :meth:`check_write` on every Read/Write of a point name and on
    every data set member; use :meth:`variable_names` for GetNameList. Special objects of
    the ICC domain (Bilateral_Table_ID, Next_DSTransfer_Set, transfer sets, report-only
    variables) are the server's business: resolve those *before* asking this view.

    A view is never changed once compiled; a table change gives the peers a new one (the
    handler's read plans hold while their view is the peer's).
    """

    __slots__ = (
        "_all_points",
        "_names",
        "config",
        "devices",
        "domain",
        "icc",
        "table_id",
        "vcc",
    )

    def __init__(
        self,
        config: BilateralTableConfig,
        icc: dict[str, PointAccess],
        vcc: dict[str, PointAccess],
        all_points: Container[str],
        devices: Mapping[ObjectName, DeviceObject] | None = None,
    ) -> None:
        self.config = config
        self.devices: Mapping[ObjectName, DeviceObject] = devices or {}
        self.table_id = config.id
        self.domain = config.domain
        self.icc = icc
        self.vcc = vcc
        self._all_points = all_points
        self._names: dict[Scope, list[str]] = {}

    def lookup(self, name: ObjectName) -> PointAccess | None:
        """The point this name designates for this peer, or None."""
        if name.scope == Scope.DOMAIN:
            return self.icc.get(name.item) if name.domain == self.domain else None
        if name.scope == Scope.VMD:
            return self.vcc.get(name.item)
        return None

    def _refusal(self, name: ObjectName) -> DataAccessError:
        if name.scope == Scope.DOMAIN and name.domain != self.domain:
            return DataAccessError.OBJECT_ACCESS_DENIED
        if name.scope != Scope.AA and name.item in self._all_points:
            return DataAccessError.OBJECT_ACCESS_DENIED
        return DataAccessError.OBJECT_NON_EXISTENT

    def check_read(self, name: ObjectName) -> PointAccess | DataAccessError:
        """The point if this peer may read it, else the DataAccessError to answer.

        * object-access-denied: a name in another peer's (or any other) domain; a point
          the server has but this table does not give the peer (libtase2 behaviour); a
          point of the table without the read right.
        * object-non-existent: a name that is no point of the server at all (and any
          association-scope name: those are not points).
        """
        access = self.lookup(name)
        if access is None:
            return self._refusal(name)
        return access if access.read else DataAccessError.OBJECT_ACCESS_DENIED

    def check_write(self, name: ObjectName) -> PointAccess | DataAccessError:
        """The point if this peer may write it (a bus command), else the error to answer.

        Same rules as :meth:`check_read`, with the write right: a readable point without
        the write right is object-access-denied.
        """
        access = self.lookup(name)
        if access is None:
            return self._refusal(name)
        return access if access.write else DataAccessError.OBJECT_ACCESS_DENIED

    def variable_names(self, scope: Scope) -> list[str]:
        """Point names GetNameList shows this peer in ``scope`` (ICC domain or VCC), sorted.

        Points the peer may neither read nor write are hidden. The server merges its own
        special names (see :meth:`merge_names`) and pages with :func:`page_names`.
        """
        cached = self._names.get(scope)
        if cached is None:
            table = self.icc if scope == Scope.DOMAIN else self.vcc if scope == Scope.VMD else {}
            names = {k for k, a in table.items() if a.read or a.write}
            names.update(n.item for n in self.devices if n.scope == scope)
            cached = sorted(names)
            self._names[scope] = cached
        return cached

    def merge_names(self, scope: Scope, extra: Iterable[str]) -> list[str]:
        """:meth:`variable_names` plus ``extra`` (special objects), sorted, no duplicates."""
        names = self.variable_names(scope)
        more = sorted(set(extra).difference(names))
        if not more:
            return names
        return sorted(names + more)  # timsort: two sorted runs merge in linear time


def compile_table(
    config: BilateralTableConfig,
    kinds: Mapping[str, PointKind],
    sorted_ids: Sequence[str] | None = None,
) -> TableView:
    """Compile ``config`` against the bus's points (``kinds``: point id -> kind).

    Pass ``sorted_ids`` (the sorted keys of ``kinds``) when compiling many tables over the
    same points. Raises :class:`BilateralConfigError` when a rule's point type cannot carry
    a matched point's kind (naming the table, the rule and the point). An exact id that is
    not on the bus is ignored (the point may appear later; recompile then).
    """
    ids = sorted_ids if sorted_ids is not None else sorted(kinds)
    governed = resolve_rules(config.points, ids)
    icc: dict[str, PointAccess] = {}
    vcc: dict[str, PointAccess] = {}
    problems: list[str] = []
    rules = config.points
    defaults = config.default_types
    domain = config.domain
    for point, i in governed.items():
        rule = rules[i]
        kind = kinds[point]
        ptype = rule.type if rule.type is not None else defaults.get(kind)
        if ptype is None or kind not in ptype.info.kinds:
            if len(problems) < 20:
                problems.append(
                    f"table {config.id!r}: rule {rule.match!r} gives {kind} point {point!r} "
                    f"the type {ptype}, which cannot carry it"
                )
            continue
        if rule.scope == "icc":
            icc[point] = PointAccess(
                point, ObjectName.dom(domain, point), ptype, rule.read, rule.write
            )
        else:
            vcc[point] = PointAccess(point, ObjectName.vmd(point), ptype, rule.read, rule.write)
    devices = compile_devices(config.devices, domain)
    for name in devices:
        if (icc if name.scope == Scope.DOMAIN else vcc).get(name.item) is not None:
            problems.append(
                f"table {config.id!r}: device object {name} has the name of a served point"
            )
    if problems:
        raise BilateralConfigError(problems)
    return TableView(config, icc, vcc, kinds, devices)


def page_names(
    names: Sequence[str], continue_after: str | None, limit: int
) -> tuple[list[str], bool]:
    """One GetNameList page of sorted ``names``: those after ``continue_after``, at most
    ``limit`` of them, and whether more follow (send ``moreFollows`` FALSE on the last page).
    """
    start = 0 if continue_after is None else bisect_right(names, continue_after)
    page = list(names[start : start + limit])
    return page, start + limit < len(names)
