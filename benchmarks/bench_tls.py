"""Secure ICCP benchmarks: full mutual TLS handshakes, and report CPU over TLS vs clear.

* ``tls_handshakes``: full mutual handshakes per second (TLS 1.3, ECDSA P-256 certificates
  from a throwaway CA, no resumption), client and server TLS layers
  (:class:`~adapters.tase2.mms.aio.tls.TlsProtocol`) on one event loop, one after another:
  the figure counts both ends' CPU.
* ``tase2_reports_cpu_cleartext`` / ``tase2_reports_cpu_tls`` / ``tase2_reports_tls_ratio``:
  the ``tase2_reports_cpu`` set-up of :mod:`benchmarks.bench_tase2` (20 associations of
  10,000 points at IntervalTimeOut 1 s, clients in other processes) in clear text and over
  TLS 1.3, side by side in one run; the ratio is TLS CPU / cleartext CPU.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import trustme

from adapters.tase2.mms.aio.tls import TlsProtocol
from adapters.tase2.mms.aio.tls_context import build_endpoint
from adapters.tase2.security.tls_settings import TlsSettings
from adapters.tase2.server.adapter import Tase2ServerAdapter
from adapters.tase2.server.reports import ReportRequest
from benchmarks import bench_tase2 as plain
from benchmarks.common import report
from gateway.eventloop import run as run_loop

HANDSHAKE_SECONDS = 3.0


def _pki(root: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Server and client ``tls:`` settings (as dicts of paths) from a fresh CA."""
    ca = trustme.CA()
    ca_file = root / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    out = []
    for name in ("server", "client"):
        leaf = ca.issue_cert("localhost", common_name=name)
        cert, key = root / f"{name}.pem", root / f"{name}.key"
        cert.write_bytes(b"".join(p.bytes() for p in leaf.cert_chain_pems))
        leaf.private_key_pem.write_to_path(str(key))
        out.append({"certificate": str(cert), "private_key": str(key), "ca": str(ca_file)})
    return out[0], out[1]


class _Sink(asyncio.Protocol):
    """The inner protocol of the handshake benchmark: closes as soon as it is connected."""

    def __init__(self, done: asyncio.Future[None] | None = None) -> None:
        self.done = done

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_result(None)


async def _handshakes(server_tls: dict[str, str], client_tls: dict[str, str]) -> float:
    server = build_endpoint(TlsSettings.model_validate(server_tls), server_side=True)
    client = build_endpoint(TlsSettings.model_validate(client_tls), server_side=False)
    loop = asyncio.get_running_loop()
    listener = await loop.create_server(
        lambda: TlsProtocol(server.context, _Sink(), server_side=True), "127.0.0.1", 0
    )
    port = listener.sockets[0].getsockname()[1]
    done = 0
    start = time.perf_counter()
    try:
        while time.perf_counter() - start < HANDSHAKE_SECONDS:
            connected: asyncio.Future[None] = loop.create_future()
            proto = TlsProtocol(client.context, _Sink(connected), server_side=False)
            transport, _ = await loop.create_connection(lambda p=proto: p, "127.0.0.1", port)
            await asyncio.wait_for(connected, 5.0)
            transport.close()
            done += 1
    finally:
        listener.close()
    return done / (time.perf_counter() - start)


# --------------------------------------------------------------------------- reports over TLS


async def _client(
    port: int, associations: int, tag: str, tls: dict[str, str] | None, pipe: Connection
) -> None:
    endpoint = None
    if tls is not None:
        endpoint = build_endpoint(TlsSettings.model_validate(tls), server_side=False)
    original = plain.MmsClient.connect

    async def connect(*args: Any, **kw: Any) -> Any:
        return await original(*args, tls=endpoint, **kw)

    plain.MmsClient.connect = connect  # type: ignore[method-assign]
    await plain._client(port, associations, tag, False, pipe)


def _client_main(
    port: int, associations: int, tag: str, tls: dict[str, str] | None, pipe: Connection
) -> None:
    """Entry point of one client process."""
    asyncio.run(_client(port, associations, tag, tls, pipe))


def _spawn(
    port: int, processes: int, associations: int, tls: dict[str, str] | None
) -> list[tuple[Any, Connection]]:
    ctx = multiprocessing.get_context("spawn")
    out = []
    for i in range(processes):
        mine, theirs = ctx.Pipe()
        proc = ctx.Process(
            target=_client_main, args=(port, associations, f"c{i}", tls, theirs), daemon=True
        )
        proc.start()
        out.append((proc, mine))
    return out


async def _throughput(
    tls_server: dict[str, str] | None,
    tls_client: dict[str, str] | None,
    associations: int = 20,
    seconds: float = 5.0,
) -> tuple[float, float]:
    bus = plain._bus()
    sets = associations * plain.POINTS // plain.PER_SET
    settings = plain._settings(sets)
    if tls_server is not None:
        settings = settings.model_copy(update={"tls": TlsSettings.model_validate(tls_server)})
    adapter = Tase2ServerAdapter("bench", settings, bus)
    task = asyncio.create_task(adapter.run())
    sent_points = [0]
    try:
        port = await plain._started(adapter)
        clients = _spawn(port, 4, associations // 4, tls_client)
        await plain._wait_ready(clients)
        server = adapter.server
        assert server is not None

        def sent(req: ReportRequest, at: float) -> None:
            sent_points[0] += len(req.members) - len(req.data_set.special_indices)

        await asyncio.sleep(1.5)
        server.on_report_sent = sent
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        wall0 = time.perf_counter()
        await asyncio.sleep(seconds)
        wall = time.perf_counter() - wall0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        server.on_report_sent = None
        await plain._finish(clients)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return sent_points[0] / wall, 100 * cpu / wall


def main() -> None:
    """Print the TLS handshake rate and the report CPU in clear and over TLS."""
    with tempfile.TemporaryDirectory() as tmp:
        server_tls, client_tls = _pki(Path(tmp))
        report("tls_handshakes", run_loop(_handshakes(server_tls, client_tls)), "per_s")
        rate, cpu = run_loop(_throughput(None, None))
        report("tase2_reports_cleartext", rate, "points/s")
        report("tase2_reports_cpu_cleartext", cpu, "%", 1)
        tls_rate, tls_cpu = run_loop(_throughput(server_tls, client_tls))
        report("tase2_reports_tls", tls_rate, "points/s")
        report("tase2_reports_cpu_tls", tls_cpu, "%", 1)
        # CPU per point reported, so a run that reported less does not look cheaper
        ratio = (tls_cpu / tls_rate) / (cpu / rate) if rate and tls_rate else float("nan")
        report("tase2_reports_tls_ratio", ratio, "x", 2)


if __name__ == "__main__":
    main()
