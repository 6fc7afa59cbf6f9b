"""The adapter registry: adapter classes found by their `type` name.

This is the gateway's only global state. Adapter packages declare their classes as entry
points in the group `iccp_gateway.adapters` (see pyproject.toml); tests and plug-ins may
also `register()` a class directly. The core never imports an adapter module by name.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

from gateway.bus import PointBus, Value
from gateway.points import PointDef

ENTRY_POINT_GROUP = "iccp_gateway.adapters"


class AdapterSettings(BaseModel):
    """Base of every adapter's settings model: what a config entry may say about it.

    Subclasses say which points the adapter owns (publishes, and receives commands for) and
    which it consumes (reads from the bus).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    def owned_points(self) -> set[str]:
        return set()

    def consumed_points(self) -> set[str]:
        return set()

    def check(self, points: Mapping[str, PointDef]) -> list[str]:
        """Warnings about settings that validate but cannot work with these points (e.g. a
        pattern that selects none); `iccp-gateway check` and reloads report them."""
        return []

    def parts(self) -> dict[str, set[str]]:
        """Named parts a reload may remove, by kind (e.g. ``{"table": {ids}}``), so that a
        reload removing one is reported."""
        return {}


class Adapter(Protocol):
    """What the runtime needs of a running adapter (see `adapters.base.Adapter`)."""

    name: str
    settings: AdapterSettings
    listens: ClassVar[bool]
    ready: asyncio.Event  # set by a listening adapter's run() once bound

    async def run(self) -> None: ...

    async def stop(self) -> None: ...

    async def on_command(self, point: PointDef, value: Value) -> None: ...

    def reconfigure(self, settings: AdapterSettings) -> bool: ...

    def status(self) -> dict[str, Any]: ...


class AdapterClass(Protocol):
    """An adapter class: its `type` name, its settings model, whether it serves a port,
    and its constructor."""

    type_name: ClassVar[str]
    Settings: ClassVar[type[AdapterSettings]]
    listens: ClassVar[bool]

    def __call__(self, name: str, settings: Any, bus: PointBus) -> Adapter: ...

    def listens_with(self, settings: Any) -> bool: ...


class UnknownAdapterType(LookupError):
    """A config names an adapter `type` that no installed package provides."""


class AdapterRegistry:
    """Adapter classes by `type` name, each loaded from its entry point on first use.

    Only the entry point of a type a config names is loaded, so a gateway imports the
    libraries (pymodbus, paho-mqtt...) of the adapters it runs and no others.
    """

    def __init__(self, group: str = ENTRY_POINT_GROUP) -> None:
        self._group = group
        self._classes: dict[str, AdapterClass] = {}
        self._entry_points: dict[str, EntryPoint] | None = None

    def register(self, cls: AdapterClass) -> AdapterClass:
        """Add (or replace) an adapter class; usable as a class decorator."""
        self._classes[cls.type_name] = cls
        return cls

    def get(self, type_name: str) -> AdapterClass:
        """The class of `type_name`, importing its package the first time; raises
        UnknownAdapterType when no package provides it or its package cannot be imported."""
        cls = self._classes.get(type_name)
        if cls is not None:
            return cls
        ep = self._declared().get(type_name)
        if ep is None:
            raise UnknownAdapterType(
                f"unknown adapter type {type_name!r} (known: {', '.join(self.names()) or 'none'})"
            )
        try:
            loaded: AdapterClass = ep.load()
        except ImportError as exc:
            raise UnknownAdapterType(
                f"adapter type {type_name!r} cannot be loaded from {ep.value}: {exc}"
            ) from None
        self._classes[type_name] = loaded
        return loaded

    def names(self) -> list[str]:
        """Every known type name, registered or declared, without importing any adapter."""
        return sorted(self._classes.keys() | self._declared().keys())

    def _declared(self) -> dict[str, EntryPoint]:
        if self._entry_points is None:
            self._entry_points = {ep.name: ep for ep in entry_points(group=self._group)}
        return self._entry_points


REGISTRY = AdapterRegistry()
