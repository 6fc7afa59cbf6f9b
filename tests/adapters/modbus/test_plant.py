"""The demo plant simulator: values move, set-points are followed, coils are mirrored."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.constants import ExcCodes

from adapters.modbus.codec import DataType, Table
from adapters.modbus.plant import ModbusPlantAdapter, PlantSettings, PlantValue
from gateway.bus import PointBus
from tests.support import free_port

pytestmark = pytest.mark.timeout(30)
F32 = AsyncModbusTcpClient.DATATYPE.FLOAT32


@contextlib.asynccontextmanager
async def plant_and_client(**settings: object) -> AsyncIterator[AsyncModbusTcpClient]:
    """A plant simulator on a free port, and a pymodbus client connected to it."""
    port = free_port()
    plant = ModbusPlantAdapter("plant", PlantSettings(port=port, **settings), PointBus())
    task = asyncio.create_task(plant.run())
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=2)
    try:
        async with asyncio.timeout(5):
            while not await client.connect():
                await asyncio.sleep(0.02)
        yield client
    finally:
        client.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_the_default_plant_moves_and_follows_what_clients_write():
    async with plant_and_client(interval=0.01, seed=1) as client:
        kv = [(await client.read_input_registers(0, count=1)).registers[0] for _ in range(5)]
        await asyncio.sleep(0.05)
        kv.append((await client.read_input_registers(0, count=1)).registers[0])
        assert len(set(kv)) > 1 and all(22900 <= v <= 23500 for v in kv)
        await client.write_registers(100, client.convert_to_registers(50.0, F32))
        await client.write_coil(0, False)
        async with asyncio.timeout(5):  # the unit ramps to its new set-point, 2 MW a tick
            while True:
                regs = (await client.read_holding_registers(0, count=2)).registers
                if abs(client.convert_from_registers(regs, F32) - 50.0) < 0.5:
                    break
                await asyncio.sleep(0.02)
        assert (await client.read_discrete_inputs(0, count=1)).bits[0] is False


def test_the_plant_holds_only_up_to_its_highest_address():
    settings = PlantSettings()
    assert settings.extent == 112  # the set-point registers 100-102, in whole 16-bit words
    plant = ModbusPlantAdapter("plant", settings, PointBus())
    assert [len(plant.memory.tables[t]) for t in Table] == [7, 7, 112, 112]
    far = [*settings.values, PlantValue(address=500, type=DataType.FLOAT32)]
    assert PlantSettings(values=far).extent == 512
    assert not plant.reconfigure(PlantSettings(values=far))  # a bigger map needs a restart
    assert plant.reconfigure(PlantSettings(values=settings.values[:2], interval=0.1))


async def test_a_read_past_the_plant_s_map_is_an_illegal_address():
    async with plant_and_client() as client:
        assert not (await client.read_holding_registers(100, count=12)).isError()
        past = await client.read_holding_registers(100, count=13)
        assert past.isError() and past.exception_code == ExcCodes.ILLEGAL_ADDRESS
        assert (await client.read_coils(1000, count=1)).isError()
