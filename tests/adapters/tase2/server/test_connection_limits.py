"""The TASE.2 server's connection limits (``limits:``): a flood of idle sockets from one
source address does not lock out a peer that matches a bilateral table, and costs a few
log lines only."""

from __future__ import annotations

import asyncio
import logging

import pytest

from adapters.tase2.mms.aio.client import MmsAssociationError, MmsClient
from adapters.tase2.mms.names import ObjectName
from adapters.tase2.server.adapter import Tase2ServerAdapter
from tests.support import eventually
from tests.support.tase2.server import DOMAIN, connect, running_server, settings

pytestmark = pytest.mark.timeout(60)

IDLE = 64
PER_SOURCE = 8


async def _connect_retrying(adapter: Tase2ServerAdapter) -> tuple[MmsClient, int]:
    """The real peer, retrying (bounded) as a TASE.2 client does; (client, attempts)."""
    for attempt in range(1, 101):
        try:
            return await connect(adapter), attempt
        except MmsAssociationError:
            await asyncio.sleep(0.1)
    raise AssertionError("the real peer never associated")


async def test_idle_sockets_do_not_lock_out_the_bilateral_peer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    limits = {
        "max_pending_per_source": PER_SOURCE,
        "max_connections": 32,
        "association_timeout": 60,  # the flood is held throughout the test
    }
    async with running_server(settings(limits=limits)) as adapter:
        assert adapter.server is not None
        port = adapter.server.port
        idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(IDLE)]
        await eventually(
            lambda: sum(r.at_eof() for r, _ in idle) >= IDLE - PER_SOURCE,
            5.0,
            f"the connections beyond {PER_SOURCE} to be refused",
        )
        client, attempts = await _connect_retrying(adapter)
        held = sum(not r.at_eof() for r, _ in idle)
        assert held >= PER_SOURCE - 1  # the flood still holds its slots but one
        assert await client.read(ObjectName.dom(DOMAIN, "GEN1"))
        await client.conclude()
        for _, w in idle:
            w.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    print(f"idle={IDLE} per_source={PER_SOURCE} attempts={attempts} warnings={len(warnings)}")
    assert len(warnings) <= 10, warnings
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
