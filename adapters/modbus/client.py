"""The `modbus-client` adapter: polls Modbus TCP devices into the bus and writes commands.

Each device has one connection and one task (`DeviceLink`) that polls its poll groups, each
at its own interval, as planned read blocks. A failing block (a Modbus exception or a
time-out) marks only its own points not valid; losing the connection, or two time-outs in a
row with no answer between them (a hung device), marks all the device's points not valid at
once and reconnects with back-off. A device is up from its first answer on a connection, not
from the TCP connect (a stopped process's kernel still accepts connections). Every change of
state is logged once; failures while down are thinned out with `Throttle`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.pdu import ModbusPDU

from adapters.base import Adapter
from adapters.modbus.codec import (
    BitDecoder,
    DataType,
    Field,
    RegisterDecoder,
    Table,
    decode_value,
    encode_value,
    set_bit,
)
from adapters.modbus.model import ClientPoint, Device, ModbusClientSettings
from adapters.modbus.plan import PlannedRead, Span, plan_reads
from gateway.backoff import Backoff
from gateway.bus import CommandError, CommandFailure, PointBus, Value
from gateway.logs import Throttle
from gateway.mapping import Binding, LinearBatch
from gateway.points import PointDef, PointKind, Quality, Validity, now
from gateway.registry import AdapterSettings

log = logging.getLogger(__name__)

RECEIVED = Quality(timestamp_invalid=True)
"""Good, time-stamped on receipt: Modbus carries no source time."""
LOST = Quality(Validity.NOT_VALID, timestamp_invalid=True)
"""Not valid: the block or the device did not answer."""
DEFINITION_CHECK_PERIOD = 2.0
"""How often (s) a link checks that the bus definitions of its points are unchanged."""
TIMEOUTS_FOR_DOWN = 2
"""Requests in a row that time out, with no answer between them, before a device is down."""
RECENTLY_GOOD = 600.0
"""For this long (s) after its last answer a device is retried at most `recovery_interval`
apart; later the back-off grows to `backoff_max`."""

_FAILURE_OF_EXCEPTION = {
    1: CommandFailure.NOT_PERMITTED,  # illegal function
    2: CommandFailure.NOT_PERMITTED,  # illegal data address
    3: CommandFailure.INVALID_VALUE,  # illegal data value
    5: CommandFailure.BUSY,  # acknowledge: accepted, still processing
    6: CommandFailure.BUSY,  # server device busy
    11: CommandFailure.TIMEOUT,  # gateway target device failed to respond
}
EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target failed to respond",
}


def failure_of_exception(code: int) -> CommandFailure:
    """The command failure a Modbus exception code stands for."""
    return _FAILURE_OF_EXCEPTION.get(code, CommandFailure.DEVICE_FAILURE)


def describe_exception(code: int) -> str:
    return f"exception {code} ({EXCEPTION_NAMES.get(code, 'unknown')})"


def quiet_pymodbus_log() -> None:
    """Silence pymodbus' own per-request log lines unless someone configured its logger.

    The adapters log each state change once; pymodbus would add a line per failed request.
    """
    logger = logging.getLogger("pymodbus.logging")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.CRITICAL)


class DeviceLost(Exception):
    """The connection to a device is gone."""


# -- blocks: one planned read and how its data reaches the bus -------------------------------


class Block:
    """One planned read of a device and the decoders that publish its points."""

    __slots__ = (
        "batch",
        "count",
        "error",
        "other_bindings",
        "other_decoder",
        "points",
        "real_decoder",
        "start",
        "table",
    )

    def __init__(
        self, table: Table, read: PlannedRead, members: Sequence[tuple[ClientPoint, PointDef]]
    ) -> None:
        self.table = table
        self.start = read.start
        self.count = read.count
        self.error: str | None = None
        self.points = [defn.id for _, defn in members]
        real = [(cp, d) for cp, d in members if d.kind is PointKind.REAL]
        other = [(cp, d) for cp, d in members if d.kind is not PointKind.REAL]
        self.real_decoder = self._decoder(real)
        self.batch = LinearBatch([_binding(*real[i]) for i in self.real_decoder.order])
        self.other_decoder = self._decoder(other)
        self.other_bindings = [_binding(*other[i]) for i in self.other_decoder.order]

    def _decoder(self, members: Sequence[tuple[ClientPoint, PointDef]]) -> Any:
        if self.table.is_bits:
            return BitDecoder([cp.address - self.start for cp, _ in members])
        fields = [
            Field(cp.address - self.start, cp.dtype, cp.order, cp.bit or 0) for cp, _ in members
        ]
        return RegisterDecoder(fields, self.count)

    @property
    def label(self) -> str:
        return f"{self.table} {self.start}..{self.start + self.count - 1}"

    def publish(self, bus: PointBus, data: Sequence[Any], ts: float) -> None:
        """Decode one read's registers (or bits) and publish every point of the block."""
        batch = self.batch
        if batch.points:
            bus.update_many(
                batch.points, batch.convert(self.real_decoder.decode(data)), RECEIVED, ts
            )
        if self.other_bindings:
            for binding, raw in zip(
                self.other_bindings, self.other_decoder.decode(data), strict=True
            ):
                value = binding.to_value(raw)
                bus.update(binding.point.id, value, binding.quality(value, RECEIVED), ts)


