"""`iccp-gateway`: run or check a configuration, and work with ISN files."""

from __future__ import annotations

import argparse
import logging
import sys
from importlib.metadata import PackageNotFoundError, entry_points, version
from pathlib import Path

from gateway.config import ConfigError, ConfigIssue, check_config, diff_configs
from gateway.eventloop import LOOPS, EventLoopError, loop_name
from gateway.eventloop import run as run_loop
from gateway.logs import setup_logging

EXIT_OK, EXIT_INVALID, EXIT_UNREADABLE, EXIT_NOT_STARTED = 0, 1, 2, 3
EXIT_CRASHED = 70
"""A defect of ours (EX_SOFTWARE), never 1 or 2: those say the configuration is bad, and a
service manager must not restart on them but must restart on this."""
COMMAND_ENTRY_POINTS = "iccp_gateway.commands"
"""Adapter packages add subcommands here: each entry is called with the subparsers."""


def _version() -> str:
    try:
        return version("iccp-gateway")
    except PackageNotFoundError:
        return "unknown"


def _report(exc: ConfigError) -> int:
    """Print every issue of a configuration and return the exit code for it."""
    for issue in exc.issues:
        print(issue, file=sys.stderr)
    _warn(exc.warnings)
    return EXIT_UNREADABLE if exc.unreadable else EXIT_INVALID


def _warn(warnings: list[ConfigIssue]) -> None:
    for issue in warnings:
        print(f"warning: {issue}", file=sys.stderr)


def cmd_check(args: argparse.Namespace) -> int:
    """Validate a configuration: 0 valid, 1 invalid (errors printed), 2 unreadable.

    With `--diff OLD NEW`: print what a reload from OLD to NEW would change.
    """
    if args.diff:
        return _check_diff(args.config, args.new)
    if args.new is not None:
        print("check takes one file (or --diff OLD NEW)", file=sys.stderr)
        return EXIT_INVALID
    try:
        config, warnings = check_config(args.config)
    except ConfigError as exc:
        return _report(exc)
    _warn(warnings)
    print(f"{args.config}: OK ({len(config.points)} points, {len(config.adapters)} adapters)")
    return EXIT_OK


def _check_diff(old_path: str, new_path: str | None) -> int:
    if new_path is None:
        print("check --diff needs two files: OLD NEW", file=sys.stderr)
        return EXIT_INVALID
    try:
        old, _ = check_config(old_path)
        new, warnings = check_config(new_path)
    except ConfigError as exc:
        return _report(exc)
    _warn(warnings)
    lines = diff_configs(old, new).lines()
    print("\n".join(lines) if lines else "no changes")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    """Run the gateway on a configuration until SIGINT/SIGTERM; 3 when a listening adapter
    cannot start (a port in use)."""
    from gateway.service import Service

    try:
        config, warnings = check_config(args.config)
        loop = loop_name(args.loop)
    except ConfigError as exc:
        return _report(exc)
    except EventLoopError as exc:
        print(exc, file=sys.stderr)
        return EXIT_INVALID
    _warn(warnings)
    setup_logging(args.log_format, args.log_level or config.gateway.log_level)
    logging.getLogger(__name__).info("event loop: %s", loop)
    service = Service(
        Path(args.config),
        config,
        None if args.no_watch else args.watch,
        settle=args.settle,
        max_removed_adapters=args.max_removed_adapters,
    )
    return EXIT_OK if run_loop(service.run(), args.loop) else EXIT_NOT_STARTED


CORE_COMMANDS = ("run", "check")
"""Commands whose parser needs neither the ISN commands nor the plug-ins' (not imported)."""

_OPTIONS_WITH_VALUE = ("--log-format", "--log-level")


def command_of(argv: list[str]) -> str | None:
    """The command word of `argv` (the first one not an option or an option's value)."""
    words = iter(argv)
    for word in words:
        if word in _OPTIONS_WITH_VALUE:
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; for a `command` of CORE_COMMANDS only the core commands, so
    that running or checking a config imports no ISN or plug-in module it does not use."""
    parser = argparse.ArgumentParser(
        prog="iccp-gateway",
        description="ICCP / TASE.2 gateway: bridges field protocols and ICCP links.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument(
        "--log-format", choices=["text", "json"], default="text", help="log line format"
    )
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="log level (default: the config's gateway.log_level)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the gateway on a configuration")
    run.add_argument("config", help="YAML configuration file")
    run.add_argument(
        "--watch", type=float, default=2.0, metavar="SECONDS", help="reload period check"
    )
    run.add_argument("--no-watch", action="store_true", help="reload only on SIGHUP")
    run.add_argument(
        "--settle",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="reload a changed file once unchanged this long (default 1)",
    )
    run.add_argument(
        "--max-removed-adapters",
        type=int,
        metavar="N",
        help="refuse a reload that removes more than N adapters",
    )
    run.add_argument(
        "--loop",
        choices=LOOPS,
        default="auto",
        help="event loop: uvloop where installed (auto, the default), or asyncio's own",
    )
    run.set_defaults(func=cmd_run)

    check = commands.add_parser(
        "check", help="validate a configuration (exit 0 valid, 1 invalid, 2 unreadable)"
    )
    check.add_argument("config", help="YAML configuration file (OLD with --diff)")
    check.add_argument("new", nargs="?", help="with --diff: the NEW configuration")
    check.add_argument(
        "--diff", action="store_true", help="print what a reload from OLD to NEW would change"
    )
    check.set_defaults(func=cmd_check)

    if command in CORE_COMMANDS:
        return parser
    from gateway.api.client import add_api_commands  # standard library only

    add_api_commands(commands)
    from gateway.isn_cli import add_isn_commands

    add_isn_commands(commands)
    for plugin in entry_points(group=COMMAND_ENTRY_POINTS):
        plugin.load()(commands)  # e.g. `probe`, from the TASE.2 adapter package
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `iccp-gateway` console script."""
    words = sys.argv[1:] if argv is None else argv
    args = build_parser(command_of(words)).parse_args(words)
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    except Exception:
        logging.getLogger("gateway").critical("iccp-gateway stopped by a defect", exc_info=True)
        return EXIT_CRASHED
    return code


if __name__ == "__main__":
    sys.exit(main())
