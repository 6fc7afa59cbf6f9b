"""An opendnp3 outstation (through yadnp3) as an independent DNP3 peer, run as a script.

Usage: ``python dnp3_outstation_peer.py --port P [--outstation-address 1024]
[--master-address 1] [--points N] [--types binary-input,analog-input,...]
[--max-tx-fragment 2048] [--event-buffer 1000] [--unsolicited] [--need-time]
[--lifetime 300]``.

It listens on 127.0.0.1:P as a TCP server with ``DatabaseConfig(N)``: N points of each type
named by ``--types`` (default all seven of :data:`POINT_TYPES`), none of the others, and no
octet strings or time-and-interval points (yadnp3 cannot size the types one by one). The
points keep opendnp3's default variations and class: static analogs go out as g30v1
integers unless the master asks for g30v5, every point's events are in class 1 and go out
without time (g2v1, g32v1...) unless the master asks for a timed variation (g2v2, g32v3,
g32v7...) or moves the point with ASSIGN_CLASS. ``--event-buffer`` is the number of events
held per type (the oldest are dropped beyond it, with IIN2.3). ``--need-time`` sets IIN1.4
until the master writes the time. The restart indication IIN1.7 is set at start until the
master clears it.

It reads JSON commands on stdin, one per line, and writes JSON events on stdout, one per
line, flushed. Every command may carry ``"seq"``; its answer repeats it:

    {"op": "update", "points": [{"type": "analog-input", "index": 0, "value": 1.5,
                                 "flags": 1, "time": 1700000000000, "mode": "detect"}]}
        -> {"event": "done", "op": "update", "seq": 1, "count": 1}
    {"op": "control-status", "type": "binary-output", "index": 2, "status": "LOCAL"}
        -> {"event": "done", "op": "control-status", ...}   ("SUCCESS" goes back to default)
    {"op": "need-time", "on": true}     -> done   (IIN1.4 until the next time write)
    {"op": "restart-iin"}               -> done   (sets IIN1.7 again)
    {"op": "stop"}                      -> {"event": "stopped"}, then the process exits

A point's ``type`` is one of :data:`POINT_TYPES`; ``flags`` is the raw flag octet (default
0x01, ONLINE); ``time`` is milliseconds since the epoch (a synchronized time stamp; none by
default); ``mode`` is ``detect`` (an event only if the value or flags changed), ``force`` (an
event in any case) or ``suppress`` (a static change and no event). ``flags``, ``time`` and
``mode`` given beside ``points`` apply to every point that does not give its own. A
double-bit value is 0 to 3 (intermediate, off, on, indeterminate). yadnp3 cannot set a
frozen counter: a ``frozen-counter`` update sets the counter of the same index (without a
counter event) and freezes it, so both then hold the value.

Events written on its own:

    {"event": "ready", "port": P, "pid": ...}        the channel is listening
    {"event": "channel", "state": "OPEN"}            opendnp3's channel state changed
    {"event": "control", "function": "direct-operate", "type": "binary-output", "index": 0,
     "op_type": "LATCH_ON", "tcc": "NUL", "clear": false, "count": 1, "on_ms": 100,
     "off_ms": 100, "status": "SUCCESS"}
    {"event": "control", "function": "select", "type": "analog-output", "index": 1,
     "variation": 3, "value": 12.5, "status": "SUCCESS"}
    {"event": "time", "ms": 1700000000000}           a time write (g50v1, or g50v3 of LAN)
    {"event": "assign-class", "type": "AnalogInput", "class": "Class2", "start": 0,
     "stop": 9}                                      an ASSIGN_CLASS from the master
    {"event": "log", "level": "WARN", "message": "..."}   opendnp3's warnings and errors
    {"event": "error", "op": "update", "seq": 3, "error": "..."}
    {"event": "stopped", "seq": ...}  /  {"event": "expired", "lifetime": 300.0}   last lines

``function`` is the request a control came in: ``select``, ``operate`` (after a select),
``direct-operate`` or ``direct-operate-no-ack``. An analog output's ``variation`` is that of
group 41 (1 int32, 2 int16, 3 float32, 4 double). A control on an index outside the database
is answered NOT_SUPPORTED; an operate answered SUCCESS also moves the output's status point
(latch on / close: on, latch off / trip: off; the analog output status takes the value), as a
device would. opendnp3 reports a time write and the end of a LAN time synchronization the same
way (``WriteAbsoluteTime``), so the ``time`` event does not say which; ``ms`` is the time set.
The process ends by ``os._exit`` (stdin closed, ``stop``, or ``--lifetime`` seconds). This
file is a test peer: product code never imports it, nor does the test process.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

_OUT = threading.Lock()


def emit(event: str, **fields: Any) -> None:
    """Write one JSON event line and flush it (callbacks come on opendnp3's threads)."""
    line = json.dumps({"event": event, **fields}) + "\n"
    with _OUT:
        sys.stdout.write(line)
        sys.stdout.flush()


def finish(code: int) -> NoReturn:
    """End the process at once: the binding must not run its own teardown."""
    with _OUT:
        sys.stdout.flush()
    os._exit(code)


try:
    import opendnp3 as dnp3  # type: ignore[import-untyped]
except ImportError as missing:  # the parent skips on this, never sees a traceback
    emit("error", op="import", error=f"yadnp3 cannot be imported: {missing}")
    finish(2)


POINT_TYPES: dict[str, Any] = {
    "binary-input": dnp3.Binary,
    "double-bit": dnp3.DoubleBitBinary,
    "binary-output": dnp3.BinaryOutputStatus,
    "counter": dnp3.Counter,
    "frozen-counter": dnp3.Counter,  # set through its counter, then frozen
    "analog-input": dnp3.Analog,
    "analog-output": dnp3.AnalogOutputStatus,
}
"""The point types an ``update`` names, and the opendnp3 measurement of each."""

MODES = {
    "detect": dnp3.EventMode.Detect,
    "force": dnp3.EventMode.Force,
    "suppress": dnp3.EventMode.Suppress,
}
FUNCTIONS = {
    dnp3.OperateType.SelectBeforeOperate: "operate",
    dnp3.OperateType.DirectOperate: "direct-operate",
    dnp3.OperateType.DirectOperateNoAck: "direct-operate-no-ack",
}
ANALOG_OUTPUT_VARIATIONS = {
    dnp3.AnalogOutputInt32: 1,
    dnp3.AnalogOutputInt16: 2,
    dnp3.AnalogOutputFloat32: 3,
    dnp3.AnalogOutputDouble64: 4,
}
LOG_LEVELS = {
    dnp3.flags.ERR.value: "ERR",
    dnp3.flags.WARN.value: "WARN",
}
DATABASE_MAPS = {
    "binary-input": "binary_input",
    "double-bit": "double_binary",
    "binary-output": "binary_output_status",
    "counter": "counter",
    "frozen-counter": "frozen_counter",
    "analog-input": "analog_input",
    "analog-output": "analog_output_status",
}
"""The DatabaseConfig map of each point type (emptied for a type left out by --types)."""
ONLINE = 0x01


class PeerError(Exception):
    """A command the peer cannot carry out (answered with an ``error`` event)."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="opendnp3 outstation test peer")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--outstation-address", type=int, default=1024)
    parser.add_argument("--master-address", type=int, default=1)
    parser.add_argument("--points", type=int, default=10, help="points of every type")
    parser.add_argument(
        "--types",
        default=",".join(POINT_TYPES),
        help="comma-separated point types the database has (the others have no points)",
    )
    parser.add_argument("--max-tx-fragment", type=int, default=2048)
    parser.add_argument("--event-buffer", type=int, default=1000, help="events of every type")
    parser.add_argument("--unsolicited", action="store_true", help="allow unsolicited responses")
    parser.add_argument("--need-time", action="store_true", help="IIN1.4 until a time write")
    parser.add_argument("--lifetime", type=float, default=300.0, help="seconds before exiting")
    return parser.parse_args(argv)


def _guarded(where: str, fallback: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Wrap a callback from opendnp3: an exception becomes an ``error`` event, never a
    C++ abort, and the callback answers ``fallback``."""

    def wrap(method: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(*args: Any) -> Any:
            try:
                return method(*args)
            except Exception as error:
                emit("error", op=where, error=f"{type(error).__name__}: {error}")
                return fallback

        return guarded

    return wrap


class Peer:
    """The outstation, its callbacks and the commands that drive it."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.points: int = args.points
        self.types = [kind for kind in args.types.split(",") if kind]
        unknown = [kind for kind in self.types if kind not in POINT_TYPES]
        if unknown:
            raise PeerError(f"--types: {', '.join(unknown)} not among {', '.join(POINT_TYPES)}")
        self.need_time: bool = args.need_time
        self.clock_offset_ms = 0
        self.clock_set = False
        self.statuses: dict[tuple[str, int], Any] = {}
        # Every object handed to opendnp3 stays referenced here: a callback object that
        # Python collects makes the process abort ("pure virtual function").
        self.log_handler = _LogHandler()
        self.listener = _ChannelListener()
        self.commands = _CommandHandler(self)
        self.application = _Application(self)
        self.manager = dnp3.DNP3Manager(1, self.log_handler)
        self.channel: Any = None
        self.outstation: Any = None

    def start(self) -> None:
        """Listen, enable the outstation, and say ready once the port accepts."""
        args = self.args
        levels = dnp3.LogLevels(dnp3.flags.ERR.value | dnp3.flags.WARN.value)
        self.channel = self.manager.AddTCPServer(
            "server",
            levels,
            dnp3.ServerAcceptMode.CloseExisting,
            dnp3.IPEndpoint("127.0.0.1", args.port),
            self.listener,
        )
        database = dnp3.DatabaseConfig(self.points)
        for kind, attribute in DATABASE_MAPS.items():
            if kind not in self.types:  # an empty map can be assigned; a full one not read
                setattr(database, attribute, {})
        database.time_and_interval = {}
        database.octet_string = {}
        config = dnp3.OutstationStackConfig(database)
        config.outstation.eventBufferConfig = dnp3.EventBufferConfig.AllTypes(args.event_buffer)
        params = config.outstation.params
        params.maxTxFragSize = args.max_tx_fragment
        params.allowUnsolicited = args.unsolicited
        config.link.LocalAddr = args.outstation_address
        config.link.RemoteAddr = args.master_address
        self.outstation = self.channel.AddOutstation(
            "outstation", self.commands, self.application, config
        )
        self.outstation.Enable()
        _wait_listening(args.port, timeout=10.0)
        emit("ready", port=args.port, pid=os.getpid())

    # ------------------------------------------------------------------ commands

    def serve(self, lines: Iterable[str]) -> None:
        """Carry out commands until stdin closes or ``stop``."""
        for line in lines:
            if not line.strip():
                continue
            seq: Any = None
            op: Any = None
            try:
                command = json.loads(line)
                if not isinstance(command, dict):
                    raise PeerError("a command is a JSON object")
                seq, op = command.get("seq"), command.get("op")
                if op == "stop":
                    emit("stopped", seq=seq)
                    finish(0)
                emit("done", op=op, seq=seq, **self.command(op, command))
            except (PeerError, ValueError, TypeError, KeyError) as error:
                emit("error", op=op, seq=seq, error=f"{type(error).__name__}: {error}")
        emit("stopped", seq=None)
        finish(0)

    def command(self, op: Any, command: dict[str, Any]) -> dict[str, Any]:
        if op == "update":
            return {"count": self.update(command)}
        if op == "control-status":
            return self.control_status(command)
        if op == "need-time":
            self.need_time = bool(command.get("on", True))
            return {}
        if op == "restart-iin":
            self.outstation.SetRestartIIN()
            return {}
        raise PeerError(f"unknown op {op!r}")

    def update(self, command: dict[str, Any]) -> int:
        points = command.get("points")
        if not isinstance(points, list):
            raise PeerError("update needs 'points', a list")
        builder = dnp3.UpdateBuilder()
        for n, point in enumerate(points):
            try:
                merged = {**command, **point}
                measurement, index, mode = self.measurement(merged)
            except (PeerError, ValueError, TypeError, KeyError) as error:
                raise PeerError(f"points[{n}]: {error}") from None
            if merged["type"] == "frozen-counter":
                # The binding has no Update() for a frozen counter: set the counter (no
                # event) and freeze it, which copies it to the frozen counter.
                builder.Update(measurement, index, dnp3.EventMode.Suppress)
                builder.FreezeCounter(index, False, mode)
            else:
                builder.Update(measurement, index, mode)
        if points:
            self.outstation.Apply(builder.Build())
        return len(points)

    def measurement(self, point: dict[str, Any]) -> tuple[Any, int, Any]:
        kind = point["type"]
        if kind not in POINT_TYPES:
            raise PeerError(f"type {kind!r} is not one of {', '.join(POINT_TYPES)}")
        index = self.index(point, kind)
        mode = MODES.get(point.get("mode", "detect"))
        if mode is None:
            raise PeerError(f"mode {point['mode']!r} is not one of {', '.join(MODES)}")
        measurement = POINT_TYPES[kind]()
        value = point["value"]
        flags = int(point.get("flags", ONLINE))
        if not 0 <= flags <= 0xFF:
            raise PeerError(f"flags {flags} is not an octet")
        # The state of a binary or double-bit point travels in its flag octet's top bits,
        # which opendnp3 takes from the flags: put the value there.
        if kind == "double-bit":
            if not 0 <= int(value) <= 3:
                raise PeerError(f"a double-bit value is 0 to 3, not {value!r}")
            measurement.value = dnp3.DoubleBit(int(value))
            flags = (flags & 0x3F) | (int(value) << 6)
        elif kind in ("binary-input", "binary-output"):
            measurement.value = bool(value)
            flags = (flags & 0x7F) | (0x80 if value else 0)
        elif kind in ("counter", "frozen-counter"):
            measurement.value = int(value)
        else:
            measurement.value = float(value)
        measurement.flags = dnp3.Flags(flags)
        if point.get("time") is not None:
            measurement.time = dnp3.DNPTime(int(point["time"]), dnp3.TimestampQuality.SYNCHRONIZED)
        return measurement, index, mode

    def index(self, point: dict[str, Any], kind: str) -> int:
        if kind not in self.types:
            raise PeerError(f"the database has no {kind} points (--types)")
        index = point["index"]
        if not isinstance(index, int) or not 0 <= index < self.points:
            raise PeerError(f"index {index!r} is not 0 to {self.points - 1}")
        return index

    def control_status(self, command: dict[str, Any]) -> dict[str, Any]:
        kind = command["type"]
        if kind not in ("binary-output", "analog-output"):
            raise PeerError(f"type {kind!r} is not binary-output or analog-output")
        index = self.index(command, kind)
        name = command.get("status", "SUCCESS")
        status = getattr(dnp3.CommandStatus, str(name), None)
        if not isinstance(status, dnp3.CommandStatus):
            raise PeerError(f"status {name!r} is not an opendnp3 CommandStatus")
        if status == dnp3.CommandStatus.SUCCESS:
            self.statuses.pop((kind, index), None)
        else:
            self.statuses[(kind, index)] = status
        return {"type": kind, "index": index, "status": status.name}

    # ------------------------------------------------------------------ callbacks

    def control(self, function: str, command: Any, index: int, handler: Any) -> Any:
        """Print a control as it arrives and answer the status set for its point."""
        if isinstance(command, dnp3.ControlRelayOutputBlock):
            kind = "binary-output"
            fields: dict[str, Any] = {
                "op_type": command.opType.name,
                "tcc": command.tcc.name,
                "clear": bool(command.clear),
                "count": int(command.count),
                "on_ms": int(command.onTimeMS),
                "off_ms": int(command.offTimeMS),
            }
        else:
            kind = "analog-output"
            fields = {
                "variation": ANALOG_OUTPUT_VARIATIONS.get(type(command)),
                "value": command.value,
            }
        if kind not in self.types or not 0 <= index < self.points:
            status = dnp3.CommandStatus.NOT_SUPPORTED
        else:
            status = self.statuses.get((kind, index), dnp3.CommandStatus.SUCCESS)
        emit("control", function=function, type=kind, index=index, status=status.name, **fields)
        if handler is not None and status == dnp3.CommandStatus.SUCCESS:
            self.reflect(kind, command, index, handler)
        return status

    def reflect(self, kind: str, command: Any, index: int, handler: Any) -> None:
        """Move the output status point as a device would after a successful operate."""
        if kind == "analog-output":
            status = dnp3.AnalogOutputStatus(float(command.value))
        else:
            on = {
                dnp3.OperationType.LATCH_ON: True,
                dnp3.OperationType.LATCH_OFF: False,
            }.get(command.opType)
            if command.tcc == dnp3.TripCloseCode.CLOSE:
                on = True
            elif command.tcc == dnp3.TripCloseCode.TRIP:
                on = False
            if on is None:
                return
            status = dnp3.BinaryOutputStatus(on)
            status.flags = dnp3.Flags(ONLINE | (0x80 if on else 0))
        if kind == "analog-output":
            status.flags = dnp3.Flags(ONLINE)
        status.time = self.now()
        handler.Update(status, index, dnp3.EventMode.Detect)

    def now(self) -> Any:
        quality = (
            dnp3.TimestampQuality.SYNCHRONIZED
            if self.clock_set
            else dnp3.TimestampQuality.UNSYNCHRONIZED
        )
        return dnp3.DNPTime(int(time.time() * 1000) + self.clock_offset_ms, quality)

    def write_time(self, milliseconds: int) -> bool:
        self.clock_offset_ms = milliseconds - int(time.time() * 1000)
        self.clock_set = True
        self.need_time = False
        emit("time", ms=milliseconds)
        return True


class _CommandHandler(dnp3.ICommandHandler):  # type: ignore[misc]
    """Controls from the master: opendnp3 calls Select/Operate once per object."""

    def __init__(self, peer: Peer) -> None:
        super().__init__()
        self.peer = peer

    def Begin(self) -> None:
        pass

    def End(self) -> None:
        pass

    @_guarded("select", dnp3.CommandStatus.HARDWARE_ERROR)
    def Select(self, command: Any, index: int) -> Any:
        return self.peer.control("select", command, index, None)

    @_guarded("operate", dnp3.CommandStatus.HARDWARE_ERROR)
    def Operate(self, command: Any, index: int, handler: Any, op_type: Any) -> Any:
        return self.peer.control(FUNCTIONS.get(op_type, str(op_type)), command, index, handler)


class _Application(dnp3.IOutstationApplication):  # type: ignore[misc]
    """Time writes, the application IIN bits (NEED_TIME) and the outstation's clock."""

    def __init__(self, peer: Peer) -> None:
        super().__init__()
        self.peer = peer

    def SupportsWriteAbsoluteTime(self) -> bool:
        return True

    @_guarded("time", False)
    def WriteAbsoluteTime(self, timestamp: Any) -> bool:
        return self.peer.write_time(int(timestamp.msSinceEpoch))

    def SupportsAssignClass(self) -> bool:
        return True

    @_guarded("assign-class", None)
    def RecordClassAssignment(self, kind: Any, clazz: Any, start: int, stop: int) -> None:
        fields = {"type": kind.name, "class": clazz.name, "start": int(start), "stop": int(stop)}
        emit("assign-class", **fields)

    @_guarded("iin", dnp3.ApplicationIIN())
    def GetApplicationIIN(self) -> Any:
        iin = dnp3.ApplicationIIN()
        iin.needTime = self.peer.need_time
        return iin

    @_guarded("now", dnp3.DNPTime(0))
    def Now(self) -> Any:
        return self.peer.now()


class _ChannelListener(dnp3.IChannelListener):  # type: ignore[misc]
    @_guarded("channel", None)
    def OnStateChange(self, state: Any) -> None:
        emit("channel", state=state.name)


class _LogHandler(dnp3.ILogHandler):  # type: ignore[misc]
    @_guarded("log", None)
    def log(self, module: Any, ident: str, level: Any, location: str, message: str) -> None:
        name = LOG_LEVELS.get(level.value)
        if name is not None:
            emit("log", level=name, message=message)


def _listening(port: int) -> bool:
    """Whether a socket listens on 127.0.0.1:port (Linux's table of TCP sockets)."""
    wanted = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as table:
        return any(
            fields[1] == wanted and fields[3] == "0A"  # 0A: LISTEN
            for fields in (line.split() for line in table)
            if len(fields) > 3
        )


def _wait_listening(port: int, timeout: float) -> None:
    """Wait until opendnp3 listens on the port, without connecting (a connection would be
    taken for the master's) and without binding it (that would race opendnp3's bind)."""
    deadline = time.monotonic() + timeout
    while not _listening(port):
        if time.monotonic() > deadline:
            emit("error", op="start", error=f"nothing listens on port {port} after {timeout}s")
            finish(3)
        time.sleep(0.02)


def main(argv: list[str]) -> NoReturn:
    args = parse_args(argv)

    def expire() -> None:
        emit("expired", lifetime=args.lifetime)
        finish(4)

    timer = threading.Timer(args.lifetime, expire)
    timer.daemon = True
    timer.start()
    try:
        peer = Peer(args)
        peer.start()
    except Exception as error:
        emit("error", op="start", error=f"{type(error).__name__}: {error}")
        finish(3)
    peer.serve(sys.stdin)
    finish(0)


if __name__ == "__main__":
    main(sys.argv[1:])
