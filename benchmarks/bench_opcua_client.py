"""`opcua-client` ingest: 10,000 monitored items changing, notifications applied to the bus.

`opcua_client_apply` is the client's own path without a server: a publish response with a
DataChangeNotification of 10,000 items read by `publish.decode_publish` and applied to the bus
(one batch); `opcua_client_apply_asyncua` the same response decoded by asyncua instead (what
the adapter does with the responses `decode_publish` leaves to it).

`opcua_client_ingest`: N asyncua server processes (`tests/support/peers/opcua_bench_server.py`,
N = `BENCH_OPCUA_SERVERS`, 3 by default) each serve 10,000/N of the variables on their own port
and rewrite all of theirs as fast as they can, round after round; one `opcua-client` adapter per
server subscribes to its share, all into one bus in this process. The figure is the
notifications the adapters applied per second (wall), counted over the steady middle of the
run. The servers share the machine's cores with the client, so two more lines say who is the
limit: `opcua_client_ingest_cpu` is this process's CPU time per notification (robust to the
machine's load), and `opcua_client_ingest_server_writes` the servers' writes per second, with
the CPU (cores) they and the gateway used in a comment.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path

from adapters.opcua.client.adapter import OpcUaClientAdapter
from adapters.opcua.client.settings import OpcUaClientSettings
from benchmarks.common import best_rate, report
from gateway.bus import PointBus
from gateway.points import PointDef
from tests.support import free_ports
from tests.support.peers.opcua_bench_server import OpcUaBenchServer

ITEMS = 10_000
SERVERS = int(os.environ.get("BENCH_OPCUA_SERVERS", "3"))
CHURN = 6.0
WINDOW = (1.5, 5.0)


def _adapters(servers: list[OpcUaBenchServer]) -> tuple[PointBus, list[OpcUaClientAdapter]]:
    bus = PointBus()
    adapters = []
    for n, server in enumerate(servers):
        points = [{"point": name, "node": f"ns=2;s={name}"} for name in server.names]
        settings = OpcUaClientSettings.model_validate(
            {
                "endpoints": [server.url],
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


async def _run() -> dict[str, float]:
    share = ITEMS // SERVERS
    servers = [
        OpcUaBenchServer(port, share, n * share) for n, port in enumerate(free_ports(SERVERS))
    ]
    try:
        await asyncio.gather(*(s.start() for s in servers))
        _bus, adapters = _adapters(servers)
        tasks = [asyncio.create_task(a.run()) for a in adapters]
        try:
            deadline = time.monotonic() + 120
            while not all(a.status()["state"] == "up" for a in adapters):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"sessions not up: {[a.status() for a in adapters]}")
                await asyncio.sleep(0.1)
            jobs = asyncio.gather(*(s.churn(CHURN) for s in servers))
            await asyncio.sleep(WINDOW[0])
            first, t0, cpu0 = _notifications(adapters), time.monotonic(), time.process_time()
            await asyncio.sleep(WINDOW[1] - WINDOW[0])
            last, t1, cpu1 = _notifications(adapters), time.monotonic(), time.process_time()
            replies = await jobs
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await asyncio.gather(*(s.stop() for s in servers), return_exceptions=True)
    count = max(last - first, 1)
    return {
        "rate": count / (t1 - t0),
        "cpu_us": (cpu1 - cpu0) / count * 1e6,
        "gateway_cores": (cpu1 - cpu0) / (t1 - t0),
        "writes": sum(r["writes"] / r["seconds"] for r in replies),
        "server_cores": sum(r["cpu"] / r["seconds"] for r in replies),
        "server_write_us": sum(r["cpu"] for r in replies) / sum(r["writes"] for r in replies) * 1e6,
    }


def _apply_rates() -> tuple[float, float]:
    from datetime import UTC, datetime

    from asyncua import ua
    from asyncua.common.utils import Buffer
    from asyncua.ua.ua_binary import struct_from_binary, struct_to_binary

    from adapters.opcua.client.adapter import Session, Slot
    from adapters.opcua.client.publish import decode_publish
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
        result = ua.PublishResult(SubscriptionId=1)
        result.NotificationMessage.NotificationData = [change]
        encoded.append(struct_to_binary(ua.PublishResponse(Parameters=result)))
    turn = [0]

    def fast() -> int:
        response = decode_publish(encoded[turn[0] % 2])
        turn[0] += 1
        assert response is not None
        for rows in response.Parameters.NotificationMessage.NotificationData:
            session.rows(rows.rows)
        return ITEMS

    def by_asyncua() -> int:
        response = struct_from_binary(ua.PublishResponse, Buffer(encoded[turn[0] % 2]))
        turn[0] += 1
        for change in response.Parameters.NotificationMessage.NotificationData:
            session.data_changes(change.MonitoredItems)
        return ITEMS

    return best_rate(fast, repeat=3, min_time=0.5), best_rate(by_asyncua, repeat=3, min_time=0.5)


def _load() -> str:
    """The 1-minute load average (other work on the machine), "?" where unknown."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def main() -> None:
    logging.getLogger("asyncua").setLevel(logging.ERROR)
    fast, by_asyncua = _apply_rates()
    report("opcua_client_apply", fast, "notifications/s")
    report("opcua_client_apply_asyncua", by_asyncua, "notifications/s")
    got = asyncio.run(_run())
    report("opcua_client_ingest", got["rate"], "notifications/s")
    report("opcua_client_ingest_cpu", got["cpu_us"], "us/notification", 1)
    report("opcua_client_ingest_server_writes", got["writes"], "writes/s")
    print(
        f"# {SERVERS} server processes: {got['server_cores']:.2f} cores, "
        f"{got['server_write_us']:.1f} us CPU per write; gateway: {got['gateway_cores']:.2f} "
        f"cores; load average {_load()}",
        flush=True,
    )


if __name__ == "__main__":
    main()
