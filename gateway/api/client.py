"""`iccp-gateway status` and `iccp-gateway points`: the API's overview in a terminal.

Standard library only (urllib): the commands work wherever the gateway is installed, and
talk to a running gateway's REST API (``--url``, default ``$ICCP_GATEWAY_URL`` or
``http://127.0.0.1:8080``) with an optional bearer token (``--token``, ``--token-file`` or
``$ICCP_GATEWAY_TOKEN``, ``$ICCP_GATEWAY_TOKEN_FILE``).
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any, TextIO

__all__ = ["add_api_commands", "cmd_points", "cmd_status"]

DEFAULT_URL = "http://127.0.0.1:8080"
EXIT_OK, EXIT_DEGRADED, EXIT_UNREACHABLE = 0, 1, 2
VALIDITY = ("valid", "held", "suspect", "not_valid")


class ApiUnavailable(Exception):
    """The API cannot be reached or refused the request (the message says why)."""


class ApiClient:
    """GET requests to one gateway's API."""

    def __init__(
        self, url: str, token: str | None, insecure: bool = False, timeout: float = 10.0
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.context = ssl._create_unverified_context() if insecure else None

    def _open(self, path: str, timeout: float | None = None) -> Any:
        request = urllib.request.Request(self.url + path)
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            return urllib.request.urlopen(
                request, timeout=timeout or self.timeout, context=self.context
            )
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read()).get("error", exc.reason)
            except (ValueError, AttributeError):
                detail = exc.reason
            raise ApiUnavailable(f"{self.url}{path}: {exc.code} {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ApiUnavailable(f"cannot reach the gateway at {self.url}: {reason}") from None

    def get(self, path: str) -> Any:
        with self._open(path) as response:
            try:
                return json.load(response)
            except ValueError:
                raise ApiUnavailable(f"{self.url}{path}: the answer is not JSON") from None

    def events(self, path: str) -> Iterator[tuple[str, Any]]:
        """The Server-Sent Events of ``path`` as (event, data) until the stream ends."""
        with self._open(path, timeout=60) as response:
            event, data = "message", ""
            for raw in response:
                line = raw.decode().rstrip("\r\n")
                if not line:
                    if data:
                        yield event, json.loads(data)
                    event, data = "message", ""
                elif line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data += line[5:].strip()


def _client(args: argparse.Namespace) -> ApiClient:
    """The client the arguments ask for: an explicit --token or --token-file first, then
    $ICCP_GATEWAY_TOKEN, then $ICCP_GATEWAY_TOKEN_FILE (e.g. a container's health check)."""
    token = args.token
    token_file = args.token_file
    if not token and not token_file:
        token = os.environ.get("ICCP_GATEWAY_TOKEN")
        token_file = None if token else os.environ.get("ICCP_GATEWAY_TOKEN_FILE")
    if token_file:
        try:
            with open(token_file, encoding="utf-8") as f:
                token = f.read().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ApiUnavailable(f"token file {token_file}: {exc}") from None
    url = args.url or os.environ.get("ICCP_GATEWAY_URL") or DEFAULT_URL
    return ApiClient(url, token, args.insecure)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


def _table(rows: list[list[str]], out: TextIO) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        out.write("\n")


def render_status(status: dict[str, Any], adapters: list[dict[str, Any]], url: str) -> str:
    """The terminal overview of a gateway."""
    from io import StringIO

    out = StringIO()
    p = status["points"]
    out.write(
        f"gateway {status['gateway']} (version {status['version']}), "
        f"up {_duration(status['uptime_s'])}, {url}\n"
    )
    out.write(
        f"points: {p['total']} total, {p['valid']} valid, {p['held']} held, "
        f"{p['suspect']} suspect, {p['not_valid']} not valid\n"
    )
    bus = status["bus"]
    out.write(
        f"bus: {bus['updates']} updates, {bus['changes']} changes, {bus['stale']} stale, "
        f"{bus['commands']} commands ({bus['command_failures']} failed)\n"
    )
    out.write("adapters:\n")
    rows = [["NAME", "TYPE", "STATE", "POINTS", "RESTARTS", "LAST ERROR"]]
    for a in adapters:
        rows.append(
            [
                a["name"],
                a["type"],
                a["state"],
                str(a.get("points_owned", "")),
                str(a.get("restarts", 0)),
                a.get("last_error", "") or "",
            ]
        )
    _table(rows, out)
    links = status["links"]
    if links["servers"] or links["clients"]:
        out.write("iccp:\n")
    for s in links["servers"]:
        out.write(
            f"  {s['adapter']} (server, {s['state']}): {s.get('associations', 0)} associations,"
            f" tables {', '.join(s.get('tables', [])) or '-'},"
            f" {s.get('transfer_sets_running', 0)} transfer sets running,"
            f" {s.get('reports_sent', 0)} reports sent\n"
        )
    for c in links["clients"]:
        out.write(
            f"  {c['adapter']} (client): {c.get('state', '?')} via {c.get('address') or '-'}"
            f" since {c.get('since') or '-'}, last report {c.get('last_report') or '-'},"
            f" {c.get('reports_per_s', 0)} reports/s\n"
        )
    return out.getvalue()


def cmd_status(args: argparse.Namespace) -> int:
    """The gateway's overview: 0 when every adapter runs, 1 when one does not, 2 when the
    API cannot be reached."""
    try:
        api = _client(args)
        status = api.get("/api/v1/status")
        adapters = api.get("/api/v1/adapters")["adapters"]
    except ApiUnavailable as exc:
        print(exc, file=sys.stderr)
        return EXIT_UNREACHABLE
    if args.json:
        print(json.dumps({"status": status, "adapters": adapters}, indent=2))
    else:
        sys.stdout.write(render_status(status, adapters, api.url))
    down = [a for a in adapters if a["enabled"] and a["state"] != "running"]
    return EXIT_DEGRADED if down else EXIT_OK


def _point_row(p: dict[str, Any]) -> list[str]:
    value = p["value"]
    shown = f"{value:.3f}" if isinstance(value, float) else str(value)
    return [
        p["point"],
        shown,
        p.get("units", ""),
        p["validity"],
        f"{p['age_s']:.1f}s",
        str(p["cov"]),
        p["owner"],
    ]


def cmd_points(args: argparse.Namespace) -> int:
    """Live values of the points matching GLOB (``--follow``: every change as it comes)."""
    try:
        api = _client(args)
    except ApiUnavailable as exc:
        print(exc, file=sys.stderr)
        return EXIT_UNREACHABLE
    query: dict[str, Any] = {"glob": args.glob}
    if args.adapter:
        query["adapter"] = args.adapter
    if args.validity:
        query["validity"] = args.validity
    if args.limit is not None:
        query["limit"] = args.limit
    try:
        data = api.get("/api/v1/points?" + urllib.parse.urlencode(query))
        if args.json:
            print(json.dumps(data, indent=2))
        else:
            rows = [["POINT", "VALUE", "UNITS", "VALIDITY", "AGE", "COV", "OWNER"]]
            rows += [_point_row(p) for p in data["points"]]
            _table(rows, sys.stdout)
            shown = len(data["points"])
            more = f" ({data['total'] - shown} more: --limit)" if data["total"] > shown else ""
            print(f"{shown} points{more}")
        if args.follow:
            return _follow(api, args.glob)
    except ApiUnavailable as exc:
        print(exc, file=sys.stderr)
        return EXIT_UNREACHABLE
    except KeyboardInterrupt:
        return EXIT_OK
    return EXIT_OK


def _follow(api: ApiClient, glob: str) -> int:
    path = "/api/v1/stream?" + urllib.parse.urlencode({"glob": glob, "interval": 0.5})
    for event, rows in api.events(path):
        if event != "values":
            continue
        for point, value, flags, ts_ms, cov in rows:
            stamp = time.strftime("%H:%M:%S", time.localtime(ts_ms / 1000))
            shown = f"{value:.3f}" if isinstance(value, float) else str(value)
            print(f"{stamp} {point} {shown} {VALIDITY[(flags >> 4) & 3]} cov={cov}", flush=True)
    return EXIT_OK


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", help=f"the gateway's API (default $ICCP_GATEWAY_URL or {DEFAULT_URL})"
    )
    parser.add_argument("--token", help="bearer token (default $ICCP_GATEWAY_TOKEN)")
    parser.add_argument(
        "--token-file",
        help="read the bearer token from this file (default $ICCP_GATEWAY_TOKEN_FILE)",
    )
    parser.add_argument(
        "--insecure", action="store_true", help="do not check the HTTPS certificate"
    )
    parser.add_argument("--json", action="store_true", help="print the API's JSON")


def add_api_commands(commands: Any) -> None:
    """Add `status` and `points` to the `iccp-gateway` subcommands."""
    status = commands.add_parser(
        "status", help="a running gateway's overview (exit 0 all running, 1 not, 2 unreachable)"
    )
    _common(status)
    status.set_defaults(func=cmd_status)
    points = commands.add_parser("points", help="live values of a running gateway's points")
    points.add_argument("glob", nargs="?", default="*", help="point ids, e.g. 'GEN*,BUS?_KV'")
    points.add_argument("--adapter", help="only the points this adapter owns")
    points.add_argument("--validity", help="only valid, held, suspect or not_valid points")
    points.add_argument("--limit", type=int, help="at most this many points")
    points.add_argument("--follow", "-f", action="store_true", help="then print every change")
    _common(points)
    points.set_defaults(func=cmd_points)
