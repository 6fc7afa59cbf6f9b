"""The `modbus-server` adapter: serves bus points to Modbus clients (HMIs, PLCs).

Chosen points are encoded into holding/input registers, coils and discrete inputs in their
configured types and orders. A Modbus write on a writable point becomes a bus command; the
write is acknowledged only if the command succeeds, otherwise the client gets the matching
Modbus exception. The register image is ours (`ServedImage`, sans-IO); pymodbus only carries
the requests, through the data store's `action` hook.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Sequence
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType as SimType
from pymodbus.simulator import SimData, SimDevice
from pymodbus.simulator.simdevice import SimAction

from adapters.base import Adapter
from adapters.modbus.codec import (
    ADDRESS_SPACE,
    Table,
    clamp_for,
    decode_value,
    encode_value,
    set_bit,
)
from adapters.modbus.model import ModbusServerSettings, ServedPoint
from gateway.bus import CommandFailure, CommandResult, PointBus, Subscription, Value
from gateway.mapping import Linear
from gateway.points import PointKind, PointValue
from gateway.registry import AdapterSettings

log = logging.getLogger(__name__)

TABLE_OF_FUNCTION = {
    1: Table.COIL,
    5: Table.COIL,
    15: Table.COIL,
    2: Table.DISCRETE_INPUT,
    3: Table.HOLDING,
    6: Table.HOLDING,
    16: Table.HOLDING,
    22: Table.HOLDING,
    23: Table.HOLDING,
    4: Table.INPUT,
}
EXCEPTION_OF_FAILURE = {
    CommandFailure.NOT_PERMITTED: ExcCodes.ILLEGAL_ADDRESS,
    CommandFailure.UNKNOWN_POINT: ExcCodes.ILLEGAL_ADDRESS,
    CommandFailure.INVALID_VALUE: ExcCodes.ILLEGAL_VALUE,
    CommandFailure.BUSY: ExcCodes.DEVICE_BUSY,
    CommandFailure.NOT_SELECTED: ExcCodes.ILLEGAL_FUNCTION,
    CommandFailure.TIMEOUT: ExcCodes.GATEWAY_NO_RESPONSE,
    CommandFailure.DEVICE_FAILURE: ExcCodes.DEVICE_FAILURE,
}


class WriteRejected(Exception):
    """A Modbus write that cannot be applied; `code` is the exception to answer with."""

    def __init__(self, code: ExcCodes, detail: str) -> None:
        super().__init__(detail)
        self.code = code


def raw_of_value(sp: ServedPoint, kind: PointKind, value: Value) -> float | int:
    """The raw register value that serves a bus value (states through the state table)."""
    if kind is PointKind.STATE:
        table = sp.state_table
        for code, state in table.codes.items():
            if state == value:
                return code
        return 0
    return clamp_for(Linear(sp.scale, sp.offset).inverse(float(value)), sp.dtype)


def value_of_raw(sp: ServedPoint, kind: PointKind, raw: float | int) -> Value:
    """The bus value a client's raw write stands for."""
    if kind is PointKind.STATE:
        return sp.state_table.state_of(int(raw))
    value = Linear(sp.scale, sp.offset).forward(float(raw))
    return round(value) if kind is PointKind.DISCRETE else value


def full_sim_device(unit: int, action: SimAction, size: int = ADDRESS_SPACE) -> SimDevice:
    """A pymodbus device spanning addresses 0 to `size` - 1 of all four tables (by default
    the whole address space; pymodbus keeps two Python lists of that length per table).

    The contents are ours: `action` fills every read and sees every write, so address
    checks and point changes need no new device.
    """
    registers = [SimData(0, count=size, values=0, datatype=SimType.REGISTERS)]
    bits = [SimData(0, values=[False] * size, datatype=SimType.BITS)]
    return SimDevice(id=unit, simdata=(bits, list(bits), registers, list(registers)), action=action)


