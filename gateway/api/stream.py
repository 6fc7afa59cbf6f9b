"""Live values as Server-Sent Events, coalesced on a timer.

A client gets one ``snapshot`` event (every matching point), then ``values`` events of what
changed, at most one every ``interval`` seconds (drain to drain: encoding and sending count
towards it). The stream coalesces on its timer: at each tick it compares each point's COV
(which the bus bumps on every recorded change) with the one it sent last and sends each
changed point once, at its latest value, however often it changed in between (a point
would have to change exactly 65,536 times within one tick to be missed). The bus does no
work for a stream between ticks, so an open console costs the bus nothing per update; a
tick where the bus's change counter has not moved costs nothing either. A slow client never
backs up the bus: while its socket is full the stream waits, and what it missed is sent
once, at its latest value.

Each point is ``[id, value, flags, ts_ms, cov]`` (``flags`` is the TASE.2 quality octet:
validity in bits 4-5), which keeps 10,000 points in a few hundred kilobytes.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from operator import itemgetter

from gateway.bus import PointBus
from gateway.points import PointValue

__all__ = ["KEEPALIVE", "POLL", "ValueEncoder", "encode_values", "sse_event", "value_stream"]

KEEPALIVE = 15.0
"""Seconds of quiet after which a comment line keeps proxies and browsers connected."""
POLL = 0.01
"""The shortest tick (``interval=0`` looks at the bus this often)."""

_dumps = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


class _Names(dict[str, str]):
    """Point id -> the JSON row's head (``["id",``), made on first use."""

    def __missing__(self, point: str) -> str:
        head = self[point] = "[" + _dumps(point) + ","
        return head


class _Tails(dict[tuple[int, float], str]):
    """(quality, time stamp) -> the row's middle (``,flags,ts_ms,``), made on first use."""

    def __missing__(self, key: tuple[int, float]) -> str:
        tail = self[key] = f",{int(key[0])},{round(key[1] * 1000)},"
        return tail


_ID, _VALUE, _QUALITY, _TS, _COV = (itemgetter(i) for i in range(5))


class ValueEncoder:
    """Points as the stream's compact JSON array of arrays, fast enough for 10,000 per event.

    The values and the COVs are encoded by the C JSON encoder, one call each; each point's
    id (JSON-quoted) is formatted once per stream and each distinct (quality, time stamp)
    once per event (a batch from one source shares them); the rows are joined by C-level
    ``map``/``zip``/``join``, with no Python code run per point.
    """

    def __init__(self) -> None:
        self._names = _Names()

    def encode(self, values: Sequence[PointValue]) -> str:
        """``values`` as ``[[id, value, flags, ts_ms, cov], ...]`` (NaN and infinity: null)."""
        if not values:
            return "[]"
        numbers = list(map(_VALUE, values))
        try:
            encoded = _dumps(numbers)
        except ValueError:  # NaN or infinity from a source: sent as null
            encoded = _dumps([v if math.isfinite(v) else None for v in numbers])
        texts = encoded[1:-1].split(",")
        covs = _dumps(list(map(_COV, values)))[1:-1].split(",")
        heads = map(self._names.__getitem__, map(_ID, values))
        tails = map(_Tails().__getitem__, zip(map(_QUALITY, values), map(_TS, values), strict=True))
        rows = map("".join, zip(heads, texts, tails, covs, strict=True))
        return "[" + "],".join(rows) + "]]"


def encode_values(values: Sequence[PointValue]) -> str:
    """Points as the stream's compact JSON array of arrays (a one-off :class:`ValueEncoder`)."""
    return ValueEncoder().encode(values)


def sse_event(event: str, data: str) -> bytes:
    """One Server-Sent Event (``data`` holds no newline: it is compact JSON)."""
    return f"event: {event}\ndata: {data}\n\n".encode()


async def value_stream(
    bus: PointBus,
    match: Callable[[str], bool] | None,
    interval: float,
    stopping: asyncio.Event,
) -> AsyncIterator[bytes]:
    """The event stream of one client until it goes away or the server stops.

    ``match`` picks the points (their set is fixed when the stream starts); None streams
    every point, including those a configuration change adds later.
    """
    clock = asyncio.get_running_loop().time
    stats = bus.stats
    seen = stats.changes
    if match is None:
        points: tuple[str, ...] | None = None
        first = list(bus.snapshot().values())
    else:
        points = tuple(p for p in bus.snapshot() if match(p))
        first = [pv for pv in bus.values(points) if pv is not None]
    # What was sent, as each point's COV (bumped by every recorded change): plain ints,
    # which the garbage collector does not track, where holding the value tuples between
    # ticks would promote 10,000 of them per tick into the older generations it rescans.
    sent = {pv.point: pv.cov for pv in first}
    encoder = ValueEncoder()
    yield sse_event("snapshot", encoder.encode(sorted(first)))
    del first
    tick = max(interval, POLL)
    quiet = clock()
    while not stopping.is_set():
        started = clock()
        if stats.changes != seen:
            seen = stats.changes  # read before the values: a change after it is seen next tick
            if points is None:
                current: Iterable[PointValue] = bus.snapshot().values()
            else:
                current = [pv for pv in bus.values(points) if pv is not None]
            get = sent.get
            changed = [pv for pv in current if get(pv.point) != pv.cov]
            del current
            if changed:
                sent.update(zip(map(_ID, changed), map(_COV, changed), strict=True))
                yield sse_event("values", encoder.encode(changed))
                quiet = clock()
            del changed
        if clock() - quiet >= KEEPALIVE:
            yield b": keepalive\n\n"
            quiet = clock()
        try:
            async with asyncio.timeout(max(0.0, tick - (clock() - started))):
                await stopping.wait()
        except TimeoutError:
            continue
