"""The `opcua-server` adapter: bus points served as OPC UA variables (asyncua, imported).

`settings` and `tree` are sans-IO; `values` maps bus values to DataValues; `adapter` is the
asyncio shell. The names below are imported on first use, so that loading the settings does
not import asyncua's server.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adapters.opcua.server.adapter import OpcuaServerAdapter
    from adapters.opcua.server.settings import OpcuaServerSettings, ServedEntry, UserEntry
    from adapters.opcua.server.tree import FolderPlan

_MODULE_OF = {
    "FolderPlan": "tree",
    "OpcuaServerAdapter": "adapter",
    "OpcuaServerSettings": "settings",
    "ServedEntry": "settings",
    "UserEntry": "settings",
}

__all__ = ["FolderPlan", "OpcuaServerAdapter", "OpcuaServerSettings", "ServedEntry", "UserEntry"]


def __getattr__(name: str) -> Any:
    """Import the module that defines `name` when it is first asked for."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
