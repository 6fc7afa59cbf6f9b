"""The `opcua-client` adapter: subscribes to an OPC UA server's variables into the bus.

One session at a time, to the first endpoint (in order) that accepts it. At connect the
bindings are resolved (browse paths translated, every node's DataType read: a node the server
does not know leaves its point not valid, with one log line naming it), then one subscription
is created with a monitored item per point. Each publish response is applied to the bus as
one batch (`PointBus.update_rows`): the server's SourceTimestamp (absent or null, 1601:
the receive time and the time-stamp-quality bit), the StatusCode mapped by
`adapters.opcua.status`. Bus commands are Writes typed by the node's DataType (or, where a
binding names a `method`, Calls of it), answered with the server's real result.

asyncua's own reconnect is off; its watchdog (`watchdog_interval`, >= 10 s) or a dead socket
ends the session: the points are not valid at once, and the adapter reconnects with back-off
(the next endpoint first), creating the subscription anew. A subscription that falls silent
on a live session (no data change and no keep-alive for 3 of the keep-alive periods the server
revised, `keepalive` asked for) ends the session the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.subscription import Subscription
from asyncua.common.ua_utils import data_type_to_variant_type
from asyncua.common.utils import ServiceError
from asyncua.crypto import security_policies
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.status_codes import StatusCodes
from asyncua.ua.ua_binary import struct_from_binary
from asyncua.ua.uaerrors import UaError, UaStatusCodeError, UaStructParsingError
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from adapters.base import Adapter
from adapters.opcua.client.publish import DataRows, Row, decode_publish, posix_of_datetime
from adapters.opcua.client.settings import ClientPoint, OpcUaClientSettings, check_path
from adapters.opcua.ranges import INTEGER_RANGES
from adapters.opcua.security import TrustList, describe
from adapters.opcua.status import failure_of, quality_of
from gateway.backoff import Backoff
from gateway.bus import CommandError, CommandFailure, PointBus, Value
from gateway.logs import ProblemLog, Throttle
from gateway.mapping import OFF_ON, StateTable, usage_of
from gateway.points import PointDef, PointKind, Quality, State
from gateway.registry import AdapterSettings

log = logging.getLogger(__name__)

SESSION_TIMEOUT_MS = 60_000
"""The session time-out asked for: a session of ours that vanished is closed within a minute."""
SILENT_KEEPALIVES = 3
"""Keep-alive periods without any publish response after which the subscription is dead."""
CHUNK = 1000
"""Nodes per Read, TranslateBrowsePaths or (Create/Delete)MonitoredItems request, at most:
less where the server's OperationLimits say so (`Session.limits`)."""
_LIMITS = {
    "monitored": ObjectIds.Server_ServerCapabilities_OperationLimits_MaxMonitoredItemsPerCall,
    "read": ObjectIds.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead,
    "translate": (
        ObjectIds.Server_ServerCapabilities_OperationLimits_MaxNodesPerTranslateBrowsePathsToNodeIds
    ),
}
"""The OperationLimits read at session start, by the request kind they limit."""
_NETWORK_ERRORS = (OSError, TimeoutError, ConnectionError, UaError, asyncio.IncompleteReadError)
_INTEGERS = INTEGER_RANGES
_WRITABLE = frozenset(
    {*_INTEGERS, ua.VariantType.Boolean, ua.VariantType.Float, ua.VariantType.Double}
)
"""The node types a command is written as (a String, structure, Variant... node is refused)."""


class SessionLost(Exception):
    """The session ended (the reason is the message)."""


class FailBack(Exception):
    """The first endpoint answers again: the session on a later one ends, to move back."""


@dataclass(slots=True)
class Slot:
    """One resolved binding: its bus point, node, conversion and the node's type."""

    binding: ClientPoint
    point: str
    nodeid: ua.NodeId
    kind: PointKind
    a: float
    b: float
    variant: ua.VariantType | None
    method_variant: ua.VariantType | None = None
    """The type of the binding's method's (first) input argument, if it has a method."""
    states: StateTable = OFF_ON
    """A state point's raw code -> state (on an integer node), its normal state."""
    integral: bool = False
    """Whether a and b are whole numbers (a discrete's values then stay ints, exactly)."""

    def __post_init__(self) -> None:
        self.rescale(self.a, self.b)

    def rescale(self, a: float, b: float) -> None:
        """Take the ISN multiplier and adder `a`, `b`."""
        self.a, self.b = a, b
        self.integral = float(a).is_integer() and float(b).is_integer()

    handle: int = 0
    server_handle: int = 0


def _first_certificate(data: bytes) -> bytes:
    """The first DER certificate of a chain (a server may send its chain after its own)."""
    if len(data) < 4 or data[0] != 0x30 or data[1] != 0x82:
        return data
    return data[: 4 + int.from_bytes(data[2:4], "big")]


def _check_cancelled() -> None:
    """Raise CancelledError if this task was cancelled: asyncua's `Client.disconnect` awaits
    its own tasks swallowing CancelledError, ours too when the cancel comes then."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def resolve_nodeid(text: str, namespaces: Sequence[str]) -> ua.NodeId:
    """A configured NodeId on this session: `nsu=<uri>;...` takes the index of `uri` in
    the server's namespace array (read at session start). ValueError says what is wrong."""
    nodeid = ua.NodeId.from_string(text)
    uri = getattr(nodeid, "NamespaceUri", None)
    if not uri:
        return nodeid
    try:
        index = list(namespaces).index(uri)
    except ValueError:
        raise ValueError(
            f"namespace {uri} is not on the server (its namespaces: {', '.join(namespaces)})"
        ) from None
    return ua.NodeId(nodeid.Identifier, ua.Int16(index), nodeid.NodeIdType)


