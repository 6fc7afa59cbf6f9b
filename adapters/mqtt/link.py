"""One MQTT connection: a paho-mqtt client whose socket the asyncio event loop drives.

paho runs in its "external loop" mode: the event loop watches the client's socket
(`add_reader`/`add_writer`) and calls `loop_read`, `loop_write` and, once a second,
`loop_misc` (keep-alive). So every paho callback, and therefore every bus call the adapter
makes from one, runs on the event loop thread; there is no network thread, no lock
contention and no wake-up write per publish, which is what lets a burst of publishes go out
as fast as paho can pack them. Only the blocking `connect()` (name lookup, TCP and TLS
handshakes, sending CONNECT) runs in a worker thread, before any callback is attached.

A link is used for one connection only; the adapter builds a fresh one to reconnect, so no
half-sent state of an old connection leaks into a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from adapters.mqtt.settings import MqttSettings

log = logging.getLogger(__name__)

MessageHandler = Callable[[mqtt.MQTTMessage], None]
AckHandler = Callable[[int], None]

MISC_PERIOD = 1.0
"""Seconds between keep-alive checks (`loop_misc`)."""


class BrokerRefused(ConnectionError):
    """The broker answered CONNECT with a failure (bad credentials, not authorised...)."""


class BrokerLink:
    """A connected paho client bound to the running event loop."""

    def __init__(
        self,
        client: mqtt.Client,
        loop: asyncio.AbstractEventLoop,
        on_message: MessageHandler,
        on_ack: AckHandler | None,
    ) -> None:
        self.client = client
        self.session_present = False
        self.closed: asyncio.Future[str] = loop.create_future()
        self._loop = loop
        self._on_message = on_message
        self._on_ack = on_ack
        self._connack: asyncio.Future[ReasonCode] = loop.create_future()
        self._drained = asyncio.Event()
        self._drained.set()
        self._sock: Any = None
        self._misc: asyncio.TimerHandle | None = None
        self._subacks: dict[int, asyncio.Future[list[ReasonCode]]] = {}

    # -- opening ----------------------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        settings: MqttSettings,
        client_id: str,
        will_topic: str,
        on_message: MessageHandler,
        on_ack: AckHandler | None = None,
    ) -> BrokerLink:
        """Connect, wait for CONNACK; raise OSError, TimeoutError or BrokerRefused."""
        loop = asyncio.get_running_loop()
        link = cls(make_client(settings, client_id, will_topic), loop, on_message, on_ack)
        try:
            await link._connect(settings)
        except BaseException:
            link.abort()
            raise
        return link

    async def _connect(self, settings: MqttSettings) -> None:
        client = self.client
        v5 = settings.mqtt_version == "5"
        kwargs: dict[str, Any] = {}
        if v5:
            kwargs["clean_start"] = settings.clean_session
            if settings.session_expiry:
                props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
                props.SessionExpiryInterval = settings.session_expiry
                kwargs["properties"] = props
        blocking = self._loop.run_in_executor(
            None,
            lambda: client.connect(settings.host, settings.port, settings.keepalive, **kwargs),
        )
        try:
            async with asyncio.timeout(settings.connect_timeout):
                await asyncio.shield(blocking)
        except TimeoutError:
            # the worker thread may still finish: close whatever socket it opens
            blocking.add_done_callback(lambda _: _close_socket(client))
            raise
        self._attach()
        async with asyncio.timeout(settings.connect_timeout):
            reason = await asyncio.shield(self._connack)
        if reason.is_failure:
            raise BrokerRefused(f"broker refused the connection: {reason}")

    def _attach(self) -> None:
        """Hand the connected socket to the event loop and route paho's callbacks here."""
        client = self.client
        client.on_connect = self._connected
        client.on_disconnect = self._disconnected
        client.on_message = self._message
        client.on_subscribe = self._subscribed
        if self._on_ack is not None:
            client.on_publish = self._published
        client.on_socket_close = self._socket_closed
        client.on_socket_register_write = self._want_write
        client.on_socket_unregister_write = self._done_writing
        self._sock = client.socket()
        if self._sock is None:
            raise ConnectionError("the connection closed while opening")
        with contextlib.suppress(OSError, AttributeError):
            # no Nagle: a small message after a large one must not wait for a delayed ACK
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._loop.add_reader(self._sock, self._readable)
        client.loop_write()  # sends what connect() could not, and registers for writing
        self._misc = self._loop.call_later(MISC_PERIOD, self._tick)

    # -- paho callbacks (all on the event loop thread) -----------------------------------------

    def _connected(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.session_present = flags.session_present
        if not self._connack.done():
            self._connack.set_result(reason)

    def _disconnected(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._close(str(reason))

    def _message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            self._on_message(message)
        except Exception:  # a handler bug must not tear down the connection
            log.exception("handling a message on %s failed", message.topic)

    def _published(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if self._on_ack is not None:
            self._on_ack(mid)

    def _subscribed(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        future = self._subacks.get(mid)
        if future is not None and not future.done():
            future.set_result(codes)

    def _socket_closed(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._detach(sock)
        self._close("connection closed")

    def _want_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._drained.clear()
        self._loop.add_writer(sock, self._writable)

    def _done_writing(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._loop.remove_writer(sock)
        self._drained.set()

    # -- event loop callbacks ----------------------------------------------------------------

    def _readable(self) -> None:
        client = self.client
        client.loop_read()
        sock = self._sock
        if not isinstance(sock, ssl.SSLSocket):
            return
        # TLS may hold decrypted bytes the OS socket no longer signals
        while self._sock is sock and sock.pending():
            client.loop_read()

    def _writable(self) -> None:
        self.client.loop_write()

    def _tick(self) -> None:
        if self.closed.done():
            return
        self.client.loop_misc()
        if not self.closed.done():
            self._misc = self._loop.call_later(MISC_PERIOD, self._tick)

    # -- use ----------------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return not self.closed.done()

    def unsent_qos0(self) -> int:
        """QoS 0 publications paho still holds unwritten: lost when the connection is.

        (paho keeps no copy of them to send again, unlike its QoS 1 messages.)
        """
        queued = getattr(self.client, "_out_packet", ())  # paho has no public count of these
        return sum(
            1
            for packet in queued
            if packet["command"] & 0xF0 == mqtt.PUBLISH and packet["qos"] == 0
        )

    def publish(
        self,
        topic: str,
        payload: str | bytes,
        qos: int = 0,
        retain: bool = False,
        properties: Properties | None = None,
    ) -> mqtt.MQTTMessageInfo:
        """Queue a publication; it is written when the socket is writable."""
        return self.client.publish(topic, payload, qos, retain, properties)

    async def subscribe(self, topics: list[tuple[str, int]], timeout: float) -> None:
        """Subscribe to topic filters with their QoS and wait (bounded) for the SUBACK."""
        if not topics:
            return
        rc, mid = self.client.subscribe(topics)
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or mid is None:
            raise ConnectionError(f"subscribe failed: {mqtt.error_string(rc)}")
        future: asyncio.Future[list[ReasonCode]] = self._loop.create_future()
        self._subacks[mid] = future
        try:
            waiters: list[asyncio.Future[Any]] = [future, self.closed]
            async with asyncio.timeout(timeout):
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._subacks.pop(mid, None)
        if not future.done():
            raise ConnectionError("connection lost while subscribing")
        refused = [
            t for (t, _), code in zip(topics, future.result(), strict=False) if code.is_failure
        ]
        if refused:
            log.warning("the broker refused the subscriptions %s", ", ".join(refused))

    def wants_write(self) -> bool:
        return self.client.want_write()

    async def drained(self, timeout: float) -> None:
        """Wait (at most `timeout` s) until every queued packet is written to the socket."""
        if self.client.want_write() and self.is_open:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):  # wait_for can swallow a cancel (3.11)
                    await self._drained.wait()

    async def close(self, timeout: float = 2.0) -> None:
        """Disconnect cleanly (the broker then discards the will), or abort after `timeout`."""
        if self.is_open:
            self.client.disconnect()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await asyncio.shield(self.closed)
        self.abort()

    def abort(self) -> None:
        """Drop the connection at once, without DISCONNECT (the broker publishes the will)."""
        self._detach(self._sock)
        _close_socket(self.client)
        self._close("aborted")

    def _detach(self, sock: Any) -> None:
        if sock is not None and sock is self._sock:
            with contextlib.suppress(ValueError, OSError):
                self._loop.remove_reader(sock)
                self._loop.remove_writer(sock)
            self._sock = None
        self._drained.set()

    def _close(self, reason: str) -> None:
        if self._misc is not None:
            self._misc.cancel()
            self._misc = None
        if not self.closed.done():
            self.closed.set_result(reason)
        if not self._connack.done():
            self._connack.set_exception(ConnectionError(f"connection lost: {reason}"))
            self._connack.exception()  # retrieved: nobody may be waiting any more


def _close_socket(client: mqtt.Client) -> None:
    sock = client.socket()
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.close()


def make_client(settings: MqttSettings, client_id: str, will_topic: str) -> mqtt.Client:
    """A paho client configured from the settings: protocol, credentials, TLS and the will."""
    v5 = settings.mqtt_version == "5"
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=None if v5 else settings.clean_session,
        protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
        reconnect_on_failure=False,
    )
    client.max_inflight_messages_set(settings.max_inflight)
    client.max_queued_messages_set(0)
    if settings.username is not None:
        password = settings.password.get_secret_value() if settings.password else None
        client.username_pw_set(settings.username, password)
    tls = settings.tls
    if tls is not None:
        client.tls_set(ca_certs=tls.ca_file, certfile=tls.cert_file, keyfile=tls.key_file)
        client.tls_insecure_set(tls.insecure)
    client.will_set(will_topic, "offline", qos=1, retain=True)
    return client
