"""Checking an ISN file without holding it: `validate_file` streams the file from disk.

The whole-file readers (`read_isn`, `parse_isn`) keep every record, which takes about ten
times the file's size. `validate_file` reads the file a line at a time, checks each record
as it is read and lets it go, and keeps at most `max_findings` findings (those on the first
lines) while counting all of them. The rules across records run on a second pass that
gathers only the few fields they need (see `gateway.isn.validate.Validator`), so a file of
any size is checked in memory that grows by two bytes per ICCPObjectID, not by its records.
The findings are those `read_isn` gives, in the same order.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from gateway.isn.model import CappedFindings, Finding, IsnHeader, IsnRecord
from gateway.isn.reader import UTF8_BOM, bom_warning, csv_rows, read_rows, undecodable
from gateway.isn.validate import Validator

DEFAULT_MAX_FINDINGS: Final = 1000
"""How many findings of one file `validate_file` keeps by default (all are counted)."""

_MIN_RECORD_SIZE: Final = 32


@dataclass(frozen=True, slots=True)
class FileReport:
    """What checking one file gave: the findings kept, and counts of all of them."""

    findings: list[Finding]
    errors: int
    warnings: int
    not_kept: int
    records: int
    readable: bool

    @property
    def ok(self) -> bool:
        """True if the file was read and has no error (warnings allowed)."""
        return self.readable and not self.errors


class _NoFindings:
    """A sink that drops findings: the second pass has reported them already."""

    __slots__ = ()

    def append(self, finding: Finding, /) -> None:
        """Drop the finding."""

    def __len__(self) -> int:
        return 0


class _Counter:
    """Counts data records and checks each one, holding none."""

    __slots__ = ("count", "expected_ids", "findings", "validator")

    def __init__(self, findings: CappedFindings, expected_ids: int) -> None:
        self.count = 0
        self.expected_ids = expected_ids
        self.findings = findings
        self.validator: Validator | None = None

    def check(self, record: IsnRecord) -> None:
        if self.validator is None:  # the SiteID of the first record is the file's
            self.validator = Validator(record.site_id, self.findings, self.expected_ids)
        self.count += 1
        self.validator.check_record(record)


def validate_file(path: Path, *, max_findings: int = DEFAULT_MAX_FINDINGS) -> FileReport:
    """Check every rule of the format on a file, streaming it; OSError if it cannot be read."""
    findings = CappedFindings(max_findings)
    # A record with an ICCPObjectID takes some 40 bytes at least: size the bitmap for that.
    counter = _Counter(findings, expected_ids=path.stat().st_size // _MIN_RECORD_SIZE)
    has_bom = _has_bom(path)
    if has_bom:
        findings.append(bom_warning())
    try:
        with _rows(path, has_bom) as rows:
            header = read_rows(rows, findings, counter.check)
    except UnicodeDecodeError:
        # As read_isn: a file that is not text gets the one finding that says where.
        findings = CappedFindings(max_findings)
        if has_bom:
            findings.append(bom_warning())
        findings.append(_first_undecodable(path, has_bom))
        return _report(findings, 0, readable=False)
    if header is None:
        return _report(findings, counter.count, readable=False)
    _check_rest(path, has_bom, header, counter)
    return _report(findings, counter.count, readable=True)


def _check_rest(path: Path, has_bom: bool, header: IsnHeader, counter: _Counter) -> None:
    """The header (it depends on the records) and the rules across records."""
    validator = counter.validator or Validator("", counter.findings)
    validator.check_header(header)
    if validator.needs_second_pass:
        try:
            with _rows(path, has_bom) as rows:
                read_rows(rows, _NoFindings(), validator.collect)
        except UnicodeDecodeError:
            pass  # the file changed since the first pass; check what was gathered
    validator.check_across_records()


def _report(findings: CappedFindings, records: int, *, readable: bool) -> FileReport:
    return FileReport(
        findings.kept(), findings.errors, findings.warnings, findings.not_kept, records, readable
    )


def _has_bom(path: Path) -> bool:
    with path.open("rb") as raw:
        return raw.read(len(UTF8_BOM)) == UTF8_BOM


@contextmanager
def _rows(path: Path, skip_bom: bool) -> Iterator[Iterator[tuple[int, list[str]]]]:
    """(line number, fields) of each line of the file, read as it is consumed."""
    with path.open("rb") as raw:
        if skip_bom:
            raw.read(len(UTF8_BOM))
        # newline="": the csv module sees the line ends, and breaks lines as read_isn does.
        with io.TextIOWrapper(raw, encoding="utf-8", newline="") as text:
            yield csv_rows(text)


def _first_undecodable(path: Path, skip_bom: bool) -> Finding:
    """The finding for the first byte of the file that is not UTF-8 text."""
    with path.open("rb") as raw:
        if skip_bom:
            raw.read(len(UTF8_BOM))
        # No UTF-8 sequence holds a LF, so decoding line by line finds the same first error.
        for number, line in enumerate(raw, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                return undecodable(line[exc.start], number)
    return undecodable(0, 1)  # the file changed since it was read
