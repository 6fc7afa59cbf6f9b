"""py1815's own outstation (``py1815.Session`` + ``py1815.OutstationServer``) run as a script.

Usage: ``python py1815_outstation_peer.py --port P [--points N] [--status SUCCESS]``.

An independent DNP3 implementation for the master's tests: it listens on 127.0.0.1:P as
outstation 1024 for master 1, with N analog inputs (served as g30v5) and N binary inputs
(g1v2), events in class 1 (analogs go out as py1815's g32v3, binaries as g2v2) and
unsolicited responses allowed. Its ControlProvider answers every SELECT and OPERATE with
``--status`` (a ``CommandStatus`` name) and reports each control it operated.

Commands on stdin, one JSON line each; events on stdout, one JSON line each, flushed:

    {"op": "analog", "index": 0, "value": 5.0, "time": 1700000000000}  -> {"event": "done"}
    {"op": "binary", "index": 0, "value": true, "time": 1700000000000} -> {"event": "done"}
        (a new static value and a class 1 event stamped ``time`` ms since the epoch)
    {"op": "status", "status": "LOCAL"}                                 -> {"event": "done"}
    {"op": "noop"}                                                      -> {"event": "done"}
    {"op": "stop"}                                       -> {"event": "stopped"}, then exit
    written on its own: {"event": "ready", "port": P}
                        {"event": "control", "function": "OPERATE", "group": 12, "index": 0}

The process ends with ``os._exit`` so that nothing runs at interpreter exit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from py1815 import OutstationServer, Session
from py1815.application import ObjectHeader
from py1815.control import CommandStatus
from py1815.events import EventBuffers, EventClass
from py1815.objects import (
    AnalogPoint,
    AnalogVariation,
    BinaryPoint,
    analog_range,
    binary_range,
)
from py1815.session import Control


def emit(event: dict[str, Any]) -> None:
    """One JSON line on stdout, flushed."""
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


class Points:
    """The static values: a ReadProvider answering every read with all of them."""

    def __init__(self, count: int) -> None:
        self.analogs = [AnalogPoint(0.0) for _ in range(count)]
        self.binaries = [BinaryPoint(False) for _ in range(count)]

    def read(self, headers: Sequence[ObjectHeader]) -> bytes:
        """g30v5 and g1v2 for the headers that ask for them (or for class 0)."""
        body = b""
        groups = {h.group for h in headers}
        class0 = any(h.group == 60 and h.variation == 1 for h in headers)
        if 30 in groups or class0:
            body += analog_range(0, self.analogs, variation=AnalogVariation.FLOAT32_WITH_FLAG)
        if 1 in groups or class0:
            body += binary_range(0, self.binaries)
        return body


class Controls:
    """A ControlProvider answering every control with one status."""

    def __init__(self, status: CommandStatus) -> None:
        self.status = status

    def select(self, controls: Sequence[Control]) -> Sequence[CommandStatus]:
        return [self.status for _ in controls]

    def operate(self, controls: Sequence[Control]) -> Sequence[CommandStatus]:
        for c in controls:
            emit(
                {
                    "event": "control",
                    "function": c.function.name,
                    "group": c.group,
                    "index": c.index,
                }
            )
        return [self.status for _ in controls]


async def main(args: argparse.Namespace) -> None:
    points = Points(args.points)
    controls = Controls(CommandStatus[args.status])
    events = EventBuffers()
    for i in range(args.points):
        events.prime_analog(i, points.analogs[i])
        events.prime_binary(i, points.binaries[i])
    session = Session(
        points,
        control_provider=controls,
        events=events,
        unsolicited=True,
        unsolicited_confirm_timeout=2.0,
    )
    server = OutstationServer(
        session, bind=f"127.0.0.1:{args.port}", unsolicited_interval=0.1, idle_timeout=120
    )
    await server.start()
    emit({"event": "ready", "port": server.port})
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        command = json.loads(line)
        op = command["op"]
        if op == "stop":
            break
        if op == "analog":
            point = AnalogPoint(float(command["value"]))
            points.analogs[command["index"]] = point
            events.record_analog(
                command["index"],
                point,
                event_class=EventClass.CLASS_1,
                timestamp_ms=command.get("time"),
            )
        elif op == "binary":
            bpoint = BinaryPoint(bool(command["value"]))
            points.binaries[command["index"]] = bpoint
            events.record_binary(
                command["index"],
                bpoint,
                event_class=EventClass.CLASS_1,
                timestamp_ms=command.get("time"),
            )
        elif op == "status":
            controls.status = CommandStatus[command["status"]]
        server.notify()
        emit({"event": "done", "op": op})
    await server.stop()
    emit({"event": "stopped"})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--points", type=int, default=2)
    parser.add_argument("--status", default="SUCCESS")
    code = 0
    try:
        asyncio.run(main(parser.parse_args()))
    except Exception as exc:  # reported to the test, which fails on it
        emit({"event": "error", "detail": f"{type(exc).__name__}: {exc}"})
        code = 1
    os._exit(code)
