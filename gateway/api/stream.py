"""Live values as Server-Sent Events, from a coalescing bus subscription.

A client gets one ``snapshot`` event (every matching point), then ``values`` events of what
changed, at most one every ``interval`` seconds. The subscription coalesces: between two
events it holds each changed point once, however often it changed, and the event carries
its latest value. A slow client therefore never backs up the bus: while its socket is full
the stream waits, and the points it misses are sent once, at their latest value.

Each point is ``[id, value, flags, ts_ms, cov]`` (``flags`` is the TASE.2 quality octet:
validity in bits 4-5), which keeps 10,000 points in a few hundred kilobytes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from gateway.bus import PointBus
from gateway.points import PointValue

__all__ = ["KEEPALIVE", "encode_values", "sse_event", "value_stream"]

KEEPALIVE = 15.0
"""Seconds of quiet after which a comment line keeps proxies and browsers connected."""

_dumps = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def _finite(value: float | int) -> float | int | None:
    return value if value == value and value not in (_INF, -_INF) else None


_INF = float("inf")


def encode_values(values: Iterable[PointValue]) -> str:
    """Points as the stream's compact JSON array of arrays."""
    rows = [[pv[0], pv[1], int(pv[2]), round(pv[3] * 1000), pv[4]] for pv in values]
    try:
        return _dumps(rows)
    except ValueError:  # NaN or infinity from a source: sent as null
        return _dumps([[pv[0], _finite(pv[1]), *pv[2:]] for pv in rows])  # type: ignore[arg-type]


def sse_event(event: str, data: str) -> bytes:
    """One Server-Sent Event (``data`` holds no newline: it is compact JSON)."""
    return f"event: {event}\ndata: {data}\n\n".encode()


async def value_stream(
    bus: PointBus,
    match: Callable[[str], bool] | None,
    interval: float,
    stopping: asyncio.Event,
    name: str = "api-sse",
) -> AsyncIterator[bytes]:
    """The event stream of one client until it goes away or the server stops."""
    snapshot = bus.snapshot()
    points = None if match is None else frozenset(p for p in snapshot if match(p))
    sub = bus.subscribe(points, name=name)
    stop: asyncio.Future[Any] | None = None
    waiting: asyncio.Future[Any] | None = None
    try:
        rows = snapshot.values() if points is None else [snapshot[p] for p in points]
        yield sse_event("snapshot", encode_values(sorted(rows)))
        stop = asyncio.ensure_future(stopping.wait())
        while not stopping.is_set():
            waiting = asyncio.ensure_future(sub.wait(KEEPALIVE))
            await asyncio.wait((waiting, stop), return_when=asyncio.FIRST_COMPLETED)
            if stopping.is_set():
                waiting.cancel()
                return
            changes = waiting.result()
            if changes:
                yield sse_event("values", encode_values(changes))
            else:
                yield b": keepalive\n\n"
            await asyncio.sleep(interval)  # let changes coalesce
    finally:
        sub.close()
        for future in (stop, waiting):
            if future is not None:
                future.cancel()
