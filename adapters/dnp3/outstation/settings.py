"""Settings of the `dnp3-outstation` adapter: where it listens and which bus points it serves.

A served point says which bus point a DNP3 master sees at which point type and index, in
which event class, in which static variation, with which deadband, and whether a control on
it becomes a bus command. Points come from the YAML `points:` and/or a CSV `points_file`
with the same columns (`gateway.pointfiles`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, model_validator

from adapters.dnp3.flags import PointType
from gateway.pointfiles import load_points_csv, resolve_path
from gateway.points import PointDef, PointKind
from gateway.registry import AdapterSettings

MAX_ADDRESS = 0xFFEF
"""The highest DNP3 device address (the addresses above are the protocol's own)."""

STATIC_VARIATIONS: dict[PointType, tuple[int, ...]] = {
    PointType.BINARY_INPUT: (2,),  # g1v2, with flags (packed g1v1 carries no quality)
    PointType.DOUBLE_BIT: (2,),  # g3v2, with flags
    PointType.BINARY_OUTPUT: (2,),  # g10v2, output status with flags
    PointType.COUNTER: (1,),  # g20v1, 32-bit with flag
    PointType.FROZEN_COUNTER: (1, 5, 9),  # g21v1 with flag, v5 with time, v9 without flag
    PointType.ANALOG_INPUT: (5, 1, 2, 3, 4),  # g30v5 float with flag first (the default)
    PointType.ANALOG_OUTPUT: (3, 1, 2),  # g40v3 float with flag first (the default)
}
"""The static variations served for each point type; the first is the default."""

EVENT_TYPES = frozenset({PointType.BINARY_INPUT, PointType.ANALOG_INPUT, PointType.FROZEN_COUNTER})
"""The point types whose changes py1815's session can report as events (groups 2, 32, 23)."""

WRITABLE_TYPES = frozenset({PointType.BINARY_OUTPUT, PointType.ANALOG_OUTPUT})
"""The point types a master controls: CROBs (group 12) and analog outputs (group 41)."""


class ServedPoint(BaseModel):
    """One bus point served to the master: type, index, class, variation, deadband, control.

    `event_class` 0 serves the point in static reads only; its default is 1 for the types
    whose changes become events and 0 for the others. `variation` is the static variation
    (default g30v5 float for analog inputs, g40v3 for analog outputs). `deadband` (analogs)
    is in the point's own units. `writable` lets a CROB (binary-output) or an analog output
    (analog-output) become a bus command; `pulse` says which state a pulse CROB commands.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    point: str
    type: PointType
    index: int = Field(ge=0, le=0xFFFF)
    event_class: int | None = Field(default=None, ge=0, le=3)
    variation: int | None = None
    deadband: float = Field(default=0.0, ge=0)
    writable: bool = False
    pulse: Literal["on", "off"] | None = None

    @model_validator(mode="after")
    def _check(self) -> ServedPoint:
        allowed = STATIC_VARIATIONS[self.type]
        if self.variation is not None and self.variation not in allowed:
            listed = ", ".join(f"{self.type.static_group}v{v}" for v in allowed)
            raise ValueError(
                f"{self.point}: variation {self.variation} is not served for {self.type} "
                f"(use one of {listed})"
            )
        if self.event_class and self.type not in EVENT_TYPES:
            raise ValueError(
                f"{self.point}: {self.type} points are served in static reads only "
                "(py1815 reports events of binary inputs, analog inputs and frozen counters): "
                "set event_class 0"
            )
        if self.deadband and self.type not in (PointType.ANALOG_INPUT, PointType.ANALOG_OUTPUT):
            raise ValueError(f"{self.point}: a deadband applies to analog points only")
        if self.writable and self.type not in WRITABLE_TYPES:
            raise ValueError(
                f"{self.point}: only binary-output and analog-output points are writable"
            )
        if self.pulse is not None and self.type is not PointType.BINARY_OUTPUT:
            raise ValueError(f"{self.point}: pulse applies to binary-output points only")
        return self

    @property
    def static_variation(self) -> int:
        """The static variation served (the configured one, else the type's default)."""
        return STATIC_VARIATIONS[self.type][0] if self.variation is None else self.variation

    @property
    def events(self) -> int:
        """The event class (0: none), the configured one or the type's default."""
        if self.event_class is not None:
            return self.event_class
        return 1 if self.type in EVENT_TYPES else 0


class Dnp3OutstationSettings(AdapterSettings):
    """Settings of a `dnp3-outstation` adapter: the listener, the link addresses, the session.

    `command_timeout` bounds how long a control waits for the owner's outcome; keep it below
    the master's response time-out (5 s for opendnp3) so the master hears the real status.
    `max_fragment` is the largest request and response fragment; `analog_event_variation`
    is the group 32 variation of analog events (1, 2: without time; 3 int32, 4 int16 with
    time). `unsolicited` lets the master enable unsolicited responses.
    """

    host: str = "127.0.0.1"
    port: int = Field(default=20000, ge=1, le=65535)
    outstation_address: int = Field(default=1024, ge=0, le=MAX_ADDRESS)
    master_address: int = Field(default=1, ge=0, le=MAX_ADDRESS)
    unsolicited: bool = False
    select_timeout: float = Field(default=10.0, gt=0, le=3600)
    command_timeout: float = Field(default=4.0, gt=0, le=60)
    max_fragment: int = Field(default=2048, ge=256, le=65535)
    analog_event_variation: int = Field(default=3, ge=1, le=4)
    event_buffer: int = Field(default=1000, ge=1, le=100_000)
    idle_timeout: float = Field(default=300.0, gt=0)
    points: list[ServedPoint] = Field(default_factory=list)
    points_file: str | None = None

    _file_points: list[ServedPoint] = PrivateAttr(default_factory=list)

    @model_validator(mode="after")
    def _load_and_check(self, info: ValidationInfo) -> Dnp3OutstationSettings:
        if self.outstation_address == self.master_address:
            raise ValueError(
                f"outstation_address and master_address are both {self.master_address}; "
                "the two ends of an association have different addresses"
            )
        if self.points_file:
            self._file_points = load_points_csv(resolve_path(self.points_file, info), ServedPoint)
        used: dict[tuple[PointType, int], str] = {}
        problems = []
        for p in self.served:
            other = used.setdefault((p.type, p.index), p.point)
            if other != p.point:
                problems.append(f"{p.type} index {p.index} is used by {other} and {p.point}")
        if problems:
            raise ValueError("; ".join(problems[:20]))
        return self

    @property
    def served(self) -> list[ServedPoint]:
        """Every served point: the YAML `points` then the `points_file` rows."""
        return [*self.points, *self._file_points]

    def consumed_points(self) -> set[str]:
        return {p.point for p in self.served}

    def check(self, points: Mapping[str, PointDef]) -> list[str]:
        """Warnings about points served as a type that does not fit their bus kind, and
        about real points whose events would lose their fractions."""
        warnings = []
        for p in self.served:
            defn = points.get(p.point)
            if defn is None:
                continue
            if p.type.is_binary and defn.kind is not PointKind.STATE:
                warnings.append(
                    f"{p.point} is a {defn.kind} point served as {p.type}: non-zero reads as on"
                )
            elif not p.type.is_binary and defn.kind is PointKind.STATE:
                warnings.append(
                    f"{p.point} is a state point served as {p.type}: the master reads the "
                    "state code (0 between, 1 off, 2 on, 3 invalid)"
                )
            elif (
                p.type in (PointType.COUNTER, PointType.FROZEN_COUNTER)
                and defn.kind is PointKind.REAL
            ):
                warnings.append(f"{p.point} is a real point served as {p.type}: fractions drop")
            elif p.type is PointType.ANALOG_INPUT and p.events and defn.kind is PointKind.REAL:
                warnings.append(
                    f"{p.point} is a real point served as {p.type} in event class {p.events}: "
                    "its events carry the value rounded to a whole number, flagged ONLINE "
                    "(12.7 goes out as 13; py1815 has no float analog events); "
                    "event_class 0 serves it in static reads only, as a float"
                )
        return warnings

    def session_key(self) -> tuple[object, ...]:
        """What the listener and the DNP3 session are built from (a change needs a restart)."""
        return (
            self.host,
            self.port,
            self.outstation_address,
            self.master_address,
            self.unsolicited,
            self.select_timeout,
            self.command_timeout,
            self.max_fragment,
            self.analog_event_variation,
            self.event_buffer,
            self.idle_timeout,
        )


__all__ = ["Dnp3OutstationSettings", "ServedPoint"]