def _binding(cp: ClientPoint, defn: PointDef) -> Binding:
    states = cp.state_table if defn.kind is PointKind.STATE else None
    return Binding(defn, cp.scale, cp.offset, states)


def mark_not_valid(bus: PointBus, points: Sequence[str], ts: float) -> int:
    """Publish `points` not valid, keeping their last values; returns the changes recorded."""
    known = [p for p in points if p in bus]
    return bus.update_many(known, [bus.get(p).value for p in known], LOST, ts)


class PollGroup:
    """Blocks polled together at one interval."""

    __slots__ = ("blocks", "due", "interval", "name")

    def __init__(self, name: str, interval: float, blocks: list[Block]) -> None:
        self.name = name
        self.interval = interval
        self.blocks = blocks
        self.due = 0.0


def build_groups(
    device: Device, bindings: Sequence[ClientPoint], bus: PointBus
) -> tuple[list[PollGroup], list[str]]:
    """Plan a device's poll groups from its bindings; also returns the points not on the bus."""
    missing: list[str] = []
    by_key: dict[tuple[str, Table], list[tuple[ClientPoint, PointDef]]] = {}
    for cp in bindings:
        if cp.point not in bus:
            missing.append(cp.point)
            continue
        key = (cp.group or "", cp.table)
        by_key.setdefault(key, []).append((cp, bus.definition(cp.point)))
    blocks: dict[str, list[Block]] = {}
    for (group, table), members in by_key.items():
        limit = device.max_bits if table.is_bits else device.max_registers
        spans = [Span(cp.address, cp.dtype.size) for cp, _ in members]
        for read in plan_reads(spans, limit, device.max_gap):
            block = Block(table, read, [members[i] for i in read.members])
            blocks.setdefault(group, []).append(block)
    intervals = {"": device.poll_interval, **device.poll_groups}
    groups = [PollGroup(name or "default", intervals[name], bl) for name, bl in blocks.items()]
    return groups, missing


# -- one device: connection, schedule, state -----------------------------------------------


