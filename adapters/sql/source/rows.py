"""Poll rows -> bus rows: the `sql-source` adapter's hot path (sans-IO).

A `RowMapper` knows, for each bound point, how a cell converts (the binding's scale/offset
then the point's ISN a*x+b; a state table for state points), how a quality cell maps to
TASE.2 quality and where each field is in a row. `take` turns one page of rows (in mark
order) into parallel lists for `PointBus.update_rows`, skipping rows the high-water mark
has applied already, and remembers each point's last row (to serve it again after an
outage or a restart).

A late row (one that committed after a newer row of the same point was applied) is not
applied: the bus keeps the newer value. It is counted as `superseded`.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from adapters.sql.source.mark import HighWaterMark, to_posix
from adapters.sql.source.query import Columns
from adapters.sql.source.settings import (
    DEFAULT_QUALITY_MAP,
    QualitySpec,
    SourcePoint,
    SqlSourceSettings,
    parse_quality,
    quality_code,
)
from gateway.mapping import DISCRETE, STATE, ScaledSlot
from gateway.points import GOOD, NOT_VALID, PointDef, Quality, State

__all__ = ["Page", "QualityMapper", "RowMapper", "Slot"]

_STATE_NAMES = {s.name.lower(): s for s in State}
_MAX_CACHED = 4096


class Slot(ScaledSlot):
    """One bound point: its bus id and how a raw cell converts."""

    __slots__ = ()
    binding: SourcePoint

    def convert(self, raw: Any) -> float | int | None:
        """The bus value of a cell; None for a cell that is no usable value (NULL, text
        that is no number, NaN or infinity)."""
        if self.conversion == STATE:
            assert self.states is not None
            if isinstance(raw, str):
                name = raw.strip().lower()
                if name in _STATE_NAMES:
                    return _STATE_NAMES[name]
                raw = name
            try:
                return self.states.state_of(int(raw))
            except (TypeError, ValueError):
                return None
        try:
            number = float(raw)
        except (TypeError, ValueError):
            return None
        value = self.a * number + self.b
        if not math.isfinite(value):
            return None
        return round(value) if self.conversion == DISCRETE else value


class QualityMapper:
    """A quality cell -> TASE.2 quality: by code (`quality_map`) or by flag masks
    (`quality_bits`); NULL is valid, an unknown code not valid."""

    def __init__(
        self, codes: Mapping[str, str] | None = None, bits: Mapping[int, str] | None = None
    ) -> None:
        self._bits = [(mask, parse_quality(text)) for mask, text in (bits or {}).items()]
        table = DEFAULT_QUALITY_MAP if codes is None and bits is None else (codes or {})
        self._codes = {code: parse_quality(text).quality() for code, text in table.items()}
        self._cache: dict[Any, Quality] = {None: GOOD}

    def __call__(self, cell: Any) -> Quality:
        cached = self._cache.get(cell)
        if cached is not None:
            return cached
        quality = self._map(cell)
        if len(self._cache) >= _MAX_CACHED:
            self._cache = {None: GOOD}
        with contextlib.suppress(TypeError):  # an unhashable cell (a PostgreSQL array, say)
            self._cache[cell] = quality
        return quality

    def _map(self, cell: Any) -> Quality:
        if not self._bits:
            return self._codes.get(quality_code(cell), NOT_VALID)
        try:
            flags = int(cell)
        except (TypeError, ValueError):
            return NOT_VALID
        spec = QualitySpec()
        for mask, part in self._bits:
            if flags & mask == mask:
                spec = spec.merge(part)
        return spec.quality()


@dataclass(slots=True)
class Page:
    """What one page of rows gives the bus, and how the poll goes on."""

    points: list[str] = field(default_factory=list)
    values: list[float | int] = field(default_factory=list)
    qualities: list[Quality] = field(default_factory=list)
    times: list[float | None] = field(default_factory=list)
    not_valid: list[str] = field(default_factory=list)
    """Points whose cell is no usable value: marked not valid, keeping their value."""
    problems: list[str] = field(default_factory=list)
    read: int = 0
    duplicates: int = 0
    superseded: int = 0
    unbound: int = 0
    more: bool = False
    """The page was full: read the next one after `since`."""
    since: object = None
    bigger: bool = False
    """Every row of a full page has one mark: read it again with a larger limit."""


class RowMapper:
    """Turns poll rows into bus rows for one adapter's bindings (see the module)."""

    def __init__(self, settings: SqlSourceSettings, definitions: Mapping[str, PointDef]) -> None:
        self.columns: Columns = settings.statements.columns
        self.unit = 1000.0 if settings.time_unit == "ms" else 1.0
        self.quality = QualityMapper(settings.quality_map, settings.quality_bits)
        self.long = settings.key is not None
        self.by_key: dict[str, Slot] = {}
        self.by_column: list[tuple[int, Slot]] = []
        for binding in settings.bindings:
            defn = definitions.get(binding.point)
            if defn is None:
                continue
            slot = Slot(binding, defn)
            if self.long:
                self.by_key[binding.key_value] = slot
            elif binding.column is not None:
                self.by_column.append((self.columns.points[binding.column], slot))
        self.last: dict[str, tuple[float | int, Quality, float | None, float]] = {}
        """Each point's last applied row: value, quality, source time (None: none) and mark."""

    def points(self) -> list[str]:
        """The bus points this mapper feeds."""
        if self.long:
            return [s.point for s in self.by_key.values()]
        return [s.point for _, s in self.by_column]

    def take(
        self,
        rows: Sequence[Sequence[Any]],
        limit: int,
        mark: HighWaterMark,
        upto: float | None = None,
    ) -> Page:
        """The bus rows of one page (`rows` in mark order, read with `limit`); rows with a
        mark above `upto` are left out (a catch-up read stops where the poll is)."""
        page = Page(read=len(rows))
        c = self.columns
        if len(rows) >= limit and rows:
            try:
                last = mark.key(rows[-1][c.mark])
                cut = len(rows)
                while cut > 0 and mark.key(rows[cut - 1][c.mark]) == last:
                    cut -= 1
            except ValueError:
                cut = len(rows) - 1
            if cut == 0:
                page.bigger = True
                return page
            rows = rows[:cut]
            page.more = True
            page.since = rows[-1][c.mark]
        qualities = self.quality
        unit = self.unit
        for row in rows:
            raw_mark = row[c.mark]
            try:
                key_mark = mark.key(raw_mark)
            except ValueError as exc:
                page.problems.append(f"row skipped: {exc}")
                continue
            if upto is not None and key_mark > upto:
                page.more = False
                break
            mark.advance(key_mark, raw_mark)
            quality = qualities(row[c.quality]) if c.quality is not None else GOOD
            ts: float | None = None
            if c.time is not None:
                cell = row[c.time]
                if cell is not None:
                    try:
                        ts = to_posix(cell, unit)
                    except ValueError as exc:
                        page.problems.append(f"time stamp not read: {exc}")
            if self.long:
                assert c.key is not None and c.value is not None
                key = row[c.key]
                if key.__class__ is not str:
                    key = None if key is None else quality_code(key)
                if not mark.fresh((key, key_mark)):
                    page.duplicates += 1
                    continue
                slot = self.by_key.get(key) if key is not None else None
                if slot is None:
                    page.unbound += 1
                    continue
                self._one(page, slot, row[c.value], quality, ts, key_mark)
            else:
                if not mark.fresh((None, key_mark)):
                    page.duplicates += 1
                    continue
                for position, slot in self.by_column:
                    self._one(page, slot, row[position], quality, ts, key_mark)
        return page

    def _one(
        self,
        page: Page,
        slot: Slot,
        cell: Any,
        quality: Quality,
        ts: float | None,
        key_mark: float,
    ) -> None:
        point = slot.point
        previous = self.last.get(point)
        if previous is not None and previous[3] > key_mark:
            page.superseded += 1
            return
        value = slot.convert(cell)
        if value is None:
            page.not_valid.append(point)
            if cell is not None:
                page.problems.append(f"{point}: {cell!r} is no value")
            return
        if slot.states is not None:
            quality = slot.states.quality_for(State(int(value)), quality)
        page.points.append(point)
        page.values.append(value)
        page.qualities.append(quality)
        page.times.append(ts)
        self.last[point] = (value, quality, ts, key_mark)

    def restore_rows(self, points: Iterable[str]) -> Page:
        """The last applied rows of `points`, to serve again (after an outage, or at start)."""
        page = Page()
        for point in points:
            row = self.last.get(point)
            if row is None:
                continue
            page.points.append(point)
            page.values.append(row[0])
            page.qualities.append(row[1])
            page.times.append(row[2])
        return page

    def last_state(self) -> dict[str, list[Any]]:
        """Each point's last row as JSON."""
        return {p: [v, int(q), t, m] for p, (v, q, t, m) in self.last.items()}

    def restore_state(self, state: Mapping[str, Any], points: Iterable[str]) -> None:
        """Take back what `last_state` wrote, for the points still bound."""
        wanted = set(points)
        for point, item in state.items():
            if point not in wanted:
                continue
            try:
                value, flags, ts, key_mark = item
                self.last[point] = (value, Quality.from_flags(int(flags)), ts, key_mark)
            except (TypeError, ValueError):
                continue
