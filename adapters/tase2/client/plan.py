"""What the TASE.2 client asks of a server, planned without I/O.

* :func:`plan_groups` splits each configured group of points into MMS data sets (transfer-set
  mode) or Read chunks (polling mode) so that a full report, a Read response and the
  DefineNamedVariableList / Read requests all fit the negotiated MMS PDU size (reference
  sections 6.8 and 9: there is no MMS segmentation of InformationReports).
* :func:`transfer_set_value` builds the DSTransferSet the client writes (shaped for the
  server by :func:`adapters.tase2.model.transfer_set.fit_transfer_set`).
* :func:`check_startup` judges the start-up Read of ``TASE2_Version``,
  ``Supported_Features`` and ``Bilateral_Table_ID`` (reference section 6.2).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from adapters.tase2.asn1.ber import code_name, tlv, tlv_size
from adapters.tase2.client.settings import ClientDataSet
from adapters.tase2.mms.data import (
    AccessResult,
    BitString,
    DataAccessError,
    Integer,
    Structure,
    Unsigned,
    VisibleString,
)
from adapters.tase2.mms.names import ObjectName, encode_object_name
from adapters.tase2.model.objects import (
    BILATERAL_TABLE_ID,
    DS_CONDITIONS_DETECTED,
    SPECIAL_MAX_SIZE,
    SUPPORTED_FEATURES,
    TASE2_VERSION,
    TRANSFER_SET_NAME,
    TRANSFER_SET_TIME_STAMP,
    DSConditions,
)
from adapters.tase2.model.points import PointType
from adapters.tase2.model.transfer_set import DSTransferSetValue

__all__ = [
    "AUTO_MAX_SIZE",
    "REQUEST_OVERHEAD",
    "SPECIAL_MEMBERS",
    "GroupPlan",
    "PlannedSet",
    "PointSpec",
    "StartupResult",
    "check_startup",
    "data_set_members",
    "data_set_name",
    "data_set_suffix",
    "plan_groups",
    "startup_names",
    "transfer_set_value",
]

SPECIAL_MEMBERS: Final = (TRANSFER_SET_NAME, DS_CONDITIONS_DETECTED, TRANSFER_SET_TIME_STAMP)
"""The report-only variables the client puts at the head of each data set, in this order
(Transfer_Set_Name first: libtase2 correlates RBE reports with it)."""

AUTO_MAX_SIZE: Final = max(t.info.max_size for t in PointType)
"""Size bound of a point whose type is not configured (the largest point type)."""

MAX_IDENTIFIER: Final = 32
"""Longest MMS identifier."""

_BASE36: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

REQUEST_OVERHEAD: Final = 24
"""Octets around a confirmed request's or response's variable list (PDU, invokeID, service
tags with long-form lengths): a safe upper bound."""


def data_set_members(domain: str, points: Sequence[ObjectName]) -> tuple[ObjectName, ...]:
    """The members of a client data set: the special variables of ``domain``, then
    ``points``."""
    return (*(ObjectName.dom(domain, s) for s in SPECIAL_MEMBERS), *points)


@dataclass(frozen=True, slots=True)
class PointSpec:
    """What the planner needs of one remote point: its name and type (None = auto)."""

    name: ObjectName
    type: PointType | None

    @property
    def max_size(self) -> int:
        """Largest encoded value (AccessResult) of the point."""
        return AUTO_MAX_SIZE if self.type is None else self.type.info.max_size


@dataclass(frozen=True, slots=True)
class PlannedSet:
    """One MMS data set (or one Read chunk when polling): its name and point indices.

    ``indices`` index the group's point list; ``members`` are the data set's member names
    (the special variables first, then the points); empty for a Read chunk's name.
    """

    name: ObjectName | None
    indices: tuple[int, ...]
    members: tuple[ObjectName, ...] = ()


@dataclass(frozen=True, slots=True)
class GroupPlan:
    """A configured group and how its points are split."""

    group: ClientDataSet
    sets: tuple[PlannedSet, ...] = field(default=())


def _entry_size(name: ObjectName) -> int:
    """Octets of one listOfVariable entry (``30 L A0 L <ObjectName>``)."""
    return len(tlv(0x30, tlv(0xA0, encode_object_name(name))))


def _report_bound(name_spec: int, results: int) -> int:
    """Largest full report PDU with a ``name_spec``-octet variableListName and ``results``
    octets of AccessResults (as :func:`adapters.tase2.server.reports.full_report_max_size`)."""
    return tlv_size(tlv_size(name_spec + tlv_size(results)))


def _split(
    specs: Sequence[PointSpec],
    indices: Sequence[int],
    max_pdu: int,
    max_points: int,
    fixed_request: int,
    fixed_results: int,
    name_spec: int,
) -> list[list[int]]:
    """Greedy split of ``indices`` so that each chunk's request and full answer fit."""
    chunks: list[list[int]] = []
    current: list[int] = []
    request = fixed_request
    results = fixed_results
    for i in indices:
        spec = specs[i]
        entry = _entry_size(spec.name)
        new_request = request + entry
        new_results = results + spec.max_size
        too_big = (
            tlv_size(new_request) + REQUEST_OVERHEAD > max_pdu
            or _report_bound(name_spec, new_results) + REQUEST_OVERHEAD > max_pdu
        )
        if current and (too_big or len(current) >= max_points):
            chunks.append(current)
            current, request, results = [], fixed_request, fixed_results
            new_request, new_results = request + entry, results + spec.max_size
        if (
            tlv_size(new_request) + REQUEST_OVERHEAD > max_pdu
            or _report_bound(name_spec, new_results) + REQUEST_OVERHEAD > max_pdu
        ):
            raise ValueError(f"point {spec.name} alone does not fit an MMS PDU of {max_pdu}")
        current.append(i)
        request, results = new_request, new_results
    if current:
        chunks.append(current)
    return chunks