class ServedImage:
    """The served contents of one table and which point sits at each address (sans-IO).

    Bits are kept as 16-bit words, bit 0 first, as pymodbus stores them.
    """

    def __init__(self, table: Table, points: Sequence[ServedPoint]) -> None:
        self.table = table
        self.extent = max((p.address + p.dtype.size for p in points), default=0)
        self.words = [0] * (((self.extent + 15) // 16) if table.is_bits else self.extent)
        self.at: list[ServedPoint | None] = [None] * self.extent
        for p in points:
            for a in range(p.address, p.address + p.dtype.size):
                self.at[a] = p
        self.not_good: set[str] = {p.point for p in points}  # nothing valid served yet

    def mark(self, sp: ServedPoint, good: bool) -> None:
        """Record whether the point's current value is valid (Modbus itself has no quality)."""
        if good:
            self.not_good.discard(sp.point)
        else:
            self.not_good.add(sp.point)

    def covers_not_good(self, address: int, count: int) -> bool:
        """Whether a read of `count` addresses from `address` includes a point not valid."""
        if not self.not_good:
            return False
        return any(
            sp is not None and sp.point in self.not_good
            for sp in self.at[address : address + count]
        )

    def store(self, sp: ServedPoint, raw: float | int) -> None:
        """Put one point's raw value into the image."""
        if self.table.is_bits:
            word, bit = divmod(sp.address, 16)
            self.words[word] = set_bit(self.words[word], bit, bool(raw))
        else:
            self.words[sp.address : sp.address + sp.dtype.size] = encode_value(
                raw, sp.dtype, sp.order
            )

    def written(self, address: int, values: Sequence[int | bool]) -> list[tuple[ServedPoint, Any]]:
        """The points a write covers with the raw values it gives them.

        Raises WriteRejected for an address that holds no writable point or a write that
        covers only part of a multi-register value.
        """
        end = address + len(values)
        if end > self.extent:
            raise WriteRejected(ExcCodes.ILLEGAL_ADDRESS, f"{self.table} {address}..{end - 1}")
        out: list[tuple[ServedPoint, Any]] = []
        a = address
        while a < end:
            sp = self.at[a]
            if sp is None or not sp.writable:
                raise WriteRejected(ExcCodes.ILLEGAL_ADDRESS, f"{self.table} {a} is not writable")
            size = sp.dtype.size
            if sp.address != a or a + size > end:
                raise WriteRejected(
                    ExcCodes.ILLEGAL_ADDRESS, f"write covers part of {sp.point} ({self.table} {a})"
                )
            chunk = values[a - address : a - address + size]
            raw: Any = (
                int(bool(chunk[0]))
                if self.table.is_bits
                else decode_value([int(v) for v in chunk], sp.dtype, sp.order)
            )
            out.append((sp, raw))
            a += size
        return out

    def fill(self, start_address: int, address: int, count: int, registers: list[int]) -> bool:
        """Copy the image into pymodbus' registers for a read; False if out of range.

        For bit tables `address` is a bit address and `count` a number of 16-bit words.
        """
        if self.table.is_bits:
            if address >= self.extent:
                return False
            first = address // 16
            for i in range(count):
                word = first + i
                registers[word - start_address] = self.words[word] if word < len(self.words) else 0
            return True
        if address + count > self.extent:
            return False
        offset = address - start_address
        registers[offset : offset + count] = self.words[address : address + count]
        return True


async def listen(server: ModbusTcpServer, host: str, port: int) -> None:
    """Start a pymodbus server listening, or raise OSError naming host:port and why."""
    try:
        await server.serve_forever(background=True)
    except RuntimeError:  # pymodbus logs the OSError and raises this, without the address
        raise OSError(f"cannot listen on {host}:{port}: {_bind_error(host, port)}") from None


def _bind_error(host: str, port: int) -> str:
    """Why binding host:port fails (pymodbus keeps the reason to itself)."""
    try:
        with socket.create_server((host, port)):
            return "not available"
    except OSError as exc:
        return os.strerror(exc.errno) if exc.errno else str(exc)


class ModbusServerAdapter(Adapter):
    """Serves bus points over Modbus TCP; client writes become bus commands."""

    type_name = "modbus-server"
    Settings = ModbusServerSettings
    listens = True
    settings: ModbusServerSettings

    def __init__(self, name: str, settings: AdapterSettings, bus: PointBus) -> None:
        super().__init__(name, settings, bus)
        self._sub: Subscription | None = None
        self.reads = 0
        self.writes = 0
        self.rejected = 0
        self.invalid_reads = 0
        self._build()

    def _build(self) -> None:
        served = self.settings.served
        self._images = {t: ServedImage(t, [p for p in served if p.table is t]) for t in Table}
        self._by_point: dict[str, list[ServedPoint]] = {}
        for sp in served:
            self._by_point.setdefault(sp.point, []).append(sp)

    def reconfigure(self, settings: AdapterSettings) -> bool:
        """Points change in place; a new host, port or unit id needs a restart."""
        assert isinstance(settings, ModbusServerSettings)
        old = self.settings
        if (settings.host, settings.port, settings.unit) != (old.host, old.port, old.unit):
            return False
        self.settings = settings
        self._build()
        if self._sub is not None:
            self._sub.close()
            self._sub = self._subscribe()
        return True

    def _subscribe(self) -> Subscription:
        points = list(self._by_point)
        sub = self.bus.subscribe(points, name=self.name)
        present = [p for p in points if p in self.bus]
        for pv in self.bus.snapshot(present).values():
            self._store(pv)
        return sub

    def _kind(self, point: str) -> PointKind:
        """The point's kind on the bus (real while it is not registered)."""
        return self.bus.definition(point).kind if point in self.bus else PointKind.REAL

    def _store(self, pv: PointValue) -> None:
        kind = self._kind(pv.point)
        good = pv.quality.is_good
        for sp in self._by_point.get(pv.point, ()):
            image = self._images[sp.table]
            image.store(sp, raw_of_value(sp, kind, pv.value))
            image.mark(sp, good)

    async def run(self) -> None:
        s = self.settings
        server = ModbusTcpServer(full_sim_device(s.unit, self._action), address=(s.host, s.port))
        await listen(server, s.host, s.port)
        self.listening()
        log.info("modbus server %s listening on %s:%d", self.name, s.host, s.port)
        self._sub = self._subscribe()
        try:
            while True:
                sub = self._sub
                for pv in await sub.wait(timeout=1.0):
                    self._store(pv)
        finally:
            if self._sub is not None:
                self._sub.close()
                self._sub = None
            await server.shutdown()  # type: ignore[no-untyped-call]

    async def _action(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """pymodbus' data store hook: fill reads from the image, turn writes into commands."""
        table = TABLE_OF_FUNCTION.get(function_code)
        if table is None:
            return ExcCodes.ILLEGAL_FUNCTION
        image = self._images[table]
        try:
            if values is not None:
                await self._write(image, address, values)
                self.writes += 1
        except WriteRejected as exc:
            self.rejected += 1
            log.debug("modbus server %s rejected a write: %s", self.name, exc)
            return exc.code
        except Exception:  # a bug must not kill the connection handler
            log.exception("modbus server %s failed on a write", self.name)
            return ExcCodes.DEVICE_FAILURE
        self.reads += values is None
        if not image.fill(start_address, address, count, registers):
            return ExcCodes.ILLEGAL_ADDRESS
        span = count * 16 if table.is_bits else count
        if (
            values is None
            and self.settings.invalid_reads == "exception"
            and image.covers_not_good(address, span)
        ):
            # A value that is not valid (source lost, stale) is never served as a good
            # number: answer as a gateway whose target did not respond.
            self.invalid_reads += 1
            return ExcCodes.GATEWAY_NO_RESPONSE
        return None

    async def _write(self, image: ServedImage, address: int, values: Sequence[int | bool]) -> None:
        writes = image.written(address, values)
        for sp, raw in writes:
            kind = self._kind(sp.point)
            value = value_of_raw(sp, kind, raw)
            result = await self.bus.command(sp.point, value, origin=f"{self.name} (modbus)")
            _raise_unless_ok(result)
            image.store(sp, raw_of_value(sp, kind, value))

    def status(self) -> dict[str, Any]:
        return {
            "points": len(self._by_point),
            "reads": self.reads,
            "writes": self.writes,
            "rejected_writes": self.rejected,
            "refused_invalid_reads": self.invalid_reads,
        }


def _raise_unless_ok(result: CommandResult) -> None:
    if not result.ok:
        assert result.failure is not None
        code = EXCEPTION_OF_FAILURE.get(result.failure, ExcCodes.DEVICE_FAILURE)
        raise WriteRejected(code, f"{result.point}: {result.failure} {result.detail}")


__all__ = ["ModbusServerAdapter", "ServedImage", "full_sim_device", "raw_of_value", "value_of_raw"]
