"""Controls from the master answered with the owner's real outcome (sans-IO).

py1815's `ControlProvider` is synchronous: the session asks it for a status while it builds
the response. A bus command is asynchronous. So the shell recognises a complete control
request *before* it hands the octets to the session (`FragmentWatch` reassembles the same
link frames and transport segments the session will), `ControlGate.plan` says which bus
commands the request stands for, the shell awaits them (bounded by `command_timeout`, below
the master's response time-out), and only then feeds the session, whose call to
`ControlGate.operate` answers with the statuses the owners gave.

What the session itself would refuse must not be executed first, so the gate keeps a mirror
of the session's select rules (IEEE 1815-2012 4.4.3; py1815's D12, D16 and D49):

* a SELECT is armed when the gate granted at least one of its controls; anything the master
  sends other than an OPERATE or a confirmation ends it, and so does a new connection;
* an OPERATE executes only when it is the request after the select (sequence + 1), carries
  the same objects octet for octet and comes within `select_timeout`; otherwise nothing is
  executed and the answer is NO_SELECT (or TIMEOUT). The session is built with a longer
  select time-out than the gate's, so it never refuses on time what the gate executed;
* a request repeated octet for octet after it acted is a retry: the session answers it
  again without acting, and the gate executes nothing;
* a control whose echo would not fit `max_response` is refused by the session unasked,
  and the gate executes nothing.

SELECT checks only that each control could be routed: a writable point the bus knows.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from py1815 import link
from py1815.application import (
    FIN_MASK,
    FIR_MASK,
    UNS_MASK,
    FunctionCode,
    RequestError,
    parse_object_blocks,
    parse_request,
)
from py1815.control import CommandStatus, ControlError, decode_control, object_size
from py1815.session import Control
from py1815.transport import Reassembler, TransportError

from adapters.dnp3.outstation.database import ServedDatabase
from gateway.bus import Value
from gateway.points import PointKind

log = logging.getLogger(__name__)

CONTROL_FUNCTIONS = frozenset(
    {
        FunctionCode.SELECT,
        FunctionCode.OPERATE,
        FunctionCode.DIRECT_OPERATE,
        FunctionCode.DIRECT_OPERATE_NR,
    }
)
_EXECUTING = frozenset(
    {FunctionCode.OPERATE, FunctionCode.DIRECT_OPERATE, FunctionCode.DIRECT_OPERATE_NR}
)
_ACT_ONCE = frozenset({FunctionCode.OPERATE, FunctionCode.DIRECT_OPERATE})
_KEEPS_A_SELECT = frozenset({FunctionCode.OPERATE, FunctionCode.CONFIRM})
_SILENT = frozenset(
    {
        FunctionCode.DIRECT_OPERATE_NR,
        FunctionCode.IMMED_FREEZE_NR,
        FunctionCode.FREEZE_CLEAR_NR,
        FunctionCode.FREEZE_AT_TIME_NR,
        FunctionCode.AUTH_REQUEST_NO_ACK,
    }
)
"""Functions the session handles before its retry check: they leave a retry window open."""
_RESPONSE_HEADER = 4
_USER_DATA = frozenset(
    {link.PrimaryFunction.CONFIRMED_USER_DATA, link.PrimaryFunction.UNCONFIRMED_USER_DATA}
)

ControlKey = tuple[int, int, int, int | None, int, bytes]


def control_key(control: Control) -> ControlKey:
    """What identifies one control object of a request (its header, index and octets)."""
    qualifier = None if control.qualifier is None else int(control.qualifier)
    return (control.block, control.group, control.variation, qualifier, control.index, control.raw)


@dataclass(frozen=True)
class ControlRequest:
    """A complete control request, decoded as the session will decode it."""

    function: FunctionCode
    sequence: int
    fragment: bytes
    controls: tuple[Control, ...]

    @property
    def key(self) -> tuple[ControlKey, ...]:
        return tuple(control_key(c) for c in self.controls)


def well_formed(fragment: bytes) -> bool:
    """Whether the session takes a fragment as a request at all: an application header,
    first and final, and the unsolicited bit only on a confirmation."""
    if len(fragment) < 2:
        return False
    control, function = fragment[0], fragment[1]
    if control & (FIR_MASK | FIN_MASK) != FIR_MASK | FIN_MASK:
        return False
    return not (control & UNS_MASK and function != FunctionCode.CONFIRM)


def parse_control(fragment: bytes) -> ControlRequest | None:
    """The control request a fragment carries, or None (not a control, or malformed: the
    session answers a malformed one itself without calling the provider)."""
    if not well_formed(fragment) or fragment[1] not in CONTROL_FUNCTIONS:
        return None
    function = FunctionCode(fragment[1])
    try:
        request = parse_request(fragment)
        controls = [
            Control(
                function=function,
                block=ordinal,
                group=block.header.group,
                variation=block.header.variation,
                index=index,
                raw=data,
                command=decode_control(block.header.group, block.header.variation, data),
                qualifier=block.header.qualifier,
            )
            for ordinal, block in enumerate(parse_object_blocks(request, object_size))
            for index, data in block.items
        ]
    except (RequestError, ControlError, ValueError):
        return None
    if not controls:
        return None
    return ControlRequest(function, request.control.sequence, fragment, tuple(controls))


@dataclass(frozen=True)
class Fragment:
    """A complete application fragment from the master; `broadcast` when it came to a
    broadcast address (the session acts on none of its controls and answers nothing)."""

    octets: bytes
    broadcast: bool = False


class FragmentWatch:
    """The application fragments a master sends this outstation, from its link frames.

    Follows the frames the session acts on (from the master to our address or to a
    broadcast address) by the same secondary-station rules (IEEE 1815-2012 9.2.6):
    confirmed user data counts only after the master reset the link and is dropped when its
    frame count bit repeats the last one, a confirmed broadcast counts frames as well, and a
    reset abandons a partial fragment. Its transport reassemblers (one for broadcasts, as in
    the session) are its own.
    """

    def __init__(self, outstation_address: int, master_address: int, max_fragment: int) -> None:
        self._outstation = outstation_address
        self._master = master_address
        self._reassembler = Reassembler(max_fragment=max_fragment)
        self._broadcasts = Reassembler(max_fragment=max_fragment)
        self._link_reset = False
        self._expected_fcb = True

    def reset(self) -> None:
        """A new connection: a new data link, nothing half received."""
        self._reassembler.reset()
        self._broadcasts.reset()
        self._link_reset = False
        self._expected_fcb = True

    def feed(self, frame: link.LinkFrame) -> Fragment | None:
        """The fragment this frame completes, if any."""
        if not frame.is_primary or frame.source != self._master:
            return None
        broadcast = frame.is_broadcast
        if frame.destination != self._outstation and not broadcast:
            return None
        function = frame.function
        counted = function in (
            link.PrimaryFunction.CONFIRMED_USER_DATA,
            link.PrimaryFunction.TEST_LINK_STATES,
        )
        if frame.fcv != counted or bool(frame.payload) != (function in _USER_DATA):
            return None  # the session drops a frame that contradicts itself
        if broadcast and function not in _USER_DATA:
            return None  # the session takes only user data from a broadcast address
        if function == link.PrimaryFunction.RESET_LINK_STATES:
            self._reassembler.reset()
            self._broadcasts.reset()
            self._link_reset, self._expected_fcb = True, True
            return None
        if function == link.PrimaryFunction.TEST_LINK_STATES:
            if self._link_reset and frame.fcb == self._expected_fcb:
                self._expected_fcb = not self._expected_fcb
            return None
        if function not in _USER_DATA:
            return None
        if function == link.PrimaryFunction.CONFIRMED_USER_DATA:
            if not self._link_reset or frame.fcb != self._expected_fcb:
                return None  # before a reset, or a repeat: the session does not act on it
            self._expected_fcb = not self._expected_fcb
        reassembler = self._broadcasts if broadcast else self._reassembler
        try:
            octets = reassembler.add(frame.payload)
        except TransportError:
            return None
        return None if octets is None else Fragment(octets, broadcast)


@dataclass(frozen=True)
class Work:
    """One bus command a control stands for."""

    key: ControlKey
    point: str
    value: Value


@dataclass
class _Armed:
    key: tuple[ControlKey, ...]
    sequence: int
    at: float


@dataclass
class ControlGate:
    """The control provider the session calls, and the mirror of its select rules."""

    database: ServedDatabase
    kind_of: Callable[[str], PointKind]
    routable: Callable[[str], bool]
    clock: Callable[[], float]
    select_timeout: float
    max_response: int = 2048
    _armed: _Armed | None = None
    _repeated: _Armed | None = None  # the select before this request, for a repeated select
    _last_acted: bytes | None = None
    _prepared: dict[ControlKey, deque[CommandStatus]] = field(default_factory=dict)
    _granted: bool = False
    selects: int = 0
    operates: int = 0
    refused: int = 0

    def connection_reset(self) -> None:
        """A new connection: a select made on the old one is gone, as in the session."""
        self._armed = self._repeated = None
        self._last_acted = None
        self._prepared.clear()

    def abandon_select(self) -> None:
        """Forget an armed select, as the session's `abandon_select` does (the served points
        changed): the retry window of the request that acted stays open, as in the session,
        so a master's retry of it is still answered without acting again."""
        self._armed = self._repeated = None

    def broadcast(self) -> None:
        """A complete fragment to a broadcast address: it ends a select, as in the session,
        and leaves a retry window open (the session keeps the request that acted)."""
        self._armed = None

    def observe(self, fragment: bytes) -> None:
        """Every complete fragment, before the session sees it: what ends a select or a
        retry window, in the session's order. Anything but an OPERATE or a confirmation
        ends a select, a fragment that is no request included; a retry window is ended
        only by a request the session parses and would answer, other than a confirmation
        and than the request that acted."""
        self._repeated = self._armed
        formed = well_formed(fragment)
        if not formed or fragment[1] not in _KEEPS_A_SELECT:
            self._armed = None
        if not formed or fragment[1] in _SILENT or fragment[1] == FunctionCode.CONFIRM:
            return
        try:
            parse_request(fragment)
        except RequestError:
            return
        if fragment != self._last_acted:
            self._last_acted = None

    def plan(self, request: ControlRequest) -> list[Work]:
        """The bus commands to await before the session answers `request`."""
        self._prepared.clear()
        self._granted = False
        if request.function not in _EXECUTING:
            return []
        if request.fragment == self._last_acted:
            log.info("dnp3 outstation: a repeated control request is answered without acting")
            return []
        if request.function in _ACT_ONCE:
            self._last_acted = request.fragment  # even if refused, as the session keeps it
        if (
            request.function is not FunctionCode.DIRECT_OPERATE_NR
            and _RESPONSE_HEADER + len(request.fragment) - 2 > self.max_response
        ):
            return []  # the echo would not fit a response: the session refuses it unasked
        if request.function is FunctionCode.OPERATE:
            refusal = self._operate_refusal(request)
            if refusal is not None:
                for control in request.controls:
                    self._prepare(control_key(control), refusal)
                self.refused += len(request.controls)
                return []
        work: list[Work] = []
        for control in request.controls:
            if control.command.status is not CommandStatus.SUCCESS:
                continue  # the session answers FORMAT_ERROR without asking
            point = self.database.control_point(control)
            kind = self.kind_of(point) if point is not None else PointKind.REAL
            target = self.database.control_target(control, kind)
            if isinstance(target, CommandStatus):
                self._prepare(control_key(control), target)
                self.refused += 1
            else:
                work.append(Work(control_key(control), *target))
        return work

    def _operate_refusal(self, request: ControlRequest) -> CommandStatus | None:
        armed = self._armed
        if armed is None:
            return CommandStatus.NO_SELECT
        if self.clock() - armed.at > self.select_timeout:
            self._armed = None
            return CommandStatus.TIMEOUT
        if request.sequence != (armed.sequence + 1) % 16:
            self._armed = None
            return CommandStatus.NO_SELECT
        if armed.key != request.key:
            return CommandStatus.NO_SELECT
        self._armed = None
        return None

    def complete(self, work: Work, status: CommandStatus) -> None:
        """The owner's outcome of one planned command, as the status to answer."""
        self._prepare(work.key, status)
        self.operates += 1
        if status is not CommandStatus.SUCCESS:
            self.refused += 1

    def answered(self, request: ControlRequest) -> None:
        """After the session answered `request`: arm a select it granted."""
        if request.function is FunctionCode.SELECT and self._granted:
            # The same select under the same sequence is the master trying again: the time
            # to operate still runs from the first.
            before = self._repeated
            retry = (
                before is not None
                and before.key == request.key
                and before.sequence == request.sequence
            )
            at = before.at if retry and before is not None else self.clock()
            self._armed = _Armed(request.key, request.sequence, at)
        self._granted = False
        self._prepared.clear()

    def _prepare(self, key: ControlKey, status: CommandStatus) -> None:
        self._prepared.setdefault(key, deque()).append(status)

    # -- py1815's ControlProvider -----------------------------------------------------

    def select(self, controls: Sequence[Control]) -> Sequence[CommandStatus]:
        """Whether each control could be operated: a writable point whose owner is known."""
        statuses = []
        for control in controls:
            point = self.database.control_point(control)
            kind = self.kind_of(point) if point is not None else PointKind.REAL
            target = self.database.control_target(control, kind)
            if isinstance(target, CommandStatus):
                statuses.append(target)
            elif not self.routable(target[0]):
                statuses.append(CommandStatus.NOT_SUPPORTED)
            else:
                statuses.append(CommandStatus.SUCCESS)
        self.selects += 1
        self._granted = any(s is CommandStatus.SUCCESS for s in statuses)
        return statuses

    def operate(self, controls: Sequence[Control]) -> Sequence[CommandStatus]:
        """The statuses the owners gave for the commands planned for these controls."""
        statuses = []
        for control in controls:
            queue = self._prepared.get(control_key(control))
            if queue:
                statuses.append(queue.popleft())
            else:
                # Not planned before the session asked: nothing was executed.
                log.warning(
                    "dnp3 outstation: control at index %d was not planned; not executed",
                    control.index,
                )
                statuses.append(CommandStatus.HARDWARE_ERROR)
        return statuses


__all__ = [
    "ControlGate",
    "ControlRequest",
    "Fragment",
    "FragmentWatch",
    "Work",
    "control_key",
    "parse_control",
    "well_formed",
]
