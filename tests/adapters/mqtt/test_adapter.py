"""The MQTT adapter against a real mosquitto broker (Debian package `mosquitto`).

The test side talks to the broker through its own paho client on paho's network thread, so
the adapter's asyncio-driven client is checked against an independent loop.
"""

import asyncio
import contextlib
import json
import logging
import signal
import subprocess
import sys
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from adapters.mqtt import MqttAdapter, MqttSettings
from adapters.sim import SimAdapter
from gateway.bus import PointBus
from gateway.config import build_config
from gateway.points import GOOD, PointDef, State, Validity
from gateway.registry import AdapterRegistry
from gateway.runtime import Backoff, Runtime
from tests.support import REPO, eventually, require_program, running
from tests.support.peers.mosquitto import Mosquitto

FAST = {"reconnect_min": 0.05, "reconnect_max": 0.3, "connect_timeout": 2.0}


@pytest.fixture
def broker(tmp_path):
    require_program("mosquitto", "mosquitto")
    server = Mosquitto(tmp_path / "broker", persistence=True)
    server.start()
    yield server
    server.stop()


class Peer:
    """An independent MQTT client for the test side, on paho's own network thread."""

    def __init__(self, broker, client_id="", v5=True, clean=True):
        self.messages: list[mqtt.MQTTMessage] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            clean_session=None if v5 else clean,
        )
        self.client.on_message = self._message
        self.client.on_subscribe = lambda *args: self._subscribed.set()
        self.client.reconnect_delay_set(0.05, 0.3)
        self.broker = broker

    def _message(self, client, userdata, message):
        with self._lock:
            self.messages.append(message)

    def start(self, *topics, qos=1):
        self.client.connect(self.broker.host, self.broker.port, 10)
        self.client.loop_start()
        if topics:
            self.client.subscribe([(t, qos) for t in topics])
            assert self._subscribed.wait(5), "no SUBACK"
        return self

    def stop(self):
        self.client.disconnect()
        self.client.loop_stop()

    def on(self, topic):
        with self._lock:
            return [m for m in self.messages if m.topic == topic]

    def json_on(self, topic):
        return [json.loads(m.payload) for m in self.on(topic)]


@contextlib.asynccontextmanager
async def running_mqtt(adapter, connected=True):
    """The adapter running (and connected to the broker, unless told otherwise), then stopped."""
    try:
        async with running(adapter) as task:
            if connected:
                await adapter.wait_connected(5.0)
            yield task
    finally:
        await adapter.stop()


def bus_with(points, owner="field"):
    bus = PointBus()
    bus.add_owner(owner)
    for defn in points:
        bus.register(defn, owner)
    return bus


def adapter_for(bus, broker, name="mqtt", **settings):
    merged = {"port": broker.port, "site": "site1", **FAST, **settings}
    return MqttAdapter(name, MqttSettings.model_validate(merged), bus)


# -- publishing --------------------------------------------------------------------------------


async def test_points_publish_as_json_to_their_topics_and_stay_retained(broker):
    bus = bus_with([PointDef(id="MW", units="MW"), PointDef(id="BRK", kind="state")])
    peer = Peer(broker).start("iccp/site1/#")
    adapter = adapter_for(bus, broker, publish=["MW", "BRK"], retain=True)
    try:
        async with running_mqtt(adapter):
            await eventually(lambda: len(peer.on("iccp/site1/MW")) == 1)  # the snapshot
            snap = peer.json_on("iccp/site1/MW")[0]
            assert snap["quality"]["validity"] == "not_valid"
            bus.update_many(["MW", "BRK"], [101.25, State.ON], GOOD, 1746100800.5)
            await adapter.flush()
            await eventually(
                lambda: len(peer.on("iccp/site1/BRK")) == 2 and len(peer.on("iccp/site1/MW")) == 2
            )
        mw = peer.json_on("iccp/site1/MW")[-1]
        assert mw == {
            "point": "MW",
            "value": 101.25,
            "quality": {
                "validity": "valid",
                "source": "telemetered",
                "normal": True,
                "timestamp_valid": True,
            },
            "ts": "2025-05-01T12:00:00.500000Z",
            "ts_ms": 1746100800500,
            "cov": 1,
            "units": "MW",
        }
        assert peer.json_on("iccp/site1/BRK")[-1]["value"] == int(State.ON)
        status = [m.payload for m in peer.on("iccp/site1/_status")]
        assert status[0] == b"online" and status[-1] == b"offline"
        assert set(status[:-1]) == {b"online"}  # flush() re-sends `online` as its fence
    finally:
        peer.stop()

    late = Peer(broker).start("iccp/site1/#")
    try:
        await eventually(lambda: len(late.messages) >= 3)
        retained = {m.topic: m for m in late.messages}
        assert all(m.retain for m in retained.values())
        assert json.loads(retained["iccp/site1/MW"].payload)["value"] == 101.25
        assert retained["iccp/site1/_status"].payload == b"offline"
    finally:
        late.stop()


