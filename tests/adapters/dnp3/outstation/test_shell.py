"""The running `dnp3-outstation` driven frame by frame over TCP by a raw master: reloads
while controls are in flight, broadcasts, and py1815's repeated warnings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import pytest
from py1815 import link
from py1815.control import CommandStatus, ControlRelayOutputBlock, OperationType, encode_crob
from py1815.transport import Reassembler, segment

from adapters.dnp3.outstation.adapter import (
    PY1815_SESSION_LOG,
    Dnp3OutstationAdapter,
    RepeatFilter,
)
from adapters.dnp3.outstation.settings import Dnp3OutstationSettings
from gateway.bus import PointBus
from gateway.points import GOOD, PointDef, PointKind, State
from tests.support import eventually, free_port, running

pytestmark = [pytest.mark.timeout(60), pytest.mark.both_loops]  # uvloop: the gateway's loop

READ, SELECT, OPERATE, DIRECT = 1, 3, 4, 5
OUTSTATION, MASTER = 1024, 1
UNCONFIRMED = 0xC4  # DIR PRM, unconfirmed user data
RESET_LINK = 0xC0  # DIR PRM, reset link states
POINTS: list[dict[str, Any]] = [
    {"point": "BRK", "type": "binary-output", "index": 0, "writable": True}
]
MORE_POINTS = [*POINTS, {"point": "HZ", "type": "analog-input", "index": 0, "event_class": 0}]


def confirmed(fcb: bool) -> int:
    """The control octet of confirmed user data from the master with this frame count bit."""
    return 0xC0 | 0x10 | (0x20 if fcb else 0) | 3  # DIR PRM FCV (FCB), confirmed user data


def crob(operation: OperationType = OperationType.LATCH_ON) -> bytes:
    header = bytes([12, 1, 0x28]) + struct.pack("<HH", 1, 0)
    return header + encode_crob(ControlRelayOutputBlock.build(operation))


def status(response: bytes) -> CommandStatus:
    return CommandStatus(response[-1])


class Owner:
    """Owns the points and records its commands; while `release` is clear, a command waits."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, float]] = []
        self.started = 0
        self.release = asyncio.Event()
        self.release.set()

    async def on_command(self, point: PointDef, value: float) -> None:
        self.started += 1
        await self.release.wait()
        self.commands.append((point.id, value))


