"""The DNP3 master's object decoder: a response body to runs of numbers (sans-IO).

Written from the object layouts of IEEE 1815-2012 for speed: one precompiled
:class:`struct.Struct` per (layout, index prefix width), one ``iter_unpack`` per object
header and a few list comprehensions per run, never an object per point.

A body is a sequence of object headers, each ``group, variation, qualifier`` and a range
field, followed by its objects. The qualifier's bits 4-6 are the object prefix code (0 none,
1/2/3 a 1/2/4-octet index before each object) and bits 0-3 the range code (0/1/2 a 1/2/4-octet
start and stop index, 7/8/9 a 1/2/4-octet count). Every combination of those is read; any
other qualifier stops decoding with a problem.

The indices of a run are the prefixes when there are any; otherwise the start-stop range, or
``range(count)`` for a count without prefixes (the standard's implied indices 0..count-1).

What a run holds, per object:

* ``values``: the number; for binaries the state code (0/1, double-bit 0-3) taken from the
  flag octet (bit 7, double-bit bits 6-7) or from the packed bits;
* ``flags``: the flag octet with those state bits cleared; ``ONLINE`` (0x01) for variations
  without a flag octet (packed binaries, g20v5/v6, g21v9/v10, g30v3/v4);
* ``times``: ``None`` when the variation carries no time; else the absolute 48-bit time in ms
  since the epoch, or for relative-time events (g2v3, g4v3) the last common time of
  occurrence (g51v1/v2) before them in the body plus their offset. A relative-time event with
  no common time before it has the time ``None`` in the list.

Control objects echoed in a SELECT/OPERATE/DIRECT_OPERATE response (g12v1, g41v1-4) come out
as :class:`ControlEcho`, absolute times (g50v1/v3) in :attr:`DecodedBody.times`; time delays
(g52v1/v2) are read past. Decoding stops at the first header it cannot read; everything
before it is kept and :attr:`DecodedBody.problem` says what and where. It never raises.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

from adapters.dnp3.flags import PointType

__all__ = ["ControlEcho", "DecodedBody", "ObjectRun", "decode_body"]


@dataclass(slots=True)
class ObjectRun:
    """Objects of one header: one point type, static or event.

    ``indices``, ``values``, ``flags`` and (when not ``None``) ``times`` are parallel.
    ``indices`` is a ``range`` for a start-stop or unprefixed count header, else a list.
    ``times`` holds ``None`` for a relative-time event with no common time before it.
    """

    point_type: PointType
    event: bool
    indices: Sequence[int]
    values: list[float | int]
    flags: list[int]
    times: list[int | None] | None


@dataclass(slots=True)
class ControlEcho:
    """A control object echoed in a SELECT/OPERATE/DIRECT_OPERATE response (g12v1, g41v1-4).

    ``status`` is the control status code (the status octet's bits 0-6); ``raw`` the object's
    octets as sent (without the index prefix).
    """

    group: int
    variation: int
    index: int
    status: int
    raw: bytes


@dataclass(slots=True)
class DecodedBody:
    """Everything read from one response body, in the order sent."""

    runs: list[ObjectRun]
    echoes: list[ControlEcho]
    times: list[int]
    problem: str | None = None


ONLINE = 0x01

# How a variation lays out one object.
_NONE, _ABS, _REL = 0, 1, 2  # time kinds
_PLAIN, _BIT, _DBIT = 0, 1, 2  # flag octet kinds: as is, state bit 7, state bits 6-7
_PACKED1, _PACKED2 = 1, 2  # packed binaries: bits per point


@dataclass(frozen=True, slots=True)
class _Layout:
    point_type: PointType
    event: bool
    flag: int | None  # None: no flag octet; else _PLAIN, _BIT or _DBIT
    number: str  # the struct code of the value ("" for binaries)
    time: int = _NONE
    packed: int = 0


def _layouts() -> dict[tuple[int, int], _Layout]:
    bi, db, bo = PointType.BINARY_INPUT, PointType.DOUBLE_BIT, PointType.BINARY_OUTPUT
    ctr, frz = PointType.COUNTER, PointType.FROZEN_COUNTER
    ai, ao = PointType.ANALOG_INPUT, PointType.ANALOG_OUTPUT
    table = {
        (1, 1): _Layout(bi, False, None, "", packed=_PACKED1),
        (1, 2): _Layout(bi, False, _BIT, ""),
        (2, 1): _Layout(bi, True, _BIT, ""),
        (2, 2): _Layout(bi, True, _BIT, "", _ABS),
        (2, 3): _Layout(bi, True, _BIT, "", _REL),
        (3, 1): _Layout(db, False, None, "", packed=_PACKED2),
        (3, 2): _Layout(db, False, _DBIT, ""),
        (4, 1): _Layout(db, True, _DBIT, ""),
        (4, 2): _Layout(db, True, _DBIT, "", _ABS),
        (4, 3): _Layout(db, True, _DBIT, "", _REL),
        (10, 1): _Layout(bo, False, None, "", packed=_PACKED1),
        (10, 2): _Layout(bo, False, _BIT, ""),
        (11, 1): _Layout(bo, True, _BIT, ""),
        (11, 2): _Layout(bo, True, _BIT, "", _ABS),
        # counters (unsigned); v3/v4 are the obsolete delta counters, laid out as v1/v2
        (20, 1): _Layout(ctr, False, _PLAIN, "I"),
        (20, 2): _Layout(ctr, False, _PLAIN, "H"),
        (20, 3): _Layout(ctr, False, _PLAIN, "I"),
        (20, 4): _Layout(ctr, False, _PLAIN, "H"),
        (20, 5): _Layout(ctr, False, None, "I"),
        (20, 6): _Layout(ctr, False, None, "H"),
        (21, 1): _Layout(frz, False, _PLAIN, "I"),
        (21, 2): _Layout(frz, False, _PLAIN, "H"),
        (21, 5): _Layout(frz, False, _PLAIN, "I", _ABS),
        (21, 6): _Layout(frz, False, _PLAIN, "H", _ABS),
        (21, 9): _Layout(frz, False, None, "I"),
        (21, 10): _Layout(frz, False, None, "H"),
    }
    for group, point_type in ((22, ctr), (23, frz)):
        table[group, 1] = _Layout(point_type, True, _PLAIN, "I")
        table[group, 2] = _Layout(point_type, True, _PLAIN, "H")
        table[group, 5] = _Layout(point_type, True, _PLAIN, "I", _ABS)
        table[group, 6] = _Layout(point_type, True, _PLAIN, "H", _ABS)
    # analogs (signed integers, float32, float64)
    table[30, 1] = _Layout(ai, False, _PLAIN, "i")
    table[30, 2] = _Layout(ai, False, _PLAIN, "h")
    table[30, 3] = _Layout(ai, False, None, "i")
    table[30, 4] = _Layout(ai, False, None, "h")
    table[30, 5] = _Layout(ai, False, _PLAIN, "f")
    table[30, 6] = _Layout(ai, False, _PLAIN, "d")
    table[40, 1] = _Layout(ao, False, _PLAIN, "i")
    table[40, 2] = _Layout(ao, False, _PLAIN, "h")
    table[40, 3] = _Layout(ao, False, _PLAIN, "f")
    table[40, 4] = _Layout(ao, False, _PLAIN, "d")
    for group, point_type in ((32, ai), (42, ao)):
        for variation, number, time in (
            (1, "i", _NONE),
            (2, "h", _NONE),
            (3, "i", _ABS),
            (4, "h", _ABS),
            (5, "f", _NONE),
            (6, "d", _NONE),
            (7, "f", _ABS),
            (8, "d", _ABS),
        ):
            table[group, variation] = _Layout(point_type, True, _PLAIN, number, time)
    return table


_LAYOUTS = _layouts()

_PREFIX_CODES = {0: "", 1: "B", 2: "H", 3: "I"}
_PREFIX_WIDTHS = {0: 0, 1: 1, 2: 2, 3: 4}
"""Object prefix code (qualifier bits 4-6) -> the index before each object: struct code, octets."""
_START_STOP = {0: struct.Struct("<BB"), 1: struct.Struct("<HH"), 2: struct.Struct("<II")}
_COUNT = {7: struct.Struct("<B"), 8: struct.Struct("<H"), 9: struct.Struct("<I")}
"""Range code (qualifier bits 0-3) -> the range field."""

_TIME_CODES = {_NONE: "", _ABS: "IH", _REL: "H"}


@dataclass(frozen=True, slots=True)
class _Plan:
    """How to read one variation's objects behind one prefix width."""

    layout: _Layout
    unpacker: struct.Struct
    size: int  # octets per object, prefix included
    has_prefix: bool


def _plans() -> dict[tuple[int, int, int], _Plan]:
    plans = {}
    for (group, variation), layout in _LAYOUTS.items():
        if layout.packed:
            continue
        for prefix_code, prefix in _PREFIX_CODES.items():
            fields = "B" if layout.flag is not None else ""
            fmt = "<" + prefix + fields + layout.number + _TIME_CODES[layout.time]
            unpacker = struct.Struct(fmt)
            plans[group, variation, prefix_code] = _Plan(
                layout, unpacker, unpacker.size, bool(prefix)
            )
    return plans


_PLANS = _plans()

_BITS1 = tuple(tuple((octet >> bit) & 1 for bit in range(8)) for octet in range(256))
_BITS2 = tuple(tuple((octet >> (2 * pair)) & 3 for pair in range(4)) for octet in range(256))
"""Octet -> its points, first point in the low bits (packed binaries, 1 and 2 bits a point)."""

_ECHO_STATUS = {(12, 1): 10, (41, 1): 4, (41, 2): 2, (41, 3): 4, (41, 4): 8}
_ECHO_SIZE = {(12, 1): 11, (41, 1): 5, (41, 2): 3, (41, 3): 5, (41, 4): 9}
"""Control objects: (group, variation) -> offset of the status octet, and the object size."""

_TIME_SIZE = 6
_TIME = struct.Struct("<IH")
_TIME_GROUPS = {(50, 1), (50, 3)}  # absolute time and date; at last recorded time
_CTO_GROUPS = {(51, 1), (51, 2)}  # common time of occurrence, synchronized or not
_DELAY_GROUPS = {(52, 1): 2, (52, 2): 2}  # time delay coarse (s) and fine (ms)

_STATE_BIT = bytes((octet >> 7) & 1 for octet in range(256))
_STATE_DBIT = bytes((octet >> 6) & 3 for octet in range(256))
_CLEAR_BIT = bytes(octet & 0x7F for octet in range(256))
_CLEAR_DBIT = bytes(octet & 0x3F for octet in range(256))
"""bytes.translate tables: a flag octet -> its state code, or the octet with the state cleared."""


class _Stop(Exception):
    """Decoding stops here (internal: becomes DecodedBody.problem)."""


def decode_body(body: bytes) -> DecodedBody:
    """Every object of a response body (after the application header), in the order sent.

    Stops at the first header or object that cannot be read and says why in ``problem``;
    what was read before is kept. Never raises.
    """
    decoded = DecodedBody([], [], [])
    try:
        _decode(bytes(body), decoded)
    except _Stop as stop:
        decoded.problem = str(stop)
    except Exception as error:  # a bug here must not become a traceback from the network
        decoded.problem = f"internal decoder error: {type(error).__name__}: {error}"
    return decoded


def _decode(body: bytes, out: DecodedBody) -> None:
    offset = 0
    end = len(body)
    cto: int | None = None
    runs, echoes = out.runs, out.echoes
    while offset < end:
        if end - offset < 3:
            raise _Stop(f"object header truncated at body offset {offset}")
        group, variation, qualifier = body[offset], body[offset + 1], body[offset + 2]
        where = f"g{group}v{variation} qualifier 0x{qualifier:02x} at body offset {offset}"
        prefix_code, range_code = (qualifier >> 4) & 7, qualifier & 0x0F
        if qualifier & 0x80 or prefix_code not in _PREFIX_CODES:
            raise _Stop(f"{where}: unsupported qualifier")
        pos = offset + 3
        start_stop = _START_STOP.get(range_code)
        indices: Sequence[int]
        if start_stop is not None:
            if end - pos < start_stop.size:
                raise _Stop(f"{where}: range field truncated")
            start, stop = start_stop.unpack_from(body, pos)
            pos += start_stop.size
            if stop < start:
                raise _Stop(f"{where}: stop index {stop} before start {start}")
            count = stop - start + 1
            indices = range(start, stop + 1)
        else:
            counter = _COUNT.get(range_code)
            if counter is None:
                raise _Stop(f"{where}: unsupported qualifier (range code {range_code})")
            if end - pos < counter.size:
                raise _Stop(f"{where}: range field truncated")
            (count,) = counter.unpack_from(body, pos)
            pos += counter.size
            indices = range(count)
        key = (group, variation)
        plan = _PLANS.get((group, variation, prefix_code))
        if plan is not None:
            pos = _read_run(body, pos, count, indices, plan, cto, where, runs)
        elif key in _LAYOUTS:  # packed binaries
            if prefix_code:
                raise _Stop(f"{where}: packed objects cannot carry index prefixes")
            pos = _read_packed(body, pos, count, indices, _LAYOUTS[key], where, runs)
        elif key in _ECHO_SIZE:
            width = _PREFIX_WIDTHS[prefix_code]
            pos = _read_echoes(body, pos, count, indices, width, key, where, echoes)
        elif key in _CTO_GROUPS or key in _TIME_GROUPS:
            pos, times = _read_times(body, pos, count, _PREFIX_WIDTHS[prefix_code], where)
            if key in _CTO_GROUPS:
                if times:
                    cto = times[-1]
            else:
                out.times.extend(times)
        elif key in _DELAY_GROUPS:
            size = count * (_PREFIX_WIDTHS[prefix_code] + _DELAY_GROUPS[key])
            _need(body, pos, size, count, where)
            pos += size
        else:
            raise _Stop(f"{where}: unsupported group/variation")
        offset = pos


def _need(body: bytes, pos: int, size: int, count: int, where: str) -> None:
    left = len(body) - pos
    if left < size:
        raise _Stop(f"{where}: {count} objects need {size} octets, {left} left")


def _read_run(
    body: bytes,
    pos: int,
    count: int,
    indices: Sequence[int],
    plan: _Plan,
    cto: int | None,
    where: str,
    runs: list[ObjectRun],
) -> int:
    size = plan.size * count
    _need(body, pos, size, count, where)
    layout = plan.layout
    if not count:
        runs.append(
            ObjectRun(
                layout.point_type,
                layout.event,
                [] if plan.has_prefix else indices,
                [],
                [],
                None if layout.time == _NONE else [],
            )
        )
        return pos
    columns = list(zip(*plan.unpacker.iter_unpack(body[pos : pos + size]), strict=True))
    column = 0
    if plan.has_prefix:
        indices = list(columns[0])
        column = 1
    values: list[float | int]
    flags: list[int]
    if layout.flag is None:
        flags = [ONLINE] * count
    else:
        octets = bytes(columns[column])
        column += 1
        if layout.flag == _BIT:
            values = list(octets.translate(_STATE_BIT))
            flags = list(octets.translate(_CLEAR_BIT))
        elif layout.flag == _DBIT:
            values = list(octets.translate(_STATE_DBIT))
            flags = list(octets.translate(_CLEAR_DBIT))
        else:
            flags = list(octets)
    if layout.number:
        values = list(columns[column])
        column += 1
    times: list[int | None] | None = None
    if layout.time == _ABS:
        times = [
            low | (high << 32)
            for low, high in zip(columns[column], columns[column + 1], strict=True)
        ]
    elif layout.time == _REL and cto is not None:
        times = [cto + relative for relative in columns[column]]
    elif layout.time == _REL:  # no common time before: the times are unknown
        times = [None] * count
    runs.append(ObjectRun(layout.point_type, layout.event, indices, values, flags, times))
    return pos + size


def _read_packed(
    body: bytes,
    pos: int,
    count: int,
    indices: Sequence[int],
    layout: _Layout,
    where: str,
    runs: list[ObjectRun],
) -> int:
    per_octet = 8 if layout.packed == _PACKED1 else 4
    size = (count + per_octet - 1) // per_octet
    _need(body, pos, size, count, where)
    table = _BITS1 if layout.packed == _PACKED1 else _BITS2
    values: list[float | int] = list(
        chain.from_iterable(map(table.__getitem__, body[pos : pos + size]))
    )
    del values[count:]
    runs.append(ObjectRun(layout.point_type, layout.event, indices, values, [ONLINE] * count, None))
    return pos + size


def _read_echoes(
    body: bytes,
    pos: int,
    count: int,
    indices: Sequence[int],
    width: int,
    key: tuple[int, int],
    where: str,
    echoes: list[ControlEcho],
) -> int:
    object_size = _ECHO_SIZE[key]
    _need(body, pos, count * (width + object_size), count, where)
    status_at = _ECHO_STATUS[key]
    group, variation = key
    for number in range(count):
        if width:
            index = int.from_bytes(body[pos : pos + width], "little")
            pos += width
        else:
            index = indices[number]
        raw = body[pos : pos + object_size]
        echoes.append(ControlEcho(group, variation, index, raw[status_at] & 0x7F, raw))
        pos += object_size
    return pos


def _read_times(body: bytes, pos: int, count: int, width: int, where: str) -> tuple[int, list[int]]:
    step = width + _TIME_SIZE
    _need(body, pos, count * step, count, where)
    times = []
    for number in range(count):
        low, high = _TIME.unpack_from(body, pos + number * step + width)
        times.append(low | (high << 32))
    return pos + count * step, times