def data_set_suffix(client_name: str, random_part: str) -> str:
    """The default data-set suffix of a client: two characters derived from its name, then
    ``random_part`` (drawn at each start), so that names differ between clients and runs."""
    digest = zlib.crc32(client_name.encode()) % (36 * 36)
    return _BASE36[digest // 36] + _BASE36[digest % 36] + random_part


def data_set_name(group: str, k: int, suffix: str) -> str:
    """``<group>_<NN>_<suffix>``, the group part cut so the name stays an identifier."""
    tail = f"_{k:02d}_{suffix}" if suffix else f"_{k:02d}"
    return group[: MAX_IDENTIFIER - len(tail)] + tail


def plan_groups(
    groups: Sequence[ClientDataSet],
    specs: Sequence[PointSpec],
    membership: Sequence[int],
    domain: str,
    max_pdu: int,
    max_points: int,
    suffix: str = "",
) -> list[GroupPlan]:
    """Split every group's points over data sets (or Read chunks) that fit ``max_pdu``.

    ``membership[i]`` is the index in ``groups`` of point ``specs[i]``. Data sets are named
    by :func:`data_set_name` (``<group>_01_<suffix>``...) in ``domain``; a group without
    points gets no set. Raises ValueError when a single point cannot fit (a PDU size far too
    small) or when two groups' names, cut to fit, would collide.
    """
    plans: list[GroupPlan] = []
    for g, group in enumerate(groups):
        indices = [i for i, m in enumerate(membership) if m == g]
        if group.polled:
            chunks = _split(specs, indices, max_pdu, max_points, 0, 0, 0)
            sets = tuple(PlannedSet(None, tuple(c)) for c in chunks)
            plans.append(GroupPlan(group, sets))
            continue
        specials = tuple(ObjectName.dom(domain, s) for s in SPECIAL_MEMBERS)
        fixed_request = sum(_entry_size(n) for n in specials) + 3 + 2 + 2 * 34
        fixed_results = sum(SPECIAL_MAX_SIZE[s] for s in SPECIAL_MEMBERS)
        probe_name = ObjectName.dom(domain, data_set_name(group.name, 99, suffix))
        name_spec = len(tlv(0xA1, encode_object_name(probe_name)))
        chunks = _split(
            specs, indices, max_pdu, max_points, fixed_request, fixed_results, name_spec
        )
        planned: list[PlannedSet] = []
        for k, chunk in enumerate(chunks, start=1):
            name = ObjectName.dom(domain, data_set_name(group.name, k, suffix))
            if any(name == p.name for g in plans for p in g.sets) or name in (
                p.name for p in planned
            ):
                raise ValueError(f"groups cut to the same data set name {name.item}")
            members = data_set_members(domain, [specs[i].name for i in chunk])
            planned.append(PlannedSet(name, tuple(chunk), members))
        plans.append(GroupPlan(group, tuple(planned)))
    return plans


# --------------------------------------------------------------------------- transfer sets


def transfer_set_value(group: ClientDataSet, data_set: ObjectName) -> DSTransferSetValue:
    """The DSTransferSet the client writes to start reporting ``data_set`` for ``group``."""
    conditions = DSConditions(0)
    if group.interval:
        conditions |= DSConditions.INTERVAL_TIMEOUT
    if group.integrity:
        conditions |= DSConditions.INTEGRITY_TIMEOUT
    if group.on_change:
        conditions |= DSConditions.OBJECT_CHANGE
    return DSTransferSetValue(
        data_set=data_set,
        start_time=0,
        interval=group.interval,
        tle=0,
        buffer_time=group.buffer_time,
        integrity_check=group.integrity,
        conditions=conditions,
        block_data=False,
        critical=group.critical,
        rbe=group.rbe,
        all_changes_reported=False,
        status=True,
    )


# --------------------------------------------------------------------------- start-up check


def startup_names(domain: str) -> tuple[ObjectName, ObjectName, ObjectName]:
    """The three objects of the start-up Read, in order."""
    return (
        ObjectName.vmd(TASE2_VERSION),
        ObjectName.vmd(SUPPORTED_FEATURES),
        ObjectName.dom(domain, BILATERAL_TABLE_ID),
    )


@dataclass(frozen=True, slots=True)
class StartupResult:
    """What the start-up Read showed, and every mismatch found (empty = all good)."""

    version: str | None
    blocks: tuple[int, ...] | None
    bilateral_table_id: str | None
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when the server may be used."""
        return not self.problems


def _version(result: AccessResult) -> str | None:
    if (
        isinstance(result, Structure)
        and len(result.items) == 2
        and all(isinstance(x, Integer | Unsigned) for x in result.items)
    ):
        major, minor = result.items
        assert isinstance(major, Integer | Unsigned) and isinstance(minor, Integer | Unsigned)
        return f"{major.value}.{minor.value}"
    return None


def features_blocks(result: AccessResult) -> tuple[int, ...] | None:
    """Conformance blocks (1-9) set in a ``Supported_Features`` value, or None."""
    if not isinstance(result, BitString):
        return None
    return tuple(
        n + 1 for n in range(min(result.nbits, 9)) if result.data[n >> 3] & (0x80 >> (n & 7))
    )


def _describe(result: AccessResult) -> str:
    if isinstance(result, DataAccessError):
        return code_name(result)
    return f"unexpected value {result!r}"


def check_startup(
    results: Sequence[AccessResult],
    bilateral_table_id: str,
    versions: Sequence[str],
    blocks: Sequence[int],
) -> StartupResult:
    """Judge the start-up Read (``results`` in :func:`startup_names` order)."""
    problems: list[str] = []
    if len(results) != 3:
        return StartupResult(None, None, None, (f"{len(results)} results for 3 variables",))
    version_r, features_r, blt_r = results
    version = _version(version_r)
    if version is None:
        problems.append(f"TASE2_Version: {_describe(version_r)}")
    elif version not in versions:
        problems.append(f"TASE2_Version is {version}, expected {' or '.join(versions)}")
    have = features_blocks(features_r)
    if have is None:
        problems.append(f"Supported_Features: {_describe(features_r)}")
    else:
        missing = sorted(set(blocks) - set(have))
        if missing:
            problems.append(
                f"Supported_Features lacks block(s) {', '.join(map(str, missing))} "
                f"(server has {', '.join(map(str, have)) or 'none'})"
            )
    blt = blt_r.value if isinstance(blt_r, VisibleString) else None
    if blt is None:
        problems.append(f"Bilateral_Table_ID: {_describe(blt_r)}")
    elif blt != bilateral_table_id:
        problems.append(f"Bilateral_Table_ID is {blt!r}, expected {bilateral_table_id!r}")
    return StartupResult(version, have, blt, tuple(problems))
