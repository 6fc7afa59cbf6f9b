"""Decoded DNP3 objects -> bus rows: the master's hot path (sans-IO).

A `PointMap` holds, per point type, index -> slot (the bus point and how a raw value
converts). `rows` turns the runs of one response fragment into parallel lists for
`PointBus.update_rows`: values converted, flags turned into quality through the
precomputed tables, each event with its own time stamp. An object whose index is not bound
is skipped (and counted).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from adapters.dnp3.flags import QUALITY_TABLES, PointType
from adapters.dnp3.master.settings import MasterPoint
from adapters.dnp3.objects import ObjectRun
from gateway.mapping import DISCRETE, REAL, ScaledSlot
from gateway.points import PointDef, Quality, State


class Slot(ScaledSlot):
    """One bound index: its bus point and the conversion of raw values."""

    __slots__ = ()
    binding: MasterPoint


class Rows:
    """Parallel lists for `PointBus.update_rows`."""

    __slots__ = ("not_finite", "points", "qualities", "times", "values")

    def __init__(self) -> None:
        self.points: list[str] = []
        self.values: list[float | int] = []
        self.qualities: list[Quality] = []
        self.times: list[float | None] = []
        self.not_finite: list[str] = []
        """Points read as NaN or infinity: to mark not valid, keeping their last value."""


class _Plan:
    """Where a run's bound objects are and how they convert: kept per (type, index range),
    since a poll reads the same ranges every time."""

    __slots__ = ("a", "b", "linear", "points", "positions", "slots", "whole")

    def __init__(self, slots: Mapping[int, Slot], indices: Sequence[int]) -> None:
        found = [(n, slot) for n, index in enumerate(indices) if (slot := slots.get(index))]
        self.positions = [n for n, _ in found]
        self.slots = [slot for _, slot in found]
        self.points = [slot.point for slot in self.slots]
        self.whole = len(found) == len(indices)
        self.linear = all(slot.conversion == REAL for slot in self.slots)
        self.a = [slot.a for slot in self.slots]
        self.b = [slot.b for slot in self.slots]


_MAX_PLANS = 1024


class PointMap:
    """Index -> slot per point type for one outstation."""

    def __init__(self, bindings: Iterable[tuple[MasterPoint, PointDef]]) -> None:
        self.slots: dict[PointType, dict[int, Slot]] = {t: {} for t in PointType}
        for binding, defn in bindings:
            self.slots[binding.type][binding.index] = Slot(binding, defn)
        self.unbound = 0
        self._plans: dict[tuple[PointType, int, int], _Plan] = {}

    @property
    def types(self) -> set[PointType]:
        """The point types that have at least one bound index."""
        return {t for t, slots in self.slots.items() if slots}

    def points(self) -> list[str]:
        return [s.point for slots in self.slots.values() for s in slots.values()]

    def slot(self, point_type: PointType, index: int) -> Slot | None:
        return self.slots[point_type].get(index)

    def _plan(self, point_type: PointType, indices: Sequence[int]) -> _Plan:
        if not isinstance(indices, range):
            return _Plan(self.slots[point_type], indices)
        key = (point_type, indices.start, indices.stop)
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) >= _MAX_PLANS:
                self._plans.clear()
            plan = self._plans[key] = _Plan(self.slots[point_type], indices)
        return plan

    def rows(self, runs: Sequence[ObjectRun], time_invalid: bool) -> Rows:
        """The bus rows of a fragment's runs; `time_invalid` when the outstation's clock is
        not synchronised (IIN1.4), so its time stamps are served with that bit."""
        rows = Rows()
        for run in runs:
            if not self.slots[run.point_type]:
                self.unbound += len(run.values)
                continue
            plan = self._plan(run.point_type, run.indices)
            self.unbound += len(run.values) - len(plan.points)
            if not plan.points:
                continue
            raws, flags, times = run.values, run.flags, run.times
            if not math.isfinite(sum(raws)):  # one test for the run: NaN and inf propagate
                rows.not_finite += [
                    point
                    for n, point in zip(plan.positions, plan.points, strict=True)
                    if not math.isfinite(raws[n])
                ]
                keep = [n for n, raw in enumerate(raws) if math.isfinite(raw)]
                plan = _Plan(self.slots[run.point_type], [run.indices[n] for n in keep])
                raws, flags = [raws[n] for n in keep], [flags[n] for n in keep]
                times = None if times is None else [times[n] for n in keep]
            if not plan.whole:
                positions = plan.positions
                raws = [raws[n] for n in positions]
                flags = [flags[n] for n in positions]
                times = None if times is None else [times[n] for n in positions]
            # Values without a time stamp are served with the timestamp-quality bit.
            table = QUALITY_TABLES[run.point_type, time_invalid or times is None]
            if plan.linear:
                pairs = zip(plan.a, plan.b, raws, strict=True)
                values: list[float | int] = [a * x + b for a, b, x in pairs]
                qualities = [table[f] for f in flags]
            else:
                values, qualities = _convert(plan.slots, raws, flags, table)
            rows.points += plan.points
            rows.values += values
            rows.qualities += qualities
            if times is None:
                rows.times += [None] * len(values)
            else:  # 0: the outstation had no time for the event
                rows.times += [ms / 1000.0 if ms else None for ms in times]
        return rows


def _convert(
    slots: Sequence[Slot],
    raws: Sequence[float | int],
    flags: Sequence[int],
    table: Sequence[Quality],
) -> tuple[list[float | int], list[Quality]]:
    """Values and qualities one by one: states, integers and normal-state checks."""
    values: list[float | int] = []
    qualities: list[Quality] = []
    for slot, raw, flag in zip(slots, raws, flags, strict=True):
        quality = table[flag]
        if slot.conversion == REAL:
            value: float | int = slot.a * raw + slot.b
        elif slot.conversion == DISCRETE:
            value = round(slot.a * raw + slot.b)
        else:
            states = slot.states
            assert states is not None
            value = states.state_of(int(raw))
            if states.normal is not None:
                quality = states.quality_for(State(value), quality)
        values.append(value)
        qualities.append(quality)
    return values, qualities


def bind(
    bindings: Iterable[MasterPoint], definitions: Mapping[str, PointDef]
) -> list[tuple[MasterPoint, PointDef]]:
    """Pair each binding with its bus definition (bindings of unknown points are left out)."""
    return [(b, definitions[b.point]) for b in bindings if b.point in definitions]
