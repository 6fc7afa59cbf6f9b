"""The demo plant simulator: values move, set-points are followed, coils are mirrored."""

import asyncio

import pytest
from pymodbus.client import AsyncModbusTcpClient

from adapters.modbus.plant import ModbusPlantAdapter, PlantSettings
from gateway.bus import PointBus
from tests.support import free_port

pytestmark = pytest.mark.timeout(30)
F32 = AsyncModbusTcpClient.DATATYPE.FLOAT32


async def test_the_default_plant_moves_and_follows_what_clients_write():
    port = free_port()
    plant = ModbusPlantAdapter("plant", PlantSettings(port=port, interval=0.01, seed=1), PointBus())
    task = asyncio.create_task(plant.run())
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=2)
    try:
        async with asyncio.timeout(5):
            while not await client.connect():
                await asyncio.sleep(0.02)
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
    finally:
        client.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
