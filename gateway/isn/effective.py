"""Effective dates and loading ISN records into the gateway core as `PointDef`s.

`effective_records` selects the records in force on a date, following REP -> ADD
replacements; `points_from_isn` and `load_points` turn them into the gateway's `PointDef`s.

Mapping of DataType to `PointKind`: the status types (State, Bool, Truth, Confirm) become
two-bit `state` points; a Tap in Units `Pos` (a tap step) becomes a `discrete` point; every
other analog (including Tap in deg/rad/Ratio, RespF and TimeErr) becomes a `real` point.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Final

from gateway.isn import codes
from gateway.isn.model import IsnFile, IsnRecord, describe_record, parse_period
from gateway.isn.reader import read_isn
from gateway.points import PointDef, PointKind

# -- effective dates --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EffectiveRecord:
    """A record in force on a date, with its place in REP -> ADD replacement chains.

    `replaces` are the earlier ICCPObjectIDs of the same point, oldest first; `replaced_by`
    is the ICCPObjectID that takes over at this record's DecommDate ('' if none).
    """

    record: IsnRecord
    replaces: tuple[str, ...] = ()
    replaced_by: str = ""


def effective_records(isn: IsnFile, day: date) -> list[EffectiveRecord]:
    """The records with CommDate <= day < DecommDate, in file order, with their chains."""
    successor: dict[str, str] = {}
    predecessor: dict[str, str] = {}
    for record in isn.records:
        target = record.replacement_id
        if target and record.iccp_object_id:
            successor[record.iccp_object_id] = target
            predecessor.setdefault(target, record.iccp_object_id)
    result: list[EffectiveRecord] = []
    for record in isn.records:
        if record.in_force(day):
            object_id = record.iccp_object_id
            result.append(
                EffectiveRecord(
                    record,
                    _chain_back(object_id, predecessor) if object_id else (),
                    successor.get(object_id, "") if object_id else "",
                )
            )
    return result


def _chain_back(object_id: str, predecessor: dict[str, str]) -> tuple[str, ...]:
    chain: list[str] = []
    current = predecessor.get(object_id)
    while current is not None and current != object_id and current not in chain:
        chain.append(current)
        current = predecessor.get(current)
    return tuple(reversed(chain))


# -- loading into the core --------------------------------------------------------------


def point_kind(data_type: str, units: str) -> PointKind:
    """The gateway point kind of an ISN DataType/Units (see the module docstring)."""
    if data_type in codes.STATUS_DATA_TYPES:
        return PointKind.STATE
    if data_type == "Tap" and units == "Pos":
        return PointKind.DISCRETE
    return PointKind.REAL


def record_to_point(
    record: IsnRecord, replaces: Sequence[str] = (), replaced_by: str = ""
) -> PointDef:
    """The `PointDef` of a record with an ICCPObjectID (the record must be valid).

    Fields not mapped onto PointDef attributes are kept, by Header_2 name, in `isn`; so are
    `Replaces` (earlier IDs, space separated) and `ReplacedBy` when a REP chain applies.
    """
    fresh = parse_period(record.targ_fresh) if record.targ_fresh else 0
    metadata = {
        name: value
        for name, value in zip(codes.HEADER_2, record.values(), strict=True)
        if value and name not in _MAPPED_FIELDS
    }
    if replaces:
        metadata["Replaces"] = " ".join(replaces)
    if replaced_by:
        metadata["ReplacedBy"] = replaced_by
    return PointDef(
        id=record.iccp_object_id,
        kind=point_kind(record.data_type, record.units),
        units=record.units,
        description=describe_record(record),
        usage_multiplier=float(record.usage_multiplier or 1.0),
        usage_adder=float(record.usage_adder or 0.0),
        target_freshness=float(fresh) if fresh > 0 else None,
        isn=metadata,
    )


_MAPPED_FIELDS: Final = frozenset(
    {"ICCPObjectID", "Units", "UsageMultiplier", "UsageAdder", "TargFresh"}
)


def points_from_isn(isn: IsnFile, as_of: date, *, include_pending: bool = True) -> list[PointDef]:
    """The points (records with an ICCPObjectID) in force on `as_of`.

    Pending points (PtReq X: planned, not yet on the node) are included unless
    `include_pending` is False; their `isn["PtReq"]` is "X".
    """
    points: list[PointDef] = []
    for effective in effective_records(isn, as_of):
        record = effective.record
        if not record.iccp_object_id or (record.is_pending and not include_pending):
            continue
        points.append(record_to_point(record, effective.replaces, effective.replaced_by))
    return points


def load_points(
    path: Path, as_of: date | None = None, *, include_pending: bool = True
) -> list[PointDef]:
    """Read, check and load an ISN file's points in force on `as_of` (default today).

    Raises IsnError with every finding if the file has errors (warnings are accepted), and
    OSError if the file cannot be read.
    """
    result = read_isn(path)
    isn = result.file_or_raise(str(path))
    return points_from_isn(isn, as_of or date.today(), include_pending=include_pending)
