"""The runtime: builds adapters from a config, supervises them, applies config changes live.

A changed configuration touches only what changed: an adapter whose settings are equal
keeps running (the same object, never restarted); an adapter whose settings changed is
asked to `reconfigure()` in place and restarted only if it cannot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gateway.audit import AuditLog
from gateway.backoff import Backoff
from gateway.bus import CommandResult, PointBus
from gateway.config import AdapterConfig, GatewayConfig
from gateway.logs import Throttle
from gateway.points import PointDef
from gateway.registry import REGISTRY, Adapter, AdapterRegistry

log = logging.getLogger(__name__)

GATEWAY_OWNER = "gateway"
"""Owner of points that no adapter feeds: they stay not valid until something does."""
SERVERS_FIRST = 10.0
"""Seconds the other adapters wait at most for the listening ones started with them: only
as long as those take to bind (an OPC UA server's start takes 2-3 s, 10 s on a loaded
machine), so that a client of the same gateway's server does not begin with a refusal."""


class StartupError(Exception):
    """Listening adapters that could not start (e.g. a port in use): adapter -> error."""

    def __init__(self, failures: dict[str, str]) -> None:
        super().__init__("; ".join(f"adapter {n} cannot listen: {e}" for n, e in failures.items()))
        self.failures = failures


class Supervisor:
    """Keeps one adapter's `run()` going: restarts it with back-off, logs state changes.

    The adapter is built by `create`; a constructor that raises is retried with the same
    back-off as a failing `run()`, so one bad adapter never stops the others.
    """

    def __init__(
        self, name: str, create: Callable[[], Adapter], bus: PointBus, backoff: Backoff
    ) -> None:
        self.name = name
        self.adapter: Adapter | None = None
        self.state = "starting"
        self.failures = 0
        self.restarts = 0
        self.last_error = ""
        self._create = create
        self._bus = bus
        self._backoff = backoff
        self._failure_log = Throttle()
        self._task: asyncio.Task[None] | None = None
        self._first_failure: asyncio.Future[str] | None = None
        self.start_up = False
        """Set while the runtime's start-up waits for this adapter: a first failure of a
        listening adapter then stops the gateway instead of being retried."""

    def start(self) -> None:
        self._first_failure = asyncio.get_running_loop().create_future()
        with contextlib.suppress(Exception):  # reported and retried by _supervise
            self._ensure_adapter()
        self._task = asyncio.create_task(self._supervise(), name=f"adapter:{self.name}")

    async def listening(self, timeout: float) -> str | None:
        """None once a listening adapter is bound (at once for the others); else the error
        its first run failed with. One still not bound after `timeout` counts as started."""
        adapter, failed = self.adapter, self._first_failure
        if adapter is None or not adapter.listens or failed is None:
            return None
        await self.bound(timeout)
        if adapter.ready.is_set():
            return None
        if not failed.done():
            log.warning("adapter %s not listening after %.0fs; going on", self.name, timeout)
            return None
        return failed.result()

    async def bound(self, timeout: float) -> None:
        """Wait (at most ``timeout`` seconds) until a listening adapter is bound or its
        first run has failed; at once for the others."""
        adapter, failed = self.adapter, self._first_failure
        if adapter is None or not adapter.listens or failed is None:
            return
        ready: asyncio.Future[Any] = asyncio.ensure_future(adapter.ready.wait())
        waiting: set[asyncio.Future[Any]] = {ready, failed}
        try:
            await asyncio.wait(waiting, timeout=timeout, return_when="FIRST_COMPLETED")
        finally:
            ready.cancel()

    def _ensure_adapter(self) -> Adapter:
        if self.adapter is None:
            self.adapter = self._create()
            self._bus.add_owner(self.name, self.adapter.on_command)
        return self.adapter

    async def stop(self) -> None:
        """Cancel `run()`, let the adapter release its resources; its points turn not valid."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        try:
            if self.adapter is not None:
                await self.adapter.stop()
        except Exception:
            log.exception("adapter %s failed while stopping", self.name)
        self._bus.owner_lost(self.name)
        self.state = "stopped"

    async def _supervise(self) -> None:
        name = self.name
        while True:
            self.state = "running"
            started = time.monotonic()
            try:
                await self._ensure_adapter().run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                if self.adapter is not None:
                    self.adapter.ready.clear()
                if self._first_failure is not None and not self._first_failure.done():
                    self._first_failure.set_result(error)
                    listens = self.adapter is not None and self.adapter.listens
                    if self.start_up and listens:  # fatal: the start-up stops the gateway
                        self.last_error, self.state = error, "failed"
                        return
            else:
                self.state = "finished"
                log.info("adapter %s finished", name)
                return
            # A run that lasted longer than the longest back-off counts as recovered.
            if time.monotonic() - started > self._backoff.maximum:
                self.failures = 0
            self.failures += 1
            self._bus.owner_lost(name)
            delay = self._backoff.delay(self.failures)
            self._log_failure(error, delay)
            self.last_error = error
            self.state = "backoff"
            await asyncio.sleep(delay)
            self.restarts += 1

    def _log_failure(self, error: str, delay: float) -> None:
        """One line per new error; a repeating error only at 1, 2, 4, 8... failures."""
        repeated = error == self.last_error
        if not self._failure_log.failure(error, self.failures):
            return
        log.warning(
            "adapter %s failed (%s%s); its points are not valid; retrying in %.1fs",
            self.name,
            error,
            f", {self.failures} failures in a row" if repeated else "",
            delay,
        )

    def status(self) -> dict[str, Any]:
        state = self.state
        adapter = self.adapter
        if state == "running" and adapter is not None and adapter.listens:
            state = "running" if adapter.ready.is_set() else "starting"
        return {
            "state": state,
            "failures": self.failures,
            "restarts": self.restarts,
            "last_error": self.last_error,
            **(self.adapter.status() if self.adapter is not None else {}),
        }


@dataclass
class Changes:
    """What `Runtime.apply` did."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    restarted: list[str] = field(default_factory=list)
    reconfigured: list[str] = field(default_factory=list)
    points_added: int = 0
    points_removed: int = 0
    points_changed: int = 0

    def __str__(self) -> str:
        parts = [
            f"{label} {', '.join(names)}"
            for label, names in (
                ("added", self.added),
                ("removed", self.removed),
                ("restarted", self.restarted),
                ("reconfigured", self.reconfigured),
            )
            if names
        ]
        parts.append(f"points +{self.points_added} -{self.points_removed} ~{self.points_changed}")
        return "; ".join(parts)


