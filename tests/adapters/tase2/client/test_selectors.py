"""OSI selectors configured on the client go into its COTP CR (T-selectors) as written."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.tase2.client import client_settings, make_client_bus, running_client

pytestmark = pytest.mark.timeout(30)


async def test_configured_t_selectors_are_sent() -> None:
    received: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def first_bytes(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read(200)
        if not received.done():
            received.set_result(data)
        writer.close()

    server = await asyncio.start_server(first_bytes, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    cfg = client_settings(
        [port],
        local_selectors={"tsap": "0005", "session": "0003", "presentation": "00000009"},
        remote_selectors={"tsap": "0007"},
    )
    async with server, running_client(cfg, make_client_bus()):
        cr = await asyncio.wait_for(received, 10)
    assert cr[5] == 0xE0  # COTP CR after the TPKT header and the length indicator
    assert b"\xc1\x02\x00\x05" in cr and b"\xc2\x02\x00\x07" in cr
