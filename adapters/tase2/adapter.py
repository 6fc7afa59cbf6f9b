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
import re
import time
from collections.abc import Mapping
from typing import Any, ClassVar, Final

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from adapters.base import Adapter
from adapters.tase2.bilateral import (
    BilateralConfigError,
    BilateralTableConfig,
    PointRule,
    check_tables,
    is_pattern,
)
from adapters.tase2.datasets import VccDataSetConfig
from adapters.tase2.mms.data import DataAccessError
from adapters.tase2.server import ServerLimits, Tase2Server
from gateway.bus import BusError, CommandFailure, PointBus, Subscription
from gateway.points import PointKind, PointValue
from gateway.registry import AdapterSettings

__all__ = ["COMMAND_ERRORS", "LimitSettings", "Tase2ServerAdapter", "Tase2ServerSettings"]

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

_OID = re.compile(r"[0-2](\.(0|[1-9][0-9]*))+")


class LimitSettings(BaseModel):
    """Resource limits (see :class:`~adapters.tase2.server.ServerLimits`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_associations: int = Field(default=32, ge=1, le=1024)
    transfer_sets: int = Field(default=10, ge=1, le=999, description="per ICC domain")
    data_set_size: int = Field(default=2000, ge=1, description="members per data set")
    critical_timeout: float = Field(default=5.0, gt=0)
    max_buffered_changes: int = Field(default=10_000, ge=1)
    max_queued_reports: int = Field(default=2000, ge=1)
    message_buffer_size: int = Field(default=1024, ge=16, le=60_000)

    def to_limits(self) -> ServerLimits:
        """The server's limits."""
        return ServerLimits(
            max_associations=self.max_associations,
            transfer_sets_per_domain=self.transfer_sets,
            max_data_set_size=self.data_set_size,
            critical_timeout=self.critical_timeout,
            max_buffered_changes=self.max_buffered_changes,
            max_queued_reports=self.max_queued_reports,
            message_buffer_size=self.message_buffer_size,
        )


class Tase2ServerSettings(AdapterSettings):
    """Settings of a ``tase2-server`` adapter.

    ``tables`` are the bilateral tables (id, ICC domain, peer identity, points by id or glob
    with read/write rights and point type); ``vcc_points`` are VCC-scope points every peer
    sees (a table's own rule for the same point wins); ``vcc_data_sets`` are VMD-scope data
    sets (name, members: report-only special names and point ids) every peer sees and may
    name in a DSTransferSet (DataSetName scope 0), if its table lets it read every point.
    """

    host: str = "127.0.0.1"
    port: int = Field(default=102, ge=0, le=65535)
    ap_title: str | None = None
    ae_qualifier: int | None = None
    max_pdu_size: int = Field(default=65000, ge=1024, le=1_000_000)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    vcc_points: tuple[PointRule, ...] = ()
    vcc_data_sets: tuple[VccDataSetConfig, ...] = ()
    tables: tuple[BilateralTableConfig, ...] = ()
    subscription_buffer: int = Field(default=200_000, ge=1000)
    refresh_period: float = Field(default=5.0, gt=0)

    @field_validator("ap_title")
    @classmethod
    def _check_ap_title(cls, value: str | None) -> str | None:
        if value is not None and not _OID.fullmatch(value.strip()):
            raise ValueError(f"AP-title {value!r} is not a dotted OID like 1.1.1.999.1")
        return None if value is None else value.strip()

    @field_validator("vcc_points")
    @classmethod
    def _vcc_scope(cls, value: tuple[PointRule, ...]) -> tuple[PointRule, ...]:
        return tuple(r.model_copy(update={"scope": "vcc"}) for r in value)

    @model_validator(mode="after")
    def _check_tables(self) -> Tase2ServerSettings:
        try:
            check_tables(self.tables)
        except BilateralConfigError as exc:
            raise ValueError(str(exc)) from None
        names = [d.name for d in self.vcc_data_sets]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"VCC data set names used twice: {', '.join(twice)}")
        return self

    def consumed_points(self) -> set[str]:
        """Every point named exactly by a table or the VCC list (globs are resolved against
        the bus at run time, so they cannot be listed here)."""
        rules = [*self.vcc_points, *(r for t in self.tables for r in t.points)]
        out = {r.match for r in rules if not is_pattern(r.match)}
        for ds in self.vcc_data_sets:
            out |= ds.point_ids()
        for t in self.tables:
            for d in t.devices:
                out.add(d.point)
                if d.status_point is not None:
                    out.add(d.status_point)
        return out

    def restart_needed(self, other: Tase2ServerSettings) -> bool:
        """True when going to ``other`` needs a new listening server (not just new tables)."""
        keep = ("host", "port", "ap_title", "ae_qualifier", "max_pdu_size", "limits")
        return any(getattr(self, k) != getattr(other, k) for k in keep)


class _BusSource:
    """The point bus as the server's :class:`~adapters.tase2.server.PointSource`."""

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
            limits=s.limits.to_limits(),
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