class DeviceLink:
    """One device's connection, poll schedule and up/down state."""

    def __init__(self, adapter: str, device: Device, bus: PointBus) -> None:
        self.adapter = adapter
        self.device = device
        self.bus = bus
        self.bindings: list[ClientPoint] = []
        self.groups: list[PollGroup] = []
        self.client: AsyncModbusTcpClient | None = None
        self.state = "starting"
        self.last_error = ""
        self.requests = 0
        self.polls = 0
        self.failed_requests = 0
        self._answered = False  # the device answered a request on this connection
        self._timeouts = 0  # requests in a row that timed out on this connection
        self._last_answer: float | None = None  # monotonic time of the last answer
        self._quiet_timeouts: list[Block] = []  # block time-outs not logged yet
        self._down_log = Throttle()
        self._attempt = 0  # connection attempts so far
        self._counted_attempt = 0  # the last attempt counted as a failure while down
        self._down_attempts = 0  # failed attempts since the device went down
        self._write_lock = asyncio.Lock()  # one write (read-modify-write, verify) at a time
        self._replan = True
        self._definitions: dict[str, PointDef] = {}
        self._checked = 0.0
        self._wake = asyncio.Event()

    @property
    def name(self) -> str:
        return f"{self.adapter}/{self.device.name}"

    @property
    def connected(self) -> bool:
        return self.client is not None and self.client.connected

    def assign(self, device: Device, bindings: Sequence[ClientPoint]) -> None:
        """New settings for this device (same endpoint); applied before the next poll."""
        self.device = device
        self.bindings = list(bindings)
        self._replan = True
        self._wake.set()

    def points(self) -> list[str]:
        return [cp.point for cp in self.bindings]

    # -- the task --

    async def run(self) -> None:
        """Connect, poll until the connection is lost, back off, reconnect; until cancelled.

        The back-off starts again only after the device answered on a connection: one that
        accepts TCP and drops it at once (a full connection table, a wrong unit behind a
        gateway) is retried with growing delays, not every `backoff_initial` seconds.
        """
        failures = 0
        try:
            while True:
                self._attempt += 1
                if await self._connect():
                    self._answered = False
                    self._timeouts = 0
                    t = time.monotonic()
                    for group in self.groups:
                        group.due = t
                    try:
                        await self._poll_until_lost()
                    except DeviceLost as exc:
                        self._set_down(str(exc))
                    if self._answered:
                        failures = 0
                else:
                    self._set_down(f"cannot connect to {self.device.host}:{self.device.port}")
                self._close()
                failures += 1
                await asyncio.sleep(self._backoff(failures))
        finally:
            self._close()

    def _backoff(self, failures: int) -> float:
        """The delay before reconnect attempt `failures`; at most `recovery_interval` while
        the device answered in the last `RECENTLY_GOOD` seconds.

        A device that hangs and comes back (a stopped process, a rebooting PLC) is so found
        within about a second, at the price of one TCP connect and one read per second; a
        device gone for longer is retried ever less often, up to `backoff_max`.
        """
        d = self.device
        cap = d.backoff_max
        last = self._last_answer
        if last is not None and time.monotonic() - last < RECENTLY_GOOD:
            cap = min(cap, d.recovery_interval)
        return Backoff(min(d.backoff_initial, cap), cap).delay(failures)

    async def _connect(self) -> bool:
        d = self.device
        client = AsyncModbusTcpClient(
            d.host,
            port=d.port,
            timeout=d.timeout,
            retries=0,
            reconnect_delay=0,  # this link reconnects, with its own back-off
            name=self.name,
            trace_connect=self._on_connection_event,
        )
        self.client = client
        try:
            return await client.connect() and client.connected
        except (OSError, ModbusException) as exc:
            self.last_error = str(exc)
            return False

    def _close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def _on_connection_event(self, connected: bool) -> None:
        """pymodbus reports the connection closing: mark the points at once, not at next poll."""
        if not connected and self.state == "up":
            self._set_down("connection closed by the device or the network")
            self._wake.set()

    def _set_up(self) -> None:
        """The device answered: it is up (logged when that is news)."""
        if self.state != "up":
            log.info(
                "modbus device %s (%s:%d unit %d) is up",
                self.name,
                self.device.host,
                self.device.port,
                self.device.unit,
            )
            self._down_log.reset()
        self.state = "up"

    def _set_down(self, reason: str) -> None:
        """Mark all the device's points not valid; one line when the state changes, repeats
        while down thinned out (attempt 2, 4, 8... of the same error)."""
        self.last_error = reason
        for block in self._quiet_timeouts:  # never logged: never to be logged as recovered
            block.error = None
        self._quiet_timeouts.clear()
        if self.state == "down":
            if self._counted_attempt == self._attempt:
                return  # this attempt's failure is already counted
            self._counted_attempt = self._attempt
            self._down_attempts += 1
            if self._down_log.failure(reason, self._down_attempts):
                log.info(
                    "modbus device %s is still down: %s (attempt %d)",
                    self.name,
                    reason,
                    self._down_attempts,
                )
            return
        was = self.state
        self.state = "down"
        self._counted_attempt = self._attempt
        self._down_attempts = 1
        self._down_log.failure(reason, 1)
        mark_not_valid(self.bus, self.points(), now())
        for group in self.groups:
            for block in group.blocks:
                block.error = None
        if was == "starting":
            log.warning(
                "modbus device %s is unreachable: %s; retrying with back-off", self.name, reason
            )
        else:
            log.warning(
                "modbus device %s is down: %s; its %d points are not valid; reconnecting",
                self.name,
                reason,
                len(self.bindings),
            )

    # -- polling --

    async def _poll_until_lost(self) -> None:
        while True:
            self._refresh_plan()
            if not self.connected:
                raise DeviceLost(self.last_error or "connection closed")
            if not self.groups:
                await self._sleep(self.device.poll_interval)
                continue
            group = min(self.groups, key=lambda g: g.due)
            delay = group.due - time.monotonic()
            if delay > 0:
                await self._sleep(delay)
                continue  # the plan or the connection may have changed meanwhile
            await self._poll(group)
            group.due = max(group.due + group.interval, time.monotonic())

    async def _sleep(self, delay: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):  # wait_for can swallow a cancel (3.11)
                await self._wake.wait()

    def _refresh_plan(self) -> None:
        t = time.monotonic()
        if not self._replan and t - self._checked > DEFINITION_CHECK_PERIOD:
            self._checked = t
            self._replan = self._definitions_changed()
        if not self._replan:
            return
        old_due = {g.name: g.due for g in self.groups}
        self.groups, missing = build_groups(self.device, self.bindings, self.bus)
        for group in self.groups:
            group.due = old_due.get(group.name, t)
        self._definitions = {p: self.bus.definition(p) for p in self.points() if p in self.bus}
        self._replan = bool(missing)  # points not registered yet: plan again next time

    def _definitions_changed(self) -> bool:
        bus = self.bus
        return any(p not in bus or bus.definition(p) is not d for p, d in self._definitions.items())

    async def _poll(self, group: PollGroup) -> None:
        self.polls += 1
        for block in group.blocks:
            await self._poll_block(block)

    async def _poll_block(self, block: Block) -> None:
        client = self.client
        if client is None or not client.connected:
            raise DeviceLost(self.last_error or "connection closed")
        self.requests += 1
        try:
            response = await read_block(
                client, block.table, block.start, block.count, self.device.unit
            )
        except ConnectionException as exc:
            raise DeviceLost(str(exc) or "not connected") from None
        except ModbusIOException:
            self._timed_out(client, block)
            return
        self._answered = True
        self._timeouts = 0
        self._last_answer = time.monotonic()
        self._set_up()
        for quiet in self._quiet_timeouts:  # the device answers: those were the blocks' own
            self._log_block_failure(quiet)
        self._quiet_timeouts.clear()
        if response.isError():
            self._block_failed(block, describe_exception(response.exception_code))
            return
        data = response.bits if block.table.is_bits else response.registers
        if len(data) < block.count:  # a faulty device: never decode past what it sent
            self._block_failed(block, f"short answer ({len(data)} of {block.count})")
            return
        block.publish(self.bus, data, now())
        if block.error is not None:
            log.info("modbus device %s: %s answers again", self.name, block.label)
            block.error = None

    def _timed_out(self, client: AsyncModbusTcpClient, block: Block) -> None:
        """A read got no answer in time: the block's fault, or the whole device's.

        At the second time-out in a row (on a fresh connection too: a block that never
        answers must not keep the others from being polled), or when pymodbus gave up the
        connection, the device is lost, named a time-out. A single time-out marks the
        block's points at once; its log line waits until the device answers something else,
        so a hung device costs one line, not one per block.
        """
        self._timeouts += 1
        reason = f"time-out (no answer in {self.device.timeout}s)"
        if self._timeouts >= TIMEOUTS_FOR_DOWN or not client.connected:
            self.failed_requests += 1
            raise DeviceLost(reason)
        self._block_failed(block, reason, quiet=True)

    def _block_failed(self, block: Block, reason: str, quiet: bool = False) -> None:
        self.failed_requests += 1
        mark_not_valid(self.bus, block.points, now())
        if block.error != reason:
            block.error = reason
            if quiet:
                self._quiet_timeouts.append(block)
            else:
                self._log_block_failure(block)

    def _log_block_failure(self, block: Block) -> None:
        log.warning(
            "modbus device %s: %s failed (%s); its %d points are not valid",
            self.name,
            block.label,
            block.error,
            len(block.points),
        )

    # -- writes --

    async def write(self, cp: ClientPoint, raw: float | int) -> None:
        """Write a raw value to a binding's address; raise CommandError on any failure."""
        client = self.client
        if client is None or not client.connected:
            raise CommandError(
                CommandFailure.DEVICE_FAILURE, f"device {self.name} is not connected"
            )
        unit = self.device.unit
        try:
            async with self._write_lock:
                await self._write(client, cp, raw, unit)
        except ConnectionException as exc:
            raise CommandError(CommandFailure.DEVICE_FAILURE, str(exc) or "not connected") from None
        except ModbusIOException:
            raise CommandError(
                CommandFailure.TIMEOUT,
                f"device {self.name} did not answer in {self.device.timeout}s",
            ) from None

    async def _write(
        self, client: AsyncModbusTcpClient, cp: ClientPoint, raw: float | int, unit: int
    ) -> None:
        if cp.table is Table.COIL:
            expected: list[Any] = [_coil_value(raw)]
            await _check(_write_coil(client, cp, expected[0], unit))
        else:
            expected = await self._register_values(client, cp, raw)
            await _check(_write_registers(client, cp, expected, unit))
        if cp.verify:
            await self._verify(client, cp, expected)
        self._poll_soon(cp.point)

    def _poll_soon(self, point: str) -> None:
        """Poll the group of a written point now, so the bus shows the outcome promptly."""
        for group in self.groups:
            if any(point in block.points for block in group.blocks):
                group.due = time.monotonic()
                self._wake.set()
                return

    async def _register_values(
        self, client: AsyncModbusTcpClient, cp: ClientPoint, raw: float | int
    ) -> list[int]:
        dtype = cp.dtype
        if dtype is DataType.BIT:  # read-modify-write of the register holding the bit
            current = await _check(read_block(client, cp.table, cp.address, 1, self.device.unit))
            if not current.registers:
                raise CommandError(CommandFailure.DEVICE_FAILURE, "empty answer to the read")
            return [set_bit(current.registers[0], cp.bit or 0, bool(_coil_value(raw)))]
        value = raw if dtype.is_float else round(raw)
        try:
            return encode_value(value, dtype, cp.order)
        except ValueError as exc:
            raise CommandError(CommandFailure.INVALID_VALUE, str(exc)) from None

    async def _verify(
        self, client: AsyncModbusTcpClient, cp: ClientPoint, expected: list[Any]
    ) -> None:
        response = await _check(
            read_block(client, cp.table, cp.address, len(expected), self.device.unit)
        )
        got = list(response.bits[: len(expected)] if cp.table.is_bits else response.registers)
        if cp.table.is_bits:
            got = [bool(b) for b in got]
        if got != expected:
            raise CommandError(
                CommandFailure.DEVICE_FAILURE,
                f"read-back of {cp.table} {cp.address} gave {got}, wrote {expected}",
            )

    def status(self) -> dict[str, Any]:
        bad = [b.label for g in self.groups for b in g.blocks if b.error is not None]
        return {
            "state": self.state,
            "endpoint": f"{self.device.host}:{self.device.port}/{self.device.unit}",
            "points": len(self.bindings),
            "blocks": sum(len(g.blocks) for g in self.groups),
            "failed_blocks": bad,
            "polls": self.polls,
            "requests": self.requests,
            "failed_requests": self.failed_requests,
            "last_error": self.last_error,
        }


