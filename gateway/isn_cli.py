"""The `iccp-gateway isn ...` commands: validate, diff, show and export ISN files.

Exit codes: `validate` 0 when no file has an error (warnings allowed), 1 when one has, 2 when
a file cannot be read. `diff` 0 when the files are the same, 1 when they differ, 2 when one
cannot be read or used. `show` 0, 1 when the file has errors, 2 when it cannot be read.
`export` 0, 1 when the configuration or its points cannot make a valid file, 2 when the
configuration cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from gateway.isn import (
    DEFAULT_MAX_FINDINGS,
    FileReport,
    Finding,
    IsnError,
    IsnFile,
    diff_isn,
    export_points,
    format_isn_date,
    isn_file_name,
    parse_isn_date,
    points_from_isn,
    read_isn,
    validate_file,
)
from gateway.points import PointDef

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_UNREADABLE = 2


def add_isn_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `isn` command and its subcommands to a CLI's subparsers."""
    isn = subparsers.add_parser(
        "isn",
        help="NERC ISN data point definition files (v2.3)",
        description="Check, compare, show and write NERC ISN data point definition files.",
    )
    commands = isn.add_subparsers(dest="isn_command", metavar="COMMAND", required=True)
    _add_validate(commands)
    _add_diff(commands)
    _add_show(commands)
    _add_export(commands)


def _add_format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="output format (text)"
    )


