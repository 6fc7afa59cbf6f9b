"""The `dnp3-master` adapter: polls DNP3 outstations into the bus and sends them commands.

Each outstation has one TCP connection (an asyncio Protocol feeding a sans-IO
`MasterAssociation`) and one task that sends one request at a time: at connect, unsolicited
responses disabled, an integrity poll, unsolicited enabled; then commands first, the
restart indication cleared (IIN1.7, followed by an integrity poll), the LAN time sync when
the outstation asks (IIN1.4), integrity and event polls when due. Response fragments and
unsolicited responses are applied to the bus as they arrive, each event with its own time
stamp and flags. The connection is lost on a TCP close, on two requests in a row answered
by nothing, or on a link status request unanswered after a silence: the outstation's points
are then not valid at once, and the task reconnects with back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from py1815.application import FunctionCode
from py1815.control import CommandStatus
from py1815.master.requests import clear_restart, write_recorded_time

from adapters.base import Adapter
from adapters.dnp3.flags import PointType, describe_status, failure_of_status
from adapters.dnp3.master import requests
from adapters.dnp3.master.association import (
    AssociationError,
    Completed,
    Fragment,
    MasterAssociation,
    Problem,
)
from adapters.dnp3.master.pointmap import PointMap, bind
from adapters.dnp3.master.settings import (
    ControlMode,
    Dnp3MasterSettings,
    MasterPoint,
    Outstation,
)
from adapters.dnp3.objects import ControlEcho, decode_body
from gateway.backoff import Backoff
from gateway.bus import CommandError, CommandFailure, PointBus, Value
from gateway.logs import Throttle
from gateway.points import PointDef, now
from gateway.registry import AdapterSettings

log = logging.getLogger(__name__)

IIN1_CLASS_EVENTS = {1: 0x02, 2: 0x04, 3: 0x08}
IIN1_NEED_TIME = 0x10
IIN1_RESTART = 0x80
IIN2_FAILURES = {0x01: "function not supported", 0x02: "object unknown", 0x04: "parameter error"}
IIN2_OVERFLOW = 0x08
LOGGED_REFUSALS = frozenset(
    {FunctionCode.READ, FunctionCode.WRITE, FunctionCode.ENABLE_UNSOLICITED}
)
"""Requests whose refusal is logged (a control's refusal is its command's result)."""
TIMEOUTS_FOR_DOWN = 2
LATE_CONFIRM_DELAY = 0.02
"""Seconds an unsolicited response's confirmation waits (see `MasterAssociation.take_late`);
far below any outstation's confirm time-out."""
SPACING = 10.0
"""Seconds between two runs of what an indication asks for (time sync for IIN1.4, clearing
IIN1.7, an integrity poll for IIN2.3): an outstation that keeps asking is not answered
without pause."""
SPACED = frozenset({"clear-restart", "time-sync", "integrity"})
"""Requests in a row answered by nothing before the outstation counts as lost."""


_NUMBERS = re.compile(r"\d+")


class OutstationLost(Exception):
    """The connection to an outstation is gone (the reason is the message)."""


@dataclass(slots=True)
class Answer:
    """What came back for one request."""

    timed_out: bool
    echoes: list[ControlEcho] = field(default_factory=list)
    iin2: int = 0


class _Connection(asyncio.Protocol):
    """Feeds received octets to the link; the transport is the link's to write."""

    def __init__(self, link: OutstationLink) -> None:
        self.link = link

    def data_received(self, data: bytes) -> None:
        self.link.received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.link.lost(f"connection closed{f': {exc}' if exc else ' by the outstation'}")


