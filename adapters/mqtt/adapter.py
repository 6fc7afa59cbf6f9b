"""The `mqtt` adapter: publishes bus points to a broker, takes points and commands from topics.

- Publications: a bus subscription over the `publish` points; each change (after the point's
  deadband and minimum interval) goes out as JSON on `<prefix>/<site>/<point>`, or packed many
  to a message on the batch topic. QoS 0 uses a coalescing subscription (while the broker is
  unreachable only the latest value of each point is kept, and published on reconnect); QoS 1
  keeps every change in the bounded store-and-forward buffer until the broker acknowledges it.
- Losses: every publication dropped on the way is counted in `lost` (QoS 1: the buffer or
  the bus queue full; QoS 0: a value replaced by a newer one while the broker is unreachable,
  or left unwritten in paho when the connection dropped); when the broker is back, one line
  says how many were lost during the outage.
- Subscriptions: each bound topic feeds its point(s); the adapter owns those points, and they
  turn not valid when the connection is lost. Malformed payloads are counted per topic and
  logged once per topic.
- Commands: `<prefix>/<site>/<point>/set` becomes a bus command; the outcome is published to
  the request's MQTT 5 response topic with its correlation data, else to
  `<prefix>/<site>/<point>/set/result`.
- Status: `online`/`offline` retained on the status topic; `offline` is also the last will.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from adapters.base import Adapter
from adapters.mqtt.buffer import ForwardBuffer, Journal
from adapters.mqtt.codec import (
    PathStep,
    PayloadEncoder,
    PayloadError,
    as_number,
    as_timestamp,
    command_outcome_json,
    compile_path,
    decode_command,
    extract,
    json_number,
    parse_json,
    parse_number,
)
from adapters.mqtt.filters import PublishFilter
from adapters.mqtt.link import BrokerLink, BrokerRefused
from adapters.mqtt.settings import MqttSettings, TopicBinding
from gateway.backoff import Backoff
from gateway.bus import CommandError, CommandFailure, PointBus, Subscription, Value
from gateway.logs import Throttle
from gateway.mapping import Binding
from gateway.points import GOOD, PointDef, PointValue, Quality, Validity
from gateway.registry import AdapterSettings

_HELD = Quality(Validity.HELD)
log = logging.getLogger(__name__)

CHUNK = 512
"""Messages queued to paho before letting the event loop write them out."""
BATCHES_PER_YIELD = 40
"""Batch messages queued to paho before letting the event loop write them out."""


@dataclass(slots=True)
class MqttStats:
    """Counters for operators; all monotonically increasing."""

    connects: int = 0
    connection_losses: int = 0
    messages_published: int = 0
    points_published: int = 0
    messages_received: int = 0
    malformed: int = 0
    commands: int = 0
    command_failures: int = 0
    responses_dropped: int = 0


class _Input:
    """One topic binding, compiled: JSON paths and the raw -> value binding of its point."""

    __slots__ = ("binding", "command_topic", "path", "point", "ts_path")

    def __init__(self, spec: TopicBinding, defn: PointDef) -> None:
        self.point = spec.point
        self.binding = Binding(defn, spec.scale, spec.offset)
        self.path: tuple[PathStep, ...] | None = compile_path(spec.path) if spec.path else None
        self.ts_path: tuple[PathStep, ...] | None = (
            compile_path(spec.ts_path) if spec.ts_path else None
        )
        self.command_topic = spec.command_topic

    def current(self, bus: PointBus) -> Binding:
        """The binding for the point's definition on the bus now.

        A live configuration change of the point alone (its ISN multiplier/adder, its kind)
        leaves this adapter's settings equal, so the runtime neither reconfigures nor restarts
        it: the new definition must take effect here, on the next message or command.
        """
        binding = self.binding
        if self.point in bus:
            defn = bus.definition(self.point)
            if defn is not binding.point:
                binding = self.binding = Binding(defn, binding.scale, binding.offset)
        return binding

    def read(self, payload: bytes, doc: object, binding: Binding) -> tuple[Value, float | None]:
        """The point value and source time stamp in a payload (`doc` is its decoded JSON)."""
        raw = parse_number(payload) if self.path is None else as_number(extract(doc, self.path))
        ts = None if self.ts_path is None else as_timestamp(extract(doc, self.ts_path))
        return binding.to_value(raw), ts


class MqttAdapter(Adapter):
    """Bridges the point bus and an MQTT broker (see the module documentation)."""

    type_name = "mqtt"
    Settings = MqttSettings
    settings: MqttSettings

    def __init__(self, name: str, settings: AdapterSettings, bus: PointBus) -> None:
        super().__init__(name, settings, bus)
        s = self.settings
        self.topics = s.topics
        self.client_id = s.client_id or f"iccp-gateway-{name}"
        self.stats = MqttStats()
        published = [p.point for p in s.publish]
        self._encoder = PayloadEncoder({p: bus.definition(p).units for p in published})
        self._filter = PublishFilter({p.point: p.rule for p in s.publish})
        self._point_topics = {p: self.topics.point(p) for p in published}
        self._retain = {p.point: s.retain if p.retain is None else p.retain for p in s.publish}
        self._inputs: dict[str, list[_Input]] = {}
        self._input_of: dict[str, _Input] = {}
        for spec in s.subscribe:
            item = _Input(spec, bus.definition(spec.point))
            self._inputs.setdefault(spec.topic, []).append(item)
            self._input_of[spec.point] = item
        self._command_points = frozenset(s.commands)
        self._buffer: ForwardBuffer | None = None
        if s.qos == 1:
            journal = Journal(s.buffer_file) if s.buffer_file else None
            self._buffer = ForwardBuffer(s.buffer_size, journal)
        self._sub: Subscription | None = None
        self._subscription()  # from now on: QoS 1 changes are kept even before run()
        self._link: BrokerLink | None = None
        self._connected = asyncio.Event()
        self._busy = False
        self._seq_of_mid: dict[int, int] = {}
        self._acks: dict[int, asyncio.Future[None]] = {}
        self._malformed: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._connect_errors = Throttle()
        self._overflow_log = Throttle()
        self._held: dict[str, PointValue] = {}  # QoS 0: latest values while disconnected
        self._dropped = 0  # QoS 0 publications lost (QoS 1 losses are the buffers' overflow)
        self._lost_before_outage = 0  # `lost` when the current outage began
        self._lost_seen = 0  # `lost` when last checked for a buffer-full line
        self._lost_last_outage = 0  # publications lost in the last outage that ended
        self._outage = True  # not connected, or the QoS 1 backlog not moving yet

    # -- lifecycle ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Publish and subscribe until cancelled, reconnecting with back-off."""
        sub = self._subscription()
        workers = [
            asyncio.create_task(self._publish_forever(sub), name=f"{self.name}:publish"),
            asyncio.create_task(self._connect_forever(), name=f"{self.name}:connect"),
        ]
        try:
            done, _ = await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # re-raises the failure for the supervisor
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            await self._disconnect()

    async def stop(self) -> None:
        """Close the bus subscription, pending command tasks and the buffer's journal."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._sub is not None:
            self._sub.close()
            self._sub = None
        if self._buffer is not None:
            self._buffer.close()

    def _subscription(self) -> Subscription:
        if self._sub is None:
            points = [p.point for p in self.settings.publish]
            qos1 = self.settings.qos == 1
            self._sub = self.bus.subscribe(
                points,
                every=qos1,
                maxlen=self.settings.buffer_size if qos1 else 100_000,
                name=f"mqtt:{self.name}",
            )
        return self._sub

    # -- connection -----------------------------------------------------------------------------

    async def _connect_forever(self) -> None:
        s = self.settings
        backoff = Backoff(initial=s.backoff_initial, maximum=s.backoff_max)
        failures = 0
        while True:
            try:
                link = await BrokerLink.open(
                    s, self.client_id, self.topics.status, self._on_message, self._ack_handler()
                )
            except (OSError, TimeoutError, BrokerRefused) as exc:
                failures += 1
                delay = backoff.delay(failures)
                self._log_connect_failure(exc, failures, delay)
                await asyncio.sleep(delay)
                continue
            opened = time.monotonic()
            try:
                await self._on_connected(link)
            except (OSError, TimeoutError) as exc:
                log.warning("%s: setting up the connection failed: %s", self.name, exc)
                link.abort()
            reason = await asyncio.shield(link.closed)
            self._on_link_lost(link, reason)
            # Only a connection that lasted counts as recovered. One the broker drops at once
            # (another client with our id, an ACL, a broker at its limit) backs off like a
            # refused one, or two gateways sharing a client id would kick each other non-stop.
            if time.monotonic() - opened >= s.backoff_max:
                failures = 0
                continue
            failures += 1
            await asyncio.sleep(backoff.delay(failures))

    def _ack_handler(self) -> Callable[[int], None] | None:
        """PUBACKs are tracked only when needed: the callback costs time on every QoS 0 send."""
        commands_out = any(i.command_topic for i in self._input_of.values())
        return self._on_ack if self._buffer is not None or commands_out else None

    def _log_connect_failure(self, exc: BaseException, failures: int, delay: float) -> None:
        error = f"{type(exc).__name__}: {exc}"
        if self._connect_errors.failure(error, failures):
            log.warning(
                "%s: cannot connect to %s:%d (%s), attempt %d; retrying in %.1fs",
                self.name,
                self.settings.host,
                self.settings.port,
                error,
                failures,
                delay,
            )

    async def _on_connected(self, link: BrokerLink) -> None:
        """Announce `online`, subscribe (waiting for the SUBACK), then start publishing."""
        self._link = link
        self.stats.connects += 1
        self._connect_errors.reset()
        log.info(
            "%s: connected to %s:%d as %s%s",
            self.name,
            self.settings.host,
            self.settings.port,
            self.client_id,
            " (session resumed)" if link.session_present else "",
        )
        if self._buffer is None or len(self._buffer) < self._buffer.maxlen:
            self._end_outage()  # else at the first PUBACK: the buffer may drop until then
        link.publish(self.topics.status, "online", 1, True)
        await link.subscribe(self._subscriptions(), self.settings.connect_timeout)
        held = list(self._held.values())
        self._held.clear()
        if self.settings.snapshot_on_connect and self.settings.publish:
            self._publish_snapshot()  # the current values: newer than or equal to `held`
        elif held:
            self._send_now(held)
        self._pump()
        self._connected.set()

    def _end_outage(self) -> None:
        """The broker is back: one line with the publications lost while it was not."""
        if not self._outage:
            return
        self._outage = False
        lost = self.lost
        during = lost - self._lost_before_outage
        self._lost_before_outage = lost
        self._lost_last_outage = during
        self._overflow_log = Throttle()
        if during:
            log.warning(
                "%s: %d messages lost while the broker was unreachable (%d since start)",
                self.name,
                during,
                lost,
            )

    def _subscriptions(self) -> list[tuple[str, int]]:
        qos: dict[str, int] = {}
        for spec in self.settings.subscribe:
            qos[spec.topic] = max(qos.get(spec.topic, 0), spec.qos)
        if self._command_points:
            qos[self.topics.command_filter] = 1
        return list(qos.items())

    def _on_link_lost(self, link: BrokerLink, reason: str) -> None:
        self._link = None
        self._connected.clear()
        self.stats.connection_losses += 1
        if self._buffer is not None:
            self._buffer.rewind()
        self._seq_of_mid.clear()
        for future in self._acks.values():
            if not future.done():
                future.set_exception(
                    CommandError(CommandFailure.DEVICE_FAILURE, "connection to the broker lost")
                )
        self._acks.clear()
        if not self._outage:
            self._outage = True
            self._lost_before_outage = self.lost
        self._dropped += link.unsent_qos0()
        if self._input_of:
            self.bus.owner_lost(self.name)
        buffered = len(self._buffer) if self._buffer is not None else 0
        log.warning(
            "%s: connection to %s:%d lost (%s)%s",
            self.name,
            self.settings.host,
            self.settings.port,
            reason,
            f"; {buffered} QoS 1 messages kept for after reconnect" if buffered else "",
        )

    async def _disconnect(self) -> None:
        link, self._link = self._link, None
        self._connected.clear()
        if link is not None and link.is_open:
            # Wait for the broker's PUBACK before DISCONNECT: closing a socket with unread
            # input resets the connection, and the broker could lose what was just sent.
            info = link.publish(self.topics.status, "offline", 1, True)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    while link.is_open and not info.is_published():
                        await asyncio.sleep(0.005)
            await link.close()
        if self._buffer is not None:
            self._buffer.flush()

    # -- publishing ----------------------------------------------------------------------------

    async def _publish_forever(self, sub: Subscription) -> None:
        qos1 = self._buffer is not None
        filt = self._filter
        while True:
            changes = await sub.wait(self._wait_timeout())
            if filt.active:
                now = time.monotonic()
                changes = filt.admit(changes, now) + filt.due(now)
            if changes and not qos1 and self._link is None:
                self._hold(changes)
            elif changes:
                self._busy = True
                try:
                    await self._publish_values(changes)
                finally:
                    self._busy = False

    def _wait_timeout(self) -> float | None:
        due = self._filter.next_due() if self._filter.active else None
        return None if due is None else max(0.0, due - time.monotonic())

    async def _publish_values(self, pvs: Sequence[PointValue]) -> None:
        if self._buffer is not None:
            self._buffer_values(pvs, self._buffer)
            self._pump()
            return
        batch = self.settings.batch_size
        if batch:
            size = batch
            for start in range(0, len(pvs), size * BATCHES_PER_YIELD):
                self._send_batches(pvs[start : start + size * BATCHES_PER_YIELD], size)
                await self._let_socket_drain()
        else:
            for start in range(0, len(pvs), CHUNK):
                self._send_points(pvs[start : start + CHUNK])
                await self._let_socket_drain()

    def _hold(self, pvs: Sequence[PointValue]) -> None:
        """QoS 0 while disconnected: keep each point's latest value; a replaced one is lost."""
        held = self._held
        for pv in pvs:
            if pv.point in held:
                self._dropped += 1
            held[pv.point] = pv

    def _send_now(self, pvs: Sequence[PointValue]) -> None:
        if self.settings.batch_size:
            self._send_batches(pvs, self.settings.batch_size)
        else:
            self._send_points(pvs)

    def _send_points(self, pvs: Sequence[PointValue]) -> None:
        link = self._link
        if link is None:
            self._hold(pvs)
            return
        publish = link.client.publish
        topics = self._point_topics
        retain = self._retain
        failed = 0
        for pv, payload in zip(pvs, self._encoder.points_json(pvs), strict=True):
            if publish(topics[pv.point], payload, 0, retain[pv.point]).rc:
                failed += 1  # paho has no connection any more: not sent, not kept
        self._dropped += failed
        self.stats.messages_published += len(pvs) - failed
        self.stats.points_published += len(pvs) - failed

    def _send_batches(self, pvs: Sequence[PointValue], size: int) -> None:
        link = self._link
        if link is None:
            self._hold(pvs)
            return
        topic = self.topics.batch
        encode = self._encoder.batch_json
        for start in range(0, len(pvs), size):
            if link.client.publish(topic, encode(pvs[start : start + size]), 0, False).rc:
                self._dropped += 1
            else:
                self.stats.messages_published += 1
        self.stats.points_published += len(pvs)

    async def _let_socket_drain(self) -> None:
        link = self._link
        if link is not None:
            await asyncio.sleep(0)
            await link.drained(timeout=5.0)

    def _buffer_values(self, pvs: Sequence[PointValue], buffer: ForwardBuffer) -> None:
        batch = self.settings.batch_size
        if batch:
            topic = self.topics.batch
            for start in range(0, len(pvs), batch):
                payload = self._encoder.batch_json(pvs[start : start + batch]).encode()
                buffer.push(topic, payload, False)
        else:
            topics = self._point_topics
            retain = self._retain
            for pv, text in zip(pvs, self._encoder.points_json(pvs), strict=True):
                buffer.push(topics[pv.point], text.encode(), retain[pv.point])
        buffer.flush()
        lost = self.lost
        if lost > self._lost_seen:  # the buffer or the bus queue overflowed
            self._lost_seen = lost
            self._report_overflow()

    def _report_overflow(self) -> None:
        """Buffer full: a line at the 1st, 2nd, 4th... time in an outage (or while the broker
        is back but not keeping up); the exact total of an outage follows when it ends."""
        if self._overflow_log.count("overflow"):
            log.warning(
                "%s: store-and-forward buffer full (%d messages): the oldest are dropped "
                "(%d lost since start)",
                self.name,
                self.settings.buffer_size,
                self.lost,
            )

    @property
    def overflow(self) -> int:
        """QoS 1 messages dropped because the buffer (or the bus queue) was full."""
        buffered = self._buffer.overflow if self._buffer is not None else 0
        queued = self._sub.overflow if self._sub is not None and self._sub.every else 0
        return buffered + queued

    @property
    def lost(self) -> int:
        """Publications dropped since start, by every path: the QoS 1 buffers' overflow and
        the QoS 0 values never sent."""
        return self.overflow + self._dropped

    def _pump(self) -> None:
        """Hand buffered QoS 1 messages to the broker, at most `max_inflight` at a time."""
        link, buffer = self._link, self._buffer
        if link is None or buffer is None:
            return
        room = self.settings.max_inflight - buffer.in_flight
        if room <= 0:
            return
        sent = buffer.take(room)
        publish = link.client.publish
        seq_of_mid = self._seq_of_mid
        for message in sent:
            info = publish(message.topic, message.payload, 1, message.retain)
            seq_of_mid[info.mid] = message.seq
        self.stats.messages_published += len(sent)

    def _on_ack(self, mid: int) -> None:
        seq = self._seq_of_mid.pop(mid, None)
        if seq is not None and self._buffer is not None:
            self._buffer.ack(seq)
            self._end_outage()
            self._pump()
            return
        future = self._acks.pop(mid, None)
        if future is not None and not future.done():
            future.set_result(None)

    def _publish_snapshot(self) -> None:
        points = [p.point for p in self.settings.publish if p.point in self.bus]
        pvs = list(self.bus.snapshot(points).values())
        self._filter.forget(points)
        if self._buffer is not None:
            self._buffer_values(pvs, self._buffer)
        else:
            self._send_now(pvs)

    async def flush(self, timeout: float = 10.0) -> None:
        """Wait until every change so far is with the broker (a QoS 1 fence message).

        For tests and benchmarks; raises TimeoutError if that takes longer than `timeout`.
        """
        async with asyncio.timeout(timeout):
            while True:
                link = self._link
                sub_empty = self._sub is None or not len(self._sub)
                buffer_empty = self._buffer is None or not len(self._buffer)
                if link is not None and sub_empty and buffer_empty and not self._busy:
                    await link.drained(timeout)
                    if not link.wants_write():
                        break
                await asyncio.sleep(0.002)
            info = link.publish(self.topics.status, "online", 1, True)
            while not info.is_published():
                await asyncio.sleep(0.002)

    # -- subscriptions ---------------------------------------------------------------------------

    def _on_message(self, message: mqtt.MQTTMessage) -> None:
        topic = message.topic
        inputs = self._inputs.get(topic)
        if inputs is not None:
            self.stats.messages_received += 1
            self._take_input(topic, inputs, bytes(message.payload), bool(message.retain))
            return
        point = self.topics.command_point(topic)
        if point is not None:
            self._start_command(topic, point, message)

    def _take_input(
        self, topic: str, inputs: list[_Input], payload: bytes, retained: bool = False
    ) -> None:
        """Apply one message to its points.

        A retained message replayed by the broker on subscribe may be hours old: without a
        source time stamp in it, its value is published as held (the last known value), never
        as a fresh valid one.
        """
        doc: object = None
        try:
            if any(item.path is not None or item.ts_path is not None for item in inputs):
                doc = parse_json(payload)
            for item in inputs:
                binding = item.current(self.bus)
                value, ts = item.read(payload, doc, binding)
                base = _HELD if retained and ts is None else GOOD
                self.bus.update(item.point, value, binding.quality(value, base), ts)
        except (PayloadError, CommandError, ValueError) as exc:
            self._malformed_payload(topic, exc)

    def _malformed_payload(self, topic: str, exc: Exception) -> None:
        count = self._malformed.get(topic, 0) + 1
        self._malformed[topic] = count
        self.stats.malformed += 1
        if count == 1:
            log.warning(
                "%s: malformed payload on %s: %s (further ones on this topic are only counted)",
                self.name,
                topic,
                exc,
            )

    # -- commands --------------------------------------------------------------------------------

    def _start_command(self, topic: str, point: str, message: mqtt.MQTTMessage) -> None:
        if message.retain:
            self._malformed_payload(topic, ValueError("retained command ignored"))
            return
        props = message.properties
        response_topic = getattr(props, "ResponseTopic", None) if props is not None else None
        correlation = getattr(props, "CorrelationData", None) if props is not None else None
        task = asyncio.get_running_loop().create_task(
            self._command(topic, point, bytes(message.payload), response_topic, correlation)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _command(
        self,
        topic: str,
        point: str,
        payload: bytes,
        response_topic: str | None,
        correlation: bytes | None,
    ) -> None:
        self.stats.commands += 1
        value: object = None
        correlation_id: object = None
        failure: str | None
        try:
            request = decode_command(payload)
        except PayloadError as exc:
            self._malformed_payload(topic, exc)
            ok, failure, detail = False, str(CommandFailure.INVALID_VALUE), str(exc)
        else:
            value, correlation_id = request.value, request.correlation_id
            if point not in self._command_points:
                ok, failure = False, str(CommandFailure.NOT_PERMITTED)
                detail = f"{point} is not settable over MQTT"
            else:
                result = await self.bus.command(point, request.value, origin=f"mqtt:{self.name}")
                ok, detail = result.ok, result.detail
                failure = None if result.failure is None else str(result.failure)
        if not ok:
            self.stats.command_failures += 1
        outcome = command_outcome_json(point, value, ok, failure, detail, correlation_id)
        self._respond(response_topic or self.topics.default_response(point), outcome, correlation)

    def _respond(self, topic: str, payload: str, correlation: bytes | None) -> None:
        link = self._link
        if link is None:
            self.stats.responses_dropped += 1
            log.warning("%s: not connected: command response for %s dropped", self.name, topic)
            return
        props = None
        if correlation is not None and self.settings.mqtt_version == "5":
            props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            props.CorrelationData = correlation
        link.publish(topic, payload, 1, False, props)

    async def on_command(self, point: PointDef, value: Value) -> None:
        """Publish a command for an owned point to its binding's `command_topic` (QoS 1)."""
        item = self._input_of.get(point.id)
        if item is None or item.command_topic is None:
            raise CommandError(
                CommandFailure.NOT_PERMITTED, f"{self.name} has no command topic for {point.id}"
            )
        raw = item.current(self.bus).to_raw(value)
        link = self._link
        if link is None:
            raise CommandError(CommandFailure.DEVICE_FAILURE, "not connected to the broker")
        info = link.publish(item.command_topic, json_number(raw), 1, False)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._acks[info.mid] = future
        try:
            await future  # the bus bounds the wait with its command time-out
        finally:
            self._acks.pop(info.mid, None)

    # -- operators -------------------------------------------------------------------------------

    def reconfigure(self, settings: AdapterSettings) -> bool:
        """Point definitions are re-read from the bus when used: only new settings restart."""
        return settings == self.settings

    def status(self) -> dict[str, Any]:
        """Connection state, counters, buffer fill and malformed payloads per topic."""
        out: dict[str, Any] = {
            "connected": self._link is not None,
            "broker": f"{self.settings.host}:{self.settings.port}",
            **asdict(self.stats),
            "malformed_by_topic": dict(self._malformed),
            "overflow": self.overflow,
            "lost": self.lost,
            "lost_last_outage": self._lost_last_outage,
        }
        if self._buffer is not None:
            out["buffered"] = len(self._buffer)
            out["in_flight"] = self._buffer.in_flight
        if self._connect_errors.last_error:
            out["last_error"] = self._connect_errors.last_error
        return out

    @property
    def connected(self) -> bool:
        return self._link is not None

    async def wait_connected(self, timeout: float) -> None:
        """Wait until the broker has accepted the connection (TimeoutError otherwise)."""
        async with asyncio.timeout(timeout):
            await self._connected.wait()