async def test_batch_mode_packs_many_points_per_message(broker):
    names = [f"P{i}" for i in range(7)]
    bus = bus_with([PointDef(id=n) for n in names])
    peer = Peer(broker).start("iccp/site1/_batch")
    adapter = adapter_for(bus, broker, publish=names, batch_size=3, snapshot_on_connect=False)
    try:
        async with running_mqtt(adapter):
            bus.update_many(names, [float(i) for i in range(7)], GOOD, 1.0)
            await adapter.flush()
            await eventually(lambda: len(peer.on("iccp/site1/_batch")) == 3)
        batches = peer.json_on("iccp/site1/_batch")
        assert [b["count"] for b in batches] == [3, 3, 1]
        assert [b["seq"] for b in batches] == [1, 2, 3]
        got = {p["point"]: p["value"] for b in batches for p in b["points"]}
        assert got == {n: float(i) for i, n in enumerate(names)}
    finally:
        peer.stop()


async def test_deadband_and_minimum_interval_per_point(broker):
    bus = bus_with([PointDef(id="A"), PointDef(id="B")])
    peer = Peer(broker).start("iccp/site1/+")
    adapter = adapter_for(
        bus,
        broker,
        snapshot_on_connect=False,
        publish=[{"point": "A", "deadband": 1.0}, {"point": "B", "min_interval": 0.3}],
    )
    try:
        async with running_mqtt(adapter):
            for i, value in enumerate([10.0, 10.5, 10.9, 12.0]):
                bus.update_many(["A", "B"], [value, float(i)], GOOD, 1.0)
                await asyncio.sleep(0.01)
            await eventually(lambda: len(peer.on("iccp/site1/B")) == 2, timeout=3)
            await adapter.flush()
        assert [m["value"] for m in peer.json_on("iccp/site1/A")] == [10.0, 12.0]
        assert [m["value"] for m in peer.json_on("iccp/site1/B")] == [0.0, 3.0]  # latest held
    finally:
        peer.stop()


# -- last will -----------------------------------------------------------------------------------

CHILD = """
import asyncio, sys
from adapters.mqtt import MqttAdapter, MqttSettings
from gateway.bus import PointBus

async def main():
    settings = MqttSettings(port=int(sys.argv[1]), site="site1", client_id="will-test")
    adapter = MqttAdapter("mqtt", settings, PointBus())
    await adapter.run()

asyncio.run(main())
"""


