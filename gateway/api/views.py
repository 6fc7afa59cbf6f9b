"""The JSON views of a running gateway, shared by the REST routes, the CLI and the metrics.

Everything here reads the :class:`~gateway.runtime.Runtime` (its bus, config, audit log and
the adapters' generic ``status()`` dicts); nothing knows a protocol. The ICCP views pick the
TASE.2 adapters by their type name and show what their ``status()`` says.
"""

from __future__ import annotations

import fnmatch
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from gateway.points import PointValue, Validity
from gateway.runtime import Runtime

__all__ = [
    "VALIDITIES",
    "adapters_view",
    "associations_view",
    "glob_matcher",
    "point_dict",
    "points_view",
    "status_view",
]

VALIDITIES = tuple(v.name.lower() for v in Validity)
"""The validity names a point filter takes: valid, held, suspect, not_valid."""

SERVER_TYPES = ("tase2-server",)
"""Adapter types whose status() lists ICCP associations (peers connected to us)."""
CLIENT_TYPES = ("tase2-client",)
"""Adapter types whose status() is one ICCP client link (we connected to a peer)."""


def _version() -> str:
    try:
        return version("iccp-gateway")
    except PackageNotFoundError:
        return "unknown"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def glob_matcher(patterns: str | None) -> Callable[[str], bool] | None:
    """A test of point ids for comma-separated globs (``GEN*,BUS?_KV``); None matches all."""
    if not patterns or patterns.strip() in ("", "*"):
        return None
    parts = [p.strip() for p in patterns.split(",") if p.strip()]
    regex = re.compile("|".join(fnmatch.translate(p) for p in parts))
    return lambda name: regex.match(name) is not None


def validity_counts(runtime: Runtime) -> dict[str, int]:
    """How many points are valid, held, suspect and not valid."""
    counts = Counter((pv.quality >> 4) & 3 for pv in runtime.bus.snapshot().values())
    return {name: counts.get(i, 0) for i, name in enumerate(VALIDITIES)}


def status_view(runtime: Runtime) -> dict[str, Any]:
    """The overview: gateway, points by validity, adapters by state, links, bus counters."""
    adapters = runtime.adapter_details()
    stats = runtime.bus.stats
    return {
        "gateway": runtime.config.gateway.name,
        "version": _version(),
        "started": _iso(runtime.started),
        "uptime_s": round(time.time() - runtime.started, 1),
        "points": {"total": len(runtime.bus), **validity_counts(runtime)},
        "adapters": {
            name: {"type": a["type"], "state": a["state"], "last_error": a.get("last_error", "")}
            for name, a in adapters.items()
        },
        "links": associations_view(runtime, adapters),
        "bus": {k: getattr(stats, k) for k in stats.__slots__},
        "audit_last": runtime.audit.last_seq,
    }


def adapters_view(runtime: Runtime) -> list[dict[str, Any]]:
    """Every configured adapter: type, state, last error, counters and its own status."""
    out = []
    bus = runtime.bus
    for name, entry in runtime.adapter_details().items():
        out.append({**entry, "points_owned": len(bus.points_of(name))})
    return out


def associations_view(
    runtime: Runtime, details: dict[str, dict[str, Any]] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """ICCP: the server side's associations and tables, and each client link."""
    details = runtime.adapter_details() if details is None else details
    servers, clients = [], []
    for name, entry in details.items():
        status = entry.get("status", {})
        if entry["type"] in SERVER_TYPES:
            servers.append({"adapter": name, "state": entry["state"], **status})
        elif entry["type"] in CLIENT_TYPES:
            link = {"adapter": name, "adapter_state": entry["state"], **status}
            link.setdefault("state", entry["state"])
            clients.append(link)
    return {"servers": servers, "clients": clients}


def point_dict(
    pv: PointValue,
    owner: str,
    kind: str,
    units: str,
    wall: float | None = None,
    times: dict[float, str] | None = None,
) -> dict[str, Any]:
    """One point as the API shows it: value, quality, time, age, COV and owner.

    ``times`` caches time stamps as text across the points of one answer (a batch from one
    source shares its time stamp)."""
    q = pv.quality
    wall = time.time() if wall is None else wall
    cached = None if times is None else times.get(pv.ts)
    stamp = _iso(pv.ts) if cached is None else cached
    if times is not None and cached is None:
        times[pv.ts] = stamp
    return {
        "point": pv.point,
        "value": pv.value,
        "validity": VALIDITIES[(q >> 4) & 3],
        "source": ("telemetered", "calculated", "entered", "estimated")[(q >> 2) & 3],
        "normal": not q & 0x02,
        "timestamp_valid": not q & 0x01,
        "flags": int(q),
        "ts": stamp,
        "ts_ms": round(pv.ts * 1000),
        "age_s": round(wall - pv.ts, 3),
        "cov": pv.cov,
        "owner": owner,
        "kind": kind,
        "units": units,
    }


def points_view(
    runtime: Runtime,
    glob: str | None = None,
    adapter: str | None = None,
    validity: Iterable[str] = (),
    limit: int | None = None,
    offset: int = 0,
) -> dict[str, Any]:
    """The points matching the filters (sorted by id): ``total`` matching, then a page."""
    bus = runtime.bus
    match = glob_matcher(glob)
    wanted = {VALIDITIES.index(v) for v in validity}
    ids: Iterable[str] = bus.points_of(adapter) if adapter is not None else bus.snapshot().keys()
    if match is not None:
        ids = [p for p in ids if match(p)]
    values = bus.snapshot(ids)
    rows = sorted(values.values())
    if wanted:
        rows = [pv for pv in rows if (pv.quality >> 4) & 3 in wanted]
    total = len(rows)
    page = rows[offset : None if limit is None else offset + limit]
    wall = time.time()
    times: dict[float, str] = {}
    out = []
    for pv in page:
        defn = bus.definition(pv.point)
        owner = bus.owner_of(pv.point)
        out.append(point_dict(pv, owner, defn.kind.value, defn.units, wall, times))
    return {"total": total, "offset": offset, "points": out}
