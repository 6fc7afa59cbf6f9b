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

Device tags are safety state: with a ``state_dir`` they are saved in the gateway's state
store (:mod:`gateway.state`, namespace ``tase2-server/<adapter name>/tags``) before a
SetTag is answered, and restored before the server listens, so a restart (even a
``kill -9``) keeps every tag, its reason and the table that set it.

Table changes while running are applied in place (:meth:`Tase2ServerAdapter.reconfigure`);
only the listen address, identity, PDU size and limits need a restart. Points that appear
or vanish on the bus are picked up every ``refresh_period`` seconds (globs re-resolved).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Final

from adapters.base import Adapter
from adapters.tase2.errors import LocalError
from adapters.tase2.mms.aio.tls_reloader import TlsReloader
from adapters.tase2.mms.data import DataAccessError
from adapters.tase2.model.devices import TagState, TagValue
from adapters.tase2.security.certificates import CertificateError
from adapters.tase2.server.bilateral import (
    BilateralConfigError,
)
from adapters.tase2.server.device_control import StoredTag
from adapters.tase2.server.settings import Tase2ServerSettings
from adapters.tase2.server.shell import Tase2Server
from gateway.audit import record_on
from gateway.bus import BusError, CommandFailure, PointBus, Subscription
from gateway.points import PointKind, PointValue
from gateway.registry import AdapterSettings
from gateway.state import STATE_FILE, StateStore, StateStoreError, check_state_dir

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
        self.values: Callable[[Sequence[str]], list[PointValue | None]] = bus.values
        """The latest values of some points (None for a point that left the bus)."""
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

    def audit(
        self, kind: str, origin: str, target: str, value: Any, outcome: str, detail: str
    ) -> None:
        """A control event or refusal, into the gateway's audit log (when there is one)."""
        record_on(self.bus, kind, origin, target, value, outcome, detail)

    async def command(self, point: str, value: float | int, origin: str) -> DataAccessError | None:
        """A peer's Write as a bus command, answered with the owner's outcome."""
        result = await self.bus.command(point, value, origin=origin)
        if result.ok:
            return None
        assert result.failure is not None
        return COMMAND_ERRORS.get(result.failure, DataAccessError.HARDWARE_FAULT)


class _StoredTags:
    """Device tags in the gateway's state store under ``state_dir`` (the server's
    :class:`~adapters.tase2.server.device_control.TagStore`).

    The directory is checked when this is made (StateStoreError when it cannot be used);
    the store file is opened there if it exists, else created by the first tag saved, so
    a server whose devices were never tagged leaves nothing behind.
    """

    def __init__(self, state_dir: Path, namespace: str) -> None:
        check_state_dir(state_dir)
        self.state_dir = state_dir
        self.namespace = namespace
        self.store: StateStore | None = None
        if (state_dir / STATE_FILE).exists():
            self.store = StateStore(state_dir)

    def save_tag(self, stored: StoredTag) -> None:
        """Save one device's tag (forget it when untagged); LocalError when it cannot."""
        try:
            if self.store is None:
                if stored.tag.state is TagState.NONE:
                    return  # nothing saved, nothing to forget
                self.store = StateStore(self.state_dir)
            if stored.tag.state is TagState.NONE:
                self.store.delete(self.namespace, stored.point)
            else:
                value = {
                    "state": int(stored.tag.state),
                    "reason": stored.tag.reason,
                    "owner": stored.owner,
                }
                self.store.put(self.namespace, stored.point, value)
        except StateStoreError as exc:
            log.error("device tag of %s could not be saved: %s", stored.point, exc)
            raise LocalError(str(exc)) from None

    def close(self) -> None:
        """Close the store file, if open (what was saved is already on disk)."""
        if self.store is not None:
            self.store.close()
            self.store = None

    def load(self) -> list[StoredTag]:
        """Every saved tag. An entry that cannot be understood comes back as an invalid
        tag (which blocks operates) with an ERROR line, never as no tag."""
        if self.store is None:
            return []
        out = []
        for point, value in self.store.items(self.namespace).items():
            try:
                tag = TagValue(TagState(value["state"]), str(value["reason"]))
                owner = value["owner"]
                if owner is not None and not isinstance(owner, str):
                    raise TypeError(owner)
            except (KeyError, TypeError, ValueError):
                log.error(
                    "saved tag of device point %s in %s is not understood (%r); the device "
                    "is treated as tagged invalid until a tag is set again",
                    point,
                    self.store.path,
                    value,
                )
                tag, owner = TagValue(TagState.INVALID, "unreadable saved tag"), None
            out.append(StoredTag(point, tag, owner))
        return out


