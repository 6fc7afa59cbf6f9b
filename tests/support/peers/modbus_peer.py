"""The Modbus peer for the client tests: a pymodbus server in its own process.

Run as a script (`python modbus_peer.py PORT [LIFETIME]`) it serves all four tables and
takes JSON commands on stdin, one per line, answering one JSON line each on stdout:

    {"op": "set", "table": "holding", "address": 0, "values": [1, 2]}   -> {}
    {"op": "get", "table": "coil", "address": 0, "count": 3}            -> {"values": [...]}
    {"op": "counts"}              -> {"requests": {"3": 4, ...}, "connections": 1}
    {"op": "fail", "table": "holding", "start": 200, "end": 201, "code": 2}  -> {}
    {"op": "delay", "table": "holding", "start": 200, "end": 201, "seconds": 1.0} -> {}
    {"op": "heal"}                -> {}   (drop every fail/delay)

It exits when stdin closes or after LIFETIME seconds, whichever comes first. It uses pymodbus
only, never the gateway's code, and imports nothing from the tests (the script runs on its
own). `ModbusPeer` is the asyncio handle the tests use.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__)
SIZE = 4096  # addresses per table
FUNCTION_TABLES = {
    1: "coil",
    5: "coil",
    15: "coil",
    2: "discrete_input",
    3: "holding",
    6: "holding",
    16: "holding",
    4: "input",
}


class ModbusPeer:
    """A running peer process: start it, send it commands, kill it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, lifetime: float = 120.0) -> ModbusPeer:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(SCRIPT),
            str(self.port),
            str(lifetime),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        ready = await self._reply(timeout=15)
        assert ready.get("ready") == self.port, ready
        return self

    async def call(self, op: str, **args: Any) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write((json.dumps({"op": op, **args}) + "\n").encode())
        await self.proc.stdin.drain()
        return await self._reply()

    async def _reply(self, timeout: float = 5.0) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            raise RuntimeError("the Modbus peer exited")
        reply: dict[str, Any] = json.loads(line)
        return reply

    async def set(self, table: str, address: int, values: list[Any]) -> None:
        await self.call("set", table=table, address=address, values=values)

    async def get(self, table: str, address: int, count: int) -> list[Any]:
        values: list[Any] = (await self.call("get", table=table, address=address, count=count))[
            "values"
        ]
        return values

    async def requests(self) -> dict[int, int]:
        """Requests received so far, by function code."""
        counts = (await self.call("counts"))["requests"]
        return {int(k): v for k, v in counts.items()}

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


# -- the peer process -------------------------------------------------------------------------


class _PeerState:
    """Memory, injected faults and request counters of the peer server."""

    def __init__(self) -> None:
        self.memory: dict[str, list[Any]] = {
            "coil": [False] * SIZE,
            "discrete_input": [False] * SIZE,
            "holding": [0] * SIZE,
            "input": [0] * SIZE,
        }
        self.faults: list[dict[str, Any]] = []
        self.requests: dict[int, int] = {}
        self.connections = 0

    def command(self, cmd: dict[str, Any]) -> dict[str, Any]:
        op = cmd["op"]
        if op == "set":
            values = cmd["values"]
            self.memory[cmd["table"]][cmd["address"] : cmd["address"] + len(values)] = values
            return {}
        if op == "get":
            a = cmd["address"]
            return {"values": self.memory[cmd["table"]][a : a + cmd["count"]]}
        if op == "counts":
            return {"requests": self.requests, "connections": self.connections}
        if op in ("fail", "delay"):
            self.faults.append(cmd)
            return {}
        if op == "heal":
            self.faults.clear()
            return {}
        return {"error": f"unknown op {op}"}

    def fault_for(self, table: str, first: int, last: int) -> dict[str, Any] | None:
        for f in self.faults:
            if f["table"] == table and first < f["end"] and f["start"] <= last:
                return f
        return None


def _words(bits: list[bool]) -> list[int]:
    out = []
    for i in range(0, len(bits), 16):
        out.append(sum(1 << j for j, on in enumerate(bits[i : i + 16]) if on))
    return out


async def _serve(port: int, lifetime: float) -> None:
    from pymodbus.constants import ExcCodes
    from pymodbus.server import ModbusTcpServer
    from pymodbus.simulator import DataType, SimData, SimDevice

    logging.getLogger("pymodbus.logging").setLevel(logging.CRITICAL)  # no per-request lines
    state = _PeerState()

    async def action(fc: int, start: int, address: int, count: int, regs: list[int], values: Any):  # type: ignore[no-untyped-def]
        table = FUNCTION_TABLES[fc]
        bits = table in ("coil", "discrete_input")
        n = len(values) if values is not None else (count * 16 if bits else count)
        fault = state.fault_for(table, address, address + n - 1)
        if fault is not None and fault["op"] == "delay":
            await asyncio.sleep(fault["seconds"])
        elif fault is not None:
            return ExcCodes(fault["code"])
        memory = state.memory[table]
        if values is not None:
            memory[address : address + len(values)] = [bool(v) if bits else int(v) for v in values]
        if bits:
            first = address // 16
            regs[first - start : first - start + count] = _words(
                memory[first * 16 : (first + count) * 16]
            )
        else:
            regs[address - start : address - start + count] = memory[address : address + count]
        return None

    def trace_pdu(sending: bool, pdu: Any) -> Any:
        if not sending:
            state.requests[pdu.function_code] = state.requests.get(pdu.function_code, 0) + 1
        return pdu

    def trace_connect(connected: bool) -> None:
        state.connections += connected

    registers = [SimData(0, count=SIZE, values=0, datatype=DataType.REGISTERS)]
    bits = [SimData(0, values=[False] * SIZE, datatype=DataType.BITS)]
    device = SimDevice(0, simdata=(bits, list(bits), registers, list(registers)), action=action)
    server = ModbusTcpServer(
        device, address=("127.0.0.1", port), trace_pdu=trace_pdu, trace_connect=trace_connect
    )
    await server.serve_forever(background=True)
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str] = asyncio.Queue()

    def read_stdin() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, "")

    threading.Thread(target=read_stdin, daemon=True).start()
    print(json.dumps({"ready": port}), flush=True)
    async with asyncio.timeout(lifetime):
        while line := await lines.get():
            print(json.dumps(state.command(json.loads(line))), flush=True)


if __name__ == "__main__":
    import contextlib

    with contextlib.suppress(TimeoutError, KeyboardInterrupt):
        asyncio.run(_serve(int(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 120))
