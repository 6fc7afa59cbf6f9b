"""Settings of the `dnp3-master` adapter: outstations, polls and point bindings (sans-IO).

A binding says where a bus point lives in an outstation: point type and index, the adapter's
scale/offset for numbers or a state table for binaries and, for outputs, how a bus command
is sent (CROB latch/pulse/trip-close, select-before-operate or direct; analog output width).
Bindings come from the adapter's YAML `points:` and/or a CSV `points_file` with the same
columns (`gateway.pointfiles`).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, model_validator

from adapters.dnp3.flags import PointType
from gateway.backoff import BackoffSettings
from gateway.mapping import StateTable, parse_states, state_name
from gateway.pointfiles import load_points_csv, resolve_path
from gateway.points import PointDef, PointKind, State
from gateway.registry import AdapterSettings

StateName = Literal["between", "off", "on", "invalid"]
MAX_FRAGMENT_LIMIT = 1 << 24


class ControlMode(enum.StrEnum):
    """How a command is sent: select-before-operate, or a direct operate."""

    SELECT = "select"
    DIRECT = "direct"


class Operation(enum.StrEnum):
    """What a CROB asks of a binary output for a bus state (ON / OFF).

    latch: LATCH_ON / LATCH_OFF. pulse: PULSE_ON for either (the outstation decides what a
    pulse does), ON only where `pulse_state` is set. trip-close: CLOSE (ON) / TRIP (OFF)
    with PULSE_ON, the usual breaker control.
    """

    LATCH = "latch"
    PULSE = "pulse"
    TRIP_CLOSE = "trip-close"


class OutputType(enum.StrEnum):
    """The analog output object a bus command is sent as (group 41 variation)."""

    INT32 = "int32"  # g41v1
    INT16 = "int16"  # g41v2
    FLOAT32 = "float32"  # g41v3
    FLOAT64 = "float64"  # g41v4

    @property
    def variation(self) -> int:
        return _OUTPUT_VARIATION[self]


_OUTPUT_VARIATION = {
    OutputType.INT32: 1,
    OutputType.INT16: 2,
    OutputType.FLOAT32: 3,
    OutputType.FLOAT64: 4,
}


class MasterPoint(BaseModel):
    """A point read (and, for outputs, commanded) by a `dnp3-master` adapter."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    point: str
    outstation: str | None = Field(default=None, description="default: the only outstation")
    type: PointType
    index: int = Field(ge=0, le=0xFFFF)
    scale: float = 1.0
    offset: float = 0.0
    states: dict[int, StateName] | None = Field(
        default=None,
        description="raw state code -> state; default 0:off;1:on (double-bit: "
        "0:between;1:off;2:on;3:invalid)",
    )
    normal: StateName | None = None
    writable: bool = False
    control: ControlMode = ControlMode.SELECT
    operation: Operation = Operation.LATCH
    pulse_state: StateName | None = Field(
        default=None, description="operation pulse: the state a pulse commands"
    )
    on_time_ms: int = Field(default=0, ge=0, le=0xFFFFFFFF)
    off_time_ms: int = Field(default=0, ge=0, le=0xFFFFFFFF)
    count: int = Field(default=1, ge=1, le=255)
    output: OutputType = OutputType.FLOAT32

    @model_validator(mode="before")
    @classmethod
    def _lower(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            if "states" in data:
                data["states"] = parse_states(data["states"])
            for key in ("normal", "pulse_state"):
                if key in data:
                    data[key] = state_name(data[key])
            for key in ("type", "control", "operation", "output"):
                if isinstance(data.get(key), str):
                    data[key] = data[key].strip().lower()
        return data

    @model_validator(mode="after")
    def _check(self) -> MasterPoint:
        if self.writable and self.type not in (PointType.BINARY_OUTPUT, PointType.ANALOG_OUTPUT):
            raise ValueError(
                f"a {self.type} is read-only in DNP3; commands go to binary-output or "
                "analog-output points"
            )
        if self.scale == 0:
            raise ValueError("scale must not be 0")
        if self.states is not None and not self.type.is_binary:
            raise ValueError(f"states apply to binary points, not to a {self.type}")
        return self

    @property
    def state_table(self) -> StateTable:
        """Raw state code -> bus state (single-bit 0 off / 1 on; double-bit DNP3's codes)."""
        normal = None if self.normal is None else State[self.normal.upper()]
        if self.states is not None:
            codes = {code: State[name.upper()] for code, name in self.states.items()}
        elif self.type is PointType.DOUBLE_BIT:
            codes = {code: State(code) for code in range(4)}
        else:
            codes = {0: State.OFF, 1: State.ON}
        return StateTable(codes, normal=normal)


class Outstation(BackoffSettings):
    """One outstation polled by a `dnp3-master` adapter (its reconnect back-off: see
    `BackoffSettings`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
    host: str
    port: int = Field(default=20000, ge=1, le=65535)
    master_address: int = Field(default=1, ge=0, le=0xFFEF)
    outstation_address: int = Field(default=1024, ge=0, le=0xFFEF)
    link_timeout: float = Field(
        default=5.0, gt=0, description="TCP connect, and the answer to a link status request (s)"
    )
    response_timeout: float = Field(
        default=5.0, gt=0, description="application layer: a response or its next fragment (s)"
    )
    keep_alive: float = Field(
        default=30.0, gt=0, description="silence (s) after which the link status is asked"
    )
    integrity_interval: float | None = Field(
        default=600.0, gt=0, description="integrity poll period (s); always one at connect"
    )
    event_interval: float | None = Field(
        default=1.0, gt=0, description="class 1, 2 and 3 event poll period (s); none: off"
    )
    class_intervals: dict[int, float] = Field(
        default_factory=dict, description="a class's own event poll period (s)"
    )
    unsolicited: bool = Field(default=True, description="enable unsolicited responses")
    time_sync: bool = Field(default=True, description="LAN time sync when IIN1.4 asks")
    max_fragment: int = Field(
        default=65536, ge=249, le=MAX_FRAGMENT_LIMIT, description="largest response fragment"
    )
    static_variations: dict[PointType, int] = Field(
        default_factory=dict,
        description="read these types by variation in the integrity poll, e.g. analog-input: 5",
    )
    event_variations: dict[PointType, int] = Field(
        default_factory=dict,
        description="read these types' events by variation, e.g. analog-input: 7 (with time)",
    )

    @model_validator(mode="after")
    def _check(self) -> Outstation:
        if self.master_address == self.outstation_address:
            raise ValueError("master_address and outstation_address must differ")
        for cls, interval in self.class_intervals.items():
            if cls not in (1, 2, 3) or not interval > 0:
                raise ValueError(f"class_intervals: {cls}: classes are 1-3, intervals > 0")
        for kind, table in (("static", self.static_variations), ("event", self.event_variations)):
            for point_type, variation in table.items():
                if not 0 <= variation <= 255:
                    raise ValueError(f"{kind}_variations: {point_type}: variation {variation}")
        return self

    def class_interval(self, cls: int) -> float | None:
        """The event poll period of a class (None: not polled)."""
        return self.class_intervals.get(cls, self.event_interval)

    @property
    def endpoint(self) -> tuple[str, int, int, int]:
        """What a connection depends on: a change here needs a new connection."""
        return (self.host, self.port, self.master_address, self.outstation_address)


class Dnp3MasterSettings(AdapterSettings):
    """Settings of a `dnp3-master` adapter: outstations and point bindings.

    `points_file` names a CSV list of bindings (same columns as `points`), relative to the
    directory of the configuration file that names it.
    """

    outstations: list[Outstation] = Field(min_length=1)
    points: list[MasterPoint] = Field(default_factory=list)
    points_file: str | None = None

    _file_points: list[MasterPoint] = PrivateAttr(default_factory=list)

    @model_validator(mode="after")
    def _load_and_check(self, info: ValidationInfo) -> Dnp3MasterSettings:
        if self.points_file:
            self._file_points = load_points_csv(resolve_path(self.points_file, info), MasterPoint)
        names = [o.name for o in self.outstations]
        if len(set(names)) != len(names):
            raise ValueError("outstation names must be unique")
        problems: list[str] = []
        seen: dict[str, str] = {}
        where: dict[tuple[str, PointType, int], str] = {}
        for p in self.bindings:
            if p.outstation is None and len(names) > 1:
                problems.append(f"point {p.point!r}: name its outstation (there are {len(names)})")
                continue
            outstation = p.outstation or names[0]
            if outstation not in names:
                problems.append(f"point {p.point!r}: unknown outstation {p.outstation!r}")
                continue
            if p.point in seen:
                problems.append(f"point {p.point!r} is bound twice")
            seen[p.point] = outstation
            other = where.setdefault((outstation, p.type, p.index), p.point)
            if other != p.point:
                problems.append(
                    f"{outstation} {p.type} {p.index} is bound to both {other!r} and {p.point!r}"
                )
        if problems:
            raise ValueError("; ".join(problems[:20]))
        return self

    @property
    def bindings(self) -> list[MasterPoint]:
        """Every binding: the YAML `points` then the `points_file` rows."""
        return [*self.points, *self._file_points]

    def outstation_of(self, binding: MasterPoint) -> Outstation:
        """The outstation a binding belongs to."""
        if binding.outstation is None:
            return self.outstations[0]
        return next(o for o in self.outstations if o.name == binding.outstation)

    def owned_points(self) -> set[str]:
        return {p.point for p in self.bindings}

    def check(self, points: Mapping[str, PointDef]) -> list[str]:
        """Warnings about bindings whose DNP3 type does not fit the point's bus kind."""
        warnings = []
        for p in self.bindings:
            defn = points.get(p.point)
            if defn is None:
                continue
            if p.type.is_binary and defn.kind is not PointKind.STATE:
                warnings.append(
                    f"{p.point} is a {defn.kind} point bound to a {p.type}: it gets the raw "
                    "state code (0/1, double-bit 0-3), scaled"
                )
            elif not p.type.is_binary and defn.kind is PointKind.STATE:
                warnings.append(
                    f"{p.point} is a state point bound to a {p.type}: bind a binary type, or "
                    "make the point real or discrete"
                )
        return warnings
