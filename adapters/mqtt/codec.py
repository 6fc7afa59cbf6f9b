"""MQTT payloads and topics, sans-IO: JSON encoding of point values, decoding of inputs.

Published payloads (one point per message)::

    {"point": "GEN1_MW", "value": 101.5,
     "quality": {"validity": "valid", "source": "telemetered", "normal": true,
                 "timestamp_valid": true},
     "ts": "2025-05-01T12:00:00.250000Z", "ts_ms": 1746100800250, "cov": 17, "units": "MW"}

A batch message packs many of these: ``{"seq": 42, "count": 2, "points": [{...}, {...}]}``;
`seq` counts batch messages so a subscriber can see a gap. Non-finite values are `null`.

Inputs are a bare number (``42.5``) or a JSON document from which a JSON path
(``$.ac.power``, ``data[0].p``, ``$['odd key']``) picks the number.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.points import PointValue, Quality

JSON_SEPARATORS = (",", ":")


class PayloadError(ValueError):
    """An input payload that cannot be turned into a value (malformed, missing, not a number)."""


# -- encoding ------------------------------------------------------------------------------

_QUALITY_JSON: tuple[str, ...] = tuple(
    json.dumps(Quality.from_flags(octet).to_dict(), separators=JSON_SEPARATORS)
    for octet in range(0x40)
)
_NO_UNITS = ',"units":""}'


def json_number(value: float | int) -> str:
    """A number as JSON text: ints (and IntEnum states) as integers, NaN/infinity as null."""
    if type(value) is float:
        return repr(value) if value - value == 0.0 else "null"
    if isinstance(value, float):  # a float subclass
        return repr(float(value)) if math.isfinite(value) else "null"
    return str(int(value))


def iso_utc(ts: float) -> str:
    """POSIX seconds as ISO 8601 UTC with microseconds and a `Z` suffix."""
    whole = math.floor(ts)
    micros = round((ts - whole) * 1_000_000)
    if micros == 1_000_000:
        whole, micros = whole + 1, 0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{micros:06d}Z"


class PayloadEncoder:
    """Encodes point values as JSON text, fast: per-point and per-time-stamp parts are cached.

    Point ids are ICCP names ([A-Za-z][A-Za-z0-9$_]*), so they need no JSON escaping.
    """

    __slots__ = ("_heads", "_tails", "_ts_cache", "batches")

    def __init__(self, units: Mapping[str, str]) -> None:
        self._heads: dict[str, str] = {}
        self._tails: dict[str, str] = {
            point: f',"units":{json.dumps(unit)}}}' for point, unit in units.items()
        }
        self._ts_cache: dict[float, str] = {}
        self.batches = 0

    def _time_part(self, ts: float) -> str:
        cache = self._ts_cache
        part = cache.get(ts)
        if part is None:
            if len(cache) > 4096:
                cache.clear()
            part = f',"ts":"{iso_utc(ts)}","ts_ms":{round(ts * 1000)},"cov":'
            cache[ts] = part
        return part

    def _head(self, point: str) -> str:
        head = self._heads.get(point)
        if head is None:
            head = self._heads[point] = f'{{"point":"{point}","value":'
        return head

    def point_json(self, pv: PointValue) -> str:
        """One point value as a JSON object."""
        return self.points_json((pv,))[0]

    def points_json(self, pvs: Iterable[PointValue]) -> list[str]:
        """Each point value as a JSON object (the hot path: everything bound locally)."""
        heads = self._heads
        tails = self._tails
        times = self._ts_cache
        qualities = _QUALITY_JSON
        out: list[str] = []
        append = out.append
        for point, value, quality, ts, cov in pvs:
            head = heads.get(point) or self._head(point)
            part = times.get(ts) or self._time_part(ts)
            if type(value) is float:
                number = repr(value) if value - value == 0.0 else "null"
            else:
                number = json_number(value)
            append(
                f'{head}{number},"quality":{qualities[quality & 0x3F]}'
                f"{part}{cov}{tails.get(point, _NO_UNITS)}"
            )
        return out

    def batch_json(self, pvs: Sequence[PointValue]) -> str:
        """Many point values as one batch document; numbers batches with `seq`."""
        self.batches += 1
        body = ",".join(self.points_json(pvs))
        return f'{{"seq":{self.batches},"count":{len(pvs)},"points":[{body}]}}'


def command_outcome_json(
    point: str,
    value: object,
    ok: bool,
    failure: str | None,
    detail: str,
    correlation_id: object = None,
) -> str:
    """The payload published on a command's response topic."""
    doc: dict[str, Any] = {
        "point": point,
        "value": value,
        "ok": ok,
        "failure": failure,
        "detail": detail,
    }
    if correlation_id is not None:
        doc["correlation_id"] = correlation_id
    return json.dumps(doc, separators=JSON_SEPARATORS)


