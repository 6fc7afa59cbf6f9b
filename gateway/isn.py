"""NERC ISN data point definition files (format version 2.3): read, check, write, diff, load.

An ISN file is CSV: Header_1 (`ISNVersNum,UpDate,ReqDate,Reqstr`), its one data record,
Header_2 (18 column names) and one record per data point. This module

- reads a file into an `IsnFile` (`parse_isn`, `read_isn`), keeping every field exactly as
  written: blanks around a value are reported, never stripped;
- checks every rule of the format description (`validate_isn`), returning `Finding`s that
  name the line, the field and what a utility engineer should fix;
- selects the records in force on a date, following REP -> ADD replacements
  (`effective_records`);
- writes canonical files that read back byte for byte (`format_isn`, `write_isn`) under the
  `SiteIDddmmmyyyy.csv` name convention (`isn_file_name`);
- compares two files of one site (`diff_isn`);
- turns the records into the gateway's `PointDef`s (`load_points`, `points_from_isn`) and
  back (`export_points`).

Mapping of DataType to `PointKind`: the status types (State, Bool, Truth, Confirm) become
two-bit `state` points; a Tap in Units `Pos` (a tap step) becomes a `discrete` point; every
other analog (including Tap in deg/rad/Ratio, RespF and TimeErr) becomes a `real` point.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from enum import StrEnum
from operator import attrgetter
from pathlib import Path
from typing import Any, Final

from gateway import isn_codes as codes
from gateway.points import PointDef, PointKind

FILE_FIELD: Final = "file"
"""The field name of findings about the file as a whole (encoding, structure)."""

_RECORD_ATTRS: Final = (
    "site_id",
    "source",
    "accum_per",
    "data_type",
    "units",
    "dev_type",
    "dev_name",
    "location",
    "base_kv",
    "comm_date",
    "decomm_date",
    "change_code",
    "pt_req",
    "iccp_object_id",
    "host_id",
    "targ_fresh",
    "usage_multiplier",
    "usage_adder",
)
_ATTR_BY_FIELD: Final = dict(zip(codes.HEADER_2, _RECORD_ATTRS, strict=True))
_record_values = attrgetter(*_RECORD_ATTRS)
# The fields whose checks do not depend on the record's own identity (see check_record).
_signature_fields = attrgetter(
    "site_id",
    "source",
    "accum_per",
    "data_type",
    "units",
    "dev_type",
    "base_kv",
    "comm_date",
    "decomm_date",
    "change_code",
    "pt_req",
    "targ_fresh",
    "usage_multiplier",
    "usage_adder",
)
_FIELD_COUNT: Final = len(codes.HEADER_2)
_UTF8_BOM: Final = b"\xef\xbb\xbf"
_CSV_SPECIALS: Final = (",", '"', "\r", "\n")
_SEPARATOR: Final = "\x1f"  # joins a record's fields for whole-record checks
_BLANKS: Final = " \t\xa0"
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
_NOT_MISC_DATA_TYPES: Final = frozenset(codes.DATA_TYPES) - codes.MISC_DATA_TYPES


# -- findings ---------------------------------------------------------------------------


class Severity(StrEnum):
    """How bad a finding is: an error makes the file unusable, a warning does not."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found in an ISN file: where it is (line, field) and what to fix."""

    severity: Severity
    line: int
    field: str
    message: str

    @property
    def is_error(self) -> bool:
        """True for an error, False for a warning."""
        return self.severity is Severity.ERROR

    def format(self, file: str) -> str:
        """The finding as `FILE:LINE: severity: FIELD: message`."""
        return f"{file}:{self.line}: {self.severity}: {self.field}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able view of the finding."""
        return {
            "severity": str(self.severity),
            "line": self.line,
            "field": self.field,
            "message": self.message,
        }


class IsnError(Exception):
    """An ISN file (or a point list to export) that cannot be used; `findings` says why."""

    def __init__(self, findings: Sequence[Finding], file: str = "") -> None:
        self.findings = list(findings)
        self.file = file
        shown = [f.format(file or "isn") for f in self.errors[:5]]
        more = len(self.errors) - len(shown)
        super().__init__("\n".join(shown) + (f"\n... and {more} more errors" if more > 0 else ""))

    @property
    def errors(self) -> list[Finding]:
        """The findings of severity error."""
        return [f for f in self.findings if f.is_error]


def has_errors(findings: Iterable[Finding]) -> bool:
    """True if any finding is an error."""
    return any(f.is_error for f in findings)


