"""`opcua-client` ingest: 10,000 monitored items changing, notifications applied to the bus.

`opcua_client_apply` is the client's own path without a server: a publish response's
DataChangeNotification of 10,000 items decoded by asyncua and applied to the bus (one batch).

Several asyncua server processes (the test peer, `--bench`) each serve a share of the 10,000
variables and rewrite all of them round after round; one `opcua-client` adapter per server
subscribes to its share, all into one bus. The figure is the notifications the adapters
applied per second, counted over the steady middle of the run (server processes share the
machine with the client, so the server side is split until it outpaces the client).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from typing import Any

from adapters.opcua.client.adapter import OpcUaClientAdapter
from adapters.opcua.client.settings import OpcUaClientSettings
from benchmarks.common import best_rate, report
from gateway.bus import PointBus
from gateway.points import PointDef
from tests.support import free_ports
from tests.support.peers.opcua_server_peer import OpcUaServerPeer

ITEMS = 10_000
SERVERS = int(os.environ.get("BENCH_OPCUA_SERVERS", "3"))
CHURN = 6.0
WINDOW = (1.5, 5.0)


def _adapters(
    peers: list[OpcUaServerPeer], share: int
) -> tuple[PointBus, list[OpcUaClientAdapter]]:
    bus = PointBus()
    adapters = []
    for n, peer in enumerate(peers):
        points = [{"point": f"S{n}_B{i}", "node": f"ns=2;s=B{i}"} for i in range(share)]
        settings = OpcUaClientSettings.model_validate(
            {
                "endpoints": [peer.url],
                "points": points,
                "publishing_interval": 50,
                "sampling_interval": 0,
            }
        )
        name = f"ua{n}"
        bus.add_owner(name)
        for p in points:
            bus.register(PointDef(id=p["point"]), name)
        adapter = OpcUaClientAdapter(name, settings, bus)
        bus.add_owner(name, adapter.on_command)
        adapters.append(adapter)
    return bus, adapters


def _notifications(adapters: list[OpcUaClientAdapter]) -> int:
    return sum(int(a.status().get("notifications", 0)) for a in adapters)


async def _run() -> tuple[float, float]:
    share = ITEMS // SERVERS
    peers = [OpcUaServerPeer(port, "--bench", str(share)) for port in free_ports(SERVERS)]
    await asyncio.gather(*(asyncio.to_thread(p.start, 120.0) for p in peers))
    try:
        _bus, adapters = _adapters(peers, share)
        tasks = [asyncio.create_task(a.run()) for a in adapters]
        try:
            deadline = time.monotonic() + 120
            while not all(a.status()["state"] == "up" for a in adapters):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"sessions not up: {[a.status() for a in adapters]}")
                await asyncio.sleep(0.1)
            churn = [asyncio.to_thread(p.call, "churn", CHURN + 60, seconds=CHURN) for p in peers]
            jobs = asyncio.gather(*churn)
            start = time.monotonic()
            await asyncio.sleep(WINDOW[0])
            first = _notifications(adapters)
            await asyncio.sleep(WINDOW[1] - WINDOW[0])
            last = _notifications(adapters)
            replies: list[dict[str, Any]] = await jobs
            writes = sum(r["writes"] for r in replies) / max(CHURN, time.monotonic() - start)
            return (last - first) / (WINDOW[1] - WINDOW[0]), writes
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        for peer in peers:
            with contextlib.suppress(Exception):
                peer.stop()


def _apply_rate() -> float:
    from datetime import UTC, datetime

    from asyncua import ua
    from asyncua.common.utils import Buffer
    from asyncua.ua.ua_binary import struct_from_binary, struct_to_binary

    from adapters.opcua.client.adapter import Session, Slot
    from adapters.opcua.client.settings import ClientPoint
    from gateway.points import PointKind

    bus = PointBus()
    bus.add_owner("ua")
    session = Session("ua", bus, asyncio.Event())
    stamp = datetime.now(UTC)
    encoded = []
    for round_ in range(2):
        items = []
        for i in range(ITEMS):
            if round_ == 0:
                point = f"B{i}"
                bus.register(PointDef(id=point), "ua")
                binding = ClientPoint(point=point, node=f"ns=2;s={point}")
                nodeid = ua.NodeId(point, 2)
                session.slots[i + 1] = Slot(binding, point, nodeid, PointKind.REAL, 1.0, 0.0, None)
            item = ua.MonitoredItemNotification()
            item.ClientHandle = i + 1
            item.Value = ua.DataValue(
                ua.Variant(float(i + round_), ua.VariantType.Double),
                SourceTimestamp=stamp,
                ServerTimestamp=stamp,
            )
            items.append(item)
        change = ua.DataChangeNotification()
        change.MonitoredItems = items
        encoded.append(struct_to_binary(change))
    turn = [0]

    def work() -> int:
        data = encoded[turn[0] % 2]
        turn[0] += 1
        change = struct_from_binary(ua.DataChangeNotification, Buffer(data))
        session.data_changes(change.MonitoredItems)
        return ITEMS

    return best_rate(work, repeat=3, min_time=0.5)


def main() -> None:
    logging.getLogger("asyncua").setLevel(logging.ERROR)
    report("opcua_client_apply", _apply_rate(), "notifications/s")
    rate, writes = asyncio.run(_run())
    report("opcua_client_ingest", rate, "notifications/s")
    report("opcua_client_ingest_server_writes", writes, "writes/s")


if __name__ == "__main__":
    main()
