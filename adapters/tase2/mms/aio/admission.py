"""Bounds on connections that have not associated yet, shared by the accepting ends
(:class:`~adapters.tase2.mms.aio.server.MmsServer`,
:class:`~adapters.tase2.mms.aio.listener.MmsListener`), sans-IO.

One source address holds at most ``per_source`` pending connections, and all together
at most ``total`` connections are open; when a limit is reached the oldest pending
connection that has stayed silent (no COTP CR) for :data:`SILENT_GRACE` seconds is closed
to make room (a real peer sends its CR at once, an idle socket never does), else the new
connection is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

__all__ = ["SILENT_GRACE", "Candidate", "make_room", "so_far"]

SILENT_GRACE = 1.0
"""Seconds a new connection may stay silent (no COTP CR) before it may be closed to make
room for another."""


def so_far(n: int) -> str:
    """The suffix of a log line throttled per source address: how many so far (nothing
    for the first)."""
    return "" if n == 1 else f" [{n} so far from this address]"


class Candidate(Protocol):
    """A connection as the limits see it."""

    @property
    def source(self) -> str:
        """The peer's IP address."""
        ...

    @property
    def started(self) -> float:
        """Monotonic time of the TCP connect."""
        ...

    @property
    def pending(self) -> bool:
        """Open and not associated yet."""
        ...

    @property
    def silent(self) -> bool:
        """Nothing from the peer's COTP yet."""
        ...

    def evict(self, why: str) -> None:
        """Close it to make room (``why`` names the limit)."""
        ...


C = TypeVar("C", bound=Candidate)


def make_room(
    open_: Callable[[], Sequence[C]],
    source: str,
    *,
    per_source: int,
    total: int,
    now: float,
) -> str | None:
    """Room for a new connection from ``source`` among the connections ``open_()``
    returns (asked again after an eviction): None when it may go on (a silent connection
    closed for it when needed), else the limit that refuses it."""
    mine = [c for c in open_() if c.pending and c.source == source]
    if len(mine) >= per_source:
        limit = f"{per_source} connections from {source} not associated"
        if not _evict(mine, limit, now):
            return limit
    conns = open_()
    if len(conns) >= total:
        limit = f"{total} connections open"
        if not _evict([c for c in conns if c.pending], limit, now):
            return limit
    return None


def _evict(candidates: Sequence[Candidate], limit: str, now: float) -> bool:
    """Close the oldest of ``candidates`` silent for SILENT_GRACE; False when none is."""
    silent = [c for c in candidates if c.silent and now - c.started >= SILENT_GRACE]
    if not silent:
        return False
    min(silent, key=lambda c: c.started).evict(f"closed to make room: {limit}")
    return True
