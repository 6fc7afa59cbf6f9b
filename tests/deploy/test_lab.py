"""The docker-compose lab's three gateway configurations, run here on loopback.

`deploy/lab/field.yaml` (the field devices), `deploy/lab/plant.yaml` (the plant gateway) and
`deploy/lab/rto.yaml` (the RTO gateway) run unchanged as three ``iccp-gateway run``
processes: the environment gives them free loopback ports instead of the compose service
names, a real mosquitto takes their MQTT and the historian writes to SQLite. A value travels
field device -> plant gateway (Modbus) -> ICCP -> RTO gateway -> MQTT, and a control sent
over MQTT to the RTO travels back to the field device and its outcome comes back.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from gateway.points import State
from tests.support import REPO, free_ports, require_program
from tests.support.peers.mosquitto import Mosquitto
from tests.support.tase2.demo import plant

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]

LAB = REPO / "deploy" / "lab"


class Lab:
    """The lab's gateways as processes, each with its environment and its log file."""

    def __init__(self, workdir: Path, mqtt_port: int) -> None:
        self.workdir = workdir
        (
            self.modbus,
            self.dnp3,
            self.opcua,
            self.iccp,
            api_field,
            api_plant,
            api_rto,
        ) = free_ports(7)
        self.api = {"field": api_field, "plant": api_plant, "rto": api_rto}
        self.common = {
            "LAB_MODBUS_PORT": str(self.modbus),
            "LAB_DNP3_PORT": str(self.dnp3),
            "LAB_OPCUA_PORT": str(self.opcua),
            "LAB_ICCP_PORT": str(self.iccp),
            "LAB_MQTT_PORT": str(mqtt_port),
            "LAB_HISTORIAN_DB": f"sqlite:///{workdir / 'history.sqlite3'}",
        }
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def env(self, name: str) -> dict[str, str]:
        state = self.workdir / f"state-{name}"
        state.mkdir(exist_ok=True)
        return {
            **os.environ,
            **self.common,
            "LAB_API": f"127.0.0.1:{self.api[name]}",
            "LAB_STATE_DIR": str(state),
            "PYTHONUNBUFFERED": "1",
        }

    def log(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def start(self, name: str) -> None:
        with self.log(name).open("wb") as log:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "run", str(LAB / f"{name}.yaml")],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env=self.env(name),
            )

    def status(self, name: str) -> int:
        """``iccp-gateway status`` against the gateway's API: the compose health check."""
        return subprocess.run(
            [sys.executable, "-m", "gateway.cli", "status"],
            env={**self.env(name), "ICCP_GATEWAY_URL": f"http://127.0.0.1:{self.api[name]}"},
            capture_output=True,
            timeout=30,
        ).returncode

    def wait_healthy(self, name: str, timeout: float = 40.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.processes[name]
            if process.poll() is not None:
                raise AssertionError(f"{name} exited with {process.returncode}:\n{self.tail(name)}")
            if self.status(name) == 0:
                return
            time.sleep(0.5)
        raise AssertionError(f"{name} not healthy in {timeout}s:\n{self.tail(name)}")

    def tail(self, name: str) -> str:
        return "".join(self.log(name).read_text(errors="replace").splitlines(True)[-40:])

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


class Subscriber:
    """A paho client taking every message under a topic filter, the latest per topic."""

    def __init__(self, port: int, topic: str) -> None:
        self.latest: dict[str, Any] = {}
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        try:
            doc = json.loads(msg.payload)
        except ValueError:
            doc = msg.payload.decode(errors="replace")
        with self.changed:
            self.latest[msg.topic] = doc
            self.changed.notify_all()

    def wait_for(self, topic: str, check: Any, timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                doc = self.latest.get(topic)
                if doc is not None and check(doc):
                    return doc
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{what}: last on {topic}: {doc!r}")
                self.changed.wait(left)

    def publish(self, topic: str, payload: str) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[Lab, Subscriber]]:
    require_program("mosquitto", "mosquitto")
    with Mosquitto(tmp_path / "mqtt") as broker:
        running = Lab(tmp_path, broker.port)
        subscriber = Subscriber(broker.port, "iccp/#")
        try:
            for name in ("field", "plant", "rto"):
                running.start(name)
            for name in ("field", "plant", "rto"):
                running.wait_healthy(name)
            yield running, subscriber
        finally:
            subscriber.close()
            running.stop()


def valid(doc: Any) -> bool:
    return isinstance(doc, dict) and doc["quality"]["validity"] == "valid"


def test_a_value_and_a_control_travel_through_the_lab(lab: tuple[Lab, Subscriber]) -> None:
    gateways, mqtt_in = lab

    # the field device's value, polled by the plant, reported over ICCP, published by the RTO
    mqtt_in.wait_for("iccp/plant/GEN2_MW", valid, 30, "the plant never published GEN2_MW")
    gen2 = mqtt_in.wait_for("iccp/rto/PLANT_GEN2_MW", valid, 30, "GEN2_MW never reached the RTO")
    assert 0 <= gen2["value"] <= 300
    mqtt_in.wait_for("iccp/rto/PLANT_GEN3_MW", valid, 30, "DNP3 unit 3 never reached the RTO")
    mqtt_in.wait_for("iccp/rto/PLANT_GEN4_MW", valid, 30, "OPC UA unit 4 never reached the RTO")

    # a dispatch from the RTO: MQTT -> RTO bus -> ICCP operate -> plant bus -> Modbus write
    mqtt_in.publish("iccp/rto/PLANT_GEN2_SP/set", json.dumps({"value": 150.0}))
    outcome = mqtt_in.wait_for(
        "iccp/rto/PLANT_GEN2_SP/set/result", lambda d: True, 30, "no outcome of the dispatch"
    )
    assert outcome["ok"] is True, outcome
    field = asyncio.run(plant(gateways.modbus))
    assert field["setpoint"] == pytest.approx(150.0)
    # ... and the set-point in force travels back up: field -> plant -> ICCP -> RTO -> MQTT
    mqtt_in.wait_for(
        "iccp/rto/PLANT_GEN2_SETPOINT",
        lambda d: valid(d) and d["value"] == pytest.approx(150.0),
        30,
        "the new set-point never came back to the RTO",
    )

    # a breaker opened from the RTO (select-before-operate), its status follows at the field
    mqtt_in.publish("iccp/rto/PLANT_BRK2_CMD/set", str(int(State.OFF)))  # TASE.2 codes
    outcome = mqtt_in.wait_for(
        "iccp/rto/PLANT_BRK2_CMD/set/result", lambda d: True, 30, "no outcome of the open"
    )
    assert outcome["ok"] is True, outcome
    assert asyncio.run(plant(gateways.modbus))["coil"] is False
    mqtt_in.wait_for(
        "iccp/rto/PLANT_BRK2_STATE",
        lambda d: valid(d) and d["value"] == int(State.OFF),
        30,
        "the opened breaker's status never reached the RTO",
    )

    # every gateway is still healthy, and the plant's historian has rows
    for name in ("field", "plant", "rto"):
        assert gateways.status(name) == 0, gateways.tail(name)
    history = subprocess.run(
        [
            *(sys.executable, "-m", "gateway.cli", "history", "GEN2_MW"),
            *("--database", gateways.common["LAB_HISTORIAN_DB"], "--format", "json"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert history.returncode == 0, history.stderr
    assert "GEN2_MW" in history.stdout