def _variant_of(datatype: Any) -> ua.VariantType | None:
    """The built-in type of a DataType NodeId (ns=0, ids 1-25), else None."""
    if isinstance(datatype, ua.NodeId) and datatype.NamespaceIndex == 0:
        ident = datatype.Identifier
        if isinstance(ident, int) and 1 <= ident <= 25:
            return ua.VariantType(ident)
    return None


def row_of(handle: int, dv: ua.DataValue) -> Row:
    """A DataValue (as asyncua decodes it) of the item `handle` as a `Session.rows` row."""
    variant = dv.Value
    return (
        handle,
        None if variant is None else variant.Value,
        dv.StatusCode.value if dv.StatusCode is not None else 0,
        posix_of_datetime(dv.SourceTimestamp),
    )


class _BatchSubscription(Subscription):
    """asyncua's Subscription with each publish response handed whole to the session
    (one bus batch per response, no per-notification task or queue).

    It also takes over its session's Publish (`UaSession.publish`, which asyncua's publish
    loop calls): the response is read by `publish.decode_publish` (data changes straight
    into rows), or by asyncua where that declines (one subscription per session here)."""

    def __init__(
        self, client: Client, params: ua.CreateSubscriptionParameters, sink: Session
    ) -> None:
        uasession = client.uaclient.session
        super().__init__(uasession, params, None, queue_maxsize=1)
        self._sink = sink
        self._uasession = uasession
        self.heard = asyncio.get_running_loop().time()
        """When the last publish response (data or keep-alive) came (loop time)."""
        self.keepalive = 0.0
        """The keep-alive period the server revised (s), once created."""
        self._touched = self.heard
        uasession.publish = self._publish  # type: ignore[method-assign]

    async def _publish(self, acks: list[ua.SubscriptionAcknowledgement]) -> ua.PublishResponse:
        """Send a PublishRequest (as asyncua's does) and decode the response."""
        request = ua.PublishRequest()
        request.Parameters.SubscriptionAcknowledgements = acks if acks else []
        data = await self._uasession._send_request(request, timeout=0)
        try:
            fast = decode_publish(bytes(data.copy()))
        except Exception:  # malformed: asyncua's decoder says so below
            fast = None
        if fast is not None:
            return fast
        self._sink.counters["asyncua_decoded"] += 1
        try:
            return struct_from_binary(ua.PublishResponse, data)
        except Exception as exc:
            self._sink.problem("undecodable", f"publish response: cannot decode it: {exc!r}")
            raise UaStructParsingError from exc  # asyncua's loop skips it

    async def create(self, keepalive: float) -> None:
        """Create the subscription and note its keep-alive period; `keepalive` is the one
        asked for (s). A server that revised the publishing interval is asked again for a
        keep-alive count that gives `keepalive` at that interval (the count was computed for
        the requested one: 100 ms -> 10 s would make 1 s into 100 s)."""
        result = await self.init()
        interval = float(result.RevisedPublishingInterval)
        count = int(result.RevisedMaxKeepAliveCount)
        if interval > 0 and interval != self.parameters.RequestedPublishingInterval:
            params = ua.ModifySubscriptionParameters()
            params.SubscriptionId = self.subscription_id
            params.RequestedPublishingInterval = interval
            params.RequestedLifetimeCount = self.parameters.RequestedLifetimeCount
            params.RequestedMaxKeepAliveCount = max(1, math.ceil(keepalive * 1000 / interval))
            params.MaxNotificationsPerPublish = self.parameters.MaxNotificationsPerPublish
            params.Priority = self.parameters.Priority
            modified = await self.update(params)
            interval = float(modified.RevisedPublishingInterval)
            count = int(modified.RevisedMaxKeepAliveCount)
        # A floor: a server revising the count (or interval) to 0 must not make every
        # session look silent at once.
        self.keepalive = max(interval * count / 1000, keepalive, interval / 1000)
        self.heard = asyncio.get_running_loop().time()

    def silent_for(self) -> float:
        """Seconds since the last publish response."""
        return asyncio.get_running_loop().time() - self.heard

    async def publish_callback(self, publish_result: ua.PublishResult) -> None:
        now = self.heard = self.last_publish_at = asyncio.get_running_loop().time()
        message = publish_result.NotificationMessage
        if not message.NotificationData or now - self._touched >= self._sink.touch_every(
            self.keepalive
        ):
            # The server keeps the subscription: the values it sent no change for still
            # hold (a keep-alive; or data for some points, at most once a keep-alive).
            self._touched = now
            self._sink.touch()
        if message.NotificationData is None:
            return
        self.last_sequence_number = int(message.SequenceNumber)
        for notif in message.NotificationData:
            if isinstance(notif, DataRows):
                self._sink.rows(notif.rows)
            elif isinstance(notif, ua.DataChangeNotification):
                self._sink.data_changes(notif.MonitoredItems)
            elif isinstance(notif, ua.StatusChangeNotification):
                self._sink.lose(f"subscription status {notif.Status}")


