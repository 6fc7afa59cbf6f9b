"""Running a configuration file as a service: signals, and live reload of the file."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.config import (
    ConfigError,
    ConfigIssue,
    GatewayConfig,
    check_config,
    check_config_text,
    diff_configs,
    env_references,
)
from gateway.runtime import Changes, Runtime, StartupError

if TYPE_CHECKING:
    from gateway.api.server import ApiServer

log = logging.getLogger(__name__)


def release_free_heap() -> bool:
    """Give the C heap's free pages back to the OS (glibc's ``malloc_trim``); False where
    there is no such call (another C library), and then nothing is done.

    Start-up frees most of what reading the configuration allocated (YAML nodes, the
    entry-point scan, validation), but glibc keeps those pages: called once the gateway
    runs, it takes the demo's resting RSS down by ~1.3 MB (ctypes itself costs ~0.2 MB).
    """
    try:
        import ctypes

        trim = ctypes.CDLL(None).malloc_trim
    except (ImportError, OSError, AttributeError):
        return False
    trim(0)
    return True


class Service:
    """Runs the gateway on one config file until SIGINT/SIGTERM.

    SIGHUP, or a change of the file seen by polling every `watch_period` seconds, reloads
    it; a changed file is read once its size and time stayed the same for `settle` seconds
    (never an editor's half-written file). A configuration with errors, or one removing more
    than `max_removed_adapters` adapters, is reported and not applied, so the gateway keeps
    its last good state; removed adapters and tables are logged at WARNING.

    With a `gateway.api` section it serves the REST API, console and metrics in the same
    loop; a configuration posted there goes through the same checks as a reload of the
    file, and once applied is written to the file.
    """

    def __init__(
        self,
        path: Path,
        config: GatewayConfig,
        watch_period: float | None = 2.0,
        settle: float = 1.0,
        max_removed_adapters: int | None = None,
    ) -> None:
        self.path = path
        self.runtime = Runtime(config)
        self.watch_period = watch_period
        self.settle = settle
        self.max_removed_adapters = max_removed_adapters
        self._stop = asyncio.Event()
        self._reloading: asyncio.Task[bool] | None = None
        self._seen = self._stat()
        self.api: ApiServer | None = None
        self._api_change: asyncio.Task[None] | None = None

    def _stat(self) -> tuple[int, int]:
        """The file's size and modification time (ns), which change with every write."""
        try:
            st = self.path.stat()
        except OSError:
            return (-1, 0)
        return (st.st_size, st.st_mtime_ns)

    async def run(self) -> bool:
        """Serve until stopped; False when a listening adapter could not start."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop)
        loop.add_signal_handler(signal.SIGHUP, self._reload_soon)
        try:
            await self.runtime.start()
        except StartupError as exc:
            for name, error in exc.failures.items():
                log.error("adapter %s cannot listen: %s", name, error)
            log.error("gateway not started")
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                loop.remove_signal_handler(sig)
            return False
        if not await self._start_api():
            await self.runtime.stop()
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                loop.remove_signal_handler(sig)
            return False
        release_free_heap()
        log.info(
            "gateway running: %d points, %d adapters",
            len(self.runtime.bus),
            len(self.runtime.adapters),
        )
        tasks = [asyncio.create_task(self._log_status())]
        if self.watch_period:
            tasks.append(asyncio.create_task(self._watch()))
        try:
            await self._stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            log.info("stopping")
            if self._api_change is not None:
                await asyncio.gather(self._api_change, return_exceptions=True)
            if self.api is not None:
                await self.api.stop()
            await self.runtime.stop()
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                loop.remove_signal_handler(sig)
            log.info("stopped")
        return True

    def stop(self) -> None:
        self._stop.set()

    async def _start_api(self) -> bool:
        """Serve the API when configured; False (logged) when it cannot listen."""
        settings = self.runtime.config.gateway.api
        if settings is None or not settings.enabled:
            return True
        from gateway.api.server import ApiError, ApiServer

        self.api = ApiServer(self)
        try:
            await self.api.start(settings)
        except ApiError as exc:
            log.error("%s", exc)
            log.error("gateway not started")
            return False
        return True

    def _follow_api(self) -> None:
        """After a change: start, restart or stop the API as the new settings say, in a
        task of its own (the change may have come through the API, whose request must end
        before the server it runs in can stop)."""
        settings = self.runtime.config.gateway.api
        if self.api is None:
            if settings is None or not settings.enabled:
                return
            from gateway.api.server import ApiServer

            self.api = ApiServer(self)
        previous = self._api_change
        api = self.api

        async def follow() -> None:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            await asyncio.sleep(0.05)  # let an API request that asked for it answer first
            await api.apply(settings)

        self._api_change = asyncio.create_task(follow(), name="api-change")

    # -- the API's operations (gateway.api.control.Operations) -------------------------

    def config_text(self) -> str:
        """The configuration file's text."""
        try:
            return self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return f"# {self.path} cannot be read: {exc}\n"

    async def check_text(self, text: str) -> tuple[GatewayConfig, list[ConfigIssue]]:
        """Check a proposed configuration as if it were the file (relative paths alike)."""
        allowed = env_references(self.config_text())
        return await asyncio.to_thread(
            lambda: check_config_text(text, self.path, self.path.parent, env_allowed=allowed)
        )

    async def apply_text(self, text: str, origin: str) -> Changes:
        """Check a configuration as a reload does, write it to the file, apply it; raises
        ConfigError (invalid) or ConfigRefused (e.g. removes too many adapters)."""
        from gateway.api.control import ConfigRefused

        config, warnings = await self.check_text(text)
        refusal = self._refusal(config)
        if refusal:
            raise ConfigRefused(refusal)
        try:
            await asyncio.to_thread(self._write, text)
        except OSError as exc:
            raise ConfigRefused(
                f"the configuration file {self.path} cannot be written ({exc.strerror or exc}): "
                "edit it where it is kept and reload"
            ) from None
        self._seen = self._stat()  # our own write: no reload for it
        log.info("configuration applied by %s and written to %s", origin, self.path)
        return await self._apply(config, warnings, origin)

    def _write(self, text: str) -> None:
        """Replace the file atomically (a reader sees the old or the new, never half);
        the previous one is kept as FILE.bak."""
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if self.path.exists():
            backup = self.path.with_name(f"{self.path.name}.bak")
            backup.write_bytes(self.path.read_bytes())
        os.replace(tmp, self.path)

    def _reload_soon(self) -> None:
        """SIGHUP: reload in a task we keep, so it is neither lost nor left running."""
        if self._reloading is None or self._reloading.done():
            self._reloading = asyncio.create_task(self.reload())

    async def reload(self, expect: tuple[int, int] | None = None) -> bool:
        """Load the file again and apply it; returns whether it was applied. With `expect`
        (the settled size and time) a file that changed while being read is not applied."""
        try:
            config, warnings = await asyncio.to_thread(check_config, self.path)
            if expect is not None and self._stat() != expect:
                log.info("%s changed while being read; waiting for it to settle", self.path)
                return False
        except ConfigError as exc:
            for issue in exc.issues:
                log.error("%s", issue)
            for issue in exc.warnings:
                log.warning("%s", issue)
            log.error("configuration not applied; the gateway keeps running the last good one")
            return False
        refusal = self._refusal(config)
        if refusal:
            for issue in warnings:
                log.warning("%s", issue)
            log.error(
                "configuration not applied: %s; the gateway keeps running the last good one",
                refusal,
            )
            return False
        await self._apply(config, warnings, "reload")
        return True

    def _refusal(self, config: GatewayConfig) -> str:
        """Why a valid configuration is not applied ("" when it may be)."""
        diff = diff_configs(self.runtime.config, config)
        limit = self.max_removed_adapters
        if limit is not None and len(diff.adapters_removed) > limit:
            return (
                f"it removes {len(diff.adapters_removed)} adapters "
                f"({', '.join(diff.adapters_removed)}), more than the limit of {limit} "
                "(--max-removed-adapters)"
            )
        return ""

    async def _apply(
        self, config: GatewayConfig, warnings: list[ConfigIssue], origin: str
    ) -> Changes:
        """The one way a checked configuration is applied (file reload or the API)."""
        for issue in warnings:
            log.warning("%s", issue)
        diff = diff_configs(self.runtime.config, config)
        for name in diff.adapters_removed:
            log.warning("the new configuration removes adapter %s", name)
        for adapter, kind, part in diff.parts_removed:
            log.warning("the new configuration removes %s %s of adapter %s", kind, part, adapter)
        if origin == "reload":
            changes = await self.runtime.apply(config)
        else:
            changes = await self.runtime.apply(config, origin)
        self._follow_api()
        return changes

    async def _watch(self) -> None:
        assert self.watch_period is not None
        while True:
            await asyncio.sleep(self.watch_period)
            if self._stat() == self._seen:
                continue
            log.info("%s changed; reloading once it stops changing", self.path)
            self._seen = await self._settled()
            await self.reload(self._seen)

    async def _settled(self) -> tuple[int, int]:
        """Wait until the file's size and time stay the same for `settle` seconds."""
        seen = self._stat()
        while True:
            await asyncio.sleep(self.settle)
            now = self._stat()
            if now == seen:
                return now
            seen = now

    async def _log_status(self) -> None:
        """One summary line per period: what an operator checks first."""
        bus = self.runtime.bus
        last_updates = 0
        while True:
            period = self.runtime.config.gateway.status_log_period
            await asyncio.sleep(period)
            counts = Counter(pv.quality.validity.name.lower() for pv in bus.snapshot().values())
            updates = bus.stats.updates
            adapters = ", ".join(
                f"{name}={s['state']}"
                + (f" ({s['last_error']})" if s["state"] != "running" and s["last_error"] else "")
                for name, s in self.runtime.status()["adapters"].items()
            )
            log.info(
                "status: %d points (%s); %.0f updates/s; adapters: %s",
                len(bus),
                ", ".join(f"{n} {v}" for v, n in sorted(counts.items())) or "none",
                (updates - last_updates) / period,
                adapters or "none",
            )
            last_updates = updates
