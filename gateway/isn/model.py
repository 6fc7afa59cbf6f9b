"""The ISN file model: findings, the header and data records, the file, and dates/periods.

`IsnFile` holds a Header_1 data record (`IsnHeader`) and its data records (`IsnRecord`),
every field kept exactly as written. `Finding`s (of a `Severity`) say what is wrong with a
file; `IsnError` carries them when a file cannot be used. Also here: reading and writing ISN
dates (`MM/DD/YYYY`) and periods (`5M`), and a one-line description of a record.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from operator import attrgetter
from typing import Any, Final, Protocol

from gateway.isn import codes

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
# Blanks no field may start or end with (the reader and the validator report them).
_BLANKS: Final = " \t\xa0"


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


class FindingSink(Protocol):
    """Where findings go: a list, or a store that keeps only some (`CappedFindings`)."""

    def append(self, finding: Finding, /) -> None:
        """Take one finding."""

    def __len__(self) -> int:
        """How many findings were taken."""
        ...


class CappedFindings:
    """Findings of a file, at most `limit` of them kept (those of the first lines), all counted.

    Memory stays bounded however many findings a file has: `kept()` gives the findings on
    the lowest lines in line order (findings of one line in the order they were found),
    `errors` and `warnings` count them all, and `not_kept` says how many were let go.
    """

    __slots__ = ("_heap", "_taken", "errors", "limit", "warnings")

    def __init__(self, limit: int = 1000) -> None:
        self.limit = max(limit, 0)
        self.errors = 0
        self.warnings = 0
        self._taken = 0
        # A max-heap on (line, order) by negation: its top is the finding to drop first.
        self._heap: list[tuple[int, int, Finding]] = []

    def append(self, finding: Finding, /) -> None:
        """Count a finding, and keep it if it is among the `limit` on the lowest lines."""
        self._taken += 1
        if finding.is_error:
            self.errors += 1
        else:
            self.warnings += 1
        item = (-finding.line, -self._taken, finding)
        if len(self._heap) < self.limit:
            heapq.heappush(self._heap, item)
        elif self._heap and item > self._heap[0]:
            heapq.heapreplace(self._heap, item)

    def __len__(self) -> int:
        return self._taken

    @property
    def not_kept(self) -> int:
        """How many findings were counted but not kept."""
        return self._taken - len(self._heap)

    def kept(self) -> list[Finding]:
        """The findings kept, in line order."""
        return [finding for _, _, finding in sorted(self._heap, reverse=True)]


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


# -- describing records -----------------------------------------------------------------


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
