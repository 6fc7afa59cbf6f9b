"""MMS request round trips between our client and our server over loopback TCP.

The server runs in another process (so client and server do not share a core) and answers a
Read of one Data_RealQ-like structure; the client keeps up to the negotiated
maxServOutstanding requests in flight for a bounded time.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time

from adapters.tase2.mms.access import VariableEntry, VariableList
from adapters.tase2.mms.aio.client import MmsClient
from adapters.tase2.mms.aio.server import AssociationContext, MmsServer, UnsupportedHandler
from adapters.tase2.mms.data import BitString, Float32, Structure
from adapters.tase2.mms.names import ObjectName
from adapters.tase2.mms.services import ReadRequest, ReadResponse
from benchmarks.common import report
from gateway.eventloop import run as run_loop
from tests.support import free_port

RUN_SECONDS = 2.0
SERVER_LIFETIME = 60.0
POINT = ObjectName.dom("ICC1", "Power")
VALUE = Structure((Float32(123.5), BitString(8, b"\x20")))


class _ReadHandler(UnsupportedHandler):
    """Answers every Read with the same Data_RealQ value."""

    async def read(self, ctx: AssociationContext, request: ReadRequest) -> ReadResponse:
        """One result per variable asked for."""
        n = len(request.spec.items) if isinstance(request.spec, VariableList) else 1
        return ReadResponse((VALUE,) * n)


async def _serve(port: int) -> None:
    async with MmsServer(_ReadHandler(), port=port, idle_timeout=SERVER_LIFETIME):
        print("ready", flush=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.to_thread(sys.stdin.readline), SERVER_LIFETIME)


async def _measure(port: int) -> float:
    client = await MmsClient.connect("127.0.0.1", port, request_timeout=5.0)
    request = ReadRequest(VariableList((VariableEntry(POINT),)))
    count = 0
    loop = asyncio.get_running_loop()
    stop = loop.time() + RUN_SECONDS

    async def worker() -> None:
        nonlocal count
        while loop.time() < stop:
            await client.request(request)
            count += 1

    start = loop.time()
    await asyncio.gather(*(worker() for _ in range(client.association.request_limit)))
    elapsed = loop.time() - start
    await client.conclude()
    return count / elapsed


def main() -> None:
    """Print ``BENCH mms_read_roundtrip <n> requests/s``."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.bench_mms_roundtrip", "--serve", str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and server.stdin is not None
        deadline = time.monotonic() + 30.0
        line = ""
        while time.monotonic() < deadline and line.strip() != "ready":
            line = server.stdout.readline()
            if not line:
                raise RuntimeError("benchmark server did not start")
        rate = asyncio.run(_measure(port))
        report("mms_read_roundtrip", rate, "requests/s")
        server.stdin.write("stop\n")
        server.stdin.flush()
        server.wait(timeout=10.0)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10.0)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        run_loop(_serve(int(sys.argv[2])))  # on the loop the gateway runs on
    else:
        main()