def _coil_value(raw: float | int) -> bool:
    if raw in (0, 1):
        return bool(raw)
    raise CommandError(CommandFailure.INVALID_VALUE, f"raw value {raw!r} is not 0 or 1")


async def read_block(
    client: AsyncModbusTcpClient, table: Table, start: int, count: int, unit: int
) -> ModbusPDU:
    """One read request on `table`."""
    match table:
        case Table.COIL:
            return await client.read_coils(start, count=count, device_id=unit)
        case Table.DISCRETE_INPUT:
            return await client.read_discrete_inputs(start, count=count, device_id=unit)
        case Table.HOLDING:
            return await client.read_holding_registers(start, count=count, device_id=unit)
        case Table.INPUT:
            return await client.read_input_registers(start, count=count, device_id=unit)


def _write_coil(client: AsyncModbusTcpClient, cp: ClientPoint, on: bool, unit: int) -> Any:
    if cp.write == "multiple":
        return client.write_coils(cp.address, [on], device_id=unit)
    return client.write_coil(cp.address, on, device_id=unit)


def _write_registers(
    client: AsyncModbusTcpClient, cp: ClientPoint, registers: list[int], unit: int
) -> Any:
    if len(registers) == 1 and cp.write != "multiple":
        return client.write_register(cp.address, registers[0], device_id=unit)
    return client.write_registers(cp.address, registers, device_id=unit)


