"""A point's recent history, read back from a historian adapter of the running gateway.

The API knows no database: an adapter that stores history offers
:meth:`HistoryReader.read_history` (the ``sql-historian`` does, with the query of
``iccp-gateway history``), and this module asks the first running one that has it, or the
one named. Errors are :class:`HistoryError` with the HTTP status they answer with: 404 when
no historian is configured, 400 for bad times, 503 when its database cannot be read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from gateway.api.views import VALIDITIES
from gateway.runtime import Runtime

__all__ = ["HistoryError", "HistoryReader", "point_history"]

Row = tuple[datetime, float, int, int]
"""One stored row: time (UTC), value, quality octet, COV."""


@runtime_checkable
class HistoryReader(Protocol):
    """An adapter that reads back the rows it stored."""

    async def read_history(
        self, point: str, start: str, end: str, limit: int
    ) -> tuple[datetime, datetime, list[Row]]:
        """Rows of ``point`` from ``start`` to ``end`` (texts: ISO 8601 or relative),
        oldest first, at most ``limit``; ValueError for bad times, ConnectionError when
        the store cannot be read."""
        ...


class HistoryError(Exception):
    """A history request that cannot be answered: the message and the HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _iso(when: datetime) -> str:
    """ISO 8601 in UTC with a Z, as the rest of the API writes times."""
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _reader(runtime: Runtime, adapter: str | None) -> tuple[str, HistoryReader]:
    """The historian to ask (``adapter``, or the only running one) and its name;
    HistoryError 404 when there is none."""
    running = runtime.adapters
    if adapter is not None:
        found = running.get(adapter)
        if found is None:
            raise HistoryError(404, f"no running adapter {adapter!r}")
        if not isinstance(found, HistoryReader):
            raise HistoryError(404, f"adapter {adapter!r} keeps no history")
        return adapter, found
    for name, candidate in running.items():
        if isinstance(candidate, HistoryReader):
            return name, candidate
    raise HistoryError(
        404, "no historian is running: configure an sql-historian adapter for point history"
    )


async def point_history(
    runtime: Runtime,
    point: str,
    start: str,
    end: str,
    limit: int,
    adapter: str | None = None,
) -> dict[str, Any]:
    """The history view of ``point``: the historian asked, the window and its rows."""
    name, reader = _reader(runtime, adapter)
    try:
        low, high, rows = await reader.read_history(point, start, end, limit + 1)
    except ValueError as exc:
        raise HistoryError(400, str(exc)) from None
    except ConnectionError as exc:
        raise HistoryError(503, f"the historian {name!r} cannot be read: {exc}") from None
    return {
        "point": point,
        "historian": name,
        "from": _iso(low),
        "to": _iso(high),
        "limit": limit,
        "truncated": len(rows) > limit,  # older rows of the window left out
        "rows": [
            {
                "time": _iso(when),
                "ts_ms": round(when.timestamp() * 1000),
                "value": value,
                "validity": VALIDITIES[(quality >> 4) & 3],
                "flags": quality,
                "cov": cov,
            }
            for when, value, quality, cov in rows[-limit:]
        ],
    }