# -- the file model ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IsnHeader:
    """The Header_1 data record: version, file date and, for requests, who asks and when."""

    version: str = codes.CURRENT_VERSION
    update: str = ""
    req_date: str = ""
    requester: str = ""
    line: int = field(default=2, compare=False)

    def values(self) -> tuple[str, str, str, str]:
        """The four fields in Header_1 order."""
        return (self.version, self.update, self.req_date, self.requester)


@dataclass(slots=True)
class IsnRecord:
    """One data record (one point description), every field exactly as written in the file.

    `line` is the file line the record starts on; it takes no part in comparisons. Treat
    records as read-only (they are not frozen only because frozen construction is 5x slower,
    and files have hundreds of thousands of them).
    """

    line: int = field(default=0, compare=False)
    site_id: str = ""
    source: str = ""
    accum_per: str = ""
    data_type: str = ""
    units: str = ""
    dev_type: str = ""
    dev_name: str = ""
    location: str = ""
    base_kv: str = ""
    comm_date: str = ""
    decomm_date: str = ""
    change_code: str = ""
    pt_req: str = ""
    iccp_object_id: str = ""
    host_id: str = ""
    targ_fresh: str = ""
    usage_multiplier: str = ""
    usage_adder: str = ""

    def values(self) -> tuple[str, ...]:
        """The 18 fields in Header_2 order."""
        values: tuple[str, ...] = _record_values(self)
        return values

    def get(self, field_name: str) -> str:
        """The value of a field given by its Header_2 name, e.g. `get("TargFresh")`."""
        value: str = getattr(self, _ATTR_BY_FIELD[field_name])
        return value

    def as_dict(self) -> dict[str, str]:
        """The fields by Header_2 name."""
        return dict(zip(codes.HEADER_2, self.values(), strict=True))

    @property
    def replacement_id(self) -> str:
        """The ICCPObjectID a HostID `ADD(...)` names (a REP record's successor); else ''.

        The ChangeCode is not required to be REP: codes are cleared at the next update, but
        the HostID keeps naming the successor.
        """
        if not self.host_id.startswith("ADD("):
            return ""
        match = codes.REP_HOST_ID_PATTERN.fullmatch(self.host_id)
        return match.group(1) if match else ""

    @property
    def is_pending(self) -> bool:
        """PtReq X: the point will be, but is not yet, on the provider's ISN node."""
        return self.pt_req == "X"

    def in_force(self, day: date) -> bool:
        """True if CommDate <= day < DecommDate (records with unreadable dates never are)."""
        comm = _lenient_date(self.comm_date)
        if comm is None or comm > day:
            return False
        if not self.decomm_date:
            return True
        decomm = _lenient_date(self.decomm_date)
        return decomm is not None and day < decomm


@dataclass(slots=True)
class IsnFile:
    """A whole ISN file: its Header_1 data record and its data records in file order."""

    header: IsnHeader
    records: list[IsnRecord]

    @property
    def site_id(self) -> str:
        """The SiteID of the file (that of its first record; '' if it has none)."""
        return self.records[0].site_id if self.records else ""


@dataclass(slots=True)
class ReadResult:
    """What reading a file gave: the file (None if its structure is unusable) and findings."""

    isn: IsnFile | None
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        """True if the file was read and has no error (warnings allowed)."""
        return self.isn is not None and not has_errors(self.findings)

    def file_or_raise(self, name: str = "") -> IsnFile:
        """The file, or IsnError with the findings if it has errors."""
        if self.isn is None or has_errors(self.findings):
            raise IsnError(self.findings, name)
        return self.isn


# -- dates and periods ------------------------------------------------------------------


def parse_isn_date(text: str) -> date:
    """Read an ISN date `MM/DD/YYYY` (one-digit month or day also accepted)."""
    day = _lenient_date(text)
    if day is None:
        raise ValueError(f"{text!r} is not a date in MM/DD/YYYY form")
    return day


def format_isn_date(day: date) -> str:
    """Write a date as the format wants it: `MM/DD/YYYY`."""
    return f"{day.month:02d}/{day.day:02d}/{day.year:04d}"


def parse_period(text: str) -> int:
    """Seconds of an AccumPer or TargFresh value `<integer><S|M|H|D>`, e.g. `5M` -> 300."""
    match = codes.PERIOD_PATTERN.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a period like 6S, 5M, 1H or 1D")
    return int(match.group(1)) * codes.PERIOD_UNIT_SECONDS[match.group(2)]


def format_period(seconds: float) -> str:
    """Write whole seconds as a TargFresh value in the largest exact unit (300 -> `5M`)."""
    whole = round(seconds)
    for unit in ("D", "H", "M"):
        size = codes.PERIOD_UNIT_SECONDS[unit]
        if whole and whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}S"


