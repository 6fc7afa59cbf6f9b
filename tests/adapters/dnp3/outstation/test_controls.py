"""The control gate with py1815's session, frame by frame as the shell drives them: what is
executed before the session answers, and that nothing the session refuses is executed."""

from __future__ import annotations

import struct
from collections.abc import Sequence

from hypothesis import given
from hypothesis import strategies as st
from py1815 import link
from py1815.control import (
    CommandStatus,
    ControlRelayOutputBlock,
    OperationType,
    encode_crob,
)
from py1815.events import EventBuffers
from py1815.session import Control, Session
from py1815.transport import segment

from adapters.dnp3.outstation.controls import ControlGate, Fragment, FragmentWatch, parse_control
from adapters.dnp3.outstation.database import ServedDatabase
from adapters.dnp3.outstation.settings import ServedPoint
from gateway.points import PointKind, State

SELECT, OPERATE, DIRECT, READ = 3, 4, 5, 1
SELECT_TIMEOUT = 10.0


class Rig:
    """A session and its gate, fed as the shell feeds them; commands 'succeed' unless told."""

    def __init__(self, max_response: int = 2048) -> None:
        self.now = 100.0
        points = [
            ServedPoint(point="BRK", type="binary-output", index=0, writable=True),
            ServedPoint(point="LAMP", type="binary-output", index=1),
        ]
        events = EventBuffers()
        self.database = ServedDatabase(points, events)
        self.gate = ControlGate(
            self.database,
            kind_of=lambda point: PointKind.STATE,
            routable=lambda point: True,
            clock=lambda: self.now,
            select_timeout=SELECT_TIMEOUT,
            max_response=max_response,
        )
        self.session = Session(
            self.database,
            control_provider=self.gate,
            events=events,
            select_timeout=SELECT_TIMEOUT + 10,
            clock=lambda: self.now,
            max_response=max_response,
        )
        self.watch = FragmentWatch(1024, 1, 2048)
        self.executed: list[tuple[str, float]] = []
        self.outcome = CommandStatus.SUCCESS
        self.sequence = 0

    def send(
        self, function: int, body: bytes, *, sequence: int | None = None, control: int = 0xC0
    ) -> bytes:
        """One request through watch, gate and session; the response fragment (empty for
        none)."""
        if sequence is None:
            sequence = self.sequence
            self.sequence = (self.sequence + 1) % 16
        fragment = bytes([control | sequence, function]) + body
        (tpdu,) = segment(fragment)
        frame = link.parse(link.build(0xC4, 1024, 1, tpdu))
        assert self.watch.feed(frame) == Fragment(fragment)
        self.gate.observe(fragment)
        request = parse_control(fragment)
        if request is not None:
            for work in self.gate.plan(request):
                self.executed.append((work.point, work.value))
                self.gate.complete(work, self.outcome)
        reply = self.session.receive(link.build(frame.control, 1024, 1, frame.payload))
        if request is not None:
            self.gate.answered(request)
        answers = link.FrameReader().feed(reply)
        return answers[0].payload[1:] if answers else b""


def crob(index: int, operation: OperationType = OperationType.LATCH_ON) -> bytes:
    header = bytes([12, 1, 0x28]) + struct.pack("<HH", 1, index)
    return header + encode_crob(ControlRelayOutputBlock.build(operation))


def status(response: bytes) -> CommandStatus:
    return CommandStatus(response[-1])


def test_direct_operate_is_executed_once_and_answered_with_its_outcome() -> None:
    rig = Rig()
    rig.outcome = CommandStatus.ALREADY_ACTIVE
    first = rig.send(DIRECT, crob(0))
    assert status(first) is CommandStatus.ALREADY_ACTIVE
    assert rig.executed == [("BRK", int(State.ON))]
    again = rig.send(DIRECT, crob(0), sequence=0)  # a retry, octet for octet
    assert again == first
    assert rig.executed == [("BRK", int(State.ON))]


def test_an_operate_without_its_select_is_not_executed() -> None:
    rig = Rig()
    assert status(rig.send(OPERATE, crob(0))) is CommandStatus.NO_SELECT
    assert rig.executed == []


def test_select_then_operate_executes_at_the_operate_only() -> None:
    rig = Rig()
    assert status(rig.send(SELECT, crob(0, OperationType.LATCH_OFF))) is CommandStatus.SUCCESS
    assert rig.executed == []
    assert status(rig.send(OPERATE, crob(0, OperationType.LATCH_OFF))) is CommandStatus.SUCCESS
    assert rig.executed == [("BRK", int(State.OFF))]
    # The select is spent: operating again is refused by both, and nothing runs.
    assert status(rig.send(OPERATE, crob(0, OperationType.LATCH_OFF))) is CommandStatus.NO_SELECT
    assert rig.executed == [("BRK", int(State.OFF))]


def test_an_operate_that_differs_from_its_select_or_comes_late_is_not_executed() -> None:
    rig = Rig()
    rig.send(SELECT, crob(0, OperationType.LATCH_ON))
    assert status(rig.send(OPERATE, crob(0, OperationType.LATCH_OFF))) is CommandStatus.NO_SELECT
    rig.send(SELECT, crob(0))
    rig.send(READ, bytes([60, 1, 0x06]))  # anything else in between ends the select
    assert status(rig.send(OPERATE, crob(0))) is CommandStatus.NO_SELECT
    rig.send(SELECT, crob(0))
    rig.now += SELECT_TIMEOUT + 1
    assert status(rig.send(OPERATE, crob(0))) is CommandStatus.TIMEOUT
    assert rig.executed == []


