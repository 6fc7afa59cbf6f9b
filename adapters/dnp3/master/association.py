"""The master's side of one DNP3 association: octets in, events and octets out (sans-IO).

Framing is py1815's (link frames built, the transport function, the application envelope;
frames are read by `adapters.dnp3.frames`, which checks the CRCs in C); this is the
conversation on top of it: one request outstanding at a time, its
response fragments in sequence, confirmations where a fragment asks for one, unsolicited
responses (confirmed, a repeat confirmed again and not delivered twice), and the link
layer's own requests answered. Fragment bodies go out undecoded, so the adapter decodes
each only once, the fast way (`adapters.dnp3.objects`).

Time is the caller's: `deadline` says when the outstanding request times out and
`expire(now)` ends it then.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from py1815 import link
from py1815.application import (
    AppControl,
    FunctionCode,
    ResponseError,
    build_confirm,
    build_request,
    parse_response,
)
from py1815.transport import Reassembler, TransportError, segment

from adapters.dnp3.frames import FrameReader

log = logging.getLogger(__name__)

SEQUENCE_MODULUS = 16
TRANSPORT_SEQUENCE_MODULUS = 64
NO_RESPONSE = frozenset({FunctionCode.CONFIRM, FunctionCode.DIRECT_OPERATE_NR})


class AssociationError(Exception):
    """A misuse of the association (a second request while one is outstanding)."""


@dataclass(frozen=True, slots=True)
class Fragment:
    """A response fragment: its objects (undecoded) and the outstation's indications."""

    body: bytes
    iin1: int
    iin2: int
    unsolicited: bool
    final: bool


@dataclass(frozen=True, slots=True)
class Completed:
    """The outstanding request ended: answered (`timed_out` False) or not in time."""

    function: FunctionCode
    timed_out: bool
    fragments: int


@dataclass(frozen=True, slots=True)
class Problem:
    """Something from the outstation was dropped; `detail` says what and why (for the log)."""

    detail: str


Event = Fragment | Completed | Problem


class _Pending:
    __slots__ = ("deadline", "expected", "fragments", "function")

    def __init__(self, function: FunctionCode, sequence: int, deadline: float) -> None:
        self.function = function
        self.expected = sequence
        self.deadline = deadline
        self.fragments = 0