class Tase2ServerAdapter(Adapter):
    """Serves bus points as a TASE.2 server (Blocks 1, 2, 4, 5) with bilateral tables."""

    type_name: ClassVar[str] = "tase2-server"
    Settings: ClassVar[type[AdapterSettings]] = Tase2ServerSettings
    settings: Tase2ServerSettings
    listens: bool = True

    def __init__(self, name: str, settings: AdapterSettings, bus: PointBus) -> None:
        super().__init__(name, settings, bus)
        self._source = _BusSource(bus)
        self.server: Tase2Server | None = None
        self._subscription: Subscription | None = None
        self._served: frozenset[str] = frozenset()
        self._overflow_seen = 0
        self._resubscribe = False
        self._tags: _StoredTags | None = None
        self.tls: TlsReloader | None = None

    def _open_tags(self) -> _StoredTags | None:
        """The tag store under ``state_dir`` (None without one); raises StateStoreError."""
        state_dir = self.settings.state_dir
        if state_dir is None:
            if any(d.taggable for t in self.settings.tables for d in t.devices):
                log.warning(
                    "%s: no state_dir: device tags are kept in memory only and a restart "
                    "loses them",
                    self.name,
                )
            return None
        self._tags = _StoredTags(state_dir, f"tase2-server/{self.name}/tags")
        return self._tags

    def _new_server(self, tags: _StoredTags | None) -> Tase2Server:
        s = self.settings
        server = Tase2Server(
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
            tag_store=tags,
            tls=self.tls.endpoint if self.tls is not None else None,
            selectors=s.selectors,
            connect=s.connect,
        )
        server.controls.record = self._source.audit
        if tags is not None:
            restored = server.controls.devices.restore_tags(tags.load())
            if restored:
                log.info(
                    "%s: %d device tags restored from %s",
                    self.name,
                    restored,
                    tags.state_dir / STATE_FILE,
                )
        return server

    async def run(self) -> None:
        """Serve until cancelled: restore saved tags, listen, follow the bus, keep the views
        current. A state directory that cannot be used stops the start (a server that
        forgot its safety tags must not accept operates)."""
        self._source.invalidate()
        if self.settings.tls is not None:
            try:
                # the TLS role follows the TCP role: a server that calls out is the TLS client
                server_side = not self.settings.connect.active
                self.tls = TlsReloader(self.name, self.settings.tls, server_side=server_side)
            except CertificateError as exc:
                raise LocalError(f"{self.name}: {exc}") from None
        try:
            server = self._new_server(self._open_tags())
        except StateStoreError as exc:
            self._close_state()
            raise LocalError(f"{self.name}: state_dir: {exc}") from None
        try:
            await server.start()
        except BaseException:
            self._close_state()
            raise
        self.server = server
        self.listening()
        where = f"on {self.settings.host}:{server.port}"
        if self.settings.connect.active:
            where = "calling " + ", ".join(
                f"{c.table}@{c.addresses[0]}" for c in self.settings.connect.call
            )
        log.info(
            "%s: TASE.2 server %s%s, AP-title %s AE-qualifier %s, %d bilateral tables",
            self.name,
            where,
            " (TLS)" if self.tls is not None else "",
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
                if server.failure is not None:
                    raise LocalError(f"{self.name}: {server.failure}")
                if changes:
                    server.on_changes(changes)
                self._check_overflow(sub)
                if time.monotonic() >= next_refresh:
                    next_refresh = time.monotonic() + self.settings.refresh_period
                    self._source.invalidate()
                    if server.refresh_points():
                        self._resubscribe = True
                    self._check_tls(server)
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
            self._close_state()

    def _check_tls(self, server: Tase2Server) -> None:
        """Changed TLS files: new connections get the new context; expiry warnings."""
        if self.tls is not None and self.tls.check(self.settings.tls):
            server.mms.tls = self.tls.endpoint

    def _close_state(self) -> None:
        if self._tags is not None:
            self._tags.close()
            self._tags = None

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
            self._source.invalidate()  # the runtime has just registered the new points
            try:
                changed = server.set_tables(settings.tables, settings.vcc_points)
            except BilateralConfigError as exc:
                log.error(
                    "%s: new bilateral tables refused, keeping the old ones: %s", self.name, exc
                )
                return True
            if changed:
                log.info("%s: bilateral tables changed: %s", self.name, ", ".join(changed))
            server.refresh_points()  # the tables kept see points that came or went at once
            touched = server.set_vcc_data_sets(settings.vcc_data_sets)
            if touched:
                log.info(
                    "%s: VCC data sets changed: %s",
                    self.name,
                    ", ".join(n.item for n in touched),
                )
            if settings.connect != self.settings.connect:
                restarted = server.set_connect(settings.connect)
                if restarted:
                    log.info("%s: calls restarted: %s", self.name, ", ".join(restarted))
            self._resubscribe = True
        self.settings = settings
        if server is not None:
            self._check_tls(server)
        return True

    def status(self) -> dict[str, Any]:
        """Associations, transfer sets, reports and the subscription's backlog."""
        active = self.settings.connect.active  # it calls out: it listens nowhere
        out: dict[str, Any] = {"listening": self.server is not None and not active}
        if self.settings.state_dir is not None:
            out["state_dir"] = str(self.settings.state_dir)
        if self.server is not None:
            out.update(self.server.status())
            if not active:
                out["port"] = self.server.port
        if self._subscription is not None:
            out["changes_dropped"] = self._subscription.overflow
        if self.tls is not None:
            tls = self.tls.status()
            if self.server is not None:
                tls["handshakes"] = out.pop("tls_handshakes", 0)
                tls["failures"] = out.pop("tls_failures", {})
            out["tls"] = tls
        return out
