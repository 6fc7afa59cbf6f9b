"""The OPC UA ingest benchmark's load: an asyncua server in its own process that rewrites its
variables as fast as it can.

Run as a script (`python opcua_bench_server.py PORT N [FIRST]`) it serves, in namespace 2, N
Double variables B<FIRST>..B<FIRST+N-1> (NodeIds `ns=2;s=B<n>`) in folders of 100, prints
`{"ready": PORT}` once serving and answers JSON commands on stdin, one JSON line each:

    {"op": "churn", "seconds": 5.0}
        -> {"writes": n, "seconds": s, "cpu": s}   (every variable rewritten, round after round)

A round gives every variable the next value and one fresh source time stamp. The values are
written through `Server.write_attribute_value`, asyncua's fastest public path; each DataValue
is one that asyncua's monitored items need not deep-copy (it is never changed once written),
so that the server's cost per change is its subscription's work, not the copy. `cpu` is the
process's own CPU time during the churn, so a reader sees whether the servers are the limit.

It exits when stdin closes. It uses asyncua only and imports nothing from the gateway or the
tests. `OpcUaBenchServer` is the asyncio handle the benchmark uses.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__)
NAMESPACE = "urn:iccp-gateway:tests:opcua-bench"
FOLDER = 100
LINE_LIMIT = 1024 * 1024


class OpcUaBenchServer:
    """A running bench server process (asyncio handle): start, churn, stop."""

    def __init__(self, port: int, count: int, first: int = 0) -> None:
        self.port = port
        self.count = count
        self.first = first
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.port}"

    @property
    def names(self) -> list[str]:
        """The served variables' names, B<first>.. (NodeId `ns=2;s=<name>`)."""
        return [f"B{n}" for n in range(self.first, self.first + self.count)]

    async def start(self, timeout: float = 120.0) -> None:
        """Start the process and wait until it serves."""
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(SCRIPT),
            str(self.port),
            str(self.count),
            str(self.first),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=LINE_LIMIT,
        )
        ready = await self._reply(timeout)
        if ready.get("ready") != self.port:
            raise RuntimeError(f"the OPC UA bench server said {ready}")

    async def churn(self, seconds: float) -> dict[str, Any]:
        """Rewrite every variable round after round for `seconds`; the server's counts."""
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write((json.dumps({"op": "churn", "seconds": seconds}) + "\n").encode())
        await self.proc.stdin.drain()
        return await self._reply(seconds + 60.0)

    async def _reply(self, timeout: float) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            raise RuntimeError("the OPC UA bench server exited")
        reply: dict[str, Any] = json.loads(line)
        return reply

    async def stop(self) -> None:
        """Kill the process and reap it."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.returncode is None:
            proc.kill()
        await asyncio.wait_for(proc.wait(), 10)


# -- the script -------------------------------------------------------------------------------


async def _serve(port: int, count: int, first: int) -> None:
    from asyncua import Server, ua

    class _Kept(ua.DataValue):
        """A DataValue nobody changes once written: its deep copy is itself."""

        __slots__ = ()

        def __deepcopy__(self, memo: dict[int, object]) -> _Kept:
            return self

    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}")
    ns = await server.register_namespace(NAMESPACE)
    nodeids: list[ua.NodeId] = []
    for start in range(first, first + count, FOLDER):
        folder = await server.nodes.objects.add_folder(ns, f"Bench{start // FOLDER}")
        for n in range(start, min(start + FOLDER, first + count)):
            var = await folder.add_variable(
                ua.NodeId(f"B{n}", ns),
                ua.QualifiedName(f"B{n}", ns),
                ua.Variant(0.0, ua.VariantType.Double),
            )
            nodeids.append(var.nodeid)
    write = server.write_attribute_value
    double = ua.VariantType.Double
    good = ua.StatusCode()
    async with server:
        print(json.dumps({"ready": port}), flush=True)
        reader = asyncio.StreamReader()
        loop = asyncio.get_running_loop()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        value = 0.0
        while line := await reader.readline():
            cmd = json.loads(line)
            reply: dict[str, Any] = {}
            if cmd["op"] == "churn":
                writes = 0
                cpu = time.process_time()
                begin = time.monotonic()
                deadline = begin + float(cmd["seconds"])
                while time.monotonic() < deadline:
                    value += 1.0
                    stamp = datetime.now(UTC)
                    for n, nodeid in enumerate(nodeids, 1):
                        dv = _Kept(ua.Variant(value, double), good, stamp, stamp)
                        await write(nodeid, dv)
                        if n % FOLDER == 0:
                            await asyncio.sleep(0)  # let the publish responses out
                    writes += len(nodeids)
                    await asyncio.sleep(0)
                reply = {
                    "writes": writes,
                    "seconds": time.monotonic() - begin,
                    "cpu": time.process_time() - cpu,
                }
            else:
                reply = {"error": f"unknown op {cmd['op']}"}
            print(json.dumps(reply), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("count", type=int)
    parser.add_argument("first", type=int, nargs="?", default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(_serve(args.port, args.count, args.first))


if __name__ == "__main__":
    main()