class MasterAssociation:
    """One outstation's conversation, seen from the master (see the module docstring)."""

    def __init__(
        self,
        *,
        master_address: int,
        outstation_address: int,
        response_timeout: float,
        max_fragment: int,
    ) -> None:
        self.master_address = master_address
        self.outstation_address = outstation_address
        self.response_timeout = response_timeout
        self._frames = FrameReader()
        self._reassembler = Reassembler(max_fragment=max_fragment)
        self._sequence = 0
        self._transport_sequence = 0
        self._pending: _Pending | None = None
        self._last_unsolicited: bytes | None = None
        self._events: list[Event] = []
        self._late: list[bytes] = []
        self._user_data = link.control_byte(
            from_master=True, primary=True, function=link.PrimaryFunction.UNCONFIRMED_USER_DATA
        )

    @property
    def busy(self) -> bool:
        """Whether a request is waiting for its response."""
        return self._pending is not None

    @property
    def deadline(self) -> float | None:
        """When the outstanding request times out (the caller's clock), None if none is."""
        return None if self._pending is None else self._pending.deadline

    def request(self, function: FunctionCode, body: bytes, now: float) -> bytes:
        """Start a request and return its octets; raises AssociationError while busy."""
        if self._pending is not None:
            raise AssociationError(f"{self._pending.function.name} is still outstanding")
        sequence = self._sequence
        self._sequence = (sequence + 1) % SEQUENCE_MODULUS
        if function in NO_RESPONSE:
            self._events.append(Completed(function, False, 0))
        else:
            self._pending = _Pending(function, sequence, now + self.response_timeout)
        return self._send(build_request(function, sequence=sequence, body=body))

    def link_status_request(self) -> bytes:
        """A REQUEST_LINK_STATUS frame: the keep-alive that finds a dead connection."""
        control = link.control_byte(
            from_master=True, primary=True, function=link.PrimaryFunction.REQUEST_LINK_STATUS
        )
        return link.build(control, self.outstation_address, self.master_address)

    def receive(self, data: bytes, now: float) -> bytes:
        """Take octets from the outstation; returns octets to send back (confirmations)."""
        out = b""
        frames = self._frames
        for frame in frames.feed(data):
            out += self._frame(frame, now)
        if frames.problems:
            for problem in frames.problems:
                self._problem(problem)
            frames.problems.clear()
        return out

    def take_late(self) -> bytes:
        """Confirmations of unsolicited responses, to send a moment later than the rest.

        opendnp3 drops a confirmation that arrives before it has seen its own unsolicited
        response sent, then waits for one until its confirm time-out and holds back every
        READ meanwhile; a master on the same host answers that fast.
        """
        late, self._late = b"".join(self._late), []
        return late

    def take_events(self) -> list[Event]:
        """The events since the last call, in order."""
        events, self._events = self._events, []
        return events

    def expire(self, now: float) -> bool:
        """End the outstanding request if its time has passed; says whether it did."""
        pending = self._pending
        if pending is None or now < pending.deadline:
            return False
        self._pending = None
        self._events.append(Completed(pending.function, True, pending.fragments))
        return True

    def connection_reset(self) -> None:
        """Forget what a lost connection left half done (the sequence numbers carry on)."""
        self._frames = FrameReader()
        self._reassembler.reset()
        self._last_unsolicited = None
        self._late.clear()
        if self._pending is not None:
            self._events.append(Completed(self._pending.function, True, self._pending.fragments))
            self._pending = None

    # -- receiving ----------------------------------------------------------------------

    def _frame(self, frame: link.LinkFrame, now: float) -> bytes:
        if frame.destination != self.master_address or frame.source != self.outstation_address:
            self._problem(
                f"frame from {frame.source} to {frame.destination} dropped: this link is "
                f"{self.outstation_address} to {self.master_address}"
            )
            return b""
        if frame.from_master:
            self._problem("frame with the master's direction bit dropped")
            return b""
        if not frame.is_primary:
            return b""  # an answer to our link status request: the link is alive
        function = frame.function
        if function == link.PrimaryFunction.UNCONFIRMED_USER_DATA:
            return self._segment(frame.payload, now)
        if function == link.PrimaryFunction.CONFIRMED_USER_DATA:
            return self._link_reply(link.SecondaryFunction.ACK) + self._segment(frame.payload, now)
        if function in (
            link.PrimaryFunction.RESET_LINK_STATES,
            link.PrimaryFunction.TEST_LINK_STATES,
        ):
            return self._link_reply(link.SecondaryFunction.ACK)
        if function == link.PrimaryFunction.REQUEST_LINK_STATUS:
            return self._link_reply(link.SecondaryFunction.LINK_STATUS)
        return self._link_reply(link.SecondaryFunction.NOT_SUPPORTED)

    def _segment(self, tpdu: bytes, now: float) -> bytes:
        try:
            fragment = self._reassembler.add(tpdu)
        except TransportError as exc:
            self._problem(f"transport: {exc}")
            return b""
        if fragment is None:
            return b""
        try:
            response = parse_response(fragment)
        except ResponseError as exc:
            self._problem(f"fragment dropped: {exc}")
            return b""
        control = response.control
        if response.unsolicited:
            return self._unsolicited(fragment, response.body, control)
        return self._solicited(fragment, response.body, control, now)

    def _unsolicited(self, fragment: bytes, body: bytes, control: AppControl) -> bytes:
        if not (control.fir and control.fin):
            self._problem("unsolicited response in several fragments dropped")
            return b""
        if fragment != self._last_unsolicited:
            self._last_unsolicited = fragment
            self._events.append(Fragment(body, fragment[2], fragment[3], True, True))
        if control.con:
            self._late.append(self._confirm(control))
        return b""

    def _solicited(self, fragment: bytes, body: bytes, control: AppControl, now: float) -> bytes:
        pending = self._pending
        if pending is None:
            self._problem(f"response with sequence {control.sequence} and nothing outstanding")
            return b""
        first = pending.fragments == 0
        if control.fir != first or control.sequence != pending.expected:
            # A late answer to a request given up on: not confirmed, so that the outstation
            # does not retire events this master never applied.
            self._problem(
                f"fragment with sequence {control.sequence} is not the one awaited "
                f"({pending.expected}{' first' if first else ''})"
            )
            return b""
        pending.fragments += 1
        self._events.append(Fragment(body, fragment[2], fragment[3], False, control.fin))
        out = self._confirm(control) if control.con else b""
        if control.fin:
            self._pending = None
            self._events.append(Completed(pending.function, False, pending.fragments))
        else:
            pending.expected = (control.sequence + 1) % SEQUENCE_MODULUS
            pending.deadline = now + self.response_timeout
        return out

    # -- sending ------------------------------------------------------------------------

    def _confirm(self, control: AppControl) -> bytes:
        return self._send(build_confirm(sequence=control.sequence, unsolicited=control.uns))

    def _send(self, fragment: bytes) -> bytes:
        segments = segment(fragment, first_sequence=self._transport_sequence)
        self._transport_sequence = (
            self._transport_sequence + len(segments)
        ) % TRANSPORT_SEQUENCE_MODULUS
        return b"".join(
            link.build(self._user_data, self.outstation_address, self.master_address, tpdu)
            for tpdu in segments
        )

    def _link_reply(self, function: link.SecondaryFunction) -> bytes:
        control = link.control_byte(from_master=True, primary=False, function=function)
        return link.build(control, self.outstation_address, self.master_address)

    def _problem(self, detail: str) -> None:
        self._events.append(Problem(detail))