# -- topics ----------------------------------------------------------------------------------

WILDCARDS = frozenset("+#")


def check_topic(topic: str, *, filter_allowed: bool = False) -> str:
    """Raise ValueError unless `topic` is a usable topic name (no wildcards unless a filter)."""
    if not topic:
        raise ValueError("empty topic")
    if "\x00" in topic or len(topic.encode()) > 65535:
        raise ValueError(f"invalid topic {topic!r}")
    if not filter_allowed and WILDCARDS & set(topic):
        raise ValueError(f"topic {topic!r} must not contain the wildcards + or #")
    return topic


@dataclass(frozen=True, slots=True)
class Topics:
    """The gateway's topic scheme under `<prefix>/<site>`.

    Points publish to `<base>/<point>`, commands arrive on `<base>/<point>/set` and their
    outcomes default to `<base>/<point>/set/result`. The status and batch topics start with
    `_` so that no point id (which starts with a letter) can clash with them.
    """

    base: str
    status: str
    batch: str

    @classmethod
    def build(
        cls, prefix: str, site: str, status: str | None = None, batch: str | None = None
    ) -> Topics:
        base = "/".join(part.strip("/") for part in (prefix, site) if part.strip("/"))
        check_topic(base)
        return cls(base, status or f"{base}/_status", batch or f"{base}/_batch")

    def point(self, point: str) -> str:
        """Where a point's values are published."""
        return f"{self.base}/{point}"

    @property
    def command_filter(self) -> str:
        """The subscription that receives every command."""
        return f"{self.base}/+/set"

    def command_point(self, topic: str) -> str | None:
        """The point a command topic addresses, or None if `topic` is no command topic."""
        head = self.base + "/"
        if not topic.startswith(head) or not topic.endswith("/set"):
            return None
        point = topic[len(head) : -len("/set")]
        return point if point and "/" not in point else None

    def default_response(self, point: str) -> str:
        """Where a command's outcome goes when the request names no response topic."""
        return f"{self.base}/{point}/set/result"


# -- decoding --------------------------------------------------------------------------------

PathStep = str | int
_PATH_TOKEN = re.compile(
    r"""\.?(?P<name>[^.\[\]]+)|\[(?P<index>-?\d+)\]|\[(?P<quote>['"])(?P<key>.*?)(?P=quote)\]"""
)


def compile_path(path: str) -> tuple[PathStep, ...]:
    """Parse a JSON path (`$.a.b[0]`, `a.b`, `$['k']`) into keys and list indexes."""
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    steps: list[PathStep] = []
    pos = 0
    while pos < len(text):
        match = _PATH_TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ValueError(f"invalid JSON path {path!r} at character {pos + 1}")
        if match["name"] is not None:
            steps.append(match["name"])
        elif match["index"] is not None:
            steps.append(int(match["index"]))
        else:
            steps.append(match["key"])
        pos = match.end()
    if not steps:
        raise ValueError(f"JSON path {path!r} selects nothing")
    return tuple(steps)


