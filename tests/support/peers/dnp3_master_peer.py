"""The DNP3 master peer for the outstation tests: yadnp3's opendnp3 master in its own process.

Run as a script (`python dnp3_master_peer.py CONFIG_JSON`, CONFIG with port, lifetime,
unsolicited, master and outstation addresses) it connects to the outstation on 127.0.0.1
and takes JSON commands on stdin, one per line, answering one JSON line each on stdout:

    {"op": "scan", "what": "integrity"|"events"}  -> {"result": "SUCCESS", "points": [...]}
    {"op": "take"}    -> {"points": [...]}   (what arrived outside a scan: startup, unsolicited)
    {"op": "operate", "kind": "crob", "index": 0, "op_type": "LATCH_ON", "tcc": "NUL",
     "mode": "direct"|"sbo"}                    -> {"summary": "SUCCESS", "points": [...]}
    {"op": "operate", "kind": "ao", "index": 0, "value": 12.5, "type": "float32", "mode": ...}
    {"op": "ready"}   -> {"ready": true}     (once the startup integrity poll succeeded)
    {"op": "state"}   -> {"states": ["OPENING", "OPEN", ...], "tasks": {...}}

A point is {"type", "index", "value", "flags", "time", "tsq", "gv", "event", "unsolicited"}.
opendnp3 reports TaskCompletion.SUCCESS for a command the outstation refused: the status of
each point is in "points" ({"index", "status", "state"}). The script ends with os._exit (the
binding can hang in its destructors); it uses opendnp3 only and imports nothing from the
tests.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__)

_TYPES = {
    "Binary": "binary",
    "DoubleBitBinary": "double-bit",
    "Analog": "analog",
    "Counter": "counter",
    "FrozenCounter": "frozen-counter",
    "BinaryOutputStatus": "binary-output",
    "AnalogOutputStatus": "analog-output",
}


def main() -> None:
    import opendnp3 as o

    config = json.loads(sys.argv[1])
    lock = threading.Condition()
    states: list[str] = []
    background: list[dict[str, Any]] = []
    tasks: dict[str, int] = {}

    def record(into: list[dict[str, Any]], info: Any, values: list[Any], uns: bool) -> None:
        for item in values:
            value = item.value
            kind = _TYPES.get(type(value).__name__)
            if kind is None:
                continue
            raw = value.value
            if kind == "double-bit":
                raw = raw.name
            elif kind in ("binary", "binary-output"):
                raw = bool(raw)
            else:
                raw = float(raw)
            into.append(
                {
                    "type": kind,
                    "index": int(item.index),
                    "value": raw,
                    "flags": int(value.flags.value),
                    "time": int(value.time.value),
                    "tsq": value.time.quality.name,
                    "gv": str(info.gv).split(".")[-1],
                    "event": bool(info.isEventVariation),
                    "unsolicited": uns,
                }
            )

    class Collector(o.ISOEHandler):  # type: ignore[misc]
        def __init__(self, into: list[dict[str, Any]]) -> None:
            super().__init__()
            self.into = into
            self.unsolicited = False

        def BeginFragment(self, info: Any) -> None:
            self.unsolicited = bool(info.unsolicited)

        def EndFragment(self, info: Any) -> None:
            pass

        def Process(self, info: Any, values: Any) -> None:
            with lock:
                record(self.into, info, values, self.unsolicited)

    class App(o.IMasterApplication):  # type: ignore[misc]
        def OnReceiveIIN(self, iin: Any) -> None:
            pass

        def OnTaskStart(self, type: Any, id: Any) -> None:
            pass

        def OnTaskComplete(self, info: Any) -> None:
            with lock:
                key = f"{info.type.name}:{info.result.name}"
                tasks[key] = tasks.get(key, 0) + 1
                lock.notify_all()

        def OnOpen(self) -> None:
            pass

        def OnClose(self) -> None:
            pass

        def AssignClassDuringStartup(self) -> bool:
            return False

        def Now(self) -> Any:
            return o.UTCTimestamp(int(time.time() * 1000))

    class Listener(o.IChannelListener):  # type: ignore[misc]
        def OnStateChange(self, state: Any) -> None:
            with lock:
                states.append(state.name)
                lock.notify_all()

    manager = o.DNP3Manager(1)
    listener = Listener()
    retry = o.ChannelRetry(o.TimeDuration.Milliseconds(100), o.TimeDuration.Seconds(1))
    channel = manager.AddTCPClient(
        "peer",
        o.levels.NOTHING,
        retry,
        [o.IPEndpoint("127.0.0.1", int(config["port"]))],
        "0.0.0.0",
        listener,
    )
    stack = o.MasterStackConfig()
    stack.master.disableUnsolOnStartup = bool(config.get("unsolicited", False))
    timeout_ms = int(float(config.get("response_timeout", 5)) * 1000)
    stack.master.responseTimeout = o.TimeDuration.Milliseconds(timeout_ms)
    stack.master.taskRetryPeriod = o.TimeDuration.Seconds(1)
    stack.link.LocalAddr = int(config.get("master", 1))
    stack.link.RemoteAddr = int(config.get("outstation", 1024))
    default = Collector(background)
    app = App()
    master = channel.AddMaster("master", default, app, stack)
    master.Enable()
    keep = [manager, listener, channel, default, app, master]  # the binding needs references

    def wait_task(before: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with lock:
            while sum(v for k, v in tasks.items() if k.startswith("USER_TASK")) <= before:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                lock.wait(left)
        return True

    def user_tasks() -> int:
        with lock:
            return sum(v for k, v in tasks.items() if k.startswith("USER_TASK"))

    def handle(cmd: dict[str, Any]) -> dict[str, Any]:
        op = cmd["op"]
        if op == "state":
            with lock:
                return {"states": list(states), "tasks": dict(tasks)}
        if op == "ready":  # the startup integrity poll is done
            deadline = time.monotonic() + float(cmd.get("timeout", 10))
            with lock:
                while not tasks.get("STARTUP_INTEGRITY_POLL:SUCCESS"):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return {"ready": False, "tasks": dict(tasks)}
                    lock.wait(left)
            return {"ready": True}
        if op == "take":
            with lock:
                out = list(background)
                background.clear()
            return {"points": out}
        if op == "scan":
            got: list[dict[str, Any]] = []
            collector = Collector(got)
            keep.append(collector)
            field = (
                o.ClassField.AllClasses()
                if cmd.get("what", "integrity") == "integrity"
                else o.ClassField.AllEventClasses()
            )
            before = user_tasks()
            master.ScanClasses(field, collector)
            done = wait_task(before, float(cmd.get("timeout", 10)))
            with lock:
                return {"done": done, "points": list(got)}
        if op == "operate":
            if cmd["kind"] == "crob":
                command: Any = o.ControlRelayOutputBlock(
                    getattr(o.OperationType, cmd.get("op_type", "LATCH_ON")),
                    getattr(o.TripCloseCode, cmd.get("tcc", "NUL")),
                )
            else:
                build = {
                    "float32": o.AnalogOutputFloat32,
                    "int32": o.AnalogOutputInt32,
                    "int16": o.AnalogOutputInt16,
                }[cmd.get("type", "float32")]
                value = cmd["value"]
                command = build(value if cmd.get("type", "float32") == "float32" else int(value))
            finished = threading.Event()
            answer: dict[str, Any] = {}

            def done_cb(result: Any) -> None:
                answer["summary"] = result.summary.name
                answer["points"] = [
                    {"index": int(r.index), "status": r.status.name, "state": r.state.name}
                    for r in result.to_list()
                ]
                finished.set()

            keep.append(done_cb)
            operate = master.SelectAndOperate if cmd.get("mode") == "sbo" else master.DirectOperate
            operate(command, int(cmd["index"]), done_cb)
            if not finished.wait(float(cmd.get("timeout", 15))):
                return {"summary": "NO_CALLBACK", "points": []}
            return answer
        return {"error": f"unknown op {op!r}"}

    lifetime = float(config.get("lifetime", 120))
    threading.Timer(lifetime, lambda: os._exit(0)).start()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            reply = handle(json.loads(line))
        except Exception as exc:  # a bad command is an answer, not a dead peer
            reply = {"error": repr(exc)}
        print(json.dumps(reply), flush=True)
    os._exit(0)


if __name__ == "__main__":
    try:
        main()
    except BaseException as exc:  # say why on stdout, where the handle listens
        print(json.dumps({"error": repr(exc)}), flush=True)
        os._exit(1)
