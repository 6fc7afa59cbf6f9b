"""A simulator adapter: points that move by themselves, for demos, tests and benchmarks.

Each point follows a signal (random walk, sine, step, state toggle or constant) at its own
rate and with a configured quality, through the same raw -> value binding a field adapter
uses. Commands set the simulated raw value, as a device would.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from adapters.base import Adapter
from gateway import signals
from gateway.bus import CommandError, CommandFailure, PointBus, Value
from gateway.mapping import Binding
from gateway.points import PointDef, PointKind, Quality, Source, Validity, now
from gateway.registry import AdapterSettings


class SimPoint(BaseModel):
    """One simulated point: its signal shape, range, rate and quality."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    point: str
    signal: signals.Shape = "random_walk"
    min: float = 0.0
    max: float = 100.0
    step: float = Field(default=1.0, ge=0, description="random walk step or step increment")
    period: float = Field(default=60.0, gt=0, description="sine period, toggle/step time (s)")
    interval: float | None = Field(default=None, gt=0, description="update rate (s)")
    scale: float = 1.0
    offset: float = 0.0
    validity: Literal["valid", "held", "suspect", "not_valid"] = "valid"
    source: Literal["telemetered", "calculated", "entered", "estimated"] = "telemetered"
    writable: bool = True

    @model_validator(mode="after")
    def _check_range(self) -> SimPoint:
        if self.max < self.min:
            raise ValueError(f"max ({self.max}) is below min ({self.min})")
        return self

    @property
    def quality(self) -> Quality:
        return Quality(Validity[self.validity.upper()], Source[self.source.upper()])


class SimSettings(AdapterSettings):
    """Settings of a `sim` adapter."""

    interval: float = Field(default=1.0, gt=0, description="default update rate (s)")
    seed: int | None = None
    points: list[SimPoint] = Field(default_factory=list)

    def owned_points(self) -> set[str]:
        return {p.point for p in self.points}


class _Signal:
    """The running state of one simulated point."""

    __slots__ = ("binding", "due", "raw", "spec")

    def __init__(self, spec: SimPoint, defn: PointDef, rng: random.Random) -> None:
        self.spec = spec
        self.binding = Binding(defn, spec.scale, spec.offset)
        self.raw = spec.min if spec.signal == "toggle" else rng.uniform(spec.min, spec.max)
        self.due = 0.0

    def advance(self, t: float, rng: random.Random) -> None:
        spec = self.spec
        match spec.signal:
            case "random_walk":
                self.raw = signals.random_walk(self.raw, spec.min, spec.max, spec.step, rng)
            case "sine":
                self.raw = signals.sine(t, spec.min, spec.max, spec.period)
            case "step":
                self.raw = signals.staircase(t, spec.min, spec.max, spec.step, spec.period)
            case "toggle":
                self.raw = 0 if self.raw else 1
            case "constant":
                pass


class SimAdapter(Adapter):
    """Publishes simulated values; commands set them."""

    type_name = "sim"
    Settings = SimSettings
    settings: SimSettings

    def __init__(self, name: str, settings: AdapterSettings, bus: PointBus) -> None:
        super().__init__(name, settings, bus)
        self._rng = random.Random(self.settings.seed)
        self._signals: dict[str, _Signal] = {}
        self._commands = 0
        self._build()

    def _build(self) -> None:
        old = self._signals
        self._signals = {}
        for spec in self.settings.points:
            signal = _Signal(spec, self.bus.definition(spec.point), self._rng)
            if spec.point in old and old[spec.point].spec.signal == spec.signal:
                signal.raw = old[spec.point].raw
            self._signals[spec.point] = signal

    def reconfigure(self, settings: AdapterSettings) -> bool:
        """Changed points and rates take effect at once; no restart needed."""
        assert isinstance(settings, SimSettings)
        self.settings = settings
        self._build()
        return True

    async def run(self) -> None:
        start = time.monotonic()
        while True:
            t = time.monotonic()
            self._tick(t - start, t)
            nxt = min((s.due for s in self._signals.values()), default=t + self.settings.interval)
            await asyncio.sleep(max(0.0, nxt - time.monotonic()))

    def _tick(self, elapsed: float, t: float) -> None:
        ts = now()
        for point, signal in self._signals.items():
            if signal.due > t:
                continue
            spec = signal.spec
            rate = spec.period if spec.signal == "toggle" else spec.interval
            signal.due = t + (rate or self.settings.interval)
            signal.advance(elapsed, self._rng)
            self._publish(point, signal, ts)

    def _publish(self, point: str, signal: _Signal, ts: float) -> None:
        value = signal.binding.to_value(signal.raw)
        self.bus.update(point, value, signal.binding.quality(value, signal.spec.quality), ts)

    async def on_command(self, point: PointDef, value: Value) -> None:
        signal = self._signals.get(point.id)
        if signal is None:
            raise CommandError(CommandFailure.NOT_PERMITTED, f"{self.name} does not simulate it")
        if not signal.spec.writable:
            raise CommandError(CommandFailure.NOT_PERMITTED, f"{point.id} is read-only")
        raw = signal.binding.to_raw(value)
        if point.kind is not PointKind.STATE and not signal.spec.min <= raw <= signal.spec.max:
            raise CommandError(
                CommandFailure.INVALID_VALUE,
                f"{value!r} is outside {signal.spec.min}..{signal.spec.max} (raw {raw!r})",
            )
        signal.raw = raw
        self._commands += 1
        self._publish(point.id, signal, now())

    def status(self) -> dict[str, Any]:
        return {"points": len(self._signals), "commands": self._commands}