def extract(doc: object, steps: Iterable[PathStep]) -> object:
    """The part of a decoded JSON document that a compiled path selects."""
    node = doc
    for step in steps:
        try:
            if isinstance(step, int):
                if not isinstance(node, list):
                    raise PayloadError(f"expected a list at [{step}]")
                node = node[step]
            else:
                if not isinstance(node, dict):
                    raise PayloadError(f"expected an object at {step!r}")
                node = node[step]
        except (IndexError, KeyError):
            raise PayloadError(f"no {step!r} in the payload") from None
    return node


def as_number(obj: object) -> float | int:
    """A JSON value as a finite number: numbers, booleans and numeric strings are accepted."""
    if isinstance(obj, bool):
        return int(obj)
    if isinstance(obj, int):
        return _float_sized(obj)
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise PayloadError(f"{obj!r} is not a finite number")
        return obj
    if isinstance(obj, str):
        return parse_number(obj.encode())
    raise PayloadError(f"expected a number, got {type(obj).__name__}")


def parse_number(payload: bytes) -> float | int:
    """A bare-number payload (`42`, `-1.5e3`, `true`) as a finite number."""
    text = payload.strip()
    if text in (b"true", b"false"):
        return int(text == b"true")
    try:
        integer = int(text)
    except ValueError:
        pass
    else:
        return _float_sized(integer)
    try:
        number = float(text)
    except ValueError:
        raise PayloadError(f"not a number: {_preview(payload)}") from None
    if not math.isfinite(number):
        raise PayloadError(f"{number!r} is not a finite number")
    return number


def _float_sized(number: int) -> int:
    """`number`, if it converts to a float (as scaling will): else PayloadError."""
    try:
        float(number)
    except OverflowError:
        raise PayloadError(f"{str(number)[:20]}... is too large a number") from None
    return number


def parse_json(payload: bytes) -> object:
    """Decode a JSON payload; PayloadError when it is not JSON."""
    try:
        return json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError(f"not JSON ({exc}): {_preview(payload)}") from None


def as_timestamp(obj: object) -> float:
    """A source time stamp as POSIX seconds: epoch seconds, epoch ms (> 1e11) or ISO 8601."""
    if isinstance(obj, int | float) and not isinstance(obj, bool):
        if not math.isfinite(obj):
            raise PayloadError(f"time stamp {obj!r} is not finite")
        return obj / 1000.0 if abs(obj) > 1e11 else float(obj)
    if isinstance(obj, str):
        try:
            moment = datetime.fromisoformat(obj.replace("Z", "+00:00"))
        except ValueError:
            raise PayloadError(f"time stamp {obj!r} is not ISO 8601") from None
        if moment.tzinfo is None:
            raise PayloadError(f"time stamp {obj!r} has no time zone")
        return moment.timestamp()
    raise PayloadError(f"time stamp must be a number or a string, got {type(obj).__name__}")


@dataclass(frozen=True, slots=True)
class Command:
    """A decoded command request: the value and an optional correlation id from the payload."""

    value: float | int
    correlation_id: object = None


def decode_command(payload: bytes) -> Command:
    """A command payload: a bare number, or `{"value": n, "correlation_id": ...}`."""
    stripped = payload.strip()
    if not stripped.startswith(b"{"):
        return Command(parse_number(stripped))
    doc = parse_json(stripped)
    if not isinstance(doc, dict) or "value" not in doc:
        raise PayloadError('a command object needs a "value"')
    correlation = doc.get("correlation_id")
    if correlation is not None and not isinstance(correlation, str | int):
        raise PayloadError("correlation_id must be a string or an integer")
    return Command(as_number(doc["value"]), correlation)


def _preview(payload: bytes, limit: int = 40) -> str:
    text = repr(payload[:limit])
    return text + ("..." if len(payload) > limit else "")
