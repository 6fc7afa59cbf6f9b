"""The Adapter contract: what every protocol adapter implements for the runtime."""

from __future__ import annotations

import abc
import asyncio
from typing import Any, ClassVar

from gateway.bus import CommandError, CommandFailure, PointBus, Value
from gateway.points import PointDef
from gateway.registry import AdapterSettings


class Adapter(abc.ABC):
    """Base class of adapters: one configured connection to a protocol or system.

    The runtime constructs it with its validated settings and the bus, declares it as the
    owner of `settings.owned_points()`, and supervises `run()`: `run()` works until it is
    cancelled; if it raises, the runtime marks the adapter's points not valid and calls it
    again after a back-off. Commands for owned points arrive at `on_command`.

    An adapter that serves a port sets `listens` (on the class; or, when its settings
    decide, e.g. a client that waits to be called, it overrides `listens_with`); its
    `run()` calls `listening()` once bound. At start-up the runtime waits for that, and a
    first `run()` that fails before it (a port in use) stops the gateway instead of being
    retried.
    """

    type_name: ClassVar[str]
    Settings: ClassVar[type[AdapterSettings]] = AdapterSettings
    listens: bool = False

    def __init__(self, name: str, settings: AdapterSettings, bus: PointBus) -> None:
        self.name = name
        self.settings = settings
        self.bus = bus
        self.ready = asyncio.Event()
        self.listens = self.listens_with(settings)

    @classmethod
    def listens_with(cls, settings: AdapterSettings) -> bool:
        """Whether an adapter with `settings` serves a port (the runtime starts those first)."""
        return cls.listens

    def listening(self) -> None:
        """Say that `run()` is now bound and serving (for an adapter that `listens`)."""
        self.ready.set()

    @abc.abstractmethod
    async def run(self) -> None:
        """Do the adapter's work until cancelled; raise to report a failure."""

    async def stop(self) -> None:  # noqa: B027 - optional hook
        """Release resources after `run()` has been cancelled."""

    async def on_command(self, point: PointDef, value: Value) -> None:
        """Apply a command to an owned point; raise CommandError on failure."""
        raise CommandError(CommandFailure.NOT_PERMITTED, f"{self.name} takes no commands")

    def reconfigure(self, settings: AdapterSettings) -> bool:
        """Apply changed settings in place and return True, or return False to be restarted."""
        return False

    def status(self) -> dict[str, Any]:
        """What the adapter is doing, for operators (JSON-friendly)."""
        return {}