class Session:
    """One session's bindings and what its notifications do to the bus."""

    def __init__(
        self, name: str, bus: PointBus, lost: asyncio.Event, problems: ProblemLog | None = None
    ) -> None:
        self.name = name
        self.problems = problems if problems is not None else ProblemLog(log)
        """The adapter's log of problems, by kind (it outlives the session)."""
        self.bus = bus
        self.lost = lost
        self.reason = ""
        self.slots: dict[int, Slot] = {}
        self.by_point: dict[str, Slot] = {}
        self.namespaces: list[str] = []
        """The server's namespace array, read at session start (for `nsu=` NodeIds)."""
        self.limits: dict[str, int] = dict.fromkeys(_LIMITS, CHUNK)
        """Nodes per request of each kind: `CHUNK`, or the server's OperationLimit if less."""
        self.counters = {"notifications": 0, "batches": 0, "problems": 0, "asyncua_decoded": 0}
        """`asyncua_decoded`: publish responses `decode_publish` left to asyncua."""
        self._quality: dict[int, Quality] = {}
        """StatusCode -> quality, as met (a server uses few codes)."""
        self.keepalive = 0.0
        """The subscription's keep-alive period (s), as the server revised it."""
        self.freshness: float | None = None
        """The shortest target freshness of the session's points (s), None if none has one."""

    def touch_every(self, keepalive: float) -> float:
        """How often data responses touch the session's points (s): at least every
        keep-alive and every half of the shortest freshness."""
        if self.freshness is None:
            return keepalive
        return min(keepalive, self.freshness / 2)

    def lose(self, reason: str) -> None:
        """End the session: its points are not valid at once."""
        if not self.lost.is_set():
            self.reason = reason
            self.lost.set()
            self.bus.mark_not_valid(list(self.by_point))

    def touch(self) -> None:
        """The subscription is alive: every point of it is fresh (`PointBus.touch`)."""
        self.bus.touch(self.by_point)

    def data_changes(self, items: Iterable[ua.MonitoredItemNotification]) -> None:
        """One publish response's data changes (as asyncua decodes them) -> one bus batch."""
        self.rows([row_of(item.ClientHandle, item.Value) for item in items])

    def rows(self, rows: Iterable[Row]) -> None:
        """One publish response's data changes, as (client handle, raw value, StatusCode,
        source time) rows -> one bus batch. Nothing raises out."""
        points: list[str] = []
        values: list[Value] = []
        qualities: list[Quality] = []
        times: list[float | None] = []
        bad: list[str] = []
        slots = self.slots
        known = self._quality
        convert = self._convert
        n = 0
        for handle, raw, code, ts in rows:
            n += 1
            slot = slots.get(handle)
            if slot is None:
                continue
            value = convert(slot, raw)
            if value is None:
                bad.append(slot.point)
                if code & 0x80000000 == 0 and slot.kind is PointKind.STATE:
                    self.problem(
                        "unmapped state",
                        f"{slot.point}: {slot.binding.where}: value {raw!r} is no code of "
                        "its states table; the point is not valid",
                        slot.point,
                    )
                elif code & 0x80000000 == 0:
                    self.problem(
                        "no number",
                        f"{slot.point}: {slot.binding.where}: value {raw!r} is no number",
                        slot.point,
                    )
                continue
            points.append(slot.point)
            values.append(value)
            quality = known.get(code)
            if quality is None:
                if len(known) > 1024:
                    known.clear()
                quality = known[code] = quality_of(code)
            if slot.states.normal is not None and slot.kind is PointKind.STATE:
                quality = slot.states.quality_for(State(int(value)), quality)
            qualities.append(quality)
            times.append(ts)
        self.counters["notifications"] += n
        self.counters["batches"] += 1
        if points:
            self.bus.update_rows(points, values, qualities, times)
        if bad:
            self.bus.mark_not_valid(bad)

    @staticmethod
    def _convert(slot: Slot, raw: Any) -> Value | None:
        if isinstance(raw, bool | int | float) and not isinstance(raw, complex):
            if slot.kind is PointKind.STATE:
                if isinstance(raw, bool):
                    return State.ON if raw else State.OFF
                if not math.isfinite(raw) or raw != int(raw):
                    return None
                return slot.states.codes.get(int(raw))  # None: a code not in the table
            if slot.kind is PointKind.DISCRETE and type(raw) is int and slot.integral:
                return int(slot.a) * raw + int(slot.b)  # exact: an Int64 above 2**53 too
            number = slot.a * float(raw) + slot.b
            if not math.isfinite(number):
                return None
            return round(number) if slot.kind is PointKind.DISCRETE else number
        return None

    def problem(self, kind: str, detail: str, point: str | None = None) -> None:
        """Count a problem; log it (`detail` names the point), thinned out by its kind
        (`ProblemLog`: a line a minute at most, with the points hit)."""
        self.counters["problems"] += 1
        self.problems.report(f"opcua-client {self.name}", kind, detail, point)


