"""NERC ISN data point definition files (format version 2.3): read, check, write, diff, load.

An ISN file is CSV: Header_1 (`ISNVersNum,UpDate,ReqDate,Reqstr`), its one data record,
Header_2 (18 column names) and one record per data point. This package

- models a file as an `IsnFile` of `IsnRecord`s, and what is wrong with it as `Finding`s
  (`gateway.isn.model`);
- reads a file into an `IsnFile` (`parse_isn`, `read_isn`), keeping every field exactly as
  written: blanks around a value are reported, never stripped (`gateway.isn.reader`);
- checks every rule of the format description (`validate_isn`), returning `Finding`s that
  name the line, the field and what a utility engineer should fix (`gateway.isn.validate`);
- selects the records in force on a date, following REP -> ADD replacements
  (`effective_records`), and turns them into the gateway's `PointDef`s (`load_points`,
  `points_from_isn`) (`gateway.isn.effective`);
- writes canonical files that read back byte for byte (`format_isn`, `write_isn`) under the
  `SiteIDddmmmyyyy.csv` name convention (`isn_file_name`), and writes configured points
  back as a file (`export_points`) (`gateway.isn.writer`);
- compares two files of one site (`diff_isn`, `gateway.isn.diff`);
- checks a file of any size without holding it (`validate_file`, `gateway.isn.stream`),
  keeping the first findings (`CappedFindings`) and counting the rest.

The format's code tables are in `gateway.isn.codes`. Every public name of the submodules
is importable from `gateway.isn` itself.
"""

from __future__ import annotations

from gateway.isn import codes
from gateway.isn.diff import ChangedRecord, FieldChange, IsnDiff, Replacement, diff_isn
from gateway.isn.effective import (
    EffectiveRecord,
    effective_records,
    load_points,
    point_kind,
    points_from_isn,
    record_to_point,
)
from gateway.isn.model import (
    FILE_FIELD,
    CappedFindings,
    Finding,
    FindingSink,
    IsnError,
    IsnFile,
    IsnHeader,
    IsnRecord,
    ReadResult,
    Severity,
    describe_record,
    format_isn_date,
    format_period,
    has_errors,
    parse_isn_date,
    parse_period,
)
from gateway.isn.reader import parse_isn, read_isn
from gateway.isn.stream import DEFAULT_MAX_FINDINGS, FileReport, validate_file
from gateway.isn.validate import validate_isn
from gateway.isn.writer import (
    export_points,
    format_isn,
    isn_file_name,
    parse_isn_file_name,
    point_to_record,
    write_isn,
)

__all__ = [
    "DEFAULT_MAX_FINDINGS",
    "FILE_FIELD",
    "CappedFindings",
    "ChangedRecord",
    "EffectiveRecord",
    "FieldChange",
    "FileReport",
    "Finding",
    "FindingSink",
    "IsnDiff",
    "IsnError",
    "IsnFile",
    "IsnHeader",
    "IsnRecord",
    "ReadResult",
    "Replacement",
    "Severity",
    "codes",
    "describe_record",
    "diff_isn",
    "effective_records",
    "export_points",
    "format_isn",
    "format_isn_date",
    "format_period",
    "has_errors",
    "isn_file_name",
    "load_points",
    "parse_isn",
    "parse_isn_date",
    "parse_isn_file_name",
    "parse_period",
    "point_kind",
    "point_to_record",
    "points_from_isn",
    "read_isn",
    "record_to_point",
    "validate_file",
    "validate_isn",
    "write_isn",
]
