"""Comparing two ISN files of one site: added, removed, changed and replaced points."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from gateway.isn import codes
from gateway.isn.model import Finding, IsnError, IsnFile, IsnRecord, Severity, describe_record

# -- diff -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field that differs between two versions of a record (or of Header_1)."""

    field: str
    old: str
    new: str

    def to_dict(self) -> dict[str, str]:
        """A JSON-able view."""
        return {"field": self.field, "old": self.old, "new": self.new}


@dataclass(frozen=True, slots=True)
class ChangedRecord:
    """A point present in both files whose record differs."""

    key: str
    old_line: int
    new_line: int
    changes: tuple[FieldChange, ...]


@dataclass(frozen=True, slots=True)
class Replacement:
    """A REP/ADD pair new in the newer file: `old_id` becomes `new_id` on `on`."""

    old_id: str
    new_id: str
    on: str
    line: int


@dataclass(slots=True)
class IsnDiff:
    """What changed between two files of one site."""

    site_id: str
    header: list[FieldChange]
    added: list[IsnRecord]
    removed: list[IsnRecord]
    changed: list[ChangedRecord]
    replaced: list[Replacement]

    @property
    def is_empty(self) -> bool:
        """True if the files describe the same points the same way."""
        return not (self.header or self.added or self.removed or self.changed or self.replaced)

    def summary(self) -> str:
        """One line: how many points were added, removed, changed and replaced."""
        return (
            f"site {self.site_id}: {len(self.added)} added, {len(self.removed)} removed, "
            f"{len(self.changed)} changed, {len(self.replaced)} replaced"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able view."""
        return {
            "site": self.site_id,
            "header": [c.to_dict() for c in self.header],
            "added": [_record_entry(r) for r in self.added],
            "removed": [_record_entry(r) for r in self.removed],
            "changed": [
                {
                    "key": c.key,
                    "old_line": c.old_line,
                    "new_line": c.new_line,
                    "fields": [f.to_dict() for f in c.changes],
                }
                for c in self.changed
            ],
            "replaced": [
                {"old_id": r.old_id, "new_id": r.new_id, "on": r.on, "line": r.line}
                for r in self.replaced
            ],
        }

    def format_text(self) -> str:
        """A readable report, one line per point, starting with the summary."""
        lines = [self.summary()]
        lines.extend(f"header  {c.field}: {c.old!r} -> {c.new!r}" for c in self.header)
        for record in self.added:
            lines.append(
                f"added   {_record_key(record)} (line {record.line}): {describe_record(record)}"
            )
        for record in self.removed:
            lines.append(
                f"removed {_record_key(record)} (old line {record.line}): {describe_record(record)}"
            )
        for change in self.changed:
            fields = "; ".join(f"{c.field} {c.old!r} -> {c.new!r}" for c in change.changes)
            lines.append(f"changed {change.key} (line {change.new_line}): {fields}")
        for rep in self.replaced:
            lines.append(f"replaced {rep.old_id} -> {rep.new_id} on {rep.on} (line {rep.line})")
        return "\n".join(lines)


def _record_entry(record: IsnRecord) -> dict[str, Any]:
    return {"key": _record_key(record), "line": record.line, "record": record.as_dict()}


# Fields a REP/ADD replacement explains on the REP record; not reported again as changes.
_REPLACEMENT_FIELDS: Final = frozenset({"ChangeCode", "DecommDate", "HostID"})


def diff_isn(old: IsnFile, new: IsnFile) -> IsnDiff:
    """Compare two files of one site; raise IsnError if their SiteIDs differ.

    Records are matched by ICCPObjectID (records without one by what they describe).
    """
    if old.site_id and new.site_id and old.site_id != new.site_id:
        message = f"the files are of different sites ({old.site_id} and {new.site_id})"
        raise IsnError([Finding(Severity.ERROR, 0, "SiteID", message)])
    old_records, new_records = _keyed(old.records), _keyed(new.records)
    known_pairs = {(r.iccp_object_id, r.replacement_id) for r in old.records if r.replacement_id}
    replaced = [
        Replacement(r.iccp_object_id, r.replacement_id, r.decomm_date, r.line)
        for r in new.records
        if r.replacement_id and (r.iccp_object_id, r.replacement_id) not in known_pairs
    ]
    replacing = {rep.old_id for rep in replaced}
    replacements = {rep.new_id for rep in replaced}
    changed: list[ChangedRecord] = []
    for key, new_record in new_records.items():
        old_record = old_records.get(key)
        if old_record is None:
            continue
        ignore = _REPLACEMENT_FIELDS if key in replacing else frozenset()
        changes = _field_changes(codes.HEADER_2, old_record.values(), new_record.values(), ignore)
        if changes:
            changed.append(ChangedRecord(key, old_record.line, new_record.line, changes))
    return IsnDiff(
        site_id=new.site_id or old.site_id,
        header=list(
            _field_changes(codes.HEADER_1, old.header.values(), new.header.values(), frozenset())
        ),
        added=[r for k, r in new_records.items() if k not in old_records and k not in replacements],
        removed=[r for k, r in old_records.items() if k not in new_records],
        changed=changed,
        replaced=replaced,
    )


def _record_key(record: IsnRecord) -> str:
    if record.iccp_object_id:
        return record.iccp_object_id
    place = f" at {record.location}" if record.location else ""
    return (
        f"({record.source} {record.accum_per} {record.data_type} {record.units} "
        f"{record.dev_type} {record.dev_name}{place})"
    )


def _keyed(records: Iterable[IsnRecord]) -> dict[str, IsnRecord]:
    keyed: dict[str, IsnRecord] = {}
    for record in records:
        key = _record_key(record)
        if key in keyed:
            key = f"{key} from {record.comm_date}"
        if key in keyed:
            key = f"{key} (line {record.line})"
        keyed[key] = record
    return keyed


def _field_changes(
    names: Sequence[str], old: Sequence[str], new: Sequence[str], ignore: frozenset[str]
) -> tuple[FieldChange, ...]:
    return tuple(
        FieldChange(name, before, after)
        for name, before, after in zip(names, old, new, strict=True)
        if before != after and name not in ignore
    )
