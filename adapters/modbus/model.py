"""Settings of the Modbus adapters (sans-IO).

A binding says where a bus point lives in a device: table, address (0-based protocol
address), data type, word order, scale/offset and, for status points, a state table. Bindings
come from the adapter's YAML `points:` and/or a CSV `points_file` with the same columns
(`gateway.pointfiles`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from adapters.modbus.codec import (
    ADDRESS_SPACE,
    MAX_BITS_PER_READ,
    MAX_REGISTERS_PER_READ,
    DataType,
    Table,
    WordOrder,
)
from gateway.backoff import BackoffSettings
from gateway.mapping import OFF_ON, StateTable, parse_states, state_name
from gateway.pointfiles import load_points_csv, resolve_path
from gateway.points import State
from gateway.registry import AdapterSettings

StateName = Literal["between", "off", "on", "invalid"]


class _Layout(BaseModel):
    """Where a value sits in a device and how raw register contents map to the point."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    point: str
    table: Table = Table.HOLDING
    address: int = Field(ge=0, lt=ADDRESS_SPACE)
    type: DataType | None = Field(
        default=None, description="default: bool for bit tables, uint16 for registers"
    )
    order: WordOrder = WordOrder.ABCD
    bit: int | None = Field(default=None, ge=0, le=15, description="for type bit")
    scale: float = 1.0
    offset: float = 0.0
    states: dict[int, StateName] | None = None
    normal: StateName | None = None

    @field_validator("states", mode="before")
    @classmethod
    def _states(cls, value: Any) -> Any:
        return parse_states(value)

    @field_validator("normal", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return state_name(value)

    @model_validator(mode="after")
    def _check_layout(self) -> _Layout:
        dtype = self.dtype
        if self.table.is_bits != (dtype is DataType.BOOL):
            raise ValueError(
                f"type {dtype} does not fit table {self.table}: coils and discrete inputs "
                "hold bool, registers hold the other types"
            )
        if (dtype is DataType.BIT) != (self.bit is not None):
            raise ValueError("type bit needs `bit` (0-15), and only type bit takes it")
        if self.address + dtype.size > ADDRESS_SPACE:
            raise ValueError(f"a {dtype} at {self.address} runs past the address space")
        if self.scale == 0:
            raise ValueError("scale must not be 0")
        return self

    @property
    def dtype(self) -> DataType:
        """The data type, with the table's default applied."""
        if self.type is not None:
            return self.type
        return DataType.BOOL if self.table.is_bits else DataType.UINT16

    @property
    def state_table(self) -> StateTable:
        """The raw code -> state table of a status point (off/on by default)."""
        normal = None if self.normal is None else State[self.normal.upper()]
        if self.states is None:
            return StateTable(OFF_ON.codes, normal=normal)
        codes = {code: State[name.upper()] for code, name in self.states.items()}
        return StateTable(codes, normal=normal)


class ClientPoint(_Layout):
    """A point read (and optionally written) by a `modbus-client` adapter."""

    device: str | None = Field(default=None, description="default: the only device")
    group: str | None = Field(default=None, description="poll group; default: the device's")
    writable: bool | None = Field(default=None, description="default: true for coil/holding")
    verify: bool = Field(default=False, description="read back after a write")
    write: Literal["auto", "single", "multiple"] = "auto"

    @model_validator(mode="after")
    def _check_writable(self) -> ClientPoint:
        if self.writable and not self.table.is_writable:
            raise ValueError(f"table {self.table} is read-only in Modbus")
        if self.write == "single" and self.dtype.size > 1:
            raise ValueError(f"a {self.dtype} needs a multiple-register write")
        return self

    @property
    def is_writable(self) -> bool:
        return self.table.is_writable if self.writable is None else self.writable


class ServedPoint(_Layout):
    """A bus point exposed by a `modbus-server` adapter."""

    writable: bool = Field(default=False, description="Modbus writes become bus commands")

    @model_validator(mode="after")
    def _check_served(self) -> ServedPoint:
        if self.writable and not self.table.is_writable:
            raise ValueError(f"table {self.table} is read-only in Modbus")
        if self.dtype is DataType.BIT:
            raise ValueError("the server exposes whole registers; use a coil for a bit")
        return self


class Device(BackoffSettings):
    """One Modbus TCP device polled by a `modbus-client` adapter (its reconnect back-off:
    see `BackoffSettings`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
    host: str
    port: int = Field(default=502, ge=1, le=65535)
    unit: int = Field(default=1, ge=0, le=255, description="unit id (device_id)")
    timeout: float = Field(default=1.0, gt=0, description="per request (s)")
    recovery_interval: float = Field(
        default=1.0,
        gt=0,
        description="longest reconnect delay (s) while the device answered in the last "
        "10 minutes, so a device that comes back is polled again within about a second",
    )
    poll_interval: float = Field(default=1.0, gt=0, description="default poll group (s)")
    poll_groups: dict[str, float] = Field(default_factory=dict, description="name -> interval")
    max_gap: int = Field(default=0, ge=0, le=MAX_REGISTERS_PER_READ, description="merge holes")
    max_registers: int = Field(default=MAX_REGISTERS_PER_READ, ge=1, le=MAX_REGISTERS_PER_READ)
    max_bits: int = Field(default=MAX_BITS_PER_READ, ge=1, le=MAX_BITS_PER_READ)

    @field_validator("poll_groups")
    @classmethod
    def _positive_intervals(cls, value: dict[str, float]) -> dict[str, float]:
        for name, interval in value.items():
            if not interval > 0:
                raise ValueError(f"poll group {name!r}: interval must be > 0")
        return value

    @property
    def endpoint(self) -> tuple[str, int, int, float]:
        """What a connection depends on: a change here needs a new connection."""
        return (self.host, self.port, self.unit, self.timeout)


class ModbusClientSettings(AdapterSettings):
    """Settings of a `modbus-client` adapter: devices and point bindings.

    `points_file` names a CSV list of bindings (same columns as `points`), relative to the
    directory of the configuration file that names it.
    """

    devices: list[Device] = Field(min_length=1)
    points: list[ClientPoint] = Field(default_factory=list)
    points_file: str | None = None

    _file_points: list[ClientPoint] = PrivateAttr(default_factory=list)

    @model_validator(mode="after")
    def _load_and_check(self, info: ValidationInfo) -> ModbusClientSettings:
        if self.points_file:
            self._file_points = load_points_csv(resolve_path(self.points_file, info), ClientPoint)
        devices = {d.name: d for d in self.devices}
        if len(devices) != len(self.devices):
            raise ValueError("device names must be unique")
        problems = [
            problem for p in self.bindings if (problem := _check_binding(p, devices)) is not None
        ]
        seen: set[str] = set()
        for p in self.bindings:
            if p.point in seen:
                problems.append(f"point {p.point!r} is bound twice")
            seen.add(p.point)
        if problems:
            raise ValueError("; ".join(problems[:20]))
        return self

    @property
    def bindings(self) -> list[ClientPoint]:
        """Every binding: the YAML `points` then the `points_file` rows."""
        return [*self.points, *self._file_points]

    def device_of(self, binding: ClientPoint) -> Device:
        """The device a binding reads from."""
        if binding.device is None:
            return self.devices[0]
        return next(d for d in self.devices if d.name == binding.device)

    def owned_points(self) -> set[str]:
        return {p.point for p in self.bindings}


def _check_binding(p: ClientPoint, devices: dict[str, Device]) -> str | None:
    if p.device is None and len(devices) > 1:
        return f"point {p.point!r}: name its device (there are {len(devices)})"
    device = devices.get(p.device) if p.device is not None else next(iter(devices.values()))
    if device is None:
        return f"point {p.point!r}: unknown device {p.device!r}"
    if p.group is not None and p.group not in device.poll_groups:
        return f"point {p.point!r}: device {device.name} has no poll group {p.group!r}"
    return None


class ModbusServerSettings(AdapterSettings):
    """Settings of a `modbus-server` adapter: where it listens and which points it serves.

    `unit` 0 answers every unit id. `invalid_reads`: a read covering a point whose value is
    not valid (source lost, stale) is answered with exception 0x0B, gateway target failed to
    respond (`exception`, the default), or served with the last value (`last_value`).
    """

    host: str = "127.0.0.1"
    port: int = Field(default=5502, ge=1, le=65535)
    unit: int = Field(default=0, ge=0, le=255)
    invalid_reads: Literal["exception", "last_value"] = "exception"
    points: list[ServedPoint] = Field(default_factory=list)
    points_file: str | None = None

    _file_points: list[ServedPoint] = PrivateAttr(default_factory=list)

    @model_validator(mode="after")
    def _load_and_check(self, info: ValidationInfo) -> ModbusServerSettings:
        if self.points_file:
            self._file_points = load_points_csv(resolve_path(self.points_file, info), ServedPoint)
        used: dict[tuple[Table, int], str] = {}
        problems = []
        for p in self.served:
            for address in range(p.address, p.address + p.dtype.size):
                other = used.setdefault((p.table, address), p.point)
                if other != p.point:
                    problems.append(f"{p.table} {address} is used by {other} and {p.point}")
                    break
        if problems:
            raise ValueError("; ".join(problems[:20]))
        return self

    @property
    def served(self) -> list[ServedPoint]:
        """Every served point: the YAML `points` then the `points_file` rows."""
        return [*self.points, *self._file_points]

    def consumed_points(self) -> set[str]:
        return {p.point for p in self.served}
