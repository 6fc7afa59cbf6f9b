"""Request planning: which reads cover a set of values (sans-IO).

Values of one table and poll group are sorted by address and merged into blocks while the
hole between two values is at most `max_gap` and the block stays within the per-request
limit (125 registers, 2000 bits, or less if a device needs it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Span:
    """Where one value sits: first address and size (registers or bits)."""

    address: int
    size: int


@dataclass(frozen=True, slots=True)
class PlannedRead:
    """One read request: its address range and the indices of the spans it covers."""

    start: int
    count: int
    members: tuple[int, ...]


def plan_reads(spans: Sequence[Span], max_count: int, max_gap: int = 0) -> list[PlannedRead]:
    """The fewest reads (in address order) that cover `spans` within the limits.

    Overlapping and duplicate spans share a read. A span larger than `max_count` is an error.
    """
    if max_count < 1 or max_gap < 0:
        raise ValueError("max_count must be >= 1 and max_gap >= 0")
    order = sorted(range(len(spans)), key=lambda i: (spans[i].address, spans[i].size))
    reads: list[PlannedRead] = []
    start = end = 0
    members: list[int] = []
    for i in order:
        span = spans[i]
        if span.size > max_count:
            raise ValueError(f"a value of {span.size} at {span.address} exceeds {max_count}")
        span_end = span.address + span.size
        if members and span.address - end <= max_gap and max(end, span_end) - start <= max_count:
            end = max(end, span_end)
            members.append(i)
            continue
        if members:
            reads.append(PlannedRead(start, end - start, tuple(members)))
        start, end, members = span.address, span_end, [i]
    if members:
        reads.append(PlannedRead(start, end - start, tuple(members)))
    return reads