def _add_validate(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "validate",
        help="check files against every rule of the format",
        description=(
            "Check ISN files and print each finding as FILE:LINE: error|warning: FIELD: "
            "message. Files are streamed, not held in memory; of each file the findings "
            "on the first lines are printed (--max-findings) and all are counted. Exit 0 "
            "when no file has an error, 1 when one has, 2 when a file cannot be read."
        ),
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.add_argument(
        "--max-findings",
        type=_count_argument,
        default=DEFAULT_MAX_FINDINGS,
        metavar="N",
        help=f"findings to print per file; the rest are counted ({DEFAULT_MAX_FINDINGS})",
    )
    _add_format_option(parser)
    parser.set_defaults(func=run_validate)


def _add_diff(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "diff",
        help="compare two files of one site",
        description=(
            "List the points added, removed, changed (field by field) and replaced (REP/ADD) "
            "from OLD to NEW. Exit 0 when the files are the same, 1 when they differ, 2 when "
            "a file cannot be read or the files are of different sites."
        ),
    )
    parser.add_argument("old", type=Path, metavar="OLD")
    parser.add_argument("new", type=Path, metavar="NEW")
    _add_format_option(parser)
    parser.set_defaults(func=run_diff)


def _add_show(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "show",
        help="show the points in force on a date",
        description=(
            "Show the points (records with an ICCPObjectID) in force on a date, as the "
            "gateway would load them. Exit 1 if the file has errors, 2 if it cannot be read."
        ),
    )
    parser.add_argument("file", type=Path, metavar="FILE")
    parser.add_argument(
        "--as-of",
        type=_date_argument,
        default=None,
        metavar="MM/DD/YYYY",
        help="the date (default today)",
    )
    parser.add_argument(
        "--no-pending",
        dest="include_pending",
        action="store_false",
        help="leave out pending points (PtReq X)",
    )
    _add_format_option(parser)
    parser.set_defaults(func=run_show)


def _add_export(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "export",
        help="write the configured points as an ISN file",
        description=(
            "Write the points of a gateway configuration as an ISN v2.3 file. Exit 1 if the "
            "points cannot make a valid file, 2 if the configuration cannot be read."
        ),
    )
    parser.add_argument("config", type=Path, metavar="CONFIG")
    parser.add_argument(
        "--site", default=None, help="the SiteID (default: the SiteID the points carry)"
    )
    parser.add_argument(
        "--date",
        type=_date_argument,
        default=None,
        metavar="MM/DD/YYYY",
        help="the file date, UpDate (default today)",
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help="file to write, or a directory to write SiteIDddmmmyyyy.csv in (default stdout)",
    )
    parser.set_defaults(func=run_export)


def _date_argument(text: str) -> date:
    try:
        return parse_isn_date(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _count_argument(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        count = -1
    if count < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a count (0 or more)")
    return count


def _read(path: Path, errors: TextIO) -> tuple[IsnFile | None, list[Finding]] | None:
    """Read and check a file; None (after saying why) if it cannot be read at all."""
    try:
        result = read_isn(path)
    except OSError as exc:
        print(f"{path}: cannot read: {exc.strerror or exc}", file=errors)
        return None
    return result.isn, result.findings


# -- validate ---------------------------------------------------------------------------


def run_validate(args: argparse.Namespace) -> int:
    """`isn validate FILE...`: print the findings; exit 0, 1 (errors) or 2 (unreadable)."""
    files: Sequence[Path] = args.files
    reported: list[dict[str, Any]] = []
    not_shown: dict[str, int] = {}
    unreadable: list[str] = []
    errors = warnings = 0
    for path in files:
        report = _validate(path, args.max_findings, sys.stderr)
        if report is None:
            unreadable.append(str(path))
            continue
        errors += report.errors
        warnings += report.warnings
        for finding in report.findings:
            if args.format == "text":
                print(finding.format(str(path)))
            else:
                reported.append({"file": str(path), **finding.to_dict()})
        if report.not_kept:
            not_shown[str(path)] = report.not_kept
            if args.format == "text":
                print(
                    f"{path}: {report.not_kept} more finding(s) not shown "
                    f"(the first {len(report.findings)} are; --max-findings N)"
                )
    if args.format == "json":
        document = {
            "findings": reported,
            "errors": errors,
            "warnings": warnings,
            "not_shown": not_shown,
            "unreadable": unreadable,
        }
        print(json.dumps(document, indent=2))
    else:
        summary = f"{len(files)} file(s): {errors} error(s), {warnings} warning(s)"
        if not_shown:
            hidden = sum(not_shown.values())
            summary += (
                f"; {hidden} finding(s) not shown, beyond the first {args.max_findings} a file"
            )
        print(summary, file=sys.stderr)
    if unreadable:
        return EXIT_UNREADABLE
    return EXIT_FINDINGS if errors else EXIT_OK


def _validate(path: Path, max_findings: int, errors: TextIO) -> FileReport | None:
    """Check a file, streaming it; None (after saying why) if it cannot be read at all."""
    try:
        return validate_file(path, max_findings=max_findings)
    except OSError as exc:
        print(f"{path}: cannot read: {exc.strerror or exc}", file=errors)
        return None


# -- diff -------------------------------------------------------------------------------


def run_diff(args: argparse.Namespace) -> int:
    """`isn diff OLD NEW`: print what changed; exit 0 (same), 1 (differ) or 2 (trouble)."""
    files: list[IsnFile] = []
    for path in (args.old, args.new):
        read = _read(path, sys.stderr)
        if read is None:
            return EXIT_UNREADABLE
        isn, findings = read
        if isn is None:
            for finding in findings:
                print(finding.format(str(path)), file=sys.stderr)
            return EXIT_UNREADABLE
        files.append(isn)
    try:
        diff = diff_isn(files[0], files[1])
    except IsnError as exc:
        print(f"{args.old} {args.new}: {exc.findings[0].message}", file=sys.stderr)
        return EXIT_UNREADABLE
    if args.format == "json":
        print(json.dumps(diff.to_dict(), indent=2))
    else:
        print(diff.format_text())
    return EXIT_OK if diff.is_empty else EXIT_FINDINGS


# -- show -------------------------------------------------------------------------------


def run_show(args: argparse.Namespace) -> int:
    """`isn show FILE --as-of MM/DD/YYYY`: the points in force; exit 0, 1 or 2."""
    read = _read(args.file, sys.stderr)
    if read is None:
        return EXIT_UNREADABLE
    isn, findings = read
    if isn is None or any(f.is_error for f in findings):
        for finding in findings:
            print(finding.format(str(args.file)), file=sys.stderr)
        return EXIT_FINDINGS
    day: date = args.as_of or date.today()
    points = points_from_isn(isn, day, include_pending=args.include_pending)
    if args.format == "json":
        document = {
            "file": str(args.file),
            "as_of": format_isn_date(day),
            "points": [point.model_dump(mode="json") for point in points],
        }
        print(json.dumps(document, indent=2))
    else:
        print(f"{args.file}: {len(points)} point(s) in force on {format_isn_date(day)}")
        print(format_point_table(points))
    return EXIT_OK


def format_point_table(points: Sequence[PointDef]) -> str:
    """The points as an aligned text table, one line each."""
    header = ("ICCPObjectID", "Kind", "Units", "TargFresh", "a", "b", "Description")
    rows = [header]
    for point in points:
        fresh = f"{point.target_freshness:g}s" if point.target_freshness else "-"
        notes = []
        if point.isn.get("PtReq") == "X":
            notes.append("pending")
        if "Replaces" in point.isn:
            notes.append(f"replaces {point.isn['Replaces']}")
        if "ReplacedBy" in point.isn:
            notes.append(f"replaced by {point.isn['ReplacedBy']}")
        description = point.description + (f" [{'; '.join(notes)}]" if notes else "")
        rows.append(
            (
                point.id,
                str(point.kind),
                point.units,
                fresh,
                f"{point.usage_multiplier:g}",
                f"{point.usage_adder:g}",
                description,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]])
        for row in rows
    )


# -- export -----------------------------------------------------------------------------


def run_export(args: argparse.Namespace) -> int:
    """`isn export CONFIG`: the configured points as an ISN file; exit 0, 1 or 2."""
    from gateway.config import ConfigError, load_config  # imported here: optional at import time

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return EXIT_UNREADABLE if exc.unreadable else EXIT_FINDINGS
    except OSError as exc:
        print(f"{args.config}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    points: list[PointDef] = list(config.points)
    site = args.site or _common_site(points)
    if not site:
        print(
            f"{args.config}: the points do not carry one SiteID; give it with --site",
            file=sys.stderr,
        )
        return EXIT_FINDINGS
    day: date = args.date or date.today()
    try:
        text = export_points(points, site, update=day)
    except IsnError as exc:
        for finding in exc.errors:
            print(f"{args.config}: {finding.field}: {finding.message}", file=sys.stderr)
        return EXIT_FINDINGS
    return _write_output(text, args.output, site, day)


def _common_site(points: Sequence[PointDef]) -> str:
    sites = {point.isn.get("SiteID", "") for point in points}
    return sites.pop() if len(sites) == 1 else ""


def _write_output(text: str, output: Path | None, site: str, day: date) -> int:
    if output is None:
        sys.stdout.write(text)
        return EXIT_OK
    path = output / isn_file_name(site, day) if output.is_dir() else output
    try:
        path.write_bytes(text.encode("utf-8"))
    except OSError as exc:
        print(f"{path}: cannot write: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    print(f"wrote {path}", file=sys.stderr)
    return EXIT_OK
