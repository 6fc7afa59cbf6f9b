"""Running a configuration file as a service: signals, and live reload of the file."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections import Counter
from pathlib import Path

from gateway.config import ConfigError, GatewayConfig, check_config, diff_configs
from gateway.runtime import Runtime, StartupError

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
            await self.runtime.stop()
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                loop.remove_signal_handler(sig)
            log.info("stopped")
        return True

    def stop(self) -> None:
        self._stop.set()

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
        for issue in warnings:
            log.warning("%s", issue)
        diff = diff_configs(self.runtime.config, config)
        limit = self.max_removed_adapters
        if limit is not None and len(diff.adapters_removed) > limit:
            log.error(
                "configuration not applied: it removes %d adapters (%s), more than the limit "
                "of %d (--max-removed-adapters); the gateway keeps running the last good one",
                len(diff.adapters_removed),
                ", ".join(diff.adapters_removed),
                limit,
            )
            return False
        for name in diff.adapters_removed:
            log.warning("the new configuration removes adapter %s", name)
        for adapter, kind, part in diff.parts_removed:
            log.warning("the new configuration removes %s %s of adapter %s", kind, part, adapter)
        await self.runtime.apply(config)
        return True

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