class Runtime:
    """Runs a gateway configuration: the bus, its adapters and the freshness watchdog."""

    def __init__(
        self,
        config: GatewayConfig,
        registry: AdapterRegistry = REGISTRY,
        backoff: Backoff | None = None,
    ) -> None:
        settings = config.gateway
        self.bus = PointBus(settings.freshness_grace, settings.command_timeout)
        self.config = GatewayConfig()
        self._target = config
        self._registry = registry
        self._backoff = backoff or Backoff()
        self._supervisors: dict[str, Supervisor] = {}
        self._apply_lock = asyncio.Lock()
        self._starting = False  # start(): listeners' first failures are fatal
        self._watchdog: asyncio.Task[None] | None = None
        self.bus.add_owner(GATEWAY_OWNER)
        self.started = time.time()
        api = settings.api
        self.audit = AuditLog(api.audit_size if api is not None else 1000)
        """Commands (from any adapter or the API) and configuration changes."""
        self.bus.command_observer = self._audit_command
        self.audit.attach(self.bus)  # adapters' own events (gateway.audit.record_on)

    def _audit_command(self, result: CommandResult, origin: str) -> None:
        self.audit.record(
            "command",
            origin,
            result.point,
            result.value,
            "ok" if result.failure is None else str(result.failure),
            result.detail,
        )

    @property
    def adapters(self) -> dict[str, Adapter]:
        return {n: s.adapter for n, s in self._supervisors.items() if s.adapter is not None}

    async def start(self, listen_timeout: float = 30.0) -> None:
        """Register the points, start every enabled adapter and wait until the listening
        ones are bound; if one cannot be, stop everything and raise StartupError."""
        self._starting = True
        try:
            await self.apply(self._target)
            supervisors = list(self._supervisors.values())
            errors = await asyncio.gather(*(s.listening(listen_timeout) for s in supervisors))
        finally:
            self._starting = False
            for supervisor in self._supervisors.values():
                supervisor.start_up = False
        failures = {s.name: e for s, e in zip(supervisors, errors, strict=True) if e is not None}
        if failures:
            await self.stop()
            raise StartupError(failures)
        period = self._target.gateway.watchdog_period
        self._watchdog = asyncio.create_task(self.bus.run_watchdog(period), name="watchdog")

    async def stop(self) -> None:
        """Stop every adapter (in parallel) and the watchdog."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            await asyncio.gather(self._watchdog, return_exceptions=True)
        await self._stop_all(list(self._supervisors.values()))
        self._supervisors.clear()

    @staticmethod
    async def _stop_all(supervisors: list[Supervisor], timeout: float = 10.0) -> None:
        """Stop adapters one by one in the reverse of their configured order.

        Like services on a host: an adapter that talks to another adapter of this gateway
        (a client polling a simulated plant) is listed after it, so it stops first and does
        not report its peer as lost on the way out.
        """
        for supervisor in reversed(supervisors):
            try:
                async with asyncio.timeout(timeout):
                    await supervisor.stop()
            except TimeoutError:
                log.error("adapter %s did not stop within %.0fs", supervisor.name, timeout)

    async def apply(self, new: GatewayConfig, origin: str = "reload") -> Changes:
        """Move from the running configuration to `new`, touching only what changed.

        Order matters: adapters that go away stop first; then every new or changed point is
        registered (so a reconfigured adapter finds its points on the bus); then changed
        adapters reconfigure in place, or restart when they cannot; points no longer
        configured go last. One change is applied at a time. A change after the start is
        audited with `origin` (who asked: the file, an API token).
        """
        async with self._apply_lock:
            first = not self.config.adapters and not self.config.points
            changes = await self._apply(new)
        if new.gateway.api is not None:
            self.audit.resize(new.gateway.api.audit_size)
        if not first:
            self.audit.record("config", origin, "configuration", detail=str(changes))
        return changes

    async def _apply(self, new: GatewayConfig) -> Changes:
        old_adapters = {a.name: a for a in self.config.adapters if a.enabled}
        new_adapters = {a.name: a for a in new.adapters if a.enabled}
        old_points, new_points = self.config.point_map(), new.point_map()
        changes = Changes()

        gone = [n for n, cfg in old_adapters.items() if self._must_stop(cfg, new_adapters)]
        await self._stop_all([self._supervisors.pop(n) for n in gone])
        for name in gone:
            (changes.restarted if name in new_adapters else changes.removed).append(name)

        self._register_points(old_points, new_points, new_adapters, changes)

        restart: list[str] = []
        for name, cfg in new_adapters.items():
            if name in gone or name not in old_adapters:
                continue
            points = cfg.settings.owned_points() | cfg.settings.consumed_points()
            definitions_changed = any(old_points.get(p) != new_points.get(p) for p in points)
            if cfg.settings == old_adapters[name].settings and not definitions_changed:
                continue  # untouched: the same object keeps running
            if self._reconfigure(name, cfg):
                changes.reconfigured.append(name)
            else:
                restart.append(name)
                changes.restarted.append(name)
        await self._stop_all([self._supervisors.pop(n) for n in restart])

        starting = [cfg for name, cfg in new_adapters.items() if name not in self._supervisors]
        changes.added += [cfg.name for cfg in starting if cfg.name not in old_adapters]
        await self._start_adapters(starting)
        for point in old_points.keys() - new_points.keys():
            self.bus.unregister(point)
            changes.points_removed += 1
        for name in old_adapters.keys() - new_adapters.keys():
            self.bus.remove_owner(name)
        self.config = new
        if self._supervisors or changes.points_added:
            log.info("configuration applied: %s", changes)
        return changes

    @staticmethod
    def _must_stop(old: AdapterConfig, new_adapters: dict[str, AdapterConfig]) -> bool:
        new = new_adapters.get(old.name)
        return new is None or new.type != old.type

    def _reconfigure(self, name: str, cfg: AdapterConfig) -> bool:
        """Let a running adapter take new settings (or point definitions) in place."""
        adapter = self._supervisors[name].adapter
        if adapter is None:
            return False
        try:
            return adapter.reconfigure(cfg.settings)
        except Exception:
            log.exception("adapter %s failed to reconfigure; restarting it", name)
            return False

    def _register_points(
        self,
        old_points: dict[str, PointDef],
        new_points: dict[str, PointDef],
        adapters: dict[str, AdapterConfig],
        changes: Changes,
    ) -> None:
        owner_of: dict[str, str] = {}
        for cfg in adapters.values():
            for point in cfg.settings.owned_points():
                owner_of[point] = cfg.name
        bus = self.bus
        for point, defn in new_points.items():
            owner = owner_of.get(point, GATEWAY_OWNER)
            previous = old_points.get(point)
            if previous is not None and previous == defn and bus.owner_of(point) == owner:
                continue
            if previous is None:
                changes.points_added += 1
            else:
                changes.points_changed += 1
            bus.add_owner(owner)
            bus.register(defn, owner, transfer=True)

    async def _start_adapters(self, configs: list[AdapterConfig]) -> None:
        """Start ``configs``: the listening adapters first and, for up to
        :data:`SERVERS_FIRST` seconds, until they are bound, so that a client of a server
        of the same gateway (a simulator in a lab) does not find its port closed."""
        supervisors = [self._supervisor(cfg) for cfg in configs]  # listed in config order
        servers = [s for s, c in zip(supervisors, configs, strict=True) if self._listens(c)]
        for supervisor in servers:
            supervisor.start()
        if servers and len(servers) < len(supervisors):
            await asyncio.gather(*(s.bound(SERVERS_FIRST) for s in servers))
        for supervisor in supervisors:
            if supervisor not in servers:
                supervisor.start()

    def _listens(self, cfg: AdapterConfig) -> bool:
        return self._registry.get(cfg.type).listens_with(cfg.settings)

    def _supervisor(self, cfg: AdapterConfig) -> Supervisor:
        cls = self._registry.get(cfg.type)
        supervisor = Supervisor(
            cfg.name, lambda: cls(cfg.name, cfg.settings, self.bus), self.bus, self._backoff
        )
        supervisor.start_up = self._starting
        self._supervisors[cfg.name] = supervisor
        return supervisor

    def adapter_details(self) -> dict[str, dict[str, Any]]:
        """Each configured adapter: its type, whether enabled, the supervisor's state and
        counters, and the adapter's own ``status()`` apart (a failing one is reported)."""
        out: dict[str, dict[str, Any]] = {}
        for cfg in self.config.adapters:
            supervisor = self._supervisors.get(cfg.name)
            entry: dict[str, Any] = {"name": cfg.name, "type": cfg.type, "enabled": cfg.enabled}
            if supervisor is None:
                entry.update(state="disabled" if not cfg.enabled else "stopped", status={})
                out[cfg.name] = entry
                continue
            state = supervisor.state
            adapter = supervisor.adapter
            if state == "running" and adapter is not None and adapter.listens:
                state = "running" if adapter.ready.is_set() else "starting"
            entry.update(
                state=state,
                failures=supervisor.failures,
                restarts=supervisor.restarts,
                last_error=supervisor.last_error,
            )
            try:
                entry["status"] = adapter.status() if adapter is not None else {}
            except Exception as exc:  # an adapter's bug must not break the operator's view
                entry["status"] = {"status_error": f"{type(exc).__name__}: {exc}"}
            out[cfg.name] = entry
        return out

    def status(self) -> dict[str, Any]:
        """Adapters' states and the bus counters, for operators."""
        stats = self.bus.stats
        return {
            "adapters": {name: s.status() for name, s in self._supervisors.items()},
            "points": len(self.bus),
            "bus": {k: getattr(stats, k) for k in stats.__slots__},
        }