async def test_last_will_marks_the_gateway_offline_when_it_dies(broker, tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    peer = Peer(broker).start("iccp/site1/_status")
    child = subprocess.Popen([sys.executable, str(script), str(broker.port)], cwd=REPO)
    try:
        await eventually(
            lambda: [m.payload for m in peer.on("iccp/site1/_status")] == [b"online"], 15
        )
        child.send_signal(signal.SIGKILL)  # no DISCONNECT: the broker publishes the will
        child.wait(5)
        await eventually(lambda: len(peer.on("iccp/site1/_status")) == 2, 10)
        last = peer.on("iccp/site1/_status")[-1]
        assert last.payload == b"offline"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(5)
        peer.stop()
    late = Peer(broker).start("iccp/site1/_status")
    try:
        await eventually(lambda: late.messages)
        assert late.messages[0].payload == b"offline" and late.messages[0].retain
    finally:
        late.stop()


# -- store and forward ---------------------------------------------------------------------------


def sequence_checker(broker):
    """A persistent-session subscriber: the broker queues for it while it is away."""
    return Peer(broker, client_id="seq-checker", v5=False, clean=False).start("iccp/site1/SEQ")


def values_of(peer):
    return [json.loads(m.payload)["value"] for m in peer.on("iccp/site1/SEQ")]


def first_occurrences(values):
    seen, order = set(), []
    for v in values:
        if v not in seen:
            seen.add(v)
            order.append(v)
    return order


async def test_broker_restart_during_qos1_publishing_loses_nothing(broker):
    bus = bus_with([PointDef(id="SEQ", kind="discrete")])
    peer = sequence_checker(broker)
    adapter = adapter_for(bus, broker, qos=1, publish=["SEQ"], snapshot_on_connect=False)
    total = 600
    try:
        async with running_mqtt(adapter):
            for seq in range(1, total + 1):
                bus.update("SEQ", seq, GOOD, time.time())
                if seq == 200:
                    await asyncio.to_thread(broker.stop)
                if seq == 400:
                    assert not adapter.connected and adapter.status()["buffered"] > 0
                    await asyncio.to_thread(broker.start)
                await asyncio.sleep(0.002)
            await adapter.flush(15)
            await eventually(lambda: set(values_of(peer)) >= set(range(1, total + 1)), 15)
            status = adapter.status()
        values = values_of(peer)
        assert set(values) == set(range(1, total + 1))
        assert first_occurrences(values) == list(range(1, total + 1))  # in order
        assert status["overflow"] == 0 and status["connection_losses"] >= 1
        assert status["connects"] >= 2
    finally:
        peer.stop()


async def test_buffer_overflow_is_counted_reported_and_keeps_the_newest(broker, caplog):
    bus = bus_with([PointDef(id="SEQ", kind="discrete")])
    peer = sequence_checker(broker)
    peer.stop()  # its session stays on the broker
    await asyncio.to_thread(broker.stop)
    adapter = adapter_for(
        bus, broker, qos=1, publish=["SEQ"], buffer_size=30, snapshot_on_connect=False
    )
    caplog.set_level(logging.WARNING, logger="adapters.mqtt")
    async with running_mqtt(adapter, connected=False):
        for seq in range(1, 101):
            bus.update("SEQ", seq, GOOD, time.time())
            await asyncio.sleep(0)
        await eventually(lambda: adapter.status()["overflow"] == 70)
        assert adapter.status()["buffered"] == 30
        assert "store-and-forward buffer full" in caplog.text
        await asyncio.to_thread(broker.start)
        await adapter.wait_connected(5)
        await adapter.flush(10)
    peer = Peer(broker, client_id="seq-checker", v5=False, clean=False).start()
    try:
        await eventually(lambda: 100 in values_of(peer), 10)
        assert first_occurrences(values_of(peer)) == list(range(71, 101))
    finally:
        peer.stop()


def outage_lines(caplog):
    return [
        r.getMessage() for r in caplog.records if "while the broker was unreachable" in r.message
    ]


async def test_every_qos1_message_lost_in_an_outage_is_counted_and_logged_once_back(broker, caplog):
    bus = bus_with([PointDef(id="SEQ", kind="discrete")])
    adapter = adapter_for(
        bus, broker, qos=1, publish=["SEQ"], buffer_size=25, snapshot_on_connect=False
    )
    caplog.set_level(logging.INFO, logger="adapters.mqtt")
    async with running_mqtt(adapter):
        bus.update("SEQ", 0, GOOD, time.time())
        await adapter.flush(10)
        await asyncio.to_thread(broker.stop)
        await eventually(lambda: not adapter.connected)
        for seq in range(1, 201):  # in bursts, so the bus queue overflows as well as the buffer
            bus.update("SEQ", seq, GOOD, time.time())
            if seq % 50 == 0:
                await asyncio.sleep(0.01)
        await eventually(lambda: adapter.status()["lost"] == 175)
        assert adapter.status()["buffered"] == 25 and outage_lines(caplog) == []
        full = [m for m in caplog.messages if "buffer full" in m]
        assert 1 <= len(full) <= 4  # thinned out while it goes on
        await asyncio.to_thread(broker.start)
        await adapter.wait_connected(5)
        await adapter.flush(10)
        status = adapter.status()
    assert status["lost"] == 175 and status["lost_last_outage"] == 175
    assert outage_lines(caplog) == [
        "mqtt: 175 messages lost while the broker was unreachable (175 since start)"
    ]


async def test_qos0_values_replaced_while_disconnected_are_counted_as_lost(broker, caplog):
    bus = bus_with([PointDef(id="A", kind="discrete"), PointDef(id="B", kind="discrete")])
    adapter = adapter_for(
        bus, broker, qos=0, publish=["A", "B"], retain=True, snapshot_on_connect=False
    )
    caplog.set_level(logging.INFO, logger="adapters.mqtt")
    peer = Peer(broker)
    try:
        async with running_mqtt(adapter):
            await asyncio.to_thread(broker.stop)
            await eventually(lambda: not adapter.connected)
            for seq in range(1, 31):
                bus.update("A", seq, GOOD, time.time())
                await eventually(lambda: not len(adapter._sub))  # each value reaches the adapter
            bus.update("B", 1, GOOD, time.time())
            await eventually(lambda: not len(adapter._sub))
            await asyncio.to_thread(broker.start)
            await adapter.wait_connected(5)
            peer.start("iccp/site1/+")  # the values sent on reconnect are retained
            await eventually(lambda: peer.json_on("iccp/site1/B"), 10)
            await eventually(lambda: [v["value"] for v in peer.json_on("iccp/site1/A")] == [30])
            status = adapter.status()
    finally:
        peer.stop()
    assert status["lost"] == 29 and status["lost_last_outage"] == 29  # A 1..29: replaced
    assert outage_lines(caplog) == [
        "mqtt: 29 messages lost while the broker was unreachable (29 since start)"
    ]


# -- subscriptions -------------------------------------------------------------------------------


async def test_subscribed_topics_feed_points_and_malformed_payloads_never_crash(broker, caplog):
    bus = PointBus()
    defs = [PointDef(id="PV", units="MW"), PointDef(id="BARE")]
    adapter_settings = MqttSettings.model_validate(
        {
            "port": broker.port,
            **FAST,
            "subscribe": [
                {
                    "topic": "der/pv1",
                    "point": "PV",
                    "path": "$.ac.p",
                    "ts_path": "$.ts",
                    "scale": 0.001,
                    "command_topic": "der/pv1/limit",
                },
                {"topic": "der/bare", "point": "BARE"},
            ],
        }
    )
    bus.add_owner("mqtt")
    for d in defs:
        bus.register(d, "mqtt")
    adapter = MqttAdapter("mqtt", adapter_settings, bus)
    bus.add_owner("mqtt", adapter.on_command)
    peer = Peer(broker).start("der/pv1/limit")
    caplog.set_level(logging.WARNING, logger="adapters.mqtt")
    try:
        async with running_mqtt(adapter) as task:
            publish = peer.client.publish
            publish("der/pv1", json.dumps({"ac": {"p": 2500}, "ts": 1746100800250}), 1)
            publish("der/bare", b"17.5", 1)
            await eventually(lambda: bus.get("BARE").value == 17.5 and bus.get("PV").value == 2.5)
            assert bus.get("PV").ts == pytest.approx(1746100800.25)
            assert bus.get("PV").quality.is_good and not bus.get("PV").quality.timestamp_invalid
            assert bus.get("BARE").quality.timestamp_invalid  # receive time

            for bad in (b"{not json", b'{"ac": {}}', b'{"ac": {"p": "x"}}'):
                publish("der/pv1", bad, 1)
            for bad in (b"abc", b""):
                publish("der/bare", bad, 1)
            publish("der/bare", b"18", 1)
            await eventually(lambda: bus.get("BARE").value == 18)
            status = adapter.status()
            assert status["malformed_by_topic"] == {"der/pv1": 3, "der/bare": 2}
            assert not task.done()
            warnings = [r.getMessage() for r in caplog.records if "malformed" in r.getMessage()]
            assert len(warnings) == 2  # once per topic

            # a command for an owned point goes out on its command topic (raw = value / scale)
            result = await bus.command("PV", 4.0)
            assert result.ok, result
            await eventually(lambda: peer.on("der/pv1/limit"))
            assert float(peer.on("der/pv1/limit")[0].payload) == pytest.approx(4000.0)

            await asyncio.to_thread(broker.stop)  # loss of the source: points not valid at once
            await eventually(lambda: bus.get("PV").quality.validity is Validity.NOT_VALID)
            assert bus.get("BARE").quality.validity is Validity.NOT_VALID
            await asyncio.to_thread(broker.start)
            await adapter.wait_connected(5)
    finally:
        peer.stop()


# -- commands ------------------------------------------------------------------------------------


async def test_command_round_trip_through_the_bus_to_the_sim_adapter(broker):
    registry = AdapterRegistry(group="no-such-group")
    registry.register(SimAdapter)
    registry.register(MqttAdapter)
    config = build_config(
        {
            "points": [{"id": "SP", "units": "MW"}, {"id": "RO"}],
            "adapters": [
                {
                    "name": "plant",
                    "type": "sim",
                    "points": [
                        {"point": "SP", "signal": "constant", "min": 0, "max": 100},
                        {"point": "RO", "signal": "constant", "writable": False},
                    ],
                },
                {
                    "name": "it",
                    "type": "mqtt",
                    "port": broker.port,
                    "site": "site1",
                    **FAST,
                    "publish": ["SP"],
                    "commands": ["SP", "RO"],
                },
            ],
        },
        "test.yaml",
        registry=registry,
    )
    runtime = Runtime(config, registry, Backoff(initial=0.05, maximum=0.2))
    peer = Peer(broker).start("test/resp", "iccp/site1/SP", "iccp/site1/+/set/result")
    await runtime.start()
    try:
        adapter = runtime.adapters["it"]
        await adapter.wait_connected(5)

        def request(point, payload, correlation=None):
            props = None
            if correlation is not None:
                props = Properties(PacketTypes.PUBLISH)
                props.ResponseTopic = "test/resp"
                props.CorrelationData = correlation
            peer.client.publish(f"iccp/site1/{point}/set", payload, 1, properties=props)

        request("SP", json.dumps({"value": 42}), b"req-1")
        await eventually(lambda: peer.on("test/resp"))
        reply = peer.on("test/resp")[0]
        assert reply.properties.CorrelationData == b"req-1"
        assert json.loads(reply.payload) == {
            "point": "SP",
            "value": 42,
            "ok": True,
            "failure": None,
            "detail": "",
        }
        assert runtime.bus.get("SP").value == 42
        await eventually(lambda: 42 in [m["value"] for m in peer.json_on("iccp/site1/SP")])

        request("SP", b"500", b"req-2")  # outside the simulated range
        await eventually(lambda: len(peer.on("test/resp")) == 2)
        refused = json.loads(peer.on("test/resp")[1].payload)
        assert refused["ok"] is False and refused["failure"] == "invalid value"
        assert "outside" in refused["detail"]

        # no MQTT 5 response topic: the outcome goes to <point>/set/result
        request("RO", json.dumps({"value": 1, "correlation_id": "c-9"}))
        request("OTHER", b"1")
        request("SP", b"not a number")
        await eventually(lambda: len(peer.on("iccp/site1/SP/set/result")) == 1)
        await eventually(lambda: peer.on("iccp/site1/RO/set/result"))
        await eventually(lambda: peer.on("iccp/site1/OTHER/set/result"))
        ro = peer.json_on("iccp/site1/RO/set/result")[0]
        assert ro["failure"] == "not permitted" and ro["correlation_id"] == "c-9"
        other = peer.json_on("iccp/site1/OTHER/set/result")[0]
        assert other["failure"] == "not permitted" and "not settable" in other["detail"]
        malformed = peer.json_on("iccp/site1/SP/set/result")[0]
        assert malformed["failure"] == "invalid value"
        assert runtime.bus.get("SP").value == 42
        status = runtime.status()["adapters"]["it"]
        assert status["commands"] == 5 and status["command_failures"] == 4
    finally:
        peer.stop()
        await runtime.stop()


# -- connection robustness -------------------------------------------------------------------------


async def test_a_connection_the_broker_drops_at_once_backs_off(broker, monkeypatch):
    """Two gateways configured with one client id kick each other off the broker: each
    must back off further every time, not reconnect at once in a tight loop."""
    attempts: dict[str, list[int]] = {"a": [], "b": []}

    class RecordingBackoff(Backoff):
        def delay(self, failures):
            attempts[current_adapter()].append(failures)
            return 0.001

    def current_adapter():
        return asyncio.current_task().get_name().split(":")[0]

    monkeypatch.setattr("adapters.mqtt.adapter.Backoff", RecordingBackoff)
    bus = PointBus()
    settings = {"client_id": "same-id", "reconnect_max": 30.0}
    a = adapter_for(bus, broker, name="a", **settings)
    b = adapter_for(bus, broker, name="b", **settings)
    async with running_mqtt(a, connected=False), running_mqtt(b, connected=False):
        await eventually(lambda: len(attempts["a"]) >= 4 and len(attempts["b"]) >= 4)
    for name in ("a", "b"):
        assert attempts[name][:4] == [1, 2, 3, 4], attempts


# -- live changes and odd payloads -----------------------------------------------------------------


def der_config(broker, registry, multiplier):
    return build_config(
        {
            "points": [{"id": "PV", "usage_multiplier": multiplier}],
            "adapters": [
                {
                    "name": "der",
                    "type": "mqtt",
                    "port": broker.port,
                    **FAST,
                    "subscribe": [{"topic": "der/pv", "point": "PV", "command_topic": "der/set"}],
                }
            ],
        },
        "test.yaml",
        registry=registry,
    )


async def test_a_live_change_of_a_subscribed_points_multiplier_applies_at_once(broker):
    registry = AdapterRegistry(group="no-such-group")
    registry.register(MqttAdapter)
    runtime = Runtime(der_config(broker, registry, 1.0), registry, Backoff(0.05, 0.2))
    peer = Peer(broker).start("der/set")
    await runtime.start()
    try:
        adapter = runtime.adapters["der"]
        await adapter.wait_connected(5)
        peer.client.publish("der/pv", b"2", 1)
        await eventually(lambda: runtime.bus.get("PV").quality.is_good)
        assert runtime.bus.get("PV").value == 2

        changes = await runtime.apply(der_config(broker, registry, 10.0))
        assert changes.points_changed == 1 and not changes.restarted  # the adapter runs on
        peer.client.publish("der/pv", b"3", 1)
        await eventually(lambda: runtime.bus.get("PV").value != 2)
        assert runtime.bus.get("PV").value == 30  # the new ISN multiplier, not the old one

        assert (await runtime.bus.command("PV", 40.0)).ok
        await eventually(lambda: peer.on("der/set"))
        assert float(peer.on("der/set")[0].payload) == 4.0  # raw = value / multiplier
    finally:
        peer.stop()
        await runtime.stop()


async def test_a_number_too_large_for_a_float_is_a_malformed_payload(broker, caplog):
    bus = PointBus()
    bus.add_owner("mqtt")
    bus.register(PointDef(id="PV"), "mqtt")
    adapter = adapter_for(bus, broker, subscribe=[{"topic": "der/pv", "point": "PV", "path": "p"}])
    peer = Peer(broker).start()
    caplog.set_level(logging.WARNING)
    try:
        async with running_mqtt(adapter):
            for _ in range(3):
                peer.client.publish("der/pv", '{"p": 1%s}' % ("0" * 400), 1)
            peer.client.publish("der/pv", b'{"p": 5}', 1)
            await eventually(lambda: bus.get("PV").value == 5)
            assert adapter.status()["malformed_by_topic"] == {"der/pv": 3}
    finally:
        peer.stop()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # no traceback flood
    assert sum("malformed payload" in r.getMessage() for r in caplog.records) == 1


async def test_a_retained_value_of_unknown_age_is_held_not_fresh(broker):
    bus = PointBus()
    bus.add_owner("mqtt")
    bus.register(PointDef(id="PV"), "mqtt")
    peer = Peer(broker).start()
    try:
        # published (retained) before the gateway subscribes: the broker replays it later
        peer.client.publish("der/pv", b"4.5", 1, retain=True).wait_for_publish(5)
        adapter = adapter_for(bus, broker, subscribe=[{"topic": "der/pv", "point": "PV"}])
        async with running_mqtt(adapter):
            await eventually(lambda: bus.get("PV").value == 4.5)
            assert bus.get("PV").quality.validity is Validity.HELD
            peer.client.publish("der/pv", b"5.5", 1)  # a live message is fresh
            await eventually(lambda: bus.get("PV").value == 5.5)
            assert bus.get("PV").quality.is_good
    finally:
        peer.client.publish("der/pv", b"", 1, retain=True)  # clear the retained message
        peer.stop()


def test_back_off_settings_take_the_shared_names_and_the_old_ones() -> None:
    new = MqttSettings.model_validate({"backoff_initial": 0.2, "backoff_max": 5})
    old = MqttSettings.model_validate({"reconnect_min": 0.2, "reconnect_max": 5})
    assert new == old and (old.backoff_initial, old.backoff_max) == (0.2, 5.0)
    with pytest.raises(ValueError, match="backoff_max must not be below backoff_initial"):
        MqttSettings.model_validate({"reconnect_min": 5, "reconnect_max": 1})
