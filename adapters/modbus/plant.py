"""A Modbus TCP "plant": an in-process pymodbus server whose values move, for demos.

Adapter type `modbus-plant-sim`. It owns no points: it stands in for a field device that a
`modbus-client` adapter polls (the demo runs it on 127.0.0.1:5020). Each configured value
follows a signal (random walk, sine, step, toggle, constant) or `follow`s another address
(a unit ramping to its set-point, a breaker status mirroring its command coil). Clients may
write coils and holding registers; a written value sticks unless a signal moves it. Like a
real device's register map, the tables end after the highest configured address (rounded up
to 16): a request beyond gets ILLEGAL_ADDRESS, and the plant holds a few hundred registers,
not four times 65,536.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer

from adapters.base import Adapter
from adapters.modbus.codec import (
    ADDRESS_SPACE,
    DataType,
    Table,
    WordOrder,
    clamp_for,
    decode_value,
    encode_value,
    set_bit,
)
from adapters.modbus.server import TABLE_OF_FUNCTION, full_sim_device, listen
from gateway import signals
from gateway.bus import PointBus
from gateway.registry import AdapterSettings

log = logging.getLogger(__name__)

PlantSignal = Literal[signals.Shape, "follow"]


class PlantValue(BaseModel):
    """One simulated value: where it sits and how it moves."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    table: Table = Table.HOLDING
    address: int = Field(ge=0, lt=ADDRESS_SPACE)
    type: DataType | None = None
    order: WordOrder = WordOrder.ABCD
    signal: PlantSignal = "random_walk"
    min: float = 0.0
    max: float = 100.0
    initial: float | None = None
    step: float = Field(default=1.0, ge=0, description="walk step, step increment, ramp rate")
    period: float = Field(default=60.0, gt=0, description="sine period, step/toggle time (s)")
    follow_table: Table = Table.HOLDING
    follow_address: int | None = Field(default=None, ge=0, lt=ADDRESS_SPACE)

    @model_validator(mode="after")
    def _check(self) -> PlantValue:
        if self.table.is_bits != (self.dtype is DataType.BOOL) or self.dtype is DataType.BIT:
            raise ValueError(f"type {self.dtype} does not fit table {self.table}")
        if (self.signal == "follow") != (self.follow_address is not None):
            raise ValueError("signal follow needs follow_address, and only it takes one")
        if self.max < self.min:
            raise ValueError(f"max ({self.max}) is below min ({self.min})")
        return self

    @property
    def dtype(self) -> DataType:
        if self.type is not None:
            return self.type
        return DataType.BOOL if self.table.is_bits else DataType.UINT16


DEFAULT_PLANT: list[dict[str, Any]] = [
    # unit 2 output ramps to its set-point (holding 100) with some noise
    {"address": 0, "type": "float32", "signal": "follow", "follow_address": 100, "step": 2.0,
     "min": 0, "max": 300},
    {"address": 2, "type": "float32", "order": "CDAB", "signal": "sine", "min": -30, "max": 30,
     "period": 60},
    {"table": "input", "address": 0, "type": "uint16", "min": 22900, "max": 23500, "step": 10},
    {"table": "input", "address": 1, "type": "int32", "order": "BADC", "min": -80000,
     "max": 80000, "step": 2500},
    {"table": "input", "address": 3, "type": "uint16", "signal": "toggle", "period": 20},
    {"table": "input", "address": 10, "type": "float64", "order": "DCBA", "signal": "sine",
     "min": 59.95, "max": 60.05, "period": 30},
    {"address": 100, "type": "float32", "signal": "constant", "min": 0, "max": 300,
     "initial": 200},
    {"address": 102, "type": "uint16", "signal": "constant", "min": 1, "max": 33, "initial": 17},
    {"table": "coil", "address": 0, "signal": "constant", "min": 0, "max": 1, "initial": 1},
    {"table": "discrete_input", "address": 0, "signal": "follow", "follow_table": "coil",
     "follow_address": 0, "min": 0, "max": 1},
]  # fmt: skip
"""The demo plant: see mappings/modbus-points.csv for what each address means."""


