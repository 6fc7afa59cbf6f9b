"""The ``tase2-server`` adapter: serves bus points to ICCP peers through a :class:`Tase2Server`.

Bus binding: **one every-change subscription** to the points some bilateral table serves.
Every-change, not coalesced, because a transfer set with AllChangesReported must report
each change, repeats included; the transfer engine itself keeps only the latest value per
point for ordinary RBE, so nothing is lost either way and no second subscription is needed.
Each drained batch goes to :meth:`Tase2Server.on_changes` (the engine marks the points
through its per-point index) and what became due is sent at once.

A peer's Write to a writable point, and an operate of a device (Block 5), becomes
``bus.command`` and is answered with the DataAccessError of :data:`COMMAND_ERRORS` for the
owner's typed failure. Messages on the bus's message stream (Block 4) are sent to the
associations that enabled ``IM_Transfer_Set``.

Table changes while running are applied in place (:meth:`Tase2ServerAdapter.reconfigure`);
only the listen address, identity, PDU size and limits need a restart. Points that appear
or vanish on the bus are picked up every ``refresh_period`` seconds (globs re-resolved).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any, ClassVar, Final

from adapters.base import Adapter
from adapters.tase2.mms.data import DataAccessError
from adapters.tase2.server.bilateral import (
    BilateralConfigError,
)
from adapters.tase2.server.settings import Tase2ServerSettings
from adapters.tase2.server.shell import Tase2Server
from gateway.bus import BusError, CommandFailure, PointBus, Subscription
from gateway.points import PointKind, PointValue
from gateway.registry import AdapterSettings

__all__ = ["COMMAND_ERRORS", "Tase2ServerAdapter"]

log = logging.getLogger(__name__)

COMMAND_ERRORS: Final[dict[CommandFailure, DataAccessError]] = {
    CommandFailure.NOT_PERMITTED: DataAccessError.OBJECT_ACCESS_DENIED,
    CommandFailure.NOT_SELECTED: DataAccessError.TEMPORARILY_UNAVAILABLE,
    CommandFailure.BUSY: DataAccessError.TEMPORARILY_UNAVAILABLE,
    CommandFailure.TIMEOUT: DataAccessError.HARDWARE_FAULT,
    CommandFailure.DEVICE_FAILURE: DataAccessError.HARDWARE_FAULT,
    CommandFailure.INVALID_VALUE: DataAccessError.OBJECT_VALUE_INVALID,
    CommandFailure.UNKNOWN_POINT: DataAccessError.OBJECT_NON_EXISTENT,
}
"""The Write answer for each typed command failure of the bus."""


class _BusSource:
    """The point bus as the server's :class:`~adapters.tase2.server.shell.PointSource`."""

    def __init__(self, bus: PointBus) -> None:
        self.bus = bus
        self._kinds: dict[str, PointKind] | None = None

    def kinds(self) -> Mapping[str, PointKind]:
        """id -> kind of every point on the bus (cached until :meth:`invalidate`)."""
        if self._kinds is None:
            bus = self.bus
            self._kinds = {p: bus.definition(p).kind for p in bus.snapshot()}
        return self._kinds

    def invalidate(self) -> None:
        """Forget the cached kinds (the bus's points may have changed)."""
        self._kinds = None

    def current(self, point: str) -> PointValue | None:
        """The point's latest value, None when it left the bus."""
        try:
            return self.bus.get(point)
        except BusError:
            return None

    async def command(self, point: str, value: float | int, origin: str) -> DataAccessError | None:
        """A peer's Write as a bus command, answered with the owner's outcome."""
        result = await self.bus.command(point, value, origin=origin)
        if result.ok:
            return None
        assert result.failure is not None
        return COMMAND_ERRORS.get(result.failure, DataAccessError.HARDWARE_FAULT)