class OpcUaClientAdapter(Adapter):
    """`opcua-client`: one session (endpoints tried in order), one subscription."""

    type_name = "opcua-client"
    Settings = OpcUaClientSettings

    def __init__(self, name: str, settings: AdapterSettings, bus: PointBus) -> None:
        super().__init__(name, settings, bus)
        self.state = "starting"
        self.endpoint: str | None = None
        self.last_error: str | None = None
        self.counters = {"connects": 0, "commands": 0, "command_failures": 0, "failbacks": 0}
        self.unknown: dict[str, str] = {}
        self._client: Client | None = None
        self._session: Session | None = None
        self._down_log = Throttle()
        self._unchecked_log = Throttle()
        self._internal_log = Throttle()
        self._problem_log = ProblemLog(log)
        self._failures = 0
        """Sessions lost or refused in a row (a session that lived resets it)."""
        self._up_at: float | None = None
        """When the current session came up (loop time)."""
        self.reconnect_delay = 0.0
        """The last reconnect delay chosen, before jitter (s)."""
        self._rebind = asyncio.Event()
        self._handles = 0

    @property
    def opc_settings(self) -> OpcUaClientSettings:
        assert isinstance(self.settings, OpcUaClientSettings)
        return self.settings

    def reconfigure(self, settings: AdapterSettings) -> bool:
        """New bindings are applied in place (only the monitored items that changed); any
        other change needs a new session, so a restart."""
        assert isinstance(settings, OpcUaClientSettings)
        if settings.session_key() != self.opc_settings.session_key():
            return False
        self.settings = settings
        self._rebind.set()
        return True

    # -- the session loop -------------------------------------------------------------------

    async def run(self) -> None:
        """Serve a session on one endpoint after the other (a lost or refused one passes
        to the next, the first again after the last), with back-off; until cancelled.

        The back-off (`gateway.backoff.Backoff`) starts again only after a session that
        lived `backoff_max` seconds: one that dies at once backs off like a refusal."""
        loop = asyncio.get_running_loop()
        index = 0
        tries = 0
        """Sessions lost or refused in a row on this endpoint: it is tried twice."""
        try:
            while True:
                s = self.opc_settings
                url = s.endpoints[index % len(s.endpoints)]
                self._up_at = None
                try:
                    await self._serve(url)
                    reason = "session ended"
                except FailBack:
                    _check_cancelled()
                    log.info(
                        "opcua-client %s: %s answers again: moving back to it from %s",
                        self.name,
                        s.endpoints[0],
                        url,
                    )
                    self.counters["failbacks"] += 1
                    self.state = "down"
                    index = tries = 0
                    continue
                except (SessionLost, *_NETWORK_ERRORS) as exc:
                    reason = str(exc) or type(exc).__name__
                except Exception as exc:  # a bug: end this session, not the adapter
                    reason = f"internal error: {exc!r}"
                    if n := self._internal_log.count(type(exc).__name__):
                        log.exception(
                            "opcua-client %s: internal error on %s (%d times)", self.name, url, n
                        )
                _check_cancelled()
                if self._lived(loop.time(), s.backoff_max):
                    self._failures = 0
                    self._down_log.reset()
                self._failures += 1
                self._set_down(url, reason)
                tries += 1
                if tries >= 2:  # the same endpoint once more first: a blip is no failover
                    index += 1
                    tries = 0
                backoff = Backoff(s.backoff_initial, s.backoff_max)
                self.reconnect_delay = backoff.base(self._failures)
                await asyncio.sleep(backoff.delay(self._failures))
        finally:
            session, self._session = self._session, None
            if session is not None:
                self.bus.mark_not_valid(list(session.by_point))

    async def _serve(self, url: str) -> None:
        """One session on `url`: connect, subscribe, bind; then follow it (rebinding on a
        reconfiguration) until it is lost (SessionLost) or cancelled; the socket is closed
        in any case."""
        s = self.opc_settings
        client = Client(url, timeout=s.request_timeout, watchdog_intervall=s.watchdog_interval)
        client.session_timeout = SESSION_TIMEOUT_MS
        if s.username is not None:
            client.set_user(s.username)
            client.set_password(s.password or "")
        lost = asyncio.Event()
        session = Session(self.name, self.bus, lost, self._problem_log)

        async def _lost(exc: Exception) -> None:
            session.lose(f"connection lost: {exc!r}")

        client.connection_lost_callback = _lost
        primary: asyncio.Future[None] | None = None
        try:
            async with asyncio.timeout(s.request_timeout):
                await self._secure(client, url)
                try:
                    await client.connect(auto_reconnect=False)
                except UaError as exc:
                    raise SessionLost(self._refusal(exc)) from None
            self._client = client
            session.namespaces = list(await client.get_namespace_array())
            session.limits = await self._limits(client)
            sub = await self._subscription(client, session)
            await self._bind(client, sub, session)
            self._session = session
            self._set_up(url)
            if s.failback and url != s.endpoints[0]:
                primary = asyncio.ensure_future(self._probe_primary(s.endpoints[0]))
            while True:
                self._rebind.clear()
                waits: list[asyncio.Future[Any]] = [
                    asyncio.ensure_future(lost.wait()),
                    asyncio.ensure_future(self._rebind.wait()),
                ]
                try:
                    await asyncio.wait(
                        [*waits, primary] if primary is not None else waits,
                        timeout=self._silence_check(sub),
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                finally:
                    for w in waits:
                        w.cancel()
                if primary is not None and primary.done() and not lost.is_set():
                    if primary.exception() is None:
                        raise FailBack
                    primary = None  # a bug in the probe: no fail-back on this session
                silence = sub.silent_for()
                if silence > SILENT_KEEPALIVES * sub.keepalive:
                    # The session answers but its subscription is gone (deleted or timed
                    # out on the server): a new session makes it anew.
                    session.lose(
                        f"no publish response for {SILENT_KEEPALIVES} keep-alive periods "
                        f"({sub.keepalive:g} s each)"
                    )
                if lost.is_set():
                    raise SessionLost(session.reason)
                if self._rebind.is_set():
                    await self._bind(client, sub, session)
        finally:
            if primary is not None:
                primary.cancel()
            self._client = None
            self._session = None
            session.lose("session closed")
            try:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(2.0):
                        await client.disconnect()
            finally:
                # A CloseSession without an answer ends the wait above before asyncua
                # closes the socket: close it in any case.
                with contextlib.suppress(Exception):
                    client.disconnect_socket()

    async def _probe_primary(self, url: str) -> None:
        """Return once the first endpoint `url` answers (a GetEndpoints on a channel of its
        own, every `failback_interval` seconds)."""
        s = self.opc_settings
        while True:
            await asyncio.sleep(s.failback_interval)
            probe = Client(url, timeout=s.request_timeout)
            try:
                async with asyncio.timeout(s.request_timeout):
                    await probe.connect_and_get_server_endpoints()
                return
            except (*_NETWORK_ERRORS, ServiceError, ValueError):
                continue
            finally:
                with contextlib.suppress(Exception):
                    probe.disconnect_socket()

    @staticmethod
    async def _limits(client: Client) -> dict[str, int]:
        """The nodes per request of each kind (`_LIMITS`): the server's OperationLimit
        where it has one below `CHUNK` (0, absent or unreadable: no limit). A server that
        refuses the Read of the three (BadTooManyOperations...) is asked one by one."""
        nodes = [client.get_node(ua.NodeId(ua.Int32(i))) for i in _LIMITS.values()]
        try:
            values = await client.read_attributes(nodes, AttributeIds.Value)
        except (UaStatusCodeError, ServiceError):
            values = []
            for node in nodes:
                try:
                    values.extend(await client.read_attributes([node], AttributeIds.Value))
                except (UaStatusCodeError, ServiceError):
                    values.append(
                        ua.DataValue(StatusCode=ua.StatusCode(ua.UInt32(StatusCodes.Bad)))
                    )
        out: dict[str, int] = {}
        for kind, dv in zip(_LIMITS, values, strict=True):
            limit = dv.Value.Value if dv.Value is not None else None
            good = dv.StatusCode is None or dv.StatusCode.is_good()
            usable = good and isinstance(limit, int) and not isinstance(limit, bool) and limit > 0
            out[kind] = min(CHUNK, limit) if usable and isinstance(limit, int) else CHUNK
        return out

    @staticmethod
    def _silence_check(sub: _BatchSubscription) -> float:
        """How long to wait before looking at the subscription's silence again."""
        return max(0.05, SILENT_KEEPALIVES * sub.keepalive - sub.silent_for() + 0.01)

    async def _secure(self, client: Client, url: str) -> None:
        """Our application URI, user certificate and, with a security policy, the secure
        channel: the server's endpoint for it found (GetEndpoints on an open channel) and its
        certificate checked against `server_certificate` / `trusted_certificates`."""
        s = self.opc_settings
        if s.user_certificate is not None and s.user_private_key is not None:
            await client.load_client_certificate(s.user_certificate)
            await client.load_private_key(Path(s.user_private_key))
        if s.security_policy is None or s.certificate is None or s.private_key is None:
            return
        client.application_uri = s.client_uri or client.application_uri
        policy = getattr(security_policies, f"SecurityPolicy{s.security_policy}")
        mode = getattr(ua.MessageSecurityMode, s.security_mode)
        endpoints = await client.connect_and_get_server_endpoints()
        chosen = [
            e for e in endpoints if e.SecurityPolicyUri == policy.URI and e.SecurityMode == mode
        ]
        if not chosen:
            offered = sorted(
                {
                    f"{e.SecurityPolicyUri.rpartition('#')[2]}/{e.SecurityMode.name}"
                    for e in endpoints
                }
            )
            raise SessionLost(
                f"the server has no {s.security_policy}/{s.security_mode} endpoint "
                f"(it offers {', '.join(offered) or 'none'})"
            )
        presented = chosen[0].ServerCertificate or b""
        try:
            cert = x509.load_der_x509_certificate(_first_certificate(presented))
        except ValueError:
            raise SessionLost("the server's endpoint carries no readable certificate") from None
        self._check_server(cert)
        await client.set_security(
            policy,
            s.certificate,
            s.private_key,
            server_certificate=cert.public_bytes(serialization.Encoding.DER),
            mode=mode,
        )

    def _check_server(self, cert: x509.Certificate) -> None:
        """SessionLost unless the server's certificate is the one configured or trusted."""
        s = self.opc_settings
        der = cert.public_bytes(serialization.Encoding.DER)
        if s.server_der is not None:
            if der != s.server_der:
                pinned = x509.load_der_x509_certificate(s.server_der)
                raise SessionLost(
                    f"the server presents certificate {describe(cert)}, not server_certificate "
                    f"{s.server_certificate} ({describe(pinned)}): a wrong server, or its "
                    "certificate was renewed (then give the new one)"
                )
            return
        if s.trusted_certificates:
            why = TrustList(s.trusted).why_not(cert)
            if why is not None:
                raise SessionLost(
                    f"the server's certificate {describe(cert)} is not trusted: {why}"
                )
            return
        if self._unchecked_log.count("unchecked") == 1:
            log.warning(
                "opcua-client %s: the server's certificate %s is not checked: give "
                "server_certificate or trusted_certificates",
                self.name,
                describe(cert),
            )

    def _refusal(self, exc: Exception) -> str:
        """What a refused connect means and what to fix, from the server's StatusCode."""
        s = self.opc_settings
        code = exc.code if isinstance(exc, (UaStatusCodeError, ServiceError)) else None
        name = ua.StatusCode(ua.UInt32(code)).name if code is not None else str(exc)
        ours = f"our certificate {s.certificate}"
        hints = {
            "BadCertificateUntrusted": f"the server does not trust {ours}: add it (or its CA) "
            "to the server's trusted certificates",
            "BadSecurityChecksFailed": f"the server refused {ours} or the secure channel: "
            "check that it trusts our certificate",
            "BadCertificateUriInvalid": f"the server refuses {ours}: the application URI "
            f"{s.client_uri} must match the one in its subjectAltName",
            "BadCertificateTimeInvalid": f"{ours} is expired or not yet valid",
            "BadCertificateUseNotAllowed": f"{ours} lacks the key usages OPC UA needs "
            "(digitalSignature, nonRepudiation, keyEncipherment, dataEncipherment, clientAuth)",
            "BadUserAccessDenied": "the server refused the user "
            + (f"certificate {s.user_certificate}" if s.user_certificate else f"{s.username!r}"),
            "BadIdentityTokenRejected": "the server does not accept this kind of login "
            "(anonymous, username or user certificate)",
            "BadIdentityTokenInvalid": "the server could not check the login (a user "
            "certificate needs a security_policy, or the user key does not match)",
        }
        hint = hints.get(name)
        return f"{hint} ({name})" if hint else f"the server refused the session: {name}"

    async def _bind(self, client: Client, sub: _BatchSubscription, session: Session) -> None:
        """Make the monitored items match the bindings: items of removed or changed bindings
        deleted, the new ones resolved and created (all of them on a new session); the kept
        ones take their point's ISN multiplier and adder as they are now."""
        wanted = {b.point: b for b in self.opc_settings.bindings if b.point in self.bus}
        stale = [
            slot
            for point, slot in session.by_point.items()
            if wanted.get(point) != slot.binding or self.bus.definition(point).kind is not slot.kind
        ]
        if stale:
            for slot in stale:
                del session.by_point[slot.point]
                session.slots.pop(slot.handle, None)
            handles = [slot.server_handle for slot in stale]
            step = session.limits["monitored"]
            for start in range(0, len(handles), step):
                await sub.unsubscribe(handles[start : start + step])
        rescaled: list[Slot] = []
        for point, slot in session.by_point.items():  # kept: the ISN's a*x+b may be new
            linear = usage_of(self.bus.definition(point))
            if (linear.a, linear.b) != (slot.a, slot.b):
                slot.rescale(linear.a, linear.b)
                rescaled.append(slot)
        if rescaled:
            await self._reread(client, session, rescaled)
        for point in [p for p in self.unknown if p not in wanted]:
            del self.unknown[point]
        new = [b for point, b in wanted.items() if point not in session.by_point]
        before = {b.point: self.unknown.pop(b.point) for b in new if b.point in self.unknown}
        slots, unknown = await self._resolve(client, session.namespaces, session.limits, new)
        unknown.update(await self._monitor(sub, session, slots))
        self._report_unknown(unknown, before)
        fresh = [
            f
            for f in (self.bus.definition(p).target_freshness for p in session.by_point)
            if f is not None
        ]
        session.freshness = min(fresh) if fresh else None

    @staticmethod
    async def _reread(client: Client, session: Session, slots: Sequence[Slot]) -> None:
        """The current values of `slots` read (in chunks of the read limit) and applied as
        data changes: an unchanged value takes its new scaling at once (no data change
        would bring it, and keep-alives keep the old one fresh)."""
        step = session.limits["read"]
        for start in range(0, len(slots), step):
            chunk = slots[start : start + step]
            nodes = [client.get_node(slot.nodeid) for slot in chunk]
            values = await client.read_attributes(nodes, AttributeIds.Value)
            session.rows([row_of(slot.handle, dv) for slot, dv in zip(chunk, values, strict=True)])

    async def _resolve(
        self,
        client: Client,
        namespaces: Sequence[str],
        limits: dict[str, int],
        bindings: Sequence[ClientPoint],
    ) -> tuple[list[Slot], dict[str, str]]:
        """Bindings -> nodes with their DataType, and the points whose node is unknown."""
        bus = self.bus
        nodeids: dict[str, ua.NodeId] = {}
        unknown: dict[str, str] = {}
        for b in bindings:
            if b.node is not None:
                try:
                    nodeids[b.point] = resolve_nodeid(b.node, namespaces)
                except (ValueError, UaError) as exc:
                    unknown[b.point] = f"{b.node}: {exc}"
        paths = [b for b in bindings if b.path is not None]
        objects = ua.NodeId(ua.Int32(ObjectIds.ObjectsFolder))
        step = limits["translate"]
        for start in range(0, len(paths), step):
            chunk = paths[start : start + step]
            relative = ["".join(f"/{step}" for step in check_path(b.path or "")) for b in chunk]
            results = await client.translate_browsepaths(objects, relative)
            for b, result in zip(chunk, results, strict=True):
                if result.StatusCode.is_good() and result.Targets:
                    target = result.Targets[0].TargetId
                    nodeids[b.point] = ua.NodeId(target.Identifier, target.NamespaceIndex)
                else:
                    unknown[b.point] = f"path {b.path}: {result.StatusCode.name}"
        found = [b for b in bindings if b.point in nodeids]
        types: dict[ua.NodeId, ua.VariantType | None] = {}
        slots: list[Slot] = []
        step = limits["read"]
        for start in range(0, len(found), step):
            chunk = found[start : start + step]
            nodes = [client.get_node(nodeids[b.point]) for b in chunk]
            values = await client.read_attributes(nodes, AttributeIds.DataType)
            for b, dv in zip(chunk, values, strict=True):
                if dv.StatusCode is not None and not dv.StatusCode.is_good():
                    unknown[b.point] = f"{b.where}: {dv.StatusCode.name}"
                    continue
                defn = bus.definition(b.point)
                linear = usage_of(defn)
                datatype = dv.Value.Value if dv.Value is not None else None
                variant = await self._variant_of_datatype(client, datatype, types)
                slot = Slot(b, b.point, nodeids[b.point], defn.kind, linear.a, linear.b, variant)
                slot.states = b.state_table
                if (
                    defn.kind is PointKind.STATE
                    and b.states is not None
                    and variant in (None, ua.VariantType.Boolean)
                ):
                    log.warning(
                        "opcua-client %s: point %s: its states table does not apply to %s, "
                        "a node of %s (reads are false off, true on; commands are refused)",
                        self.name,
                        b.point,
                        b.where,
                        "Boolean" if variant is not None else "unknown type",
                    )
                if b.method is not None:
                    slot.method_variant = await self._argument_type(
                        client, namespaces, b.method, types
                    )
                slots.append(slot)
        return slots, unknown

    @staticmethod
    async def _variant_of_datatype(
        client: Client, datatype: Any, known: dict[ua.NodeId, ua.VariantType | None]
    ) -> ua.VariantType | None:
        """The built-in type a value of DataType `datatype` travels as: up its supertype
        chain (an enumeration is an Int32, a Counter a UInt32...); None if unknown."""
        variant = _variant_of(datatype)
        if variant is not None or not isinstance(datatype, ua.NodeId) or datatype.is_null():
            return variant
        if datatype not in known:
            try:
                found = await data_type_to_variant_type(client.get_node(datatype))
            except (UaError, ValueError, *_NETWORK_ERRORS):
                found = None
            known[datatype] = None if found is ua.VariantType.Variant else found
        return known[datatype]

    async def _argument_type(
        self,
        client: Client,
        namespaces: Sequence[str],
        method: str,
        known: dict[ua.NodeId, ua.VariantType | None],
    ) -> ua.VariantType | None:
        """The type of a method's first input argument, from its InputArguments property
        (None when it has none the server tells)."""
        try:
            node = await client.get_node(resolve_nodeid(method, namespaces)).get_child(
                "0:InputArguments"
            )
            arguments = await node.read_value()
        except (UaError, ValueError, *_NETWORK_ERRORS):
            return None
        datatype = getattr(arguments[0], "DataType", None) if arguments else None
        return await self._variant_of_datatype(client, datatype, known)

    def _report_unknown(self, unknown: dict[str, str], before: dict[str, str]) -> None:
        """Points whose node the server does not know: not valid, each named once (again
        only when the reason changes, e.g. after a reconnect)."""
        new = {p: why for p, why in unknown.items() if before.get(p) != why}
        self.unknown.update(unknown)
        if unknown:
            self.bus.mark_not_valid(list(unknown))
        for point, why in list(new.items())[:20]:
            log.warning("opcua-client %s: point %s is not valid: node %s", self.name, point, why)
        if len(new) > 20:
            log.warning(
                "opcua-client %s: %d more points with unknown nodes", self.name, len(new) - 20
            )

    async def _subscription(self, client: Client, session: Session) -> _BatchSubscription:
        s = self.opc_settings
        params = ua.CreateSubscriptionParameters()
        params.RequestedPublishingInterval = s.publishing_interval
        params.RequestedLifetimeCount = 10000
        params.RequestedMaxKeepAliveCount = max(
            1, math.ceil(s.keepalive * 1000 / s.publishing_interval)
        )
        params.MaxNotificationsPerPublish = s.max_notifications
        params.PublishingEnabled = True
        params.Priority = 0
        sub = _BatchSubscription(client, params, session)
        await sub.create(s.keepalive)
        session.keepalive = sub.keepalive
        return sub

    async def _monitor(
        self, sub: _BatchSubscription, session: Session, slots: Sequence[Slot]
    ) -> dict[str, str]:
        """A monitored item per slot; returns the points the server refused to monitor."""
        unknown: dict[str, str] = {}
        step = session.limits["monitored"]
        for start in range(0, len(slots), step):
            chunk = slots[start : start + step]
            requests = []
            for slot in chunk:
                self._handles += 1
                slot.handle = self._handles
                session.slots[slot.handle] = slot
                requests.append(self._item_request(slot, slot.handle))
            results = await sub.create_monitored_items(requests)
            for slot, result in zip(chunk, results, strict=True):
                if isinstance(result, ua.StatusCode):
                    unknown[slot.point] = f"{slot.binding.where}: {result.name}"
                    del session.slots[slot.handle]
                else:
                    slot.server_handle = result
                    session.by_point[slot.point] = slot
        return unknown

    def _item_request(self, slot: Slot, handle: int) -> ua.MonitoredItemCreateRequest:
        s = self.opc_settings
        b = slot.binding
        rv = ua.ReadValueId()
        rv.NodeId = slot.nodeid
        rv.AttributeId = AttributeIds.Value
        mparams = ua.MonitoringParameters()
        mparams.ClientHandle = handle
        mparams.SamplingInterval = (
            b.sampling_interval if b.sampling_interval is not None else s.sampling_interval
        )
        mparams.QueueSize = s.queue_size
        mparams.DiscardOldest = True
        deadband = b.deadband if b.deadband is not None else s.deadband
        if deadband and slot.kind is not PointKind.STATE:
            dfilter = ua.DataChangeFilter()
            dfilter.Trigger = ua.DataChangeTrigger.StatusValue
            dfilter.DeadbandType = ua.DeadbandType.Absolute
            dfilter.DeadbandValue = deadband
            mparams.Filter = dfilter
        mir = ua.MonitoredItemCreateRequest()
        mir.ItemToMonitor = rv
        mir.MonitoringMode = ua.MonitoringMode.Reporting
        mir.RequestedParameters = mparams
        return mir

    # -- commands ---------------------------------------------------------------------------

    async def on_command(self, point: PointDef, value: Value) -> None:
        """A bus command: a Write of the point's node (or a Call of its method) typed by the
        node's (argument's) DataType; CommandError with the server's refusal, or why the
        value cannot be written."""
        session, client = self._session, self._client
        binding = next((b for b in self.opc_settings.bindings if b.point == point.id), None)
        if binding is None or not binding.writable:
            raise CommandError(CommandFailure.NOT_PERMITTED, f"{point.id} is not writable")
        if session is None or client is None or session.lost.is_set():
            raise CommandError(CommandFailure.DEVICE_FAILURE, f"{self.name} is not connected")
        slot = session.by_point.get(point.id)
        if slot is None:
            raise CommandError(
                CommandFailure.UNKNOWN_POINT, f"{point.id}: {self.unknown.get(point.id)}"
            )
        self.counters["commands"] += 1
        calls = binding.method is not None and binding.method_object is not None
        vtype = (slot.method_variant if calls else None) or slot.variant
        try:
            raw = self._raw(slot, value, vtype)
            if vtype is None:
                vtype = ua.VariantType.Boolean if isinstance(raw, bool) else ua.VariantType.Double
            variant = ua.Variant(raw, vtype)
            if binding.method is not None and binding.method_object is not None:
                obj = resolve_nodeid(binding.method_object, session.namespaces)
                method = resolve_nodeid(binding.method, session.namespaces)
                code = await self._call(client, obj, method, variant)
            else:
                # The value only: no StatusCode (asyncua's default Good) nor time stamps,
                # which many servers refuse (BadWriteNotSupported).
                results = await client.uaclient.write_attributes(
                    [slot.nodeid], [ua.DataValue(variant, StatusCode=None)], AttributeIds.Value
                )
                code = results[0].value
        except CommandError:
            self.counters["command_failures"] += 1
            raise
        except TimeoutError:
            self.counters["command_failures"] += 1
            raise CommandError(CommandFailure.TIMEOUT, f"write of {point.id}: no answer") from None
        except UaStatusCodeError as exc:
            code = exc.code
        except (*_NETWORK_ERRORS, ValueError, TypeError, OverflowError) as exc:
            self.counters["command_failures"] += 1
            raise CommandError(
                CommandFailure.DEVICE_FAILURE, f"write of {point.id}: {exc}"
            ) from None
        failure = failure_of(code)
        if failure is not None:
            self.counters["command_failures"] += 1
            name = ua.StatusCode(ua.UInt32(code)).name
            what = "call" if binding.method else "write"
            raise CommandError(failure, f"{what} of {point.id} ({slot.binding.where}): {name}")

    @staticmethod
    async def _call(client: Client, obj: ua.NodeId, method: ua.NodeId, argument: ua.Variant) -> int:
        """Call `method` of `obj` with one argument; its result's StatusCode (or the
        argument's, when the server refused that)."""
        request = ua.CallMethodRequest()
        request.ObjectId = obj
        request.MethodId = method
        request.InputArguments = [argument]
        (result,) = await client.uaclient.call([request])
        code = int(result.StatusCode.value)
        for argument_code in result.InputArgumentResults or []:
            if argument_code.is_bad():
                return int(argument_code.value)
        return code

    @staticmethod
    def _raw(slot: Slot, value: Value, vtype: ua.VariantType | None) -> Any:
        """The value to write in a Variant of `vtype` (the node's or the method argument's
        type); CommandError INVALID_VALUE when that type cannot carry it."""
        if vtype is not None and vtype not in _WRITABLE:
            raise CommandError(
                CommandFailure.INVALID_VALUE,
                f"{slot.point}: {slot.binding.where} is of type {vtype.name}, which a "
                "command cannot be written as",
            )
        if slot.kind is PointKind.STATE:
            # TASE.2 and MQTT commands carry the state's code (1 off, 2 on) as a plain int.
            code = int(value) if float(value) == int(value) else -1
            if code not in (State.OFF, State.ON):
                raise CommandError(
                    CommandFailure.INVALID_VALUE,
                    f"{slot.point}: {value!r} is neither off nor on",
                )
            if vtype is ua.VariantType.Boolean or vtype is None:
                if slot.binding.states is not None:
                    what = "Boolean" if vtype is not None else "unknown type"
                    raise CommandError(
                        CommandFailure.NOT_PERMITTED,
                        f"{slot.point}: a states table is configured but {slot.binding.where} "
                        f"is of {what}: the state's code cannot be written",
                    )
                return code == State.ON
            try:
                return slot.states.raw_of(State(code))  # the numeric node's code of it
            except CommandError as exc:
                raise CommandError(exc.failure, f"{slot.point}: {exc.detail}") from None
        if slot.a == 0:
            raise CommandError(CommandFailure.NOT_PERMITTED, f"{slot.point}: no raw value")
        raw: float | int
        if type(value) is int and slot.integral and (value - int(slot.b)) % int(slot.a) == 0:
            raw = (value - int(slot.b)) // int(slot.a)  # exact: an Int64 above 2**53 too
        else:
            raw = (float(value) - slot.b) / slot.a
        if vtype is ua.VariantType.Boolean:
            return bool(raw)
        bounds = None if vtype is None else _INTEGERS.get(vtype)
        if bounds is not None and vtype is not None:
            if not math.isfinite(raw) or raw != round(raw):
                raise CommandError(
                    CommandFailure.INVALID_VALUE, f"{slot.point}: {raw} is no integer"
                )
            number = raw if isinstance(raw, int) else round(raw)
            if not bounds[0] <= number <= bounds[1]:
                raise CommandError(
                    CommandFailure.INVALID_VALUE,
                    f"{slot.point}: {number} is outside the {vtype.name} range "
                    f"{bounds[0]}..{bounds[1]} of {slot.binding.where}",
                )
            return number
        if vtype is ua.VariantType.Float and math.isfinite(raw) and abs(raw) > 3.4028234e38:
            raise CommandError(
                CommandFailure.INVALID_VALUE, f"{slot.point}: {raw} is outside the Float range"
            )
        return raw

    # -- state ------------------------------------------------------------------------------

    def _set_up(self, url: str) -> None:
        session = self._session
        count = len(session.by_point) if session else 0
        log.info("opcua-client %s: session up on %s, %d points subscribed", self.name, url, count)
        self.state = "up"
        self.endpoint = url
        self.last_error = None
        self.counters["connects"] += 1
        self._up_at = asyncio.get_running_loop().time()

    def _lived(self, now: float, seconds: float) -> bool:
        """Whether the session that just ended had been up for `seconds`."""
        return self._up_at is not None and now - self._up_at >= seconds

    def _set_down(self, url: str, reason: str) -> None:
        """Note a lost or refused session; one log line, thinned out (`Throttle.failure`)
        while the failures in a row repeat it."""
        self.last_error = f"{url}: {reason}"
        if self.state == "up":
            if self._down_log.failure(f"lost: {reason}", self._failures):
                log.warning(
                    "opcua-client %s: session on %s lost: %s; its points are not valid; "
                    "reconnecting (failure %d)",
                    self.name,
                    url,
                    reason,
                    self._failures,
                )
        elif self._down_log.failure(self.last_error, self._failures):
            log.warning(
                "opcua-client %s: cannot connect to %s: %s (attempt %d)",
                self.name,
                url,
                reason,
                self._failures,
            )
        self.state = "down"

    def status(self) -> dict[str, Any]:
        session = self._session
        return {
            "state": self.state,
            "endpoint": self.endpoint,
            "last_error": self.last_error,
            "points": len(session.by_point) if session else 0,
            "unknown_nodes": dict(list(self.unknown.items())[:50]),
            "failures": self._failures,
            "reconnect_delay": self.reconnect_delay,
            "keepalive": session.keepalive if session else None,
            **self.counters,
            **(session.counters if session else {}),
        }
