"""Reading the historian's rows back: the one query `iccp-gateway history` and the REST
API's point history both use."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["Source", "Stored", "UnknownPoints", "read_rows"]


@dataclass(frozen=True)
class Source:
    """Where the historian's rows are: a database URL (relative SQLite paths resolved) and
    the table name."""

    url: Any  # sqlalchemy.engine.URL
    table: str


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
) -> list[Stored]:
    """The rows of `points` with start <= time <= end, in time order; with `known`,
    UnknownPoints naming a point of which the table holds no row at all."""
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
            low: Any = start if postgres else start.timestamp()
            high: Any = end if postgres else end.timestamp()
            query = (
                select(history.c.point, history.c.time, history.c.value, history.c.quality)
                .add_columns(history.c.cov)
                .where(history.c.point.in_(list(points)))
                .where(history.c.time >= low, history.c.time <= high)
                .order_by(history.c.time)
            )
            if limit is not None:
                query = query.limit(limit)
            result = await conn.execute(query)
            rows = result.all()
    finally:
        await engine.dispose()
    out: list[Stored] = []
    for point, when, value, quality, cov in rows:
        if not isinstance(when, datetime):
            when = datetime.fromtimestamp(when, UTC)
        out.append((point, when.astimezone(UTC), value, quality, cov))
    return out
