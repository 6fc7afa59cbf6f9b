"""The `modbus-server` adapter, read and written by a pymodbus client.

The client is pymodbus' synchronous client, run in a worker thread so that the gateway's
event loop (serving the requests) stays free.
"""

import asyncio
import contextlib

import pytest
from pymodbus.client import ModbusTcpClient

from adapters.modbus import ModbusServerAdapter, ModbusServerSettings
from gateway.bus import CommandError, CommandFailure, PointBus
from gateway.points import GOOD, PointDef, State
from tests.support import free_port, running

pytestmark = pytest.mark.timeout(30)

F32 = ModbusTcpClient.DATATYPE.FLOAT32

SERVED = [
    {"point": "MW", "table": "input", "address": 0, "type": "float32", "order": "CDAB"},
    {"point": "KV", "table": "holding", "address": 0, "scale": 0.01},
    {"point": "SP", "table": "holding", "address": 10, "type": "float32", "writable": True},
    {"point": "TAP", "table": "holding", "address": 12, "type": "int16", "writable": True},
    {"point": "BRK", "table": "coil", "address": 0, "writable": True},
    {"point": "ALARM", "table": "discrete_input", "address": 5},
]
DEFS = [
    PointDef(id="MW"),
    PointDef(id="KV"),
    PointDef(id="SP"),
    PointDef(id="TAP", kind="discrete"),
    PointDef(id="BRK", kind="state"),
    PointDef(id="ALARM", kind="state"),
]


class Field:
    """The owner of the points: records commands, refuses tap positions above 20."""

    def __init__(self, bus):
        self.bus = bus
        self.commands = []

    async def on_command(self, point, value):
        if point.id == "TAP" and value > 20:
            raise CommandError(CommandFailure.INVALID_VALUE, "tap range is 1..20")
        self.commands.append((point.id, value))
        self.bus.update(point.id, value, GOOD, 1.0)


@contextlib.asynccontextmanager
async def served(points=SERVED, **options):
    bus = PointBus()
    field = Field(bus)
    bus.add_owner("field", field.on_command)
    for d in DEFS:
        bus.register(d, "field")
    bus.update_many(["MW", "KV", "SP", "TAP"], [123.25, 231.5, 80.0, -3], GOOD, 1.0)
    bus.update_many(["BRK", "ALARM"], [State.ON, State.OFF], GOOD, 1.0)
    port = free_port()
    settings = ModbusServerSettings.model_validate({"port": port, "points": points, **options})
    adapter = ModbusServerAdapter("hmi", settings, bus)
    bus.add_owner("hmi")
    client = ModbusTcpClient("127.0.0.1", port=port, timeout=2)
    async with running(adapter):
        try:
            async with asyncio.timeout(5):
                while not await asyncio.to_thread(client.connect):
                    await asyncio.sleep(0.02)
            yield bus, field, client, adapter
        finally:
            client.close()


def call(client, method, *args, **kwargs):
    """Run one pymodbus client request in a worker thread."""
    return asyncio.to_thread(getattr(client, method), *args, **kwargs)


async def test_a_pymodbus_client_reads_points_in_their_types_and_orders():
    async with served() as (bus, _, client, _):
        mw = await call(client, "read_input_registers", 0, count=2, device_id=1)
        assert client.convert_from_registers(mw.registers, F32, word_order="little") == 123.25
        hr = await call(client, "read_holding_registers", 0, count=13, device_id=1)
        assert hr.registers[0] == 23150  # 231.5 / 0.01
        assert client.convert_from_registers(hr.registers[10:12], F32) == 80.0
        assert client.convert_from_registers(hr.registers[12:13], client.DATATYPE.INT16) == -3
        assert (await call(client, "read_coils", 0, count=1, device_id=1)).bits[0] is True
        assert (await call(client, "read_discrete_inputs", 5, count=1, device_id=1)).bits[
            0
        ] is False
        # a change on the bus is served at once
        bus.update("MW", -7.5, GOOD, 2.0)
        await asyncio.sleep(0.01)
        mw = await call(client, "read_input_registers", 0, count=2, device_id=1)
        assert client.convert_from_registers(mw.registers, F32, word_order="little") == -7.5
        past_the_end = await call(client, "read_holding_registers", 12, count=2, device_id=1)
        assert past_the_end.isError() and past_the_end.exception_code == 2


async def test_client_writes_become_bus_commands():
    async with served() as (_, field, client, adapter):
        regs = client.convert_to_registers(95.5, F32)
        assert not (await call(client, "write_registers", 10, regs, device_id=1)).isError()
        assert not (await call(client, "write_register", 12, 7, device_id=1)).isError()
        assert not (await call(client, "write_coil", 0, False, device_id=1)).isError()
        assert field.commands == [("SP", 95.5), ("TAP", 7), ("BRK", State.OFF)]
        hr = await call(client, "read_holding_registers", 10, count=3, device_id=1)
        assert client.convert_from_registers(hr.registers[:2], F32) == 95.5
        assert adapter.status()["writes"] == 3


async def test_refused_writes_answer_with_the_matching_modbus_exception():
    async with served() as (_, field, client, _):
        outcomes = {
            "read-only point": await call(client, "write_register", 0, 1, device_id=1),
            "half of a float": await call(client, "write_register", 10, 1, device_id=1),
            "nothing there": await call(client, "write_register", 500, 1, device_id=1),
            "refused by the owner": await call(client, "write_register", 12, 30, device_id=1),
        }
        assert {k: r.exception_code for k, r in outcomes.items()} == {
            "read-only point": 2,
            "half of a float": 2,
            "nothing there": 2,
            "refused by the owner": 3,
        }
        assert field.commands == []


def test_settings_reject_overlapping_addresses():
    with pytest.raises(ValueError, match="holding 1 is used by A and B"):
        ModbusServerSettings.model_validate(
            {
                "points": [
                    {"point": "A", "address": 0, "type": "float32"},
                    {"point": "B", "address": 1},
                ]
            }
        )


async def read_until(client, predicate, count=1, timeout=2.0):
    """Read holding registers from 0 until `predicate(response)` holds (bounded)."""
    async with asyncio.timeout(timeout):
        while not predicate(
            rr := await call(client, "read_holding_registers", 0, count=count, device_id=1)
        ):
            await asyncio.sleep(0.01)
    return rr


async def test_a_value_that_is_not_valid_is_never_served_as_a_good_number():
    async with served() as (bus, _, client, adapter):
        bus.owner_lost("field")  # the source of every point is gone
        lost = await read_until(client, lambda r: r.isError())
        assert lost.exception_code == 0x0B  # gateway target device failed to respond
        bus.update("KV", 230.0, GOOD, 2.0)  # KV valid again; SP (address 10) still lost
        assert (await read_until(client, lambda r: not r.isError())).registers == [23000]
        assert (await call(client, "read_holding_registers", 0, count=12, device_id=1)).isError()
        assert adapter.status()["refused_invalid_reads"] >= 2


async def test_last_value_mode_serves_values_whatever_their_quality():
    async with served(invalid_reads="last_value") as (bus, _, client, adapter):
        bus.owner_lost("field")
        await asyncio.sleep(0.05)  # let the server take the change in
        assert (await read_until(client, lambda r: not r.isError())).registers == [23150]
        assert adapter.status()["refused_invalid_reads"] == 0
