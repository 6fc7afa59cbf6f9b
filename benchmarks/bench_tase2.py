"""TASE.2 server benchmarks: RBE latency and report throughput with CPU use.

* ``tase2_rbe_latency_p99``: 10,000 points, 10,000 changes/s published on the bus; one
  association reports them by exception (ObjectChange, RBE, BufferTime 0). Latency is from
  the bus update (the value's time stamp) to the report's bytes handed to the socket
  (the server's ``on_report_sent`` hook); p99 over every reported change.
* ``tase2_reports`` / ``tase2_reports_cpu``: 20 associations, each with 10,000 points at
  IntervalTimeOut 1 s (full reports); points reported per second and the server process's
  CPU (user + system) as a percentage of one core.

A full report of 10,000 Data_RealQTimeTag points is ~190 KB, more than the 65,000-octet
MMS PDU: like real clients, each association spreads its 10,000 points over 4 data sets of
2,500 points (~48 KB reports) and 4 transfer sets. The clients are our own MmsClient, in
separate processes (several associations per process), so their decoding does not count
against the server's CPU.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
import time
from multiprocessing.connection import Connection
from typing import Any

from adapters.tase2.mms.aio.client import MmsClient
from adapters.tase2.mms.association import AssociationConfig
from adapters.tase2.mms.names import ObjectName
from adapters.tase2.model.objects import DSConditions, decode_mms_object_name
from adapters.tase2.model.transfer_set import DSTransferSetValue
from adapters.tase2.server.adapter import Tase2ServerAdapter
from adapters.tase2.server.reports import ReportRequest
from adapters.tase2.server.settings import Tase2ServerSettings
from benchmarks.common import report
from gateway.bus import PointBus
from gateway.eventloop import run as run_loop
from gateway.points import GOOD, PointDef

POINTS = 10_000
PER_SET = 2_500
DOMAIN = "ICC1"
SERVER_AP, PEER_AP = "1.1.1.999.1", "1.1.1.999"
HEAD = ("Transfer_Set_Name", "DSConditions_Detected", "Transfer_Set_Time_Stamp")
IDS = [f"P{i:05d}" for i in range(POINTS)]


# --------------------------------------------------------------------------- client process


async def _client(port: int, associations: int, tag: str, rbe: bool, pipe: Connection) -> None:
    cfg = AssociationConfig(
        local_ap_title=PEER_AP,
        local_ae_qualifier=12,
        remote_ap_title=SERVER_AP,
        remote_ae_qualifier=12,
    )
    counts = [0]

    def on_report(_r: Any) -> None:
        counts[0] += len(_r.results) - len(HEAD)

    clients = []
    starts = []
    for a in range(associations):
        client = await MmsClient.connect(
            "127.0.0.1", port, config=cfg, on_information_report=on_report, request_timeout=30
        )
        clients.append(client)
        for s in range(POINTS // PER_SET):
            ds = ObjectName.dom(DOMAIN, f"DS_{tag}_{a}_{s}")
            members = [ObjectName.dom(DOMAIN, n) for n in HEAD]
            members += [ObjectName.dom(DOMAIN, p) for p in IDS[s * PER_SET : (s + 1) * PER_SET]]
            await client.define_named_variable_list(ds, members)
            (allocated,) = await client.read(ObjectName.dom(DOMAIN, "Next_DSTransfer_Set"))
            ts = decode_mms_object_name(allocated)
            assert ts is not None
            if rbe:
                value = DSTransferSetValue(
                    data_set=ds, conditions=DSConditions.OBJECT_CHANGE, rbe=True, status=True
                )
            else:
                value = DSTransferSetValue(
                    data_set=ds, interval=1, conditions=DSConditions.INTERVAL_TIMEOUT, status=True
                )
            starts.append((client, ts, value))
    # Every association of every process is set up before any report flows: a process
    # busy decoding reports would otherwise associate its last clients too late.
    pipe.send("ready")
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, pipe.recv)
    for client, ts, value in starts:
        error = await client.write(ts, value.to_data())
        assert error is None, error
    pipe.send("started")
    await loop.run_in_executor(None, pipe.recv)
    pipe.send(counts[0])
    for client in clients:
        await client.abort()


def _client_main(port: int, associations: int, tag: str, rbe: bool, pipe: Connection) -> None:
    """Entry point of one client process."""
    asyncio.run(_client(port, associations, tag, rbe, pipe))


# --------------------------------------------------------------------------- server side


def _bus() -> PointBus:
    bus = PointBus()
    bus.add_owner("feed")
    for p in IDS:
        bus.register(PointDef(id=p), "feed")
    bus.update_many(IDS, [1.0] * POINTS, GOOD, time.time())
    return bus


def _settings(transfer_sets: int) -> Tase2ServerSettings:
    return Tase2ServerSettings.model_validate(
        {
            "port": 0,
            "ap_title": SERVER_AP,
            "ae_qualifier": 12,
            "limits": {
                "max_associations": 64,
                "transfer_sets": transfer_sets,
                "data_set_size": PER_SET + len(HEAD),
            },
            "tables": [
                {
                    "id": "BENCH",
                    "domain": DOMAIN,
                    "peer": {"ap_title": PEER_AP, "ae_qualifier": 12},
                    "points": [{"match": "P*"}],
                }
            ],
        }
    )


async def _started(adapter: Tase2ServerAdapter) -> int:
    for _ in range(500):
        if adapter.server is not None and adapter.server.mms._server is not None:
            return adapter.server.port
        await asyncio.sleep(0.01)
    raise RuntimeError("TASE.2 server did not start")


def _spawn(port: int, processes: int, associations: int, rbe: bool) -> list[tuple[Any, Connection]]:
    ctx = multiprocessing.get_context("spawn")
    out = []
    for i in range(processes):
        mine, theirs = ctx.Pipe()
        proc = ctx.Process(
            target=_client_main, args=(port, associations, f"c{i}", rbe, theirs), daemon=True
        )
        proc.start()
        out.append((proc, mine))
    return out


async def _wait_ready(clients: list[tuple[Any, Connection]], timeout: float = 120) -> None:
    """Wait until every client has set up its associations, then let them all start their
    transfer sets, and wait until they have."""
    loop = asyncio.get_running_loop()
    for step, answer in (("", "ready"), ("go", "started")):
        for _, pipe in clients:
            if step:
                pipe.send(step)
            said = await asyncio.wait_for(loop.run_in_executor(None, pipe.recv), timeout)
            assert said == answer, said


async def _finish(clients: list[tuple[Any, Connection]]) -> int:
    loop = asyncio.get_running_loop()
    received = 0
    for _, pipe in clients:
        pipe.send("stop")
        received += await asyncio.wait_for(loop.run_in_executor(None, pipe.recv), 30)
    for proc, _ in clients:
        proc.join(10)
        if proc.is_alive():
            proc.kill()
    return received


async def _latency(seconds: float = 3.0, rate: int = 10_000) -> float:
    bus = _bus()
    adapter = Tase2ServerAdapter("bench", _settings(10), bus)
    task = asyncio.create_task(adapter.run())
    latencies: list[float] = []
    try:
        port = await _started(adapter)
        clients = _spawn(port, 1, 1, rbe=True)
        await _wait_ready(clients)
        server = adapter.server
        assert server is not None

        def sent(req: ReportRequest, at: float) -> None:
            latencies.extend(at - pv.ts for pv in req.values if pv is not None)

        server.on_report_sent = sent
        start = time.perf_counter()
        done = 0
        value = 2.0
        while (elapsed := time.perf_counter() - start) < seconds:
            due = int(elapsed * rate) - done
            if due > 0:
                first = done % POINTS
                batch = [IDS[(first + k) % POINTS] for k in range(due)]
                value += 1.0
                bus.update_many(batch, [value] * due, GOOD, time.time())
                done += due
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.2)
        server.on_report_sent = None
        await _finish(clients)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    latencies.sort()
    if not latencies:
        raise RuntimeError("no RBE report was sent")
    return latencies[int(len(latencies) * 0.99)] * 1000


async def _throughput(associations: int = 20, seconds: float = 5.0) -> tuple[float, float, int]:
    bus = _bus()
    sets = associations * POINTS // PER_SET
    adapter = Tase2ServerAdapter("bench", _settings(sets), bus)
    task = asyncio.create_task(adapter.run())
    sent_points = [0]
    try:
        port = await _started(adapter)
        processes = 4
        clients = _spawn(port, processes, associations // processes, rbe=False)
        await _wait_ready(clients)
        server = adapter.server
        assert server is not None

        def sent(req: ReportRequest, at: float) -> None:
            sent_points[0] += len(req.members) - len(req.data_set.special_indices)

        await asyncio.sleep(1.5)  # let every transfer set reach its steady period
        server.on_report_sent = sent
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        wall0 = time.perf_counter()
        await asyncio.sleep(seconds)
        wall = time.perf_counter() - wall0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        server.on_report_sent = None
        received = await _finish(clients)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return sent_points[0] / wall, 100 * cpu / wall, received


def main() -> None:
    """Print the three TASE.2 server figures."""
    p99 = run_loop(_latency())  # the server side on the loop the gateway runs on
    print(f"BENCH tase2_rbe_latency_p99 {p99:.2f} ms", flush=True)
    rate, cpu, _received = run_loop(_throughput())
    report("tase2_reports", rate, "points/s")
    report("tase2_reports_cpu", cpu, "%")


if __name__ == "__main__":
    main()