def _lenient_date(text: str) -> date | None:
    match = codes.LOOSE_DATE_PATTERN.fullmatch(text)
    if match is None:
        return None
    try:
        return date(int(match.group(3)), int(match.group(1)), int(match.group(2)))
    except ValueError:
        return None


def _check_date_text(text: str) -> tuple[date | None, Severity | None, str]:
    """Read a date and say what, if anything, is wrong with how it is written."""
    match = codes.STRICT_DATE_PATTERN.fullmatch(text)
    strict = match is not None
    if match is None:
        match = codes.LOOSE_DATE_PATTERN.fullmatch(text)
    if match is None:
        return None, Severity.ERROR, f"{text!r} is not a date in MM/DD/YYYY form"
    month, day, year = int(match.group(1)), int(match.group(2)), int(match.group(3))
    try:
        value = date(year, month, day)
    except ValueError:
        return None, Severity.ERROR, f"{text} is not a calendar date (read as MM/DD/YYYY)"
    if strict:
        return value, None, ""
    message = (
        f"{text} is not in MM/DD/YYYY form (month and day take two digits); "
        f"read as {format_isn_date(value)}"
    )
    return value, Severity.WARNING, message


# -- reading ----------------------------------------------------------------------------


def read_isn(path: Path, *, validate: bool = True) -> ReadResult:
    """Read and (by default) check an ISN file; OSError if it cannot be read at all."""
    return parse_isn(path.read_bytes(), validate=validate)


def parse_isn(data: bytes | str, *, validate: bool = True) -> ReadResult:
    """Read ISN file content (LF or CRLF lines) and, by default, check every rule."""
    findings: list[Finding] = []
    text = data if isinstance(data, str) else _decode(data, findings)
    if text is None:
        return ReadResult(None, findings)
    isn = _parse_text(text, findings)
    if isn is not None and validate:
        findings.extend(validate_isn(isn))
        findings.sort(key=lambda f: f.line)
    return ReadResult(isn, findings)


