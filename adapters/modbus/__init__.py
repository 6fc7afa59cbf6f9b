"""Modbus TCP adapters on pymodbus 3.16: `modbus-client` (poller) and `modbus-server`.

The sans-IO parts (register codecs, read planning, settings and CSV point lists) live in
`codec`, `plan` and `model`; `client` and `server` are the thin asyncio shells.
"""

from adapters.modbus.client import ModbusClientAdapter
from adapters.modbus.codec import DataType, Table, WordOrder
from adapters.modbus.model import (
    ClientPoint,
    Device,
    ModbusClientSettings,
    ModbusServerSettings,
    ServedPoint,
)
from adapters.modbus.server import ModbusServerAdapter

__all__ = [
    "ClientPoint",
    "DataType",
    "Device",
    "ModbusClientAdapter",
    "ModbusClientSettings",
    "ModbusServerAdapter",
    "ModbusServerSettings",
    "ServedPoint",
    "Table",
    "WordOrder",
]
