"""Reading the historian's rows back: the one query `iccp-gateway history` and the REST
API's point history both use."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = ["BadTime", "Source", "Stored", "UnknownPoints", "parse_time", "read_rows"]


@dataclass(frozen=True)
class Source:
    """Where the historian's rows are: a database URL (relative SQLite paths resolved) and
    the table name."""

    url: Any  # sqlalchemy.engine.URL
    table: str


_RELATIVE = re.compile(r"-?\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_ROUNDING = 1e-6  # a datetime's resolution, in seconds


class BadTime(ValueError):
    """A time that is neither ISO 8601 nor a relative time (the message says so)."""


def parse_time(text: str, now: datetime | None = None) -> datetime:
    """An aware UTC datetime from ISO 8601 or a relative time (`-1h`, `now`)."""
    now = now or datetime.now(UTC)
    word = text.strip()
    if word.lower() == "now":
        return now
    try:
        relative = _RELATIVE.fullmatch(word)
        if relative:
            amount, unit = relative.groups()
            return now - timedelta(seconds=float(amount) * _UNITS[unit])
        when = datetime.fromisoformat(word)
    except (ValueError, OverflowError):
        raise BadTime(
            f"{text!r} is not a time: write ISO 8601 (2026-01-31T12:00:00Z) or a relative "
            "time (-90s, -15m, -1h, -2d, -1w, now) within years 1 to 9999"
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


class UnknownPoints(LookupError):
    """Points of which the historian's table holds no row at all."""


Stored = tuple[str, datetime, float, int, int]
"""One row read back: point, time (UTC), value, quality octet, COV."""


async def read_rows(
    source: Source,
    points: Sequence[str],
    start: datetime,
    end: datetime,
    limit: int | None,
    *,
    known: bool = False,
    newest: bool = False,
) -> list[Stored]:
    """The rows of `points` with start <= time <= end, in time order: the first `limit`
    of them, or with `newest` the last. With `known`, UnknownPoints naming a point of which
    the table holds no row at all."""
    from sqlalchemy import inspect, select

    from adapters.sql.database import create_engine, is_postgres
    from adapters.sql.historian.schema import SchemaError, build_tables

    postgres = is_postgres(source.url)
    if not postgres and not Path(source.url.database).exists():
        raise FileNotFoundError(f"no SQLite database at {source.url.database}")
    tables = build_tables(source.table, postgres)
    history = tables.history
    engine = create_engine(source.url)
    try:
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: inspect(c).get_table_names())
            if history.name not in names:
                raise SchemaError(f"no historian table {history.name!r} in this database")
            if known:
                stored = await conn.execute(
                    select(history.c.point).where(history.c.point.in_(list(points))).distinct()
                )
                unknown = sorted(set(points) - {row[0] for row in stored})
                if unknown:
                    listed = ", ".join(repr(p) for p in unknown)
                    raise UnknownPoints(
                        f"unknown point {listed}: no row of it in table {history.name!r} "
                        f"of {source.url.render_as_string(hide_password=True)}"
                    )
            # SQLite holds float seconds, which a datetime rounds to the microsecond: the
            # bounds widen by that rounding, so a row's own reported time still selects it.
            low: Any = start if postgres else start.timestamp() - _ROUNDING
            high: Any = end if postgres else end.timestamp() + _ROUNDING
            query = (
                select(history.c.point, history.c.time, history.c.value, history.c.quality)
                .add_columns(history.c.cov)
                .where(history.c.point.in_(list(points)))
                .where(history.c.time >= low, history.c.time <= high)
                .order_by(history.c.time.desc() if newest else history.c.time)
            )
            if limit is not None:
                query = query.limit(limit)
            result = await conn.execute(query)
            rows = list(result.all())
            if newest:
                rows.reverse()
    finally:
        await engine.dispose()
    out: list[Stored] = []
    for point, when, value, quality, cov in rows:
        if not isinstance(when, datetime):
            when = datetime.fromtimestamp(when, UTC)
        out.append((point, when.astimezone(UTC), value, quality, cov))
    return out
