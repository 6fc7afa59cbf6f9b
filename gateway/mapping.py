"""Bindings between an adapter's raw values and bus points.

A binding turns a raw field value into the point's engineering value on the way in (the
adapter's own scale/offset, then the ISN usage multiplier/adder of the point) and back on
the command path; state tables turn raw codes into TASE.2 states; quality maps turn a
source's own quality words into TASE.2 quality.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from gateway.bus import CommandError, CommandFailure, Value
from gateway.points import GOOD, NOT_VALID, PointDef, PointKind, Quality, Source, State


@dataclass(frozen=True, slots=True)
class Linear:
    """`a * x + b`, with its inverse for the command path."""

    a: float = 1.0
    b: float = 0.0

    def forward(self, raw: float) -> float:
        return self.a * raw + self.b

    def inverse(self, value: float) -> float:
        if self.a == 0:
            raise CommandError(
                CommandFailure.NOT_PERMITTED, "the point's multiplier is 0: no raw value maps to it"
            )
        return (value - self.b) / self.a

    def then(self, outer: Linear) -> Linear:
        """This map followed by `outer`, as one linear map."""
        return Linear(outer.a * self.a, outer.a * self.b + outer.b)


def usage_of(point: PointDef) -> Linear:
    """The ISN UsageMultiplier/UsageAdder of a point as a linear map."""
    return Linear(point.usage_multiplier, point.usage_adder)


@dataclass(frozen=True, slots=True)
class StateTable:
    """Raw codes -> TASE.2 states; codes not listed map to `default`.

    `normal` (optional) is the normal state: any other state sets the quality's
    NormalValue (abnormal) bit.
    """

    codes: Mapping[int, State]
    default: State = State.INVALID
    normal: State | None = None

    def state_of(self, raw: int) -> State:
        return self.codes.get(int(raw), self.default)

    def raw_of(self, state: State) -> int:
        """The raw code that commands `state` (the first listed), for the command path."""
        for code, listed in self.codes.items():
            if listed == state:
                return code
        raise CommandError(CommandFailure.INVALID_VALUE, f"no raw code for state {state.name}")

    def quality_for(self, state: State, quality: Quality) -> Quality:
        if self.normal is None:
            return quality
        return quality.replace(abnormal=state != self.normal)


OFF_ON = StateTable({0: State.OFF, 1: State.ON})
"""The usual single-bit status: 0 off/open, 1 on/closed."""


def state_name(value: object) -> object:
    """A configured state name in lower case; YAML 1.1 reads a bare on/off as a boolean."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return value.strip().lower() if isinstance(value, str) else value


def parse_states(value: object) -> object:
    """A configured state table: `{0: off, 1: on}` or the CSV form `0:off;1:on`, names in any
    case (for a pydantic `mode="before"` validator; the model checks the names)."""
    if isinstance(value, str):
        table: dict[str, str] = {}
        for pair in (p for p in value.replace(",", ";").split(";") if p.strip()):
            code, sep, name = pair.partition(":")
            if not sep:
                raise ValueError(f"state entry {pair.strip()!r} is not code:name")
            table[code.strip()] = name.strip()
        value = table
    if isinstance(value, dict):
        return {k: state_name(v) for k, v in value.items()}
    return value


QualityHook = Callable[[object], Quality]
"""Turns a source's own quality indication (a flag word, a status string...) into Quality."""


@dataclass(frozen=True, slots=True)
class QualityMap:
    """A table-driven quality hook: source quality codes -> TASE.2 quality.

    Codes not in the table map to `default` (not valid unless configured otherwise), so an
    unknown quality is never served as good.
    """

    table: Mapping[object, Quality] = field(default_factory=dict)
    default: Quality = NOT_VALID

    def __call__(self, code: object) -> Quality:
        return self.table.get(code, self.default)


@dataclass(frozen=True, slots=True)
class Binding:
    """How one raw field value feeds one point, and how a command goes back.

    `scale`/`offset` are the adapter's own conversion (register counts to units); the point's
    ISN usage multiplier/adder is applied after it. `source` overrides the TASE.2 current
    source (e.g. calculated) of every value this binding delivers.
    """

    point: PointDef
    scale: float = 1.0
    offset: float = 0.0
    states: StateTable | None = None
    source: Source | None = None

    @property
    def linear(self) -> Linear:
        return Linear(self.scale, self.offset).then(usage_of(self.point))

    def to_value(self, raw: float) -> Value:
        """The engineering value of a raw value."""
        kind = self.point.kind
        if kind is PointKind.STATE:
            table = self.states or OFF_ON
            return table.state_of(int(raw))
        value = self.linear.forward(raw)
        if kind is PointKind.DISCRETE:
            return round(value)
        return value

    def quality(self, value: Value, quality: Quality = GOOD) -> Quality:
        """The quality to publish `value` with, after this binding's overrides."""
        if self.source is not None:
            quality = quality.replace(source=self.source)
        if self.states is not None and self.point.kind is PointKind.STATE:
            quality = self.states.quality_for(State(int(value)), quality)
        return quality

    def to_raw(self, value: Value) -> float | int:
        """The raw value that commands `value`; raises CommandError when none does."""
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise CommandError(CommandFailure.INVALID_VALUE, f"{value!r} is not a finite number")
        if self.point.kind is PointKind.STATE:
            try:
                state = State(int(value))
            except ValueError:
                raise CommandError(
                    CommandFailure.INVALID_VALUE, f"{value!r} is not a state"
                ) from None
            return (self.states or OFF_ON).raw_of(state)
        raw = self.linear.inverse(float(value))
        if self.point.kind is PointKind.DISCRETE or self.states is not None:
            return round(raw)
        return raw


class LinearBatch:
    """Converts many raw values of real points at once for a fixed list of bindings.

    The hot path of a poller: one list comprehension, then `PointBus.update_many`.
    """

    __slots__ = ("_a", "_b", "points")

    def __init__(self, bindings: Sequence[Binding]) -> None:
        for binding in bindings:
            if binding.point.kind is not PointKind.REAL:
                raise ValueError(f"{binding.point.id}: only real points convert in a batch")
        self.points = [b.point.id for b in bindings]
        linears = [b.linear for b in bindings]
        self._a = [m.a for m in linears]
        self._b = [m.b for m in linears]

    def convert(self, raws: Sequence[float]) -> list[float]:
        """Engineering values of `raws`, in binding order."""
        return [a * x + b for a, b, x in zip(self._a, self._b, raws, strict=True)]


REAL, DISCRETE, STATE = 0, 1, 2
"""How a :class:`ScaledSlot` converts its raw values."""


class ScaledBinding(Protocol):
    """A binding with a raw scale and offset and, for a state point, a state table."""

    @property
    def scale(self) -> float: ...
    @property
    def offset(self) -> float: ...
    @property
    def state_table(self) -> StateTable: ...


class ScaledSlot:
    """One bound point of a poller (DNP3 master, SQL source): its bus id, its binding's
    scale and offset folded into the point's ISN a*x+b, and its state table."""

    __slots__ = ("a", "b", "binding", "conversion", "point", "states")

    def __init__(self, binding: ScaledBinding, defn: PointDef) -> None:
        self.binding = binding
        self.point = defn.id
        linear = usage_of(defn)
        self.a = linear.a * binding.scale
        self.b = linear.a * binding.offset + linear.b
        self.states: StateTable | None = None
        if defn.kind is PointKind.STATE:
            self.conversion = STATE
            self.states = binding.state_table
        elif defn.kind is PointKind.DISCRETE:
            self.conversion = DISCRETE
        else:
            self.conversion = REAL
