"""Reading ISN files: bytes or text into an `IsnFile`, with findings about the structure.

`parse_isn` and `read_isn` split the file into Header_1, its data record, Header_2 and the
data records, keeping every field exactly as written (blanks around a value are reported,
never stripped), and by default check every rule of the format with `validate_isn`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Final

from gateway.isn import codes
from gateway.isn.model import (
    _BLANKS,
    FILE_FIELD,
    Finding,
    FindingSink,
    IsnFile,
    IsnHeader,
    IsnRecord,
    ReadResult,
    Severity,
)
from gateway.isn.validate import validate_isn

_FIELD_COUNT: Final = len(codes.HEADER_2)
UTF8_BOM: Final = b"\xef\xbb\xbf"


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
    if data.startswith(UTF8_BOM):
        findings.append(bom_warning())
        data = data[len(UTF8_BOM) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        findings.append(undecodable(data[exc.start], line))
        return None


def bom_warning() -> Finding:
    """The warning for a file that starts with a UTF-8 byte order mark."""
    message = "the file starts with a UTF-8 byte order mark; the format asks for plain ASCII"
    return Finding(Severity.WARNING, 1, FILE_FIELD, message)


def undecodable(byte: int, line: int) -> Finding:
    """The error for a file whose first byte that is not UTF-8 text is `byte` on `line`."""
    message = (
        f"the file is not ASCII text: byte 0x{byte:02X} on line {line} "
        "is not a character; save the file as plain ASCII CSV"
    )
    return Finding(Severity.ERROR, line, FILE_FIELD, message)


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
    return csv_rows(io.StringIO(text, newline=""))


def csv_rows(lines: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of each CSV record of `lines` (a stream opened with newline='')."""
    reader = csv.reader(lines)
    start = 1
    try:
        for row in reader:
            yield start, row
            start = reader.line_num + 1
    except csv.Error as exc:
        raise _RowError(reader.line_num, str(exc)) from None


def _parse_text(text: str, findings: list[Finding]) -> IsnFile | None:
    """Split the text into the header records and data records (no field checks)."""
    records: list[IsnRecord] = []
    header = read_rows(_split_rows(text), findings, records.append)
    return None if header is None else IsnFile(header, records)


def read_rows(
    rows: Iterable[tuple[int, list[str]]],
    findings: FindingSink,
    on_record: Callable[[IsnRecord], object],
) -> IsnHeader | None:
    """Split (line, fields) rows into the header records and data records (no field checks).

    Each data record goes to `on_record` as soon as it is read, so a caller may keep it or
    check it and let it go. The Header_1 data record is returned; None if the structure of
    the file is unusable (what is wrong is in `findings`).
    """
    header = IsnHeader()
    count = 0
    blank_lines: list[int] = []
    stage = _Stage.HEADER_1
    line = 0
    try:
        for line, row in rows:
            if stage == _Stage.DATA and row and (row[0] or any(row)):
                if len(row) <= _FIELD_COUNT:
                    on_record(IsnRecord(line, *row))
                else:
                    on_record(_make_record(line, row, findings))
                count += 1
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
    if not count:
        findings.append(Finding(Severity.WARNING, line, FILE_FIELD, "the file has no data records"))
    return header


def _note_blank(line: int, commas_only: bool, blank_lines: list[int], found: FindingSink) -> None:
    if commas_only:
        message = "empty record (only commas) ignored"
        found.append(Finding(Severity.WARNING, line, FILE_FIELD, message))
    else:
        blank_lines.append(line)


def _warn_blank_lines(blank_lines: list[int], findings: FindingSink) -> None:
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
    row: list[str], expected: tuple[str, ...], line: int, title: str, findings: FindingSink
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


def _make_header(line: int, row: list[str], findings: FindingSink) -> IsnHeader:
    _check_extra_fields(line, row, codes.HEADER_1, findings)
    padded = [*row, "", "", "", ""][:4]
    return IsnHeader(padded[0], padded[1], padded[2], padded[3], line)


def _make_record(line: int, row: list[str], findings: FindingSink) -> IsnRecord:
    if len(row) <= _FIELD_COUNT:
        return IsnRecord(line, *row)
    _check_extra_fields(line, row, codes.HEADER_2, findings)
    return IsnRecord(line, *row[:_FIELD_COUNT])


def _check_extra_fields(
    line: int, row: list[str], names: tuple[str, ...], findings: FindingSink
) -> None:
    """Fields past the last column are an error unless empty (trailing commas)."""
    extra = [value for value in row[len(names) :] if value]
    if extra:
        message = (
            f"the record has {len(row)} fields but the format has {len(names)} "
            f"(ending with {names[-1]}); extra value {extra[0]!r}"
        )
        findings.append(Finding(Severity.ERROR, line, names[-1], message))