def _decode(data: bytes, findings: list[Finding]) -> str | None:
    if data.startswith(_UTF8_BOM):
        findings.append(
            Finding(
                Severity.WARNING,
                1,
                FILE_FIELD,
                "the file starts with a UTF-8 byte order mark; the format asks for plain ASCII",
            )
        )
        data = data[len(_UTF8_BOM) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        message = (
            f"the file is not ASCII text: byte 0x{data[exc.start]:02X} on line {line} "
            "is not a character; save the file as plain ASCII CSV"
        )
        findings.append(Finding(Severity.ERROR, line, FILE_FIELD, message))
        return None


class _Stage:
    HEADER_1 = 0
    HEADER_1_DATA = 1
    HEADER_2 = 2
    DATA = 3


class _RowError(Exception):
    """A line the CSV reader cannot split; carries the line number."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line


# Characters str.splitlines() breaks lines on but the csv module does not.
_ODD_LINE_BREAKS: Final = ("\x0b", "\x0c", "\x1c", "\x1d", "\x1e")


def _split_rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of each line; a fast split when no field is quoted."""
    if '"' not in text and text.isascii() and not any(c in text for c in _ODD_LINE_BREAKS):
        return enumerate((line.split(",") for line in text.splitlines()), start=1)
    return _csv_rows(text)


def _csv_rows(text: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    try:
        for row in reader:
            yield start, row
            start = reader.line_num + 1
    except csv.Error as exc:
        raise _RowError(reader.line_num, str(exc)) from None


def _parse_text(text: str, findings: list[Finding]) -> IsnFile | None:
    """Split the text into the header records and data records (no field checks)."""
    header = IsnHeader()
    records: list[IsnRecord] = []
    blank_lines: list[int] = []
    stage = _Stage.HEADER_1
    line = 0
    try:
        for line, row in _split_rows(text):
            if stage == _Stage.DATA and row and (row[0] or any(row)):
                if len(row) <= _FIELD_COUNT:
                    records.append(IsnRecord(line, *row))
                else:
                    records.append(_make_record(line, row, findings))
                if blank_lines:
                    _warn_blank_lines(blank_lines, findings)
                continue
            if not any(row):
                _note_blank(line, len(row) > 1, blank_lines, findings)
                continue
            _warn_blank_lines(blank_lines, findings)
            if stage == _Stage.HEADER_1:
                if row[0] == "SiteID":
                    findings.append(_missing_header_1(line))
                    return None
                _check_header_names(row, codes.HEADER_1, line, "Header_1", findings)
            elif stage == _Stage.HEADER_1_DATA:
                if row[0] == "SiteID":
                    findings.append(_missing_header_1_data(line))
                    return None
                header = _make_header(line, row, findings)
            else:
                _check_header_names(row, codes.HEADER_2, line, "Header_2", findings)
            stage += 1
    except _RowError as exc:
        message = f"the line cannot be split into fields ({exc})"
        findings.append(Finding(Severity.ERROR, exc.line, FILE_FIELD, message))
        return None
    if stage < _Stage.DATA:
        findings.append(_truncated(stage, line))
        return None
    if not records:
        findings.append(Finding(Severity.WARNING, line, FILE_FIELD, "the file has no data records"))
    return IsnFile(header, records)


def _note_blank(line: int, commas_only: bool, blank_lines: list[int], found: list[Finding]) -> None:
    if commas_only:
        message = "empty record (only commas) ignored"
        found.append(Finding(Severity.WARNING, line, FILE_FIELD, message))
    else:
        blank_lines.append(line)


def _warn_blank_lines(blank_lines: list[int], findings: list[Finding]) -> None:
    """Blank lines are harmless at the end of a file; elsewhere they are worth a warning."""
    for line in blank_lines:
        findings.append(Finding(Severity.WARNING, line, FILE_FIELD, "blank line ignored"))
    blank_lines.clear()


def _missing_header_1(line: int) -> Finding:
    message = (
        "the file starts with Header_2; Header_1 (ISNVersNum,UpDate,ReqDate,Reqstr) "
        "and its data record must come first"
    )
    return Finding(Severity.ERROR, line, "ISNVersNum", message)


def _missing_header_1_data(line: int) -> Finding:
    message = "the Header_1 data record (e.g. 2.3,05/01/2004) is missing before Header_2"
    return Finding(Severity.ERROR, line, "ISNVersNum", message)


def _truncated(stage: int, line: int) -> Finding:
    if stage == _Stage.HEADER_1:
        return Finding(Severity.ERROR, 1, FILE_FIELD, "the file is empty")
    missing = "the Header_1 data record" if stage == _Stage.HEADER_1_DATA else "Header_2"
    return Finding(Severity.ERROR, line, FILE_FIELD, f"the file ends before {missing}")


def _check_header_names(
    row: list[str], expected: tuple[str, ...], line: int, title: str, findings: list[Finding]
) -> None:
    """Every header column must carry exactly its name, in the format's order."""
    for index, name in enumerate(expected):
        found = row[index] if index < len(row) else ""
        if found == name:
            continue
        where = f"{title} column {index + 1} must be {name}"
        if not found:
            message = f"{where}, but it is missing"
        elif found.strip(_BLANKS) == name:
            message = f"{where} without leading or trailing blanks, found {found!r}"
        elif found in expected:
            message = (
                f"{where}, found {found} (columns out of order; the order is {','.join(expected)})"
            )
        else:
            message = f"{where}, found {found!r}"
        findings.append(Finding(Severity.ERROR, line, name, message))
    for extra in row[len(expected) :]:
        if extra:
            message = f"{title} has an extra column {extra!r} after {expected[-1]}"
            findings.append(Finding(Severity.ERROR, line, extra, message))


def _make_header(line: int, row: list[str], findings: list[Finding]) -> IsnHeader:
    _check_extra_fields(line, row, codes.HEADER_1, findings)
    padded = [*row, "", "", "", ""][:4]
    return IsnHeader(padded[0], padded[1], padded[2], padded[3], line)


def _make_record(line: int, row: list[str], findings: list[Finding]) -> IsnRecord:
    if len(row) <= _FIELD_COUNT:
        return IsnRecord(line, *row)
    _check_extra_fields(line, row, codes.HEADER_2, findings)
    return IsnRecord(line, *row[:_FIELD_COUNT])


def _check_extra_fields(
    line: int, row: list[str], names: tuple[str, ...], findings: list[Finding]
) -> None:
    """Fields past the last column are an error unless empty (trailing commas)."""
    extra = [value for value in row[len(names) :] if value]
    if extra:
        message = (
            f"the record has {len(row)} fields but the format has {len(names)} "
            f"(ending with {names[-1]}); extra value {extra[0]!r}"
        )
        findings.append(Finding(Severity.ERROR, line, names[-1], message))


# -- validation -------------------------------------------------------------------------


def validate_isn(isn: IsnFile) -> list[Finding]:
    """Check every rule of the format on a read file; findings in line order."""
    validator = _Validator(isn.site_id)
    for record in isn.records:
        validator.check_record(record)
    validator.check_header(isn.header)
    validator.check_across_records()
    findings = validator.findings
    findings.sort(key=lambda f: f.line)
    return findings


def _suggestion(value: str, table: Iterable[str]) -> str:
    """' (did you mean X?)' when value matches a code but for case or blanks."""
    wanted = value.strip(_BLANKS).lower()
    for code in table:
        if code.lower() == wanted:
            return f" (did you mean {code}?)"
    return ""


class _Validator:
    """Checks records one by one and then across records; collects findings."""

    __slots__ = (
        "_by_id",
        "_dates",
        "_passed",
        "_periods",
        "_reps",
        "_site",
        "_sites_ok",
        "findings",
        "has_requests",
    )

    def __init__(self, site: str) -> None:
        self.findings: list[Finding] = []
        self.has_requests = False
        self._site = site
        self._sites_ok: set[str] = set()
        self._dates: dict[str, tuple[date | None, Severity | None, str]] = {}
        self._periods: dict[str, bool] = {}
        self._passed: set[tuple[tuple[str, ...], bool, bool, bool]] = set()
        self._by_id: dict[str, list[IsnRecord]] = {}
        self._reps: list[tuple[IsnRecord, str]] = []

    def error(self, line: int, field_name: str, message: str) -> None:
        """Record an error."""
        self.findings.append(Finding(Severity.ERROR, line, field_name, message))

    def warn(self, line: int, field_name: str, message: str) -> None:
        """Record a warning."""
        self.findings.append(Finding(Severity.WARNING, line, field_name, message))

    # header

    def check_header(self, header: IsnHeader) -> None:
        """Header_1 data: version, file date and the request fields when points are requested."""
        line = header.line
        self._check_blanks(line, codes.HEADER_1, header.values())
        self._check_version(line, header.version)
        if not header.update:
            self.error(line, "UpDate", "UpDate (the file date, MM/DD/YYYY) is required")
        else:
            self.date(line, "UpDate", header.update)
        if header.req_date:
            self.date(line, "ReqDate", header.req_date)
        elif self.has_requests:
            message = "ReqDate is required because records request points (PtReq R)"
            self.error(line, "ReqDate", message)
        if header.requester:
            self._check_site_form(line, "Reqstr", header.requester)
        elif self.has_requests:
            message = "Reqstr (the requester's SiteID) is required because records request points"
            self.error(line, "Reqstr", message)

    def _check_version(self, line: int, version: str) -> None:
        if version == codes.CURRENT_VERSION:
            return
        if not version:
            self.error(line, "ISNVersNum", "ISNVersNum (e.g. 2.3) is required")
        elif version in codes.OLDER_VERSIONS:
            message = f"version {version} is older than 2.3; read with the 2.3 rules"
            self.warn(line, "ISNVersNum", message)
        else:
            message = f"unknown ISNVersNum {version!r}; this reader knows 2.3 (and reads 2.0-2.2)"
            self.error(line, "ISNVersNum", message)

    # one record

    def check_record(self, record: IsnRecord) -> None:
        """Every single-record rule.

        The rules on the code-like fields run once per distinct combination of them that
        passed (real files repeat a few combinations many times); the fields unique to a
        record (blanks, ICCPObjectID, REP link) are checked on every record.
        """
        line = record.line
        values = record.values()
        joined = _SEPARATOR.join(values)
        ascii_only = joined.isascii()
        if (
            " \x1f" in joined
            or "\x1f " in joined
            or joined[:1] == " "
            or joined[-1:] == " "
            or "\t" in joined
            or not ascii_only
        ):
            self._check_blanks(line, codes.HEADER_2, values)
        if not ascii_only or "," in joined or '"' in joined or not "".join(values).isprintable():
            self._check_characters(line, values)
        if record.iccp_object_id:
            self._check_object_id(record)
        if record.change_code == "REP":
            self._check_rep(record)
        signature = (
            _signature_fields(record),
            not record.location,
            not record.dev_name,
            not record.iccp_object_id,
        )
        if signature not in self._passed:
            before = len(self.findings)
            self._check_record_fields(record)
            if len(self.findings) == before:
                self._passed.add(signature)

    def _check_record_fields(self, record: IsnRecord) -> None:
        self._check_codes(record)
        self._check_units(record)
        self._check_place(record)
        self._check_dates(record)
        self._check_change_code(record)
        self._check_request(record)
        self._check_freshness(record)
        self._check_usage(record)

    def _check_blanks(self, line: int, names: tuple[str, ...], values: Sequence[str]) -> None:
        for name, value in zip(names, values, strict=False):
            if value and (value[0] in _BLANKS or value[-1] in _BLANKS):
                message = f"{value!r} has leading or trailing blanks, which the format forbids"
                self.error(line, name, message)

    def _check_characters(self, line: int, values: Sequence[str]) -> None:
        for name, value in zip(codes.HEADER_2, values, strict=True):
            shown = _shown(value)
            if not value.isascii():
                self.warn(line, name, f"{shown} is not plain ASCII, as the format asks")
            if "\n" in value or "\r" in value:
                message = (
                    f'{shown} runs over several lines: a quote (") opened here is probably '
                    "never closed"
                )
                self.error(line, name, message)
            elif not value.isprintable():
                control = next(c for c in value if not c.isprintable())
                message = (
                    f"{shown} holds the control character 0x{ord(control):02X}; "
                    "the format is plain text"
                )
                self.error(line, name, message)
            elif "," in value or '"' in value:
                message = (
                    f"{shown} holds a comma or quote; it needs CSV quoting, "
                    "which other ISN tools may not read"
                )
                self.warn(line, name, message)

    def _check_codes(self, record: IsnRecord) -> None:
        line = record.line
        site = record.site_id
        if site not in self._sites_ok:
            self._check_site(record)
        if record.source not in codes.SOURCES:
            self._bad_code(line, "Source", record.source, codes.SOURCES, "Table 1")
        self._check_period(line, "AccumPer", record.accum_per, required=True)
        if record.data_type not in codes.DATA_TYPES:
            self._bad_code(line, "DataType", record.data_type, codes.DATA_TYPES, "Table 3")
        if record.dev_type not in codes.DEV_TYPES:
            self._bad_code(line, "DevType", record.dev_type, codes.DEV_TYPES, "Table 5")
        elif record.dev_type == "MI" and record.data_type in _NOT_MISC_DATA_TYPES:
            message = (
                f"DevType MI (miscellaneous) is meant for Res, Dmd, ACE, TimeErr and Int, "
                f"not {record.data_type}"
            )
            self.warn(line, "DevType", message)

    def _check_site(self, record: IsnRecord) -> None:
        line, site = record.line, record.site_id
        if not site:
            self.error(line, "SiteID", "SiteID (the NERC registered site) is required")
            return
        if not self._check_site_form(line, "SiteID", site):
            return
        if site != self._site:
            message = (
                f"SiteID {site} differs from {self._site} of the first record; one site a file"
            )
            self.warn(line, "SiteID", message)
            return
        self._sites_ok.add(site)

    def _check_site_form(self, line: int, field_name: str, site: str) -> bool:
        if codes.SITE_ID_PATTERN.fullmatch(site):
            return True
        message = f"{site!r} is not a NERC Site ID (1 to 4 letters or digits)"
        self.error(line, field_name, message)
        return False

    def _bad_code(
        self, line: int, field_name: str, value: str, table: Iterable[str], where: str
    ) -> None:
        if not value:
            self.error(line, field_name, f"{field_name} is required ({where})")
            return
        valid = ", ".join(table)
        message = f"unknown {field_name} {value!r}{_suggestion(value, table)}; {where}: {valid}"
        self.error(line, field_name, message)

    def _check_period(self, line: int, field_name: str, value: str, required: bool) -> bool:
        known = self._periods.get(value)
        if known is None:
            known = codes.PERIOD_PATTERN.fullmatch(value) is not None
            self._periods[value] = known
        if known:
            return True
        if not value:
            if required:
                self.error(line, field_name, f"{field_name} is required (e.g. 0S)")
            return False
        message = (
            f"{value!r} is not an integer followed by S, M, H or D "
            f"(e.g. 0S, 6S, 5M, 1H, 1D; Table 2/6)"
        )
        self.error(line, field_name, message)
        return False

    def _check_units(self, record: IsnRecord) -> None:
        data_type, units = record.data_type, record.units
        if (data_type, units) in codes.VALID_DATA_TYPE_UNITS or data_type not in codes.DATA_TYPES:
            return
        valid = ", ".join(codes.UNITS_BY_DATA_TYPE[data_type])
        if not units:
            if data_type in codes.UNITS_REQUIRED_DATA_TYPES:
                message = f"Units are required for DataType {data_type} (Table 4: {valid})"
                self.error(record.line, "Units", message)
        elif units not in codes.UNITS:
            hint = _suggestion(units, codes.UNITS)
            message = f"unknown Units {units!r}{hint}; for DataType {data_type} use {valid}"
            self.error(record.line, "Units", message)
        else:
            message = f"Units {units} are not valid for DataType {data_type} (Table 4: {valid})"
            self.error(record.line, "Units", message)

    def _check_place(self, record: IsnRecord) -> None:
        line = record.line
        if not record.dev_name:
            self.error(line, "DevName", "DevName (the name of the device) is required")
        if record.dev_type in codes.LOCATION_DEV_TYPES:
            kind = codes.DEV_TYPES[record.dev_type]
            if not record.location:
                message = (
                    f"Location (the station) is required for DevType {record.dev_type} ({kind})"
                )
                self.error(line, "Location", message)
            if not record.base_kv:
                message = (
                    f"BasekV is required for DevType {record.dev_type} ({kind}), as Location is"
                )
                self.error(line, "BasekV", message)
        if record.base_kv and codes.NUMBER_PATTERN.fullmatch(record.base_kv) is None:
            message = f"BasekV must be the nominal kV as a number, found {record.base_kv!r}"
            self.error(line, "BasekV", message)

    def date(self, line: int, field_name: str, text: str) -> date | None:
        """Read a date field, reporting its problems; cached by text."""
        checked = self._dates.get(text)
        if checked is None:
            checked = _check_date_text(text)
            self._dates[text] = checked
        value, severity, message = checked
        if severity is not None:
            self.findings.append(Finding(severity, line, field_name, message))
        return value

    def _check_dates(self, record: IsnRecord) -> None:
        line = record.line
        comm = decomm = None
        if record.comm_date:
            comm = self.date(line, "CommDate", record.comm_date)
        else:
            self.error(line, "CommDate", "CommDate (the effective date, MM/DD/YYYY) is required")
        if record.decomm_date:
            decomm = self.date(line, "DecommDate", record.decomm_date)
        if comm is not None and decomm is not None and decomm <= comm:
            message = (
                f"DecommDate {record.decomm_date} must be after CommDate {record.comm_date}; "
                "the record would never be valid"
            )
            self.error(line, "DecommDate", message)

    def _check_change_code(self, record: IsnRecord) -> None:
        line, code = record.line, record.change_code
        if not code:
            return
        if code not in codes.CHANGE_CODES:
            hint = _suggestion(code, codes.CHANGE_CODES)
            message = f"unknown ChangeCode {code!r}{hint}; use ADD, CHG, DEL, REP or leave it blank"
            self.error(line, "ChangeCode", message)
            return
        if code in codes.DECOMM_REQUIRED_CHANGE_CODES and not record.decomm_date:
            message = f"a {code} record needs a DecommDate: the date the record stops being valid"
            self.error(line, "DecommDate", message)

    def _check_rep(self, record: IsnRecord) -> None:
        line = record.line
        if not record.iccp_object_id:
            message = "a REP record replaces an ICCPObjectID, so it needs one"
            self.error(line, "ICCPObjectID", message)
        match = codes.REP_HOST_ID_PATTERN.fullmatch(record.host_id)
        if match is None or not match.group(1):
            message = (
                "a REP record's HostID must name its ADD record as ADD(<ICCPObjectID>), "
                f"e.g. ADD({record.site_id}_1234); found {record.host_id!r}"
            )
            self.error(line, "HostID", message)
        else:
            self._reps.append((record, match.group(1)))

    def _check_request(self, record: IsnRecord) -> None:
        request = record.pt_req
        if not request:
            return
        if request not in codes.PT_REQ_CODES:
            message = (
                f"PtReq must be R (requested), X (pending on the provider's node) or blank; "
                f"found {request!r}{_suggestion(request, codes.PT_REQ_CODES)}"
            )
            self.error(record.line, "PtReq", message)
        elif request == "R":
            self.has_requests = True
            if record.iccp_object_id:
                message = "R requests a point without an ICCPObjectID; this one already has one"
                self.warn(record.line, "PtReq", message)

    def _check_object_id(self, record: IsnRecord) -> None:
        object_id = record.iccp_object_id
        self._by_id.setdefault(object_id, []).append(record)
        line = record.line
        if codes.ICCP_OBJECT_ID_PATTERN.fullmatch(object_id) is None:
            self.error(line, "ICCPObjectID", _object_id_problem(object_id))
        if len(object_id) > codes.ICCP_OBJECT_ID_MAX:
            message = f"{object_id!r} has {len(object_id)} characters; at most 32 are allowed"
            self.error(line, "ICCPObjectID", message)
        if record.site_id and not object_id.startswith(record.site_id):
            message = f"{object_id!r} must begin with the SiteID {record.site_id}"
            self.error(line, "ICCPObjectID", message)
        if not record.targ_fresh:
            message = "TargFresh is required when an ICCPObjectID is given (e.g. 6S)"
            self.error(line, "TargFresh", message)

    def _check_freshness(self, record: IsnRecord) -> None:
        fresh = record.targ_fresh
        if not fresh or not self._check_period(record.line, "TargFresh", fresh, required=False):
            return
        if record.source in codes.NO_FRESHNESS_SOURCES and parse_period(fresh) != 0:
            source = codes.SOURCES[record.source]
            message = f"TargFresh would be 0S for Source {record.source} ({source}), found {fresh}"
            self.warn(record.line, "TargFresh", message)

    def _check_usage(self, record: IsnRecord) -> None:
        analog = record.data_type in codes.ANALOG_DATA_TYPES
        for name, value, default in (
            ("UsageMultiplier", record.usage_multiplier, "1.0"),
            ("UsageAdder", record.usage_adder, "0.0"),
        ):
            if value:
                if codes.NUMBER_PATTERN.fullmatch(value) is None:
                    message = f"{name} must be a number like {default}, found {value!r}"
                    self.error(record.line, name, message)
            elif analog:
                message = (
                    f"{name} is required for the analog DataType {record.data_type} "
                    f"(write {default} if there is nothing to apply)"
                )
                self.error(record.line, name, message)

    # across records

    def check_across_records(self) -> None:
        """Rules that need the whole file: ID uniqueness in time and REP -> ADD links."""
        for object_id, records in self._by_id.items():
            if len(records) > 1:
                self._check_overlaps(object_id, records)
        for record, target in self._reps:
            self._check_rep_target(record, target)
        self._check_rep_cycles()

    def _check_overlaps(self, object_id: str, records: list[IsnRecord]) -> None:
        spans: list[tuple[date, date, IsnRecord]] = []
        for record in records:
            comm = _lenient_date(record.comm_date)
            if comm is None:
                continue
            decomm = _lenient_date(record.decomm_date) if record.decomm_date else None
            spans.append((comm, decomm or date.max, record))
        spans.sort(key=lambda span: span[0])
        latest_end, latest = date.min, None
        for comm, end, record in spans:
            if latest is not None and comm < latest_end:
                until = latest.decomm_date or "open"
                message = (
                    f"ICCPObjectID {object_id} is also used by the record on line {latest.line} "
                    f"({latest.comm_date} to {until}); an ID may name one record at a time"
                )
                self.error(record.line, "ICCPObjectID", message)
            if end > latest_end:
                latest_end, latest = end, record

    def _check_rep_target(self, record: IsnRecord, target: str) -> None:
        line = record.line
        if target == record.iccp_object_id:
            self.error(line, "HostID", f"the REP record names its own ICCPObjectID {target}")
            return
        candidates = self._by_id.get(target, [])
        adds = [r for r in candidates if r.change_code == "ADD"]
        if not adds:
            if candidates:
                found = candidates[0]
                message = (
                    f"HostID names {target}, but its record on line {found.line} has ChangeCode "
                    f"{found.change_code or 'blank'}; the replacement must be an ADD record"
                )
            else:
                message = f"HostID names {target}, but no record of the file has that ICCPObjectID"
            self.error(line, "HostID", message)
            return
        add = adds[0]
        if record.decomm_date and add.comm_date and record.decomm_date != add.comm_date:
            message = (
                f"this record ends on {record.decomm_date} but its replacement {target} "
                f"(line {add.line}) starts on {add.comm_date}; the point would be missing or "
                "doubled in between"
            )
            self.warn(line, "DecommDate", message)

    def _check_rep_cycles(self) -> None:
        successor = {
            r.iccp_object_id: target
            for r, target in self._reps
            if r.iccp_object_id and target != r.iccp_object_id
        }
        cleared: set[str] = set()
        for record, _ in self._reps:
            chain: list[str] = []
            current = record.iccp_object_id
            while current in successor and current not in cleared:
                if current in chain:
                    message = f"REP records replace each other in a circle: {' -> '.join(chain)}"
                    self.error(record.line, "HostID", message)
                    break
                chain.append(current)
                current = successor[current]
            cleared.update(chain)


def _shown(value: str, limit: int = 40) -> str:
    """A value quoted for a message, cut short if long."""
    return repr(value if len(value) <= limit else value[:limit] + "...")


def _object_id_problem(object_id: str) -> str:
    if not object_id[0].isascii() or not object_id[0].isalpha():
        return f"{object_id!r} must start with a letter (A-Z or a-z)"
    bad = next(
        (c for c in object_id if not (c.isascii() and (c.isalnum() or c in "$_"))), object_id[0]
    )
    return f"{object_id!r} has the character {bad!r}; only A-Z a-z 0-9 $ _ are allowed"


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


def describe_record(record: IsnRecord) -> str:
    """A one-line human description, e.g. `Flow MW, Line LineA-B, Station A 161 kV`."""
    data_type = codes.DATA_TYPES.get(record.data_type, record.data_type)
    text = f"{data_type} {record.units}".rstrip()
    device = codes.DEV_TYPES.get(record.dev_type, record.dev_type)
    text += f", {device} {record.dev_name}".rstrip()
    if record.location:
        text += f", {record.location}"
        if record.base_kv:
            text += f" {record.base_kv} kV"
    return text


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