class OutstationLink:
    """One outstation: its connection, its requests and what its answers do to the bus."""

    def __init__(self, adapter: str, outstation: Outstation, bus: PointBus) -> None:
        self.adapter = adapter
        self.outstation = outstation
        self.bus = bus
        self.map = PointMap(())
        self.state = "starting"
        self.last_error: str | None = None
        self.counters = {
            "requests": 0,
            "timeouts": 0,
            "fragments": 0,
            "unsolicited": 0,
            "values": 0,
            "commands": 0,
            "command_failures": 0,
            "time_syncs": 0,
            "problems": 0,
        }
        self._association = self._new_association()
        self._transport: asyncio.Transport | None = None
        self._answer: Answer | None = None
        self._done: asyncio.Future[None] | None = None
        self._wake = asyncio.Event()
        self._commands: deque[tuple[MasterPoint, Value, asyncio.Future[None]]] = deque()
        self._need: set[str] = set()
        self._due: dict[str, float] = {}
        self._last_data = 0.0
        self._syncing = False
        self._allowed: dict[str, float] = {}
        self._timeouts = 0
        self._problem_log = Throttle(max_kinds=64)
        self._down_log = Throttle()
        self._down_attempts = 0

    @property
    def name(self) -> str:
        return f"{self.adapter}/{self.outstation.name}"

    @property
    def connected(self) -> bool:
        return self._transport is not None

    def _new_association(self) -> MasterAssociation:
        o = self.outstation
        return MasterAssociation(
            master_address=o.master_address,
            outstation_address=o.outstation_address,
            response_timeout=o.response_timeout,
            max_fragment=o.max_fragment,
        )

    def assign(self, outstation: Outstation, bindings: list[tuple[MasterPoint, PointDef]]) -> None:
        """New settings or bindings; a changed endpoint or framing needs a new connection."""
        reconnect = outstation.endpoint != self.outstation.endpoint or (
            outstation.max_fragment != self.outstation.max_fragment
        )
        rescheduled = (outstation.integrity_interval, outstation.event_interval) != (
            self.outstation.integrity_interval,
            self.outstation.event_interval,
        ) or outstation.class_intervals != self.outstation.class_intervals
        self.outstation = outstation
        if rescheduled and self._due:
            self._schedule(time.monotonic())
            self._wake.set()
        old_points = set(self.map.points())
        self.map = PointMap(bindings)
        self._association.response_timeout = outstation.response_timeout
        if reconnect and self._transport is not None:
            self._transport.close()
        elif set(self.map.points()) - old_points:
            self._need.add("integrity")  # new points: read them now
            self._wake.set()

    # -- the connection ---------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, talk until the connection is lost, back off, reconnect; until cancelled."""
        failures = 0
        loop = asyncio.get_running_loop()
        try:
            while True:
                o = self.outstation
                try:
                    async with asyncio.timeout(o.link_timeout):
                        transport, _ = await loop.create_connection(
                            lambda: _Connection(self), o.host, o.port
                        )
                except (OSError, TimeoutError) as exc:
                    self._set_down(f"cannot connect to {o.host}:{o.port}: {exc or 'timed out'}")
                else:
                    self._transport = transport
                    self._association = self._new_association()
                    try:
                        await self._talk()
                    except OutstationLost as exc:
                        if self.state == "up":
                            failures = 0  # it answered on this connection: retry soon
                        self._set_down(str(exc))
                    except Exception as exc:  # a bug: end this connection, not the link
                        log.exception("dnp3 outstation %s: internal error", self.name)
                        self._set_down(f"internal error: {exc!r}")
                    finally:
                        self._close()
                failures += 1
                delay = Backoff(o.backoff_initial, o.backoff_max).delay(failures)
                await asyncio.sleep(delay)
        finally:
            self._close()
            self._fail_commands("the link to the outstation was stopped")

    def _close(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()
        self._association.connection_reset()
        self._handle_events()

    def lost(self, reason: str) -> None:
        """The transport closed (called by the protocol)."""
        if self._transport is None:
            return
        self._transport = None
        self.last_error = reason
        self.bus.mark_not_valid(self.map.points())  # at once, whatever the task is doing
        self._association.connection_reset()
        self._handle_events()
        self._wake.set()

    def received(self, data: bytes) -> None:
        """Octets from the outstation: answer the link, apply the fragments. Nothing from the
        network raises out of here: a bug ends the connection with a log line."""
        try:
            self._receive(data)
        except Exception as exc:
            log.exception("dnp3 outstation %s: internal error on received data", self.name)
            if self._transport is not None:
                self._transport.close()
            self.lost(f"internal error on received data: {exc!r}")

    def _receive(self, data: bytes) -> None:
        self._last_data = time.monotonic()
        out = self._association.receive(data, self._last_data)
        if out and self._transport is not None:
            self._transport.write(out)
        late = self._association.take_late()
        if late:
            asyncio.get_running_loop().call_later(LATE_CONFIRM_DELAY, self._write, late)
        self._handle_events()

    def _write(self, octets: bytes) -> None:
        if self._transport is not None:
            self._transport.write(octets)

    def _handle_events(self) -> None:
        for event in self._association.take_events():
            if isinstance(event, Fragment):
                self._apply(event)
            elif isinstance(event, Completed):
                if event.timed_out and self._answer is not None:
                    self._answer.timed_out = True
                if self._done is not None and not self._done.done():
                    self._done.set_result(None)
            elif isinstance(event, Problem):
                self._log_problem(event.detail)

    def _apply(self, fragment: Fragment) -> None:
        self.counters["fragments"] += 1
        if fragment.unsolicited:
            self.counters["unsolicited"] += 1
        if self.state != "up":
            self._set_up()
        decoded = decode_body(fragment.body)
        if decoded.problem is not None:
            self._log_problem(f"objects not read: {decoded.problem}")
        rows = self.map.rows(decoded.runs, bool(fragment.iin1 & IIN1_NEED_TIME))
        if rows.points:
            self.counters["values"] += len(rows.points)
            self.bus.update_rows(rows.points, rows.values, rows.qualities, rows.times)
        if rows.not_finite:
            self.bus.mark_not_valid(rows.not_finite)
            self._log_problem(f"NaN or infinite values read: {', '.join(rows.not_finite[:5])}")
        if self._answer is not None and not fragment.unsolicited:
            self._answer.echoes.extend(decoded.echoes)
            self._answer.iin2 |= fragment.iin2
        self._indications(fragment.iin1, fragment.iin2)

    def _indications(self, iin1: int, iin2: int) -> None:
        need = self._need
        before = len(need)
        if iin1 & IIN1_RESTART:
            need.add("clear-restart")
        if iin1 & IIN1_NEED_TIME and self.outstation.time_sync and not self._syncing:
            need.add("time-sync")
        if iin2 & IIN2_OVERFLOW:
            need.add("integrity")
        if not self.outstation.unsolicited:
            for cls, bit in IIN1_CLASS_EVENTS.items():
                if iin1 & bit:
                    need.add(f"class{cls}")
        if len(need) != before:
            self._wake.set()

    # -- requests ---------------------------------------------------------------------------

    async def _request(self, function: FunctionCode, body: bytes) -> Answer:
        """Send one request and wait for its answer (or its time-out)."""
        transport = self._transport
        if transport is None:
            raise OutstationLost(self.last_error or "connection closed")
        loop = asyncio.get_running_loop()
        answer = self._answer = Answer(timed_out=False)
        done = self._done = loop.create_future()
        self.counters["requests"] += 1
        try:
            transport.write(self._association.request(function, body, time.monotonic()))
        except AssociationError as exc:  # a bug, not a protocol outcome
            raise OutstationLost(f"association out of step: {exc}") from None
        self._handle_events()  # a request that takes no answer is complete at once
        try:
            while not done.done():
                deadline = self._association.deadline
                if deadline is None:
                    break
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                        await asyncio.shield(done)
                if self._association.expire(time.monotonic()):
                    self._handle_events()
        finally:
            self._answer = self._done = None
        if self._transport is None:
            raise OutstationLost(self.last_error or "connection closed")
        if answer.timed_out:
            self.counters["timeouts"] += 1
            self._timeouts += 1
            log.info(
                "dnp3 outstation %s: no answer to %s within %.1f s",
                self.name,
                function.name,
                self.outstation.response_timeout,
            )
            if self._timeouts >= TIMEOUTS_FOR_DOWN:
                raise OutstationLost(f"{self._timeouts} requests in a row were not answered")
        else:
            self._timeouts = 0
            refused = [text for bit, text in IIN2_FAILURES.items() if answer.iin2 & bit]
            if refused and function in LOGGED_REFUSALS:
                self._log_problem(f"{function.name} refused: {', '.join(refused)} (IIN2)")
        return answer

    async def _talk(self) -> None:
        """The start-up sequence (unsolicited off, the restart indication cleared, an
        integrity poll, unsolicited on), then requests as they fall due, until the link is
        lost."""
        o = self.outstation
        if o.unsolicited:
            await self._request(FunctionCode.DISABLE_UNSOLICITED, requests.unsolicited_headers())
        if "clear-restart" in self._need:  # before the integrity poll, which then reads all
            self._need.discard("clear-restart")
            await self._request(FunctionCode.WRITE, clear_restart())
        await self._integrity()
        self._need.discard("integrity")
        self._schedule(time.monotonic())
        if o.unsolicited:
            await self._request(FunctionCode.ENABLE_UNSOLICITED, requests.unsolicited_headers())
        while True:
            await self._next()

    def _schedule(self, start: float) -> None:
        """The next integrity and event polls, from `start`."""
        o = self.outstation
        self._due = {"integrity": start + (o.integrity_interval or float("inf"))}
        for cls in requests.EVENT_CLASSES:
            interval = o.class_interval(cls)
            if interval is not None:
                self._due[f"class{cls}"] = start + interval

    async def _next(self) -> None:
        """Send the most urgent thing that is due, or wait until something is."""
        o = self.outstation
        if self._transport is None:
            raise OutstationLost(self.last_error or "connection closed")
        if self._commands:
            binding, value, result = self._commands.popleft()
            if result.done():
                return  # its caller stopped waiting (the bus's command time-out)
            try:
                await self._command(binding, value)
            except CommandError as exc:
                outcome: BaseException | None = exc
            else:
                outcome = None
            if not result.done():  # the caller may have given up meanwhile
                if outcome is None:
                    result.set_result(None)
                else:
                    result.set_exception(outcome)
            return
        need = self._need
        t = time.monotonic()
        if self._asked("clear-restart", t):
            await self._request(FunctionCode.WRITE, clear_restart())
            need.add("integrity")
            return
        if self._asked("time-sync", t):
            self._syncing = True
            try:
                await self._time_sync()
            finally:
                self._syncing = False
            return
        if self._asked("integrity", t) or self._due.get("integrity", float("inf")) <= t:
            need.discard("integrity")
            await self._integrity()
            if o.integrity_interval is not None:
                self._due["integrity"] = time.monotonic() + o.integrity_interval
            return
        classes = [
            c
            for c in requests.EVENT_CLASSES
            if f"class{c}" in need or self._due.get(f"class{c}", float("inf")) <= t
        ]
        if classes:
            body = requests.event_headers(classes, o.event_variations, self.map.types)
            for cls in classes:
                need.discard(f"class{cls}")
                self._due[f"class{cls}"] = t + (o.class_interval(cls) or float("inf"))
            await self._request(FunctionCode.READ, body)
            return
        due = [*self._due.values(), *(self._allowed.get(n, t) for n in need & SPACED)]
        await self._idle(min(due, default=t + o.keep_alive) - t)

    def _asked(self, need: str, t: float) -> bool:
        """Whether an indication asked for `need` and it may run now (then it is taken): one
        the outstation keeps asking for runs at most every `SPACING` seconds."""
        if need not in self._need or t < self._allowed.get(need, 0.0):
            return False
        self._need.discard(need)
        self._allowed[need] = t + SPACING
        return True

    async def _idle(self, delay: float) -> None:
        """Wait for `delay` or a wake-up; after `keep_alive` of silence, check the link."""
        o = self.outstation
        silence = time.monotonic() - self._last_data
        if silence >= o.keep_alive and self._transport is not None:
            self._transport.write(self._association.link_status_request())
            asked = time.monotonic()
            while self._last_data < asked:  # any octet from the outstation will do
                left = asked + o.link_timeout - time.monotonic()
                if left <= 0 or self._transport is None:
                    raise OutstationLost(
                        f"no answer to a link status request in {o.link_timeout} s"
                    )
                await self._sleep(left)
            return
        await self._sleep(min(delay, o.keep_alive - silence))
        if self._transport is None:
            raise OutstationLost(self.last_error or "connection closed")

    async def _sleep(self, delay: float) -> None:
        """Wait `delay` seconds or until woken (a wake-up set before the call counts)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, delay)):  # wait_for can swallow a cancel (3.11)
                await self._wake.wait()
        self._wake.clear()

    async def _integrity(self) -> None:
        o = self.outstation
        body = requests.integrity_headers(o.event_variations, o.static_variations, self.map.types)
        await self._request(FunctionCode.READ, body)

    async def _time_sync(self) -> None:
        """The LAN procedure: RECORD_CURRENT_TIME, then WRITE the time it was sent."""
        sent = now()
        answer = await self._request(FunctionCode.RECORD_CURRENT_TIME, b"")
        if answer.timed_out or answer.iin2 & 0x07:
            self._log_problem("time sync: RECORD_CURRENT_TIME refused or unanswered")
            return
        await self._request(FunctionCode.WRITE, write_recorded_time(round(sent * 1000)))
        self.counters["time_syncs"] += 1

    # -- commands ---------------------------------------------------------------------------

    async def command(self, binding: MasterPoint, value: Value) -> None:
        """Queue a command on this outstation's request stream and wait for its outcome."""
        if self._transport is None or self.state != "up":
            raise CommandError(
                CommandFailure.DEVICE_FAILURE, f"outstation {self.name} is not connected"
            )
        result: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._commands.append((binding, value, result))
        self._wake.set()
        await result

    async def _command(self, binding: MasterPoint, value: Value) -> None:
        self.counters["commands"] += 1
        try:
            objects = self._objects(binding, value)
            if binding.control is ControlMode.SELECT:
                await self._control(FunctionCode.SELECT, objects, binding)
                await self._control(FunctionCode.OPERATE, objects, binding)
            else:
                await self._control(FunctionCode.DIRECT_OPERATE, objects, binding)
        except CommandError:
            self.counters["command_failures"] += 1
            raise

    def _objects(self, binding: MasterPoint, value: Value) -> bytes:
        if binding.type is PointType.BINARY_OUTPUT:
            return requests.crob_objects(binding.index, requests.crob_for(binding, value))
        slot = self.map.slot(binding.type, binding.index)  # its a * raw + b, computed once
        if slot is None or slot.a == 0:
            raise CommandError(CommandFailure.NOT_PERMITTED, f"{binding.point}: no raw value")
        raw = (float(value) - slot.b) / slot.a
        return requests.analog_output_objects(binding.index, binding.output.variation, raw)

    async def _control(self, function: FunctionCode, objects: bytes, binding: MasterPoint) -> None:
        try:
            answer = await self._request(function, objects)
        except OutstationLost as exc:
            raise CommandError(CommandFailure.DEVICE_FAILURE, str(exc)) from None
        what = f"{function.name} of {binding.type} {binding.index} on {self.name}"
        if answer.timed_out:
            raise CommandError(CommandFailure.TIMEOUT, f"{what}: no answer")
        echo = next((e for e in answer.echoes if e.index == binding.index), None)
        if echo is None:
            reasons = [text for bit, text in IIN2_FAILURES.items() if answer.iin2 & bit]
            raise CommandError(
                CommandFailure.NOT_PERMITTED,
                f"{what}: refused ({', '.join(reasons) or 'no control status in the answer'})",
            )
        failure = failure_of_status(echo.status)
        if failure is not None:
            log.info("dnp3 outstation %s: %s: %s", self.name, what, describe_status(echo.status))
            raise CommandError(failure, f"{what}: {describe_status(echo.status)}")
        # The echo must be the request's object (IEEE 1815-2012 4.4.3): one that differs
        # (but for its status octet) is no acceptance of what was sent, and no OPERATE follows.
        sent = objects[requests.OBJECT_HEADER_SIZE :]
        if (echo.group, echo.variation) != (objects[0], objects[1]) or echo.raw[:-1] != sent[:-1]:
            raise CommandError(
                CommandFailure.DEVICE_FAILURE, f"{what}: the echo differs from the request"
            )
        assert echo.status == CommandStatus.SUCCESS

    # -- state --------------------------------------------------------------------------------

    def _set_up(self) -> None:
        log.info(
            "dnp3 outstation %s (%s:%d, address %d) is up",
            self.name,
            self.outstation.host,
            self.outstation.port,
            self.outstation.outstation_address,
        )
        self.state = "up"
        self.last_error = None
        self._down_log.reset()
        self._down_attempts = 0

    def _set_down(self, reason: str) -> None:
        """Mark the outstation's points not valid at once; log a change of state once and
        repeats while down thinned out."""
        self.last_error = reason
        self._down_attempts += 1
        self._fail_commands(reason)
        if self.state == "down":
            if self._down_log.failure(reason, self._down_attempts):
                log.info(
                    "dnp3 outstation %s is still down: %s (attempt %d)",
                    self.name,
                    reason,
                    self._down_attempts,
                )
            return
        was, self.state = self.state, "down"
        self._down_log.failure(reason, 1)
        self.bus.mark_not_valid(self.map.points())
        if was == "starting":
            log.warning("dnp3 outstation %s is unreachable: %s; retrying", self.name, reason)
        else:
            log.warning(
                "dnp3 outstation %s is down: %s; its %d points are not valid; reconnecting",
                self.name,
                reason,
                len(self.map.points()),
            )

    def _fail_commands(self, reason: str) -> None:
        """Answer every queued command with a device failure (none of them was sent)."""
        for _, _, result in self._commands:
            if not result.done():
                result.set_exception(CommandError(CommandFailure.DEVICE_FAILURE, reason))
        self._commands.clear()

    def _log_problem(self, detail: str) -> None:
        """Log a problem, thinned out per kind (the message with its numbers left out)."""
        self.counters["problems"] += 1
        seen = self._problem_log.count(_NUMBERS.sub("#", detail))
        if seen:
            log.warning(
                "dnp3 outstation %s: %s%s",
                self.name,
                detail,
                f" ({seen} times)" if seen > 1 else "",
            )

    def status(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "address": f"{self.outstation.host}:{self.outstation.port}",
            "last_error": self.last_error,
            "points": len(self.map.points()),
            "unbound_objects": self.map.unbound,
            **self.counters,
        }


class Dnp3MasterAdapter(Adapter):
    """`dnp3-master`: one link per outstation; commands go to the point's outstation."""

    type_name = "dnp3-master"
    Settings = Dnp3MasterSettings

    def __init__(self, name: str, settings: AdapterSettings, bus: PointBus) -> None:
        super().__init__(name, settings, bus)
        self.links: dict[str, OutstationLink] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._bindings: dict[str, MasterPoint] = {}
        self._running = False

    def _apply(self, settings: Dnp3MasterSettings) -> None:
        self.settings = settings
        definitions = {p: self.bus.definition(p) for p in settings.owned_points() if p in self.bus}
        self._bindings = {b.point: b for b in settings.bindings}
        wanted = {o.name: o for o in settings.outstations}
        for gone in set(self.links) - set(wanted):
            task = self._tasks.pop(gone, None)
            if task is not None:
                task.cancel()
            link = self.links.pop(gone)
            self.bus.mark_not_valid(link.map.points())
        for name, outstation in wanted.items():
            mine = [b for b in settings.bindings if settings.outstation_of(b).name == name]
            if name not in self.links:
                self.links[name] = OutstationLink(self.name, outstation, self.bus)
            link = self.links[name]
            link.assign(outstation, bind(mine, definitions))
            if self._running and name not in self._tasks:
                task = asyncio.create_task(link.run(), name=link.name)
                task.add_done_callback(self._task_done)
                self._tasks[name] = task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        """A link's task ends only when cancelled; anything else is a bug worth a traceback."""
        if not task.cancelled() and task.exception() is not None:
            log.error("dnp3 link %s stopped", task.get_name(), exc_info=task.exception())

    def reconfigure(self, settings: AdapterSettings) -> bool:
        assert isinstance(settings, Dnp3MasterSettings)
        self._apply(settings)
        return True

    async def run(self) -> None:
        assert isinstance(self.settings, Dnp3MasterSettings)
        self._running = True
        self._apply(self.settings)
        try:
            await asyncio.Event().wait()
        finally:
            self._running = False
            tasks = list(self._tasks.values())
            self._tasks.clear()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def on_command(self, point: PointDef, value: Value) -> None:
        binding = self._bindings.get(point.id)
        if binding is None or not binding.writable:
            raise CommandError(CommandFailure.NOT_PERMITTED, f"{point.id} is not writable")
        assert isinstance(self.settings, Dnp3MasterSettings)
        link = self.links[self.settings.outstation_of(binding).name]
        await link.command(binding, value)

    def status(self) -> dict[str, Any]:
        return {"outstations": {name: link.status() for name, link in self.links.items()}}
