"""uvicorn serving the API inside the gateway's own event loop.

The server runs as a task of the running loop (``lifespan="off"``: the gateway has its own
start and stop), with signal capture turned off so that SIGINT/SIGTERM stay the service's.
The socket is bound here, before uvicorn starts, so that a port in use is a plain
:class:`ApiError` (uvicorn would call ``sys.exit``). Stopping sets ``should_exit`` and
waits; live streams end at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Iterator
from typing import Any

from gateway.api.control import Operations
from gateway.config import ApiSettings

__all__ = ["ApiError", "ApiServer"]

log = logging.getLogger(__name__)

STOP_TIMEOUT = 5.0


class ApiError(Exception):
    """The API cannot be served (address in use, a bad certificate...)."""


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise ApiError(f"api cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


class ApiServer:
    """The REST API, console and metrics of one gateway, served while it runs."""

    def __init__(self, ops: Operations) -> None:
        self.ops = ops
        self.settings: ApiSettings | None = None
        self.port: int | None = None
        self._server: Any = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def url(self) -> str:
        """The base URL the API answers on (its port once bound)."""
        assert self.settings is not None
        scheme = "https" if self.settings.certfile is not None else "http"
        host = self.settings.host
        host = f"[{host}]" if ":" in host else host
        return f"{scheme}://{host}:{self.port}"

    async def start(self, settings: ApiSettings) -> None:
        """Bind and serve with ``settings``; raises ApiError when that is impossible."""
        import uvicorn  # here: a gateway without the API never loads the web stack

        from gateway.api.app import create_app

        ssl_context = None
        if settings.certfile is not None and settings.keyfile is not None:
            try:
                ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                ssl_context.load_cert_chain(settings.certfile, settings.keyfile)
            except (OSError, ssl.SSLError) as exc:
                raise ApiError(
                    f"api: certificate {settings.certfile} / key {settings.keyfile} "
                    f"cannot be used: {exc}"
                ) from None
        self._stopping = asyncio.Event()
        try:
            app = create_app(self.ops, settings, self._stopping)
        except Exception as exc:  # e.g. the tokens file turned bad since it was checked
            raise ApiError(f"api cannot start: {exc}") from None
        sock = _bind(settings.host, settings.port)

        class _InLoopServer(uvicorn.Server):
            """uvicorn without its signal handlers: the service owns SIGINT/SIGTERM."""

            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield

        config = uvicorn.Config(
            app,
            lifespan="off",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=1,
            ws="none",
        )
        config.load()
        config.ssl = ssl_context  # ours, checked above (uvicorn's own reads file names)
        server = _InLoopServer(config)
        # uvicorn's own start/stop lines repeat ours; its warnings and errors still show.
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
        self._server = server
        self.settings = settings
        self.port = int(sock.getsockname()[1])
        self._task = asyncio.create_task(server.serve(sockets=[sock]), name="api")
        for _ in range(200):
            if server.started or self._task.done():
                break
            await asyncio.sleep(0.01)
        if self._task.done():
            error = self._task.exception() if not self._task.cancelled() else None
            self._task = None
            raise ApiError(f"api did not start: {error}")
        log.info("api: serving %s (console %s/console/)", self.url, self.url)

    async def stop(self) -> None:
        """Stop serving (streams end, then connections close); nothing when not running."""
        task, server = self._task, self._server
        self._task = None
        if task is None or server is None:
            return
        self._stopping.set()
        server.should_exit = True
        try:
            async with asyncio.timeout(STOP_TIMEOUT):
                await asyncio.shield(task)
        except TimeoutError:
            server.force_exit = True
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        log.info("api: stopped")

    async def apply(self, settings: ApiSettings | None) -> None:
        """Follow a configuration change: start, stop or restart (only when the settings
        changed). A new setting that cannot be served is logged and the API stays off."""
        wanted = settings if settings is not None and settings.enabled else None
        if wanted == self.settings and (wanted is None or self.running):
            return
        await self.stop()
        self.settings = None
        if wanted is None:
            return
        try:
            await self.start(wanted)
        except ApiError as exc:
            log.error("%s", exc)