def test_a_repeated_select_keeps_the_time_of_the_first() -> None:
    rig = Rig()
    rig.send(SELECT, crob(0), sequence=0)
    rig.now += SELECT_TIMEOUT - 4
    rig.send(SELECT, crob(0), sequence=0)  # the master did not hear the answer
    rig.now += 5  # past the time-out counted from the first select
    rig.sequence = 1
    assert status(rig.send(OPERATE, crob(0))) is CommandStatus.TIMEOUT
    assert rig.executed == []


def test_a_fragment_that_is_no_request_ends_a_select_as_in_the_session() -> None:
    rig = Rig()
    rig.send(SELECT, crob(0))
    assert rig.send(OPERATE, crob(0), control=0x80, sequence=1) == b""  # FIR without FIN
    rig.sequence = 1
    assert status(rig.send(OPERATE, crob(0))) is CommandStatus.NO_SELECT
    assert rig.executed == []


def test_a_retry_after_an_unanswered_operate_is_still_not_acted_on() -> None:
    """DIRECT_OPERATE_NR is handled before the session's retry check, so it leaves the
    retry window of the request before it open."""
    rig = Rig()
    first = rig.send(DIRECT, crob(0), sequence=0)
    assert rig.send(6, crob(0, OperationType.LATCH_OFF), sequence=1) == b""  # NR: no answer
    assert rig.send(DIRECT, crob(0), sequence=0) == first
    assert rig.executed == [("BRK", int(State.ON)), ("BRK", int(State.OFF))]


def test_a_control_whose_echo_cannot_be_sent_is_not_executed() -> None:
    rig = Rig(max_response=64)
    entries = b"".join(struct.pack("<H", 0) + crob(0)[7:] for _ in range(5))
    response = rig.send(DIRECT, bytes([12, 1, 0x28]) + struct.pack("<H", 5) + entries)
    assert len(response) == 4 and response[3] & 0x04  # no objects, IIN2.2 parameter error
    assert rig.executed == []


def test_select_refuses_what_cannot_be_routed_and_arms_nothing() -> None:
    rig = Rig()
    assert status(rig.send(SELECT, crob(1))) is CommandStatus.NOT_SUPPORTED  # not writable
    assert status(rig.send(OPERATE, crob(1))) is CommandStatus.NO_SELECT
    assert status(rig.send(DIRECT, crob(1))) is CommandStatus.NOT_SUPPORTED
    assert rig.executed == []


def test_confirmed_user_data_counts_only_as_the_session_counts_it() -> None:
    """A confirmed frame before the link reset, or repeating its frame count bit, is not acted
    on by the session, so its control is not executed either."""
    rig = Rig()
    fragment = bytes([0xC0, DIRECT]) + crob(0)
    (tpdu,) = segment(fragment)

    def confirmed(fcb: bool) -> link.LinkFrame:
        control = 0xC0 | 0x10 | (0x20 if fcb else 0) | 3  # DIR PRM FCV, confirmed user data
        return link.parse(link.build(control, 1024, 1, tpdu))

    reset = link.parse(link.build(0xC0, 1024, 1))  # RESET_LINK_STATES
    assert rig.watch.feed(confirmed(True)) is None  # the link has not been reset
    assert rig.watch.feed(reset) is None
    assert rig.watch.feed(confirmed(True)) == Fragment(fragment)
    assert rig.watch.feed(confirmed(True)) is None  # sent again: the same frame count bit
    assert rig.watch.feed(confirmed(False)) == Fragment(fragment)


@given(
    st.lists(
        st.tuples(
            st.sampled_from([SELECT, OPERATE, DIRECT, 6, READ, 0]),
            st.one_of(
                st.sampled_from(
                    [crob(0), crob(0, OperationType.LATCH_OFF), crob(1), crob(0)[:-3], b""]
                ),
                st.binary(max_size=120),
            ),
            st.sampled_from([0xC0, 0xC0, 0xC0, 0x80, 0x40, 0xD0, 0xE0]),
            st.integers(0, 3),
        ),
        max_size=8,
    )
)
def test_any_request_sequence_is_handled_and_executes_only_what_the_session_operates(
    requests: list[tuple[int, bytes, int, int]],
) -> None:
    rig = Rig()
    operated: list[int] = []
    real_operate = rig.gate.operate

    def operate(controls: Sequence[Control]) -> Sequence[CommandStatus]:
        statuses = real_operate(controls)
        operated.extend(1 for s in statuses if s is not CommandStatus.HARDWARE_ERROR)
        return statuses

    rig.gate.operate = operate  # type: ignore[method-assign]  # counts what the session asks
    for function, body, control, sequence in requests:
        executed, asked = len(rig.executed), len(operated)
        rig.send(function, body, sequence=sequence, control=control)
        # Every command executed is one whose status the session asked for, in this request.
        assert len(rig.executed) - executed <= len(operated) - asked
