"""A gateway with the API for the API tests: a Runtime of sim adapters in the test's loop,
and the real uvicorn serving it on a free loopback port."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from gateway.api.control import RuntimeOperations
from gateway.api.server import ApiServer
from gateway.config import ApiSettings, build_config
from gateway.runtime import Runtime
from tests.support import free_port

OPERATOR = "operator-secret-0123456789"
READER = "reader-secret-0123456789ab"


def sim_config(points: int = 5, interval: float = 0.05, **api: Any) -> dict[str, Any]:
    """A gateway of one `sim` adapter moving ``points`` points (``GEN1_MW``...), and one
    point of a second adapter that only ever holds a constant (``FIXED``)."""
    names = [f"GEN{i}_MW" for i in range(1, points + 1)]
    return {
        "gateway": {"name": "test-gw", "api": {"listen": f"127.0.0.1:{free_port()}", **api}},
        "points": [{"id": n, "units": "MW"} for n in names] + [{"id": "FIXED"}],
        "adapters": [
            {
                "name": "plant",
                "type": "sim",
                "interval": interval,
                "seed": 1,
                "points": [{"point": n, "min": 0, "max": 100} for n in names],
            },
            {
                "name": "fixed",
                "type": "sim",
                "interval": 3600,
                "points": [{"point": "FIXED", "signal": "constant", "validity": "suspect"}],
            },
        ],
    }


def write_tokens(path: Path) -> Path:
    path.write_text(f"# role token name\noperator {OPERATOR} alice\nread {READER} grafana\n")
    return path


@contextlib.asynccontextmanager
async def api_gateway(data: dict[str, Any]) -> AsyncIterator[tuple[Runtime, ApiServer]]:
    """The gateway of ``data`` started with its API, until the block ends."""
    config = build_config(data, "<test>")
    api = config.gateway.api
    assert api is not None
    runtime = Runtime(config)
    await runtime.start()
    server = ApiServer(RuntimeOperations(runtime))
    try:
        await server.start(api)
        yield runtime, server
    finally:
        await server.stop()
        await runtime.stop()


def client(server: ApiServer, token: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(base_url=server.url, headers=headers, timeout=10.0)


__all__ = ["OPERATOR", "READER", "ApiSettings", "api_gateway", "client", "sim_config"]


def with_historian(tmp_path: Path, interval: float = 0.05) -> dict[str, Any]:
    """The API tests' sim gateway, its GEN* points stored by an sql-historian in SQLite."""
    data = sim_config(points=3, interval=interval)
    data["adapters"].append(
        {
            "name": "hist",
            "type": "sql-historian",
            "database": f"sqlite:///{tmp_path / 'history.db'}",
            "journal_dir": str(tmp_path / "journal"),
            "points": ["GEN*"],
        }
    )
    return data
