"""MQTT publishing: bus changes through the `mqtt` adapter to mosquitto on loopback, QoS 0.

Each round changes every one of N points on the bus; the adapter drains its subscription,
encodes JSON and publishes. A round's time runs until the broker has acknowledged a QoS 1
fence message sent after it, so only what reached the broker counts. Best of a few runs.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time

from adapters.mqtt import MqttAdapter, MqttSettings
from benchmarks.common import report
from gateway.bus import PointBus
from gateway.points import GOOD, PointDef
from tests.support import find_program
from tests.support.peers.mosquitto import Mosquitto

N = 10_000
ROUNDS = 4
REPEAT = 3


async def _points_per_second(port: int, batch_size: int) -> float:
    bus = PointBus()
    bus.add_owner("bench")
    points = [f"P{i}" for i in range(N)]
    for point in points:
        bus.register(PointDef(id=point, units="MW"), "bench")
    settings = MqttSettings.model_validate(
        {
            "port": port,
            "client_id": f"bench-{batch_size}",
            "publish": points,
            "batch_size": batch_size,
            "snapshot_on_connect": False,
        }
    )
    adapter = MqttAdapter("bench", settings, bus)
    task = asyncio.create_task(adapter.run())
    try:
        await adapter.wait_connected(10.0)
        best = 0.0
        step = 0
        for _ in range(REPEAT):
            start = time.perf_counter()
            for _ in range(ROUNDS):
                step += 1
                bus.update_many(points, [step + i * 0.001 for i in range(N)], GOOD, time.time())
                await adapter.flush(30.0)
            best = max(best, N * ROUNDS / (time.perf_counter() - start))
        return best
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await adapter.stop()


def main() -> None:
    if find_program("mosquitto") is None:
        print("bench_mqtt: mosquitto not installed (Debian package mosquitto): skipped")
        return
    logging.getLogger("adapters.mqtt").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-mqtt-") as workdir, Mosquitto(workdir) as broker:
        batched = asyncio.run(_points_per_second(broker.port, batch_size=500))
        single = asyncio.run(_points_per_second(broker.port, batch_size=0))
    report("mqtt_publish_batched", batched, "points/s")
    report("mqtt_publish", single, "messages/s")


if __name__ == "__main__":
    main()
