"""`iccp-gateway history POINT --from T --to T`: a point's stored rows, as CSV or JSON.

The database is the one of the configuration's `sql-historian` adapter (`--config FILE`,
`--adapter NAME` when it has several) or given as a URL (`--database`). Times are ISO 8601
(a time without a zone is UTC) or relative to now: `-90s`, `-15m`, `-1h`, `-2d`, `-1w`, `now`.
Exit codes: 0 done (also when no row is in the time range), 2 bad arguments or
configuration (a point of which the historian never stored a row is unknown), 3 the database
could not be read.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from adapters.sql.historian.query import (
    BadTime,
    Source,
    Stored,
    UnknownPoints,
    parse_time,
    read_rows,
)

EXIT_OK, EXIT_USAGE, EXIT_DATABASE = 0, 2, 3


class UsageError(ValueError):
    """A bad argument or configuration: the message says which and why."""


def add_history_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `iccp-gateway history` (found by the CLI through an entry point)."""
    history = commands.add_parser(
        "history",
        help="print a point's rows stored by the sql-historian",
        description="Print the rows the sql-historian stored for POINT between --from and "
        "--to. Times: ISO 8601 (UTC when no zone is given) or relative to now (--from 1h, "
        "--from=-2d, -1w, now).",
    )
    history.add_argument("points", nargs="+", metavar="POINT", help="point id (one or more)")
    history.add_argument("--from", dest="start", default="-1h", help="first time (default -1h)")
    history.add_argument("--to", dest="end", default="now", help="last time (default now)")
    history.add_argument("--format", choices=["csv", "json"], default="csv")
    source = history.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", help="configuration file with an sql-historian adapter")
    source.add_argument("--database", help="sqlite:///PATH or postgresql://user@host/db")
    history.add_argument("--adapter", help="which sql-historian of --config (if several)")
    history.add_argument("--table", help="the historian's table (default: history)")
    history.add_argument("--limit", type=int, help="at most this many rows")
    history.set_defaults(func=run_history)


def find_source(args: argparse.Namespace) -> Source:
    """The database and table named by the arguments; UsageError saying what is wrong."""
    from adapters.sql.database import database_url
    from adapters.sql.historian.schema import check_table_name

    table = args.table
    if table is not None:
        try:
            check_table_name(table)
        except ValueError as exc:
            raise UsageError(f"--table: {exc}") from None
    if args.database is not None:
        if args.adapter is not None:
            raise UsageError("--adapter goes with --config, not --database")
        try:
            return Source(database_url(args.database, Path.cwd()), table or "history")
        except ValueError as exc:
            raise UsageError(f"--database: {exc}") from None
    return _from_config(Path(args.config), args.adapter, table)


def _from_config(path: Path, adapter: str | None, table: str | None) -> Source:
    from adapters.sql.historian.settings import HistorianSettings
    from gateway.config import ConfigError, load_config

    try:
        config = load_config(path)
    except ConfigError as exc:
        raise UsageError("\n".join(str(issue) for issue in exc.issues)) from None
    historians = [a for a in config.adapters if isinstance(a.settings, HistorianSettings)]
    if adapter is not None:
        historians = [a for a in historians if a.name == adapter]
        if not historians:
            raise UsageError(f"{path}: no sql-historian adapter named {adapter!r}")
    if not historians:
        raise UsageError(f"{path}: no sql-historian adapter in this configuration")
    if len(historians) > 1:
        names = ", ".join(a.name for a in historians)
        raise UsageError(
            f"{path}: several sql-historian adapters ({names}): choose one (--adapter)"
        )
    settings = historians[0].settings
    assert isinstance(settings, HistorianSettings)
    return Source(settings.url(), table or settings.table)


def run_history(
    args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    """The `history` command: print the rows, return the exit code."""
    try:
        start, end = parse_time(args.start), parse_time(args.end)
        if end < start:
            raise UsageError(f"--to ({end.isoformat()}) is before --from ({start.isoformat()})")
        if args.limit is not None and args.limit < 1:
            raise UsageError("--limit must be at least 1")
        source = find_source(args)
    except (UsageError, BadTime) as exc:
        print(f"iccp-gateway history: {exc}", file=err)
        return EXIT_USAGE
    from adapters.sql.historian.store import DATABASE_ERRORS, describe, safe_url

    try:
        rows = asyncio.run(read_rows(source, args.points, start, end, args.limit, known=True))
    except UnknownPoints as exc:
        print(f"iccp-gateway history: {exc}", file=err)
        return EXIT_USAGE
    except DATABASE_ERRORS as exc:
        print(f"iccp-gateway history: {safe_url(source.url)}: {describe(exc)}", file=err)
        return EXIT_DATABASE
    write_rows(rows, args.format, out)
    return EXIT_OK


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() and abs(value) < 2**53 else value


def write_rows(rows: Sequence[Stored], fmt: str, out: TextIO) -> None:
    """Print rows as CSV (header point,time,value,validity,quality,cov) or a JSON array."""
    from gateway.points import Quality

    if fmt == "json":
        items = []
        for point, when, value, octet, cov in rows:
            quality = Quality.from_flags(octet)
            items.append(
                {
                    "point": point,
                    "time": when.isoformat(),
                    "value": _number(value),
                    "quality": {**quality.to_dict(), "flags": int(octet)},
                    "cov": cov,
                }
            )
        json.dump(items, out, indent=1)
        out.write("\n")
        return
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["point", "time", "value", "validity", "quality", "cov"])
    for point, when, value, octet, cov in rows:
        validity = Quality.from_flags(octet).validity.name.lower()
        writer.writerow([point, when.isoformat(), _number(value), validity, octet, cov])