class PlantSettings(AdapterSettings):
    """Settings of a `modbus-plant-sim` adapter."""

    host: str = "127.0.0.1"
    port: int = Field(default=5020, ge=1, le=65535)
    unit: int = Field(default=0, ge=0, le=255, description="0 answers every unit id")
    interval: float = Field(default=0.5, gt=0, description="how often values move (s)")
    seed: int | None = None
    values: list[PlantValue] = Field(
        default_factory=lambda: [PlantValue.model_validate(v) for v in DEFAULT_PLANT]
    )

    @property
    def extent(self) -> int:
        """How many addresses of each table the plant has: past its highest value or followed
        address, in whole 16-bit words (a device's map ends there; reads beyond are refused)."""
        end = 1
        for v in self.values:
            end = max(end, v.address + v.dtype.size)
            if v.follow_address is not None:
                size = 1 if v.follow_table.is_bits else v.dtype.size
                end = max(end, v.follow_address + size)
        return min(ADDRESS_SPACE, -(-end // 16) * 16)


class PlantMemory:
    """The plant's four tables of `extent` addresses; bits kept as 16-bit words, bit 0 first
    (sans-IO)."""

    def __init__(self, extent: int = ADDRESS_SPACE) -> None:
        self.extent = extent
        self.tables: dict[Table, list[int]] = {
            t: [0] * (-(-extent // 16) if t.is_bits else extent) for t in Table
        }

    def get(self, table: Table, address: int, dtype: DataType, order: WordOrder) -> float:
        words = self.tables[table]
        if table.is_bits:
            word, bit = divmod(address, 16)
            return (words[word] >> bit) & 1
        return float(decode_value(words[address : address + dtype.size], dtype, order))

    def put(self, table: Table, address: int, dtype: DataType, order: WordOrder, v: float) -> None:
        words = self.tables[table]
        if table.is_bits:
            word, bit = divmod(address, 16)
            words[word] = set_bit(words[word], bit, bool(v))
        else:
            words[address : address + dtype.size] = encode_value(clamp_for(v, dtype), dtype, order)

    def write(self, table: Table, address: int, values: list[int] | list[bool]) -> None:
        """Apply a client's write (bit addresses for bit tables)."""
        if table.is_bits:
            for i, on in enumerate(values):
                self.put(table, address + i, DataType.BOOL, WordOrder.ABCD, float(on))
        else:
            self.tables[table][address : address + len(values)] = [int(v) for v in values]

    def read_into(self, table: Table, start: int, address: int, count: int, out: list[int]) -> None:
        """Copy a read's range into pymodbus' registers (word counts for bit tables)."""
        words = self.tables[table]
        first = address // 16 if table.is_bits else address
        offset = first - start
        out[offset : offset + count] = words[first : first + count]


class ModbusPlantAdapter(Adapter):
    """Runs a simulated Modbus TCP plant whose values change; owns no points."""

    type_name = "modbus-plant-sim"
    Settings = PlantSettings
    listens = True
    settings: PlantSettings

    def __init__(self, name: str, settings: AdapterSettings, bus: PointBus) -> None:
        super().__init__(name, settings, bus)
        self.memory = PlantMemory(self.settings.extent)
        self._rng = random.Random(self.settings.seed)
        self._due: dict[int, float] = {}
        self._init_values()

    def _init_values(self) -> None:
        for v in self.settings.values:
            start = v.initial if v.initial is not None else self._rng.uniform(v.min, v.max)
            if v.dtype is not DataType.BOOL and not v.dtype.is_float:
                start = round(start)
            self.memory.put(v.table, v.address, v.dtype, v.order, start)

    def reconfigure(self, settings: AdapterSettings) -> bool:
        """New values and rates apply at once; a new host, port or unit id, or values past
        the plant's extent, need a restart."""
        assert isinstance(settings, PlantSettings)
        if (settings.host, settings.port, settings.unit) != (
            self.settings.host,
            self.settings.port,
            self.settings.unit,
        ) or settings.extent > self.memory.extent:
            return False
        self.settings = settings
        self._init_values()
        return True

    async def run(self) -> None:
        s = self.settings
        device = full_sim_device(s.unit, self._action, self.memory.extent)
        server = ModbusTcpServer(device, address=(s.host, s.port))
        await listen(server, s.host, s.port)
        self.listening()
        log.info("modbus plant simulator %s listening on %s:%d", self.name, s.host, s.port)
        start = time.monotonic()
        try:
            while True:
                self.tick(time.monotonic() - start)
                await asyncio.sleep(self.settings.interval)
        finally:
            await server.shutdown()  # type: ignore[no-untyped-call]

    def tick(self, elapsed: float) -> None:
        """Move every value one step (`elapsed`: seconds since start)."""
        for v in self.settings.values:
            current = self.memory.get(v.table, v.address, v.dtype, v.order)
            new = self._next(v, current, elapsed)
            if new is not None:
                self.memory.put(v.table, v.address, v.dtype, v.order, new)

    def _next(self, v: PlantValue, current: float, elapsed: float) -> float | None:
        match v.signal:
            case "random_walk":
                return signals.random_walk(current, v.min, v.max, v.step, self._rng)
            case "sine":
                return signals.sine(elapsed, v.min, v.max, v.period)
            case "step":
                return signals.staircase(elapsed, v.min, v.max, v.step, v.period)
            case "toggle":
                return float(int(elapsed / v.period) % 2)
            case "follow":
                return self._follow(v, current)
        return None  # constant: only clients change it

    def _follow(self, v: PlantValue, current: float) -> float:
        assert v.follow_address is not None
        ftype = DataType.BOOL if v.follow_table.is_bits else v.dtype
        target = self.memory.get(v.follow_table, v.follow_address, ftype, v.order)
        if v.table.is_bits or v.step == 0:
            return target
        moved = current + max(-v.step, min(v.step, target - current))
        return moved + self._rng.uniform(-0.05, 0.05) * v.step

    async def _action(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """pymodbus' data store hook: serve reads from, and apply writes to, the memory."""
        table = TABLE_OF_FUNCTION.get(function_code)
        if table is None:
            return ExcCodes.ILLEGAL_FUNCTION
        if values is not None:
            self.memory.write(table, address, values)
        self.memory.read_into(table, start_address, address, count, registers)
        return None

    def status(self) -> dict[str, Any]:
        s = self.settings
        return {"endpoint": f"{s.host}:{s.port}", "values": len(s.values)}