class RawMaster:
    """Sends link frames of its own making and reads the outstation's answers."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._frames = link.FrameReader()
        self._queued: deque[link.LinkFrame] = deque()
        self._reassembler = Reassembler(max_fragment=2048)

    async def send(
        self,
        function: int,
        body: bytes = b"",
        *,
        sequence: int,
        control: int = UNCONFIRMED,
        destination: int = OUTSTATION,
        source: int = MASTER,
    ) -> None:
        fragment = bytes([0xC0 | sequence, function]) + body
        for tpdu in segment(fragment):
            self._writer.write(link.build(control, destination, source, tpdu))
        await self._writer.drain()

    async def reset_link(self) -> None:
        """Reset the link, so that confirmed user data counts (no answer awaited)."""
        self._writer.write(link.build(RESET_LINK, OUTSTATION, MASTER))
        await self._writer.drain()

    async def frame(self) -> link.LinkFrame:
        """The next link frame from the outstation."""
        async with asyncio.timeout(5):
            while not self._queued:
                data = await self._reader.read(4096)
                assert data, "the outstation closed the connection"
                self._queued.extend(self._frames.feed(data))
        return self._queued.popleft()

    async def answer(self) -> bytes:
        """The next response fragment (link acknowledgements skipped)."""
        while True:
            frame = await self.frame()
            if frame.is_primary and frame.payload:
                fragment = self._reassembler.add(frame.payload)
                if fragment is not None:
                    return fragment

    async def request(self, function: int, body: bytes = b"", *, sequence: int) -> bytes:
        await self.send(function, body, sequence=sequence)
        return await self.answer()


def outstation_settings(port: int, points: list[dict[str, Any]]) -> Dnp3OutstationSettings:
    return Dnp3OutstationSettings.model_validate({"port": port, "points": points})


@contextlib.asynccontextmanager
async def served() -> AsyncIterator[tuple[Dnp3OutstationAdapter, Owner, RawMaster]]:
    bus = PointBus()
    owner = Owner()
    bus.add_owner("owner", owner.on_command)
    bus.register(PointDef(id="BRK", kind=PointKind.STATE), "owner")
    bus.register(PointDef(id="HZ"), "owner")
    bus.update("HZ", 50.0, GOOD, 1.0)
    port = free_port()
    adapter = Dnp3OutstationAdapter("ost", outstation_settings(port, POINTS), bus)
    async with running(adapter):
        await asyncio.wait_for(adapter.ready.wait(), 5)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            yield adapter, owner, RawMaster(reader, writer)
        finally:
            writer.close()


async def test_a_retry_after_a_reload_is_answered_again_without_acting() -> None:
    async with served() as (adapter, owner, master):
        first = await master.request(DIRECT, crob(), sequence=0)
        assert status(first) is CommandStatus.SUCCESS
        assert adapter.reconfigure(outstation_settings(adapter.settings.port, MORE_POINTS))
        again = await master.request(DIRECT, crob(), sequence=0)  # the same octets
        assert again == first
        assert owner.commands == [("BRK", int(State.ON))]


async def test_a_reload_during_an_operate_waits_for_its_answer() -> None:
    async with served() as (adapter, owner, master):
        assert status(await master.request(SELECT, crob(), sequence=0)) is CommandStatus.SUCCESS
        owner.release.clear()
        await master.send(OPERATE, crob(), sequence=1)
        await eventually(lambda: owner.started == 1, what="the bus command")
        assert adapter.reconfigure(outstation_settings(adapter.settings.port, MORE_POINTS))
        assert "HZ" not in adapter.database.points  # not while the control is in progress
        owner.release.set()
        assert status(await master.answer()) is CommandStatus.SUCCESS
        assert owner.commands == [("BRK", int(State.ON))]
        await eventually(lambda: "HZ" in adapter.database.points, what="the reload")
        # The new points are served, and the select was spent by its operate.
        assert status(await master.request(OPERATE, crob(), sequence=2)) is (
            CommandStatus.NO_SELECT
        )
        assert owner.commands == [("BRK", int(State.ON))]


async def test_a_broadcast_ends_a_select_in_the_gate_as_in_the_session() -> None:
    async with served() as (_, owner, master):
        assert status(await master.request(SELECT, crob(), sequence=0)) is CommandStatus.SUCCESS
        await master.send(
            READ, bytes([60, 1, 0x06]), sequence=1, destination=int(link.Broadcast.NO_CONFIRM)
        )
        assert status(await master.request(OPERATE, crob(), sequence=1)) is (
            CommandStatus.NO_SELECT
        )
        assert owner.commands == []


async def test_a_confirmed_broadcast_counts_frames_in_the_gate_as_in_the_session() -> None:
    async with served() as (_, owner, master):
        await master.reset_link()
        assert not (await master.frame()).is_primary  # its acknowledgement
        await master.send(DIRECT, crob(), sequence=0, control=confirmed(True))
        assert status(await master.answer()) is CommandStatus.SUCCESS
        await master.send(
            READ,
            bytes([60, 1, 0x06]),
            sequence=1,
            control=confirmed(False),
            destination=int(link.Broadcast.OPTIONAL_CONFIRM),
        )
        off = crob(OperationType.LATCH_OFF)
        await master.send(DIRECT, off, sequence=2, control=confirmed(True))
        assert status(await master.answer()) is CommandStatus.SUCCESS
        assert owner.commands == [("BRK", int(State.ON)), ("BRK", int(State.OFF))]


async def test_a_master_at_a_wrong_address_costs_a_few_log_lines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with served() as (_, _, master):
        with caplog.at_level(logging.WARNING, logger=PY1815_SESSION_LOG):
            for n in range(100):
                await master.send(READ, bytes([60, 1, 0x06]), sequence=n % 16, source=7)
            await master.request(READ, bytes([60, 1, 0x06]), sequence=0)  # all handled
        dropped = [r for r in caplog.records if "unexpected master address" in r.getMessage()]
        assert 0 < len(dropped) <= 8  # a line at the 1st, 2nd, 4th... of the drops


def test_a_repeated_warning_passes_at_its_1st_2nd_4th_8th_occurrence() -> None:
    repeats = RepeatFilter()

    def passed(level: int, msg: str, *args: object) -> list[str]:
        record = logging.LogRecord("py1815.session", level, __file__, 1, msg, args, None)
        return [record.getMessage()] if repeats.filter(record) else []

    lines = [line for n in range(10) for line in passed(logging.WARNING, "from %d", n)]
    assert lines == ["from 0", "from 1 (2 times)", "from 3 (4 times)", "from 7 (8 times)"]
    assert passed(logging.WARNING, "another") == ["another"]  # counted apart
    assert passed(logging.WARNING, "another") == ["another (2 times)"]
    assert all(passed(logging.INFO, "from %d", 1) for _ in range(3))  # asked for: all pass


def test_the_filter_is_installed_once_on_the_session_logger() -> None:
    for name in ("a", "b"):
        Dnp3OutstationAdapter(name, outstation_settings(free_port(), POINTS), PointBus())
    session_log = logging.getLogger(PY1815_SESSION_LOG)
    assert sum(isinstance(f, RepeatFilter) for f in session_log.filters) == 1
