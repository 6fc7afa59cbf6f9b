"""Tests of streaming validation (gateway.isn.stream): same findings, bounded memory."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Iterable
from pathlib import Path

import pytest

from gateway.isn import (
    CappedFindings,
    Finding,
    IsnRecord,
    Severity,
    read_isn,
    validate_file,
)
from gateway.isn.codes import HEADER_1, HEADER_2
from gateway.isn.validate import Validator
from tests.gateway.test_isn_cli import run
from tests.support import REPO

FILES = Path(__file__).parent / "isn_files"
DEMO = REPO / "mappings" / "isn" / "DEMO01may2025.csv"
CORPUS = [*sorted(FILES.rglob("*.csv")), DEMO]

GOOD = "CP,T,0S,V,kV,BS,Section {n},Station A,115,08/01/1997,,,,CP_V{n},BUS{n},6S,1.0,0.0"
BAD = "CP,Q,0S,V,kV,BS,Section {n},Station A,115,08/01/1997,,,,CP_V{n},BUS{n},6S,1.0,0.0"


def write_file(path: Path, rows: Iterable[str]) -> Path:
    with path.open("w", encoding="ascii", newline="") as out:
        out.write(f"{','.join(HEADER_1)}\r\n2.3,05/01/2004,,\r\n{','.join(HEADER_2)}\r\n")
        out.writelines(f"{row}\r\n" for row in rows)
    return path


def line_of(record: int) -> int:
    """The file line of the record-th data record (from 0) written by write_file."""
    return record + 4


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_streaming_gives_the_findings_of_read_isn(path: Path) -> None:
    expected = read_isn(path).findings
    report = validate_file(path)
    assert report.findings == expected
    assert report.errors == sum(f.is_error for f in expected)
    assert report.warnings == len(expected) - report.errors
    assert report.not_kept == 0


def test_findings_beyond_the_cap_are_counted_not_kept(tmp_path: Path) -> None:
    # A REP on the first line whose target is missing is found only after the last record:
    # the cap keeps the findings of the first lines, whenever they were found.
    rep = (
        "CP,T,0S,V,kV,BS,Old,Station A,115,08/01/1997,03/31/2002,REP,,CP_OLD,ADD(CP_NEW),6S,1.0,0.0"
    )
    path = write_file(tmp_path / "bad.csv", [rep, *(BAD.format(n=n) for n in range(3000))])
    report = validate_file(path, max_findings=100)
    assert (report.errors, report.warnings, report.not_kept) == (3001, 0, 2901)
    assert len(report.findings) == 100
    assert report.findings[0].field == "HostID" and report.findings[0].line == line_of(0)
    assert [f.line for f in report.findings[1:]] == [line_of(n) for n in range(1, 100)]
    assert all(f.field == "Source" for f in report.findings[1:])


def test_validate_command_says_how_many_findings_it_did_not_print(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_file(tmp_path / "bad.csv", (BAD.format(n=n) for n in range(1500)))
    assert run("isn", "validate", path) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 1001
    assert (
        lines[-1] == f"{path}: 500 more finding(s) not shown (the first 1000 are; --max-findings N)"
    )
    assert captured.err.splitlines()[-1] == (
        "1 file(s): 1500 error(s), 0 warning(s); 500 finding(s) not shown, "
        "beyond the first 1000 a file"
    )
    assert run("isn", "validate", "--format", "json", "--max-findings", "10", path) == 1
    document = json.loads(capsys.readouterr().out)
    assert len(document["findings"]) == 10
    assert (document["errors"], document["not_shown"]) == (1500, {str(path): 1490})


def test_capped_findings_keep_the_first_lines_in_order() -> None:
    capped = CappedFindings(limit=2)
    for line, message in [(9, "a"), (4, "b"), (4, "c"), (2, "d"), (7, "e")]:
        capped.append(Finding(Severity.WARNING, line, "f", message))
    assert [(f.line, f.message) for f in capped.kept()] == [(2, "d"), (4, "b")]
    assert (len(capped), capped.warnings, capped.not_kept) == (5, 5, 3)


def test_ids_sharing_a_bit_are_not_taken_for_duplicates() -> None:
    # The smallest bitmap (8,192 bits) for 20,000 IDs: most share a bit with another, so
    # the second pass gathers them; only the ID really used twice is reported.
    findings: list[Finding] = []
    records = [IsnRecord(line_of(n), *GOOD.format(n=n).split(",")) for n in range(20_000)]
    records.append(IsnRecord(line_of(20_000), *GOOD.format(n=7).split(",")))
    validator = Validator("CP", findings, expected_ids=0)
    for record in records:
        validator.check_record(record)
    assert validator.needs_second_pass
    for record in records:
        validator.collect(record)
    validator.check_across_records()
    assert [(f.line, f.field) for f in findings] == [(line_of(20_000), "ICCPObjectID")]


def test_validate_file_holds_no_record(tmp_path: Path) -> None:
    # 20,000 records with a duplicate and a REP/ADD pair, so the pass across records runs.
    rows = [GOOD.format(n=n) for n in range(20_000)]
    rows[10] = rows[10].replace(",,,,CP_V10,BUS10,", ",03/31/2002,REP,,CP_V10,ADD(CP_NEW),")
    rows.append(GOOD.format(n=5))
    rows.append("CP,T,0S,V,kV,BS,New,Station A,115,03/31/2002,,ADD,,CP_NEW,,6S,1.0,0.0")
    path = write_file(tmp_path / "big.csv", rows)
    size = path.stat().st_size
    tracemalloc.start()
    try:
        report = validate_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (report.records, report.errors) == (20_002, 1)
    # Holding the records alone takes several times the file's size (read_isn: about 10x).
    assert peak < size // 2, f"peak {peak} bytes for a file of {size} bytes"