class Tase2ServerAdapter(Adapter):
    """Serves bus points as a TASE.2 server (Blocks 1, 2, 4, 5) with bilateral tables."""

    type_name: ClassVar[str] = "tase2-server"
    Settings: ClassVar[type[AdapterSettings]] = Tase2ServerSettings
    settings: Tase2ServerSettings
    listens: ClassVar[bool] = True

    def __init__(self, name: str, settings: AdapterSettings, bus: PointBus) -> None:
        super().__init__(name, settings, bus)
        self._source = _BusSource(bus)
        self.server: Tase2Server | None = None
        self._subscription: Subscription | None = None
        self._served: frozenset[str] = frozenset()
        self._overflow_seen = 0
        self._resubscribe = False

    def _new_server(self) -> Tase2Server:
        s = self.settings
        return Tase2Server(
            self._source,
            s.tables,
            vcc_points=s.vcc_points,
            vcc_data_sets=s.vcc_data_sets,
            limits=s.limits,
            host=s.host,
            port=s.port,
            ap_title=s.ap_title,
            ae_qualifier=s.ae_qualifier,
            max_pdu_size=s.max_pdu_size,
        )

    async def run(self) -> None:
        """Serve until cancelled: listen, follow the bus, keep the views current."""
        self._source.invalidate()
        server = self._new_server()
        await server.start()
        self.server = server
        self.listening()
        log.info(
            "%s: TASE.2 server on %s:%d, AP-title %s AE-qualifier %s, %d bilateral tables",
            self.name,
            self.settings.host,
            server.port,
            self.settings.ap_title,
            self.settings.ae_qualifier,
            len(self.settings.tables),
        )
        messages = asyncio.create_task(self._pump_messages(server), name=f"{self.name}-messages")
        try:
            self._subscribe(server)
            next_refresh = time.monotonic() + self.settings.refresh_period
            while True:
                sub = self._subscription
                assert sub is not None
                changes = await sub.wait(timeout=1.0)
                if changes:
                    server.on_changes(changes)
                self._check_overflow(sub)
                if time.monotonic() >= next_refresh:
                    next_refresh = time.monotonic() + self.settings.refresh_period
                    self._source.invalidate()
                    if server.refresh_points():
                        self._resubscribe = True
                if self._resubscribe:
                    self._subscribe(server)
        finally:
            messages.cancel()
            await asyncio.gather(messages, return_exceptions=True)
            if self._subscription is not None:
                self._subscription.close()
                self._subscription = None
            self.server = None
            await server.stop()

    async def _pump_messages(self, server: Tase2Server) -> None:
        """Send every message of the bus's message stream (except our own) to the peers."""
        sub = self.bus.subscribe_messages(maxlen=1000, name=self.name)
        seen = 0
        try:
            while True:
                for message in await sub.wait():
                    if message.origin != self.name:
                        server.send_message(message)
                if sub.overflow > seen:
                    log.warning(
                        "%s: %d information messages dropped (buffer full)",
                        self.name,
                        sub.overflow - seen,
                    )
                    seen = sub.overflow
        finally:
            sub.close()

    def _subscribe(self, server: Tase2Server) -> None:
        """(Re)subscribe to exactly the points the tables serve."""
        self._resubscribe = False
        served = frozenset(server.served_points())
        if self._subscription is not None and served == self._served:
            return
        old = self._subscription
        self._subscription = self.bus.subscribe(
            served, every=True, maxlen=self.settings.subscription_buffer, name=self.name
        )
        self._served = served
        self._overflow_seen = 0
        if old is not None:
            server.on_changes(old.drain())
            old.close()

    def _check_overflow(self, sub: Subscription) -> None:
        if sub.overflow > self._overflow_seen:
            log.warning(
                "%s: %d point changes were dropped (the subscription buffer of %d was full); "
                "AllChangesReported transfer sets missed them",
                self.name,
                sub.overflow - self._overflow_seen,
                sub.maxlen,
            )
            self._overflow_seen = sub.overflow

    async def stop(self) -> None:
        """Nothing to release beyond what ``run()`` cleans up."""

    def reconfigure(self, settings: AdapterSettings) -> bool:
        """Apply table, VCC-point and VCC-data-set changes in place (only their peers'
        associations, or the transfer sets using a changed data set, are touched); a new
        address, identity, PDU size or limits needs a restart (False).

        A table that cannot be compiled against the bus (a type that cannot carry a point)
        is logged and the running tables are kept.
        """
        assert isinstance(settings, Tase2ServerSettings)
        if self.settings.restart_needed(settings):
            return False
        server = self.server
        if server is not None:
            try:
                changed = server.set_tables(settings.tables, settings.vcc_points)
            except BilateralConfigError as exc:
                log.error(
                    "%s: new bilateral tables refused, keeping the old ones: %s", self.name, exc
                )
                return True
            if changed:
                log.info("%s: bilateral tables changed: %s", self.name, ", ".join(changed))
            touched = server.set_vcc_data_sets(settings.vcc_data_sets)
            if touched:
                log.info(
                    "%s: VCC data sets changed: %s",
                    self.name,
                    ", ".join(n.item for n in touched),
                )
            self._resubscribe = True
        self.settings = settings
        return True

    def status(self) -> dict[str, Any]:
        """Associations, transfer sets, reports and the subscription's backlog."""
        out: dict[str, Any] = {"listening": self.server is not None}
        if self.server is not None:
            out.update(self.server.status())
            out["port"] = self.server.port
        if self._subscription is not None:
            out["changes_dropped"] = self._subscription.overflow
        return out
