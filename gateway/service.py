"""Running a configuration file as a service: signals, and live reload of the file."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections import Counter
from pathlib import Path

from gateway.config import ConfigError, GatewayConfig, load_config
from gateway.runtime import Runtime

log = logging.getLogger(__name__)


class Service:
    """Runs the gateway on one config file until SIGINT/SIGTERM.

    SIGHUP, or a change of the file seen by polling every `watch_period` seconds, reloads
    it; a configuration with errors is reported and not applied, so the gateway keeps its
    last good state.
    """

    def __init__(
        self,
        path: Path,
        config: GatewayConfig,
        watch_period: float | None = 2.0,
    ) -> None:
        self.path = path
        self.runtime = Runtime(config)
        self.watch_period = watch_period
        self._stop = asyncio.Event()
        self._reloading: asyncio.Task[bool] | None = None
        self._mtime = self._stat()

    def _stat(self) -> float:
        try:
            return self.path.stat().st_mtime
        except OSError:
            return 0.0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop)
        loop.add_signal_handler(signal.SIGHUP, self._reload_soon)
        await self.runtime.start()
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

    def stop(self) -> None:
        self._stop.set()

    def _reload_soon(self) -> None:
        """SIGHUP: reload in a task we keep, so it is neither lost nor left running."""
        if self._reloading is None or self._reloading.done():
            self._reloading = asyncio.create_task(self.reload())

    async def reload(self) -> bool:
        """Load the file again and apply it; returns whether it was applied."""
        try:
            config = await asyncio.to_thread(load_config, self.path)
        except ConfigError as exc:
            for issue in exc.issues:
                log.error("%s", issue)
            log.error("configuration not applied; the gateway keeps running the last good one")
            return False
        await self.runtime.apply(config)
        return True

    async def _watch(self) -> None:
        assert self.watch_period is not None
        while True:
            await asyncio.sleep(self.watch_period)
            mtime = self._stat()
            if mtime != self._mtime:
                self._mtime = mtime
                log.info("%s changed; reloading", self.path)
                await self.reload()

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
                f"{name}={s['state']}" for name, s in self.runtime.status()["adapters"].items()
            )
            log.info(
                "status: %d points (%s); %.0f updates/s; adapters: %s",
                len(bus),
                ", ".join(f"{n} {v}" for v, n in sorted(counts.items())) or "none",
                (updates - last_updates) / period,
                adapters or "none",
            )
            last_updates = updates
