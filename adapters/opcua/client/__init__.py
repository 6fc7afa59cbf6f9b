"""The `opcua-client` adapter: subscribes to a plant's OPC UA servers (asyncua, imported).

`settings` (the endpoints, security and point bindings) imports no asyncio; `adapter` is the
asyncio shell, `browse` the `iccp-gateway opcua browse` command. Names load on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adapters.opcua.client.adapter import OpcUaClientAdapter
    from adapters.opcua.client.settings import ClientPoint, OpcUaClientSettings

_MODULE_OF = {
    "ClientPoint": "settings",
    "OpcUaClientAdapter": "adapter",
    "OpcUaClientSettings": "settings",
}

__all__ = ["ClientPoint", "OpcUaClientAdapter", "OpcUaClientSettings"]


def __getattr__(name: str) -> Any:
    """Import the module that defines `name` when it is first asked for."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