async def _check(request: Any) -> ModbusPDU:
    """Await a request; a Modbus exception response becomes a typed CommandError."""
    response: ModbusPDU = await request
    if response.isError():
        code = response.exception_code
        raise CommandError(failure_of_exception(code), describe_exception(code))
    return response


# -- the adapter ----------------------------------------------------------------------------


async def cancel_and_wait(tasks: Sequence[asyncio.Task[None]]) -> None:
    """Cancel `tasks` and wait until they are done, cancelling again if one swallowed it.

    Python 3.11's `asyncio.wait_for` (used inside pymodbus) can lose a cancellation that
    arrives just as its request completes; a busy poller would then never stop.
    """
    pending = set(tasks)
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.1)


class ModbusClientAdapter(Adapter):
    """Polls Modbus TCP devices into the bus; bus commands on bound points become writes."""

    type_name = "modbus-client"
    Settings = ModbusClientSettings
    settings: ModbusClientSettings

    def __init__(self, name: str, settings: AdapterSettings, bus: PointBus) -> None:
        super().__init__(name, settings, bus)
        quiet_pymodbus_log()
        self._links: dict[str, DeviceLink] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopping: set[asyncio.Task[None]] = set()
        self._failure: asyncio.Future[None] | None = None
        self._commands = 0
        self._apply(self.settings)

    def _apply(self, settings: ModbusClientSettings) -> None:
        """Create, update or drop device links to match `settings`; keep unchanged connections."""
        per_device: dict[str, list[ClientPoint]] = {d.name: [] for d in settings.devices}
        for cp in settings.bindings:
            per_device[settings.device_of(cp).name].append(cp)
        self._bindings = {cp.point: (cp, settings.device_of(cp).name) for cp in settings.bindings}
        for device in settings.devices:
            link = self._links.get(device.name)
            if link is not None and link.device.endpoint != device.endpoint:
                self._drop(device.name)
                link = None
            if link is None:
                link = self._links[device.name] = DeviceLink(self.name, device, self.bus)
                self._start(link)
            link.assign(device, per_device[device.name])
        for name in set(self._links) - set(per_device):
            self._drop(name)

    def _start(self, link: DeviceLink) -> None:
        if self._failure is None or link.device.name in self._tasks:
            return
        task = asyncio.create_task(link.run(), name=f"modbus:{link.name}")
        task.add_done_callback(self._task_done)
        self._tasks[link.device.name] = task

    def _drop(self, device: str) -> None:
        self._links.pop(device, None)
        task = self._tasks.pop(device, None)
        if task is not None:
            stopping = asyncio.create_task(cancel_and_wait([task]))
            self._stopping.add(stopping)
            stopping.add_done_callback(self._stopping.discard)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self._failure is None or self._failure.done():
            return
        exc = task.exception()
        if exc is not None:
            self._failure.set_exception(exc)

    def reconfigure(self, settings: AdapterSettings) -> bool:
        """Point and poll changes apply in place; only devices whose endpoint changed reconnect."""
        assert isinstance(settings, ModbusClientSettings)
        self.settings = settings
        self._apply(settings)
        return True

    async def run(self) -> None:
        self._failure = asyncio.get_running_loop().create_future()
        for link in self._links.values():
            self._start(link)
        try:
            await self._failure  # set only if a link fails unexpectedly (a bug)
        finally:
            tasks = list(self._tasks.values())
            self._tasks.clear()
            self._failure = None
            await cancel_and_wait(tasks)

    async def on_command(self, point: PointDef, value: Value) -> None:
        entry = self._bindings.get(point.id)
        if entry is None:
            raise CommandError(
                CommandFailure.NOT_PERMITTED, f"{self.name} does not bind {point.id}"
            )
        cp, device = entry
        if not cp.is_writable:
            raise CommandError(
                CommandFailure.NOT_PERMITTED, f"{point.id} is read-only ({cp.table})"
            )
        binding = _binding(cp, point)
        raw = binding.to_raw(value)
        await self._links[device].write(cp, raw)
        self._commands += 1

    def status(self) -> dict[str, Any]:
        return {
            "devices": {name: link.status() for name, link in self._links.items()},
            "commands": self._commands,
        }


__all__ = [
    "Block",
    "DeviceLink",
    "ModbusClientAdapter",
    "build_groups",
    "decode_value",
    "failure_of_exception",
    "mark_not_valid",
]
