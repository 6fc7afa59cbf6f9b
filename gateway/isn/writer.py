"""Writing ISN files: canonical text, file names, and exporting configured points.

`format_isn` and `write_isn` write version 2.3 files that read back byte for byte, under the
`SiteIDddmmmyyyy.csv` name convention (`isn_file_name`, `parse_isn_file_name`);
`export_points` (with `point_to_record`) writes the gateway's `PointDef`s as an ISN file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Final

from gateway.isn import codes
from gateway.isn.model import (
    Finding,
    IsnError,
    IsnFile,
    IsnHeader,
    IsnRecord,
    format_isn_date,
    format_period,
    has_errors,
)
from gateway.isn.reader import parse_isn
from gateway.points import PointDef, PointKind

_CSV_SPECIALS: Final = (",", '"', "\r", "\n")
_DEFAULT_DATA_TYPE_BY_UNITS: Final = {
    "MW": "Flow",
    "Mvar": "Flow",
    "kW": "Flow",
    "kvar": "Flow",
    "MVA": "Flow",
    "kVA": "Flow",
    "A": "Flow",
    "kV": "V",
    "pu": "V",
    "Pct": "V",
    "deg": "Ang",
    "rad": "Ang",
    "Ratio": "Tap",
    "Pos": "Tap",
    "Hz": "Freq",
    "degC": "Temp",
    "degF": "Temp",
    "None": "RespF",
    "Sec": "TimeErr",
}
_STATE_UNITS: Final = ("Op/Cl", "En/De", "On/Off")


# -- writing ----------------------------------------------------------------------------


def format_isn(isn: IsnFile, *, check: bool = True) -> str:
    """The file as version 2.3 text: CRLF line ends, every column written, CSV quoting only
    where a value needs it. Raises IsnError if `check` and the result would have errors.
    """
    header = replace(isn.header, version=codes.CURRENT_VERSION)
    lines = [",".join(codes.HEADER_1), _join(header.values()), ",".join(codes.HEADER_2)]
    lines.extend(_join(record.values()) for record in isn.records)
    text = "\r\n".join(lines) + "\r\n"
    if check:
        findings = parse_isn(text).findings
        if has_errors(findings):
            raise IsnError(findings)
    return text


def write_isn(isn: IsnFile, path: Path) -> Path:
    """Write the file (checked, as `format_isn`) to `path`; if `path` is a directory, under
    the conventional name for the site and today's date. Returns the path written."""
    if path.is_dir():
        path = path / isn_file_name(isn.site_id, date.today())
    path.write_bytes(format_isn(isn).encode("utf-8"))
    return path


def _join(values: Iterable[str]) -> str:
    return ",".join(_quote(value) for value in values)


def _quote(value: str) -> str:
    if any(c in value for c in _CSV_SPECIALS):
        return '"' + value.replace('"', '""') + '"'
    return value


def isn_file_name(site_id: str, day: date, sequence: int = 0) -> str:
    """The NERC file name `SiteIDddmmmyyyy.csv`, e.g. `ABCD20jan2000.csv`.

    When one day needs several files, the spec uses "succeeding day digits": file number
    `sequence` (0 for the first) takes the date that many days later.
    """
    when = day + timedelta(days=sequence)
    month = codes.MONTH_ABBREVIATIONS[when.month - 1]
    return f"{site_id}{when.day:02d}{month}{when.year:04d}.csv"


def parse_isn_file_name(name: str) -> tuple[str, date] | None:
    """The SiteID and date of a conventional file name, or None if it does not follow it."""
    stem = name[:-4] if name.lower().endswith(".csv") else None
    if stem is None or len(stem) < 10:
        return None
    site, day, month, year = stem[:-9], stem[-9:-7], stem[-7:-4].lower(), stem[-4:]
    if not (day.isdigit() and year.isdigit() and month in codes.MONTH_ABBREVIATIONS):
        return None
    if codes.SITE_ID_PATTERN.fullmatch(site) is None:
        return None
    try:
        return site, date(int(year), codes.MONTH_ABBREVIATIONS.index(month) + 1, int(day))
    except ValueError:
        return None


# -- exporting configured points --------------------------------------------------------


def export_points(
    points: Iterable[PointDef],
    site_id: str,
    *,
    update: date | None = None,
    comm_date: date | None = None,
) -> str:
    """The points as a version 2.3 ISN file of site `site_id`, dated `update` (default today).

    Fields come from each point's `isn` metadata where present (as `load_points` keeps
    them), else from the point itself (units, ax+b, freshness) and plain defaults (Source T,
    AccumPer 0S, DevType MI, CommDate = `comm_date` or the file date). ChangeCodes are left
    blank (an export is a new update, and "with each update, the previous change codes
    should be removed"), and a HostID `ADD(x)` is dropped when x is not exported. Raises
    IsnError if the result is not a valid file; each finding message names the point.
    """
    day = update or date.today()
    records: list[IsnRecord] = []
    ids: list[str] = []
    for line, point in enumerate(points, start=4):
        records.append(point_to_record(point, site_id, comm_date or day, line))
        ids.append(point.id)
    exported = set(ids)
    records = [_drop_dangling_link(record, exported) for record in records]
    isn = IsnFile(IsnHeader(update=format_isn_date(day)), records)
    try:
        return format_isn(isn)
    except IsnError as exc:
        raise IsnError([_name_point(f, ids) for f in exc.findings]) from None


def point_to_record(point: PointDef, site_id: str, comm_date: date, line: int = 0) -> IsnRecord:
    """The ISN record describing a configured point (see `export_points`)."""
    meta = point.isn
    data_type = meta.get("DataType") or _default_data_type(point)
    units = point.units or (_STATE_UNITS[0] if point.kind is PointKind.STATE else "")
    fresh = point.target_freshness
    return IsnRecord(
        line=line,
        site_id=site_id,
        source=meta.get("Source", "T"),
        accum_per=meta.get("AccumPer", "0S"),
        data_type=data_type,
        units=units,
        dev_type=meta.get("DevType", "MI"),
        dev_name=meta.get("DevName") or point.description or point.id,
        location=meta.get("Location", ""),
        base_kv=meta.get("BasekV", ""),
        comm_date=meta.get("CommDate") or format_isn_date(comm_date),
        decomm_date=meta.get("DecommDate", ""),
        change_code="",
        pt_req=meta.get("PtReq", ""),
        iccp_object_id=point.id,
        host_id=meta.get("HostID", ""),
        targ_fresh=format_period(fresh) if fresh else "0S",
        usage_multiplier=repr(float(point.usage_multiplier)),
        usage_adder=repr(float(point.usage_adder)),
    )


def _drop_dangling_link(record: IsnRecord, exported: set[str]) -> IsnRecord:
    """A HostID ADD(x) whose x is not exported would name no record: leave it out."""
    target = record.replacement_id
    if target and target not in exported:
        return replace(record, host_id="")
    return record


def _default_data_type(point: PointDef) -> str:
    if point.kind is PointKind.STATE:
        return "State"
    if point.kind is PointKind.DISCRETE:
        return "Tap"
    return _DEFAULT_DATA_TYPE_BY_UNITS.get(point.units, "")


def _name_point(finding: Finding, ids: list[str]) -> Finding:
    index = finding.line - 4
    if 0 <= index < len(ids):
        return replace(finding, message=f"point {ids[index]}: {finding.message}")
    return finding
