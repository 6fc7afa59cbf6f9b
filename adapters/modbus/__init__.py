"""Modbus TCP adapters on pymodbus 3.16: `modbus-client` (poller) and `modbus-server`.

The sans-IO parts (register codecs, read planning, settings and CSV point lists) live in
`codec`, `plan` and `model`; `client` and `server` are the thin asyncio shells.

The names below are imported on first use: a gateway that only polls (`modbus-client`)
never imports the server shell and pymodbus's server and simulator (~0.5 MB resident).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_MODULE_OF = {
    "ClientPoint": "model",
    "DataType": "codec",
    "Device": "model",
    "ModbusClientAdapter": "client",
    "ModbusClientSettings": "model",
    "ModbusServerAdapter": "server",
    "ModbusServerSettings": "model",
    "ServedPoint": "model",
    "Table": "codec",
    "WordOrder": "codec",
}

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


def __getattr__(name: str) -> Any:
    """Import the module that defines `name` when it is first asked for."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
