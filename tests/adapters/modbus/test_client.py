"""The `modbus-client` adapter against a pymodbus server in another process.

Each test starts its own peer (tests/support/peers/modbus_peer.py) on a free loopback port, arranges
registers there, runs the adapter and watches the bus.
"""

import asyncio
import contextlib
import json
import logging
import os
import signal
import struct
import subprocess
import sys

import pytest
from pymodbus.client import ModbusTcpClient

from adapters.modbus import ModbusClientAdapter, ModbusClientSettings
from adapters.modbus.client import DeviceLink
from gateway.bus import CommandFailure, PointBus
from gateway.config import ConfigError, build_config
from gateway.points import PointDef, State, Validity
from gateway.registry import AdapterRegistry
from gateway.runtime import Backoff
from tests.support import REPO, eventually, free_port, running
from tests.support.gateway import running_gateway
from tests.support.peers.modbus_peer import ModbusPeer

pytestmark = pytest.mark.timeout(60)

READ_HOLDING, READ_INPUT, READ_COILS, READ_DISCRETE = 3, 4, 1, 2
WRITE_COIL, WRITE_REGISTER, WRITE_REGISTERS = 5, 6, 16


@pytest.fixture
async def peer():
    p = await ModbusPeer(free_port()).start()
    yield p
    await p.kill()


def device(peer, **extra):
    return {"name": "plc", "host": "127.0.0.1", "port": peer.port, "timeout": 0.5, **extra}


def client_on_bus(devices, points, defs):
    """A bus with `defs` owned by a modbus-client adapter built from plain settings."""
    settings = ModbusClientSettings.model_validate({"devices": devices, "points": points})
    bus = PointBus()
    bus.add_owner("mb")
    for d in defs:
        bus.register(d, "mb")
    adapter = ModbusClientAdapter("mb", settings, bus)
    bus.add_owner("mb", adapter.on_command)
    return bus, adapter


def valid(bus, *points):
    return all(bus.get(p).quality.validity is Validity.VALID for p in points)


def not_valid(bus, *points):
    return all(bus.get(p).quality.validity is Validity.NOT_VALID for p in points)


# -- every data type and order -------------------------------------------------------------

PYMODBUS_TYPES = {
    "int16": (ModbusTcpClient.DATATYPE.INT16, -1234),
    "uint16": (ModbusTcpClient.DATATYPE.UINT16, 54321),
    "int32": (ModbusTcpClient.DATATYPE.INT32, -123456789),
    "uint32": (ModbusTcpClient.DATATYPE.UINT32, 3456789012),
    "int64": (ModbusTcpClient.DATATYPE.INT64, -1234567890123),
    "uint64": (ModbusTcpClient.DATATYPE.UINT64, 9007199254740000),
    "float32": (ModbusTcpClient.DATATYPE.FLOAT32, 1234.5),
    "float64": (ModbusTcpClient.DATATYPE.FLOAT64, -9876.54321),
}


def wire_registers(value, datatype, order):
    """The registers a device holds for `value` in `order`, built with pymodbus' own encoder.

    pymodbus knows word order only; BADC and DCBA also swap the bytes of each register.
    """
    words = "little" if order in ("CDAB", "DCBA") else "big"
    regs = ModbusTcpClient.convert_to_registers(value, datatype, word_order=words)
    if order in ("BADC", "DCBA"):
        regs = [((r & 0xFF) << 8) | (r >> 8) for r in regs]
    return regs


async def test_every_data_type_and_order_decodes_to_the_right_value(peer):
    points, defs, expected = [], [], {}
    address = 0
    for name, (datatype, value) in PYMODBUS_TYPES.items():
        for order in ("ABCD", "CDAB", "BADC", "DCBA"):
            point = f"{name}_{order}".upper()
            await peer.set("holding", address, wire_registers(value, datatype, order))
            points.append({"point": point, "address": address, "type": name, "order": order})
            kind = "real" if name.startswith("float") else "discrete"
            defs.append(PointDef(id=point, kind=kind))
            expected[point] = value
            address += 4
    # bits in a register, a state table with a normal state, scale/offset then ISN ax+b
    await peer.set("holding", 500, [0b1010])
    await peer.set("input", 600, [1000])
    await peer.set("coil", 7, [True])
    await peer.set("discrete_input", 3, [True])
    points += [
        {"point": "BIT1", "address": 500, "type": "bit", "bit": 1},
        {"point": "BIT2", "address": 500, "type": "bit", "bit": 2},
        {"point": "BIT3", "address": 500, "type": "bit", "bit": 3, "states": "0:on;1:off",
         "normal": "on"},
        {"point": "SCALED", "table": "input", "address": 600, "scale": 0.1, "offset": -5},
        {"point": "COIL7", "table": "coil", "address": 7},
        {"point": "DI3", "table": "discrete_input", "address": 3},
    ]  # fmt: skip
    defs += [
        PointDef(id="BIT1", kind="state"),
        PointDef(id="BIT2", kind="state"),
        PointDef(id="BIT3", kind="state"),
        PointDef(id="SCALED", usage_multiplier=-1.0),
        PointDef(id="COIL7", kind="state"),
        PointDef(id="DI3"),
    ]
    bus, adapter = client_on_bus([device(peer, max_gap=125)], points, defs)
    async with running(adapter):
        await eventually(lambda: valid(bus, *(d.id for d in defs)))
    for point, value in expected.items():
        assert bus.get(point).value == pytest.approx(value, rel=1e-7), point
    assert bus.get("BIT1").value == State.ON and bus.get("BIT2").value == State.OFF
    bit3 = bus.get("BIT3")
    assert bit3.value == State.OFF and bit3.quality.abnormal  # 1 -> off, and on is normal
    assert bus.get("SCALED").value == pytest.approx(-95.0)  # -(0.1 * 1000 - 5)
    assert bus.get("COIL7").value == State.ON and bus.get("DI3").value == 1.0
    assert bus.get("SCALED").quality.timestamp_invalid  # Modbus has no source time


# -- request planning ------------------------------------------------------------------------


async def test_reads_are_grouped_into_blocks_counted_at_the_server(peer):
    points = [
        # holding 0..10 (holes of at most 8 merge) | 100 alone | 1000..1129 is 125 + 5
        *({"point": f"H{a}", "address": a} for a in (0, 1, 10)),
        {"point": "HF", "address": 2, "type": "float32"},
        {"point": "H100", "address": 100},
        *({"point": f"R{a}", "address": a} for a in range(1000, 1130)),
        # coils 0..9 and 12: one read; discrete inputs 0 and 100: two reads
        *({"point": f"C{a}", "table": "coil", "address": a} for a in (*range(10), 12)),
        *({"point": f"D{a}", "table": "discrete_input", "address": a} for a in (0, 100)),
        # input registers in their own poll group
        *({"point": f"I{a}", "table": "input", "address": a, "group": "slow"} for a in (0, 1)),
    ]
    defs = [PointDef(id=p["point"]) for p in points]
    dev = device(peer, max_gap=8, poll_interval=30, poll_groups={"slow": 60})
    bus, adapter = client_on_bus([dev], points, defs)
    async with running(adapter):
        await eventually(lambda: valid(bus, *(d.id for d in defs)))
        counts = await peer.requests()
    assert counts == {READ_HOLDING: 4, READ_COILS: 1, READ_DISCRETE: 2, READ_INPUT: 1}
    blocks = adapter.status()["devices"]["plc"]["blocks"]
    assert blocks == 8


# -- per-point failure and device loss ------------------------------------------------------


async def test_an_exception_on_one_block_marks_only_its_points(peer, caplog):
    points = [
        {"point": "A", "address": 0},
        {"point": "B", "address": 100},
        {"point": "C", "table": "input", "address": 0},
    ]
    defs = [PointDef(id=p["point"]) for p in points]
    bus, adapter = client_on_bus([device(peer, poll_interval=0.05)], points, defs)
    async with running(adapter):
        await eventually(lambda: valid(bus, "A", "B", "C"))
        await peer.call("fail", table="holding", start=100, end=101, code=2)
        await eventually(lambda: not_valid(bus, "B"))
        await asyncio.sleep(0.2)  # several more polls: B stays down, A and C stay up
        assert not_valid(bus, "B") and valid(bus, "A", "C")
        assert bus.get("B").value == 0  # last value kept
        assert adapter.status()["devices"]["plc"]["state"] == "up"
        await peer.call("heal")
        await eventually(lambda: valid(bus, "B"))
    failures = [r for r in caplog.records if "failed (exception 2" in r.getMessage()]
    assert len(failures) == 1  # one line per state change, not one per poll


async def test_a_timeout_on_one_block_marks_only_its_points(peer):
    points = [{"point": "A", "address": 0}, {"point": "B", "address": 100}]
    defs = [PointDef(id="A"), PointDef(id="B")]
    dev = device(peer, poll_interval=0.05, timeout=0.1)
    bus, adapter = client_on_bus([dev], points, defs)
    async with running(adapter):
        await eventually(lambda: valid(bus, "A", "B"))
        await peer.call("delay", table="holding", start=100, end=101, seconds=0.3)
        await eventually(lambda: not_valid(bus, "B"))
        assert valid(bus, "A")
        await peer.call("heal")
        await eventually(lambda: valid(bus, "A", "B"))
        assert adapter.status()["devices"]["plc"]["failed_requests"] >= 1


async def test_a_block_that_times_out_first_on_a_connection_does_not_hide_the_others(peer):
    """Up is decided by an answer, not by the first request: a slow first block is its own."""
    await peer.call("delay", table="holding", start=0, end=1, seconds=0.3)
    points = [{"point": "A", "address": 0}, {"point": "B", "address": 100}]
    dev = device(peer, poll_interval=0.05, timeout=0.1)
    bus, adapter = client_on_bus([dev], points, [PointDef(id="A"), PointDef(id="B")])
    async with running(adapter):
        await eventually(lambda: valid(bus, "B"))
        assert adapter.status()["devices"]["plc"]["state"] == "up"


async def test_device_loss_marks_all_its_points_at_once_and_recovery_restores_them(peer, caplog):
    adapter_log = "adapters.modbus.client"
    caplog.set_level(logging.INFO, logger=adapter_log)
    points = [
        {"point": "A", "address": 0},
        {"point": "B", "table": "input", "address": 5},
        {"point": "C", "table": "coil", "address": 0},
    ]
    defs = [PointDef(id="A"), PointDef(id="B"), PointDef(id="C", kind="state")]
    interval = 0.5
    dev = device(peer, poll_interval=interval, backoff_initial=0.05, backoff_max=0.2)
    bus, adapter = client_on_bus([dev], points, defs)
    await peer.set("holding", 0, [42])
    async with running(adapter) as task:
        await eventually(lambda: valid(bus, "A", "B", "C"))
        await peer.kill()
        # within one poll interval (eventually fails the test otherwise)
        await eventually(lambda: not_valid(bus, "A", "B", "C"), timeout=interval)
        assert bus.get("A").value == 42  # not valid, last value kept
        await asyncio.sleep(0.5)  # several reconnect attempts while it is down
        assert not task.done()
        restarted = await ModbusPeer(peer.port).start()
        try:
            await restarted.set("holding", 0, [43])
            await eventually(lambda: valid(bus, "A", "B", "C") and bus.get("A").value == 43)
            messages = [r.getMessage() for r in caplog.records if r.name == adapter_log]
        finally:
            await restarted.kill()
    assert sum("is down" in m for m in messages) == 1  # one line, however many retries
    assert sum("is up" in m for m in messages) == 2


async def test_a_hung_device_is_one_time_out_line_and_is_polled_again_soon_after(peer, caplog):
    """A SIGSTOPped device: its kernel still accepts TCP, so connecting proves nothing."""
    adapter_log = "adapters.modbus.client"
    caplog.set_level(logging.INFO, logger=adapter_log)
    # a back-off that alone would wait 4-8 s by the time the device returns
    dev = device(peer, poll_interval=0.1, timeout=0.2, backoff_initial=1.0, backoff_max=30.0,
                 recovery_interval=0.3)  # fmt: skip
    points = [{"point": "A", "address": 0}, {"point": "B", "table": "input", "address": 500}]
    bus, adapter = client_on_bus([dev], points, [PointDef(id="A"), PointDef(id="B")])

    def messages():
        return [r.getMessage() for r in caplog.records if r.name == adapter_log]

    async with running(adapter):
        await eventually(lambda: valid(bus, "A", "B"))
        assert peer.proc is not None
        os.kill(peer.proc.pid, signal.SIGSTOP)
        try:
            await eventually(lambda: not_valid(bus, "A", "B"), timeout=5)
            status = adapter.status()["devices"]["plc"]
            assert status["state"] == "down" and "time-out" in status["last_error"]
            await asyncio.sleep(5)  # reconnects: each TCP connect succeeds, no read does
            assert adapter.status()["devices"]["plc"]["state"] == "down"
            assert sum("is up" in m for m in messages()) == 1  # the first start only
        finally:
            os.kill(peer.proc.pid, signal.SIGCONT)
        await eventually(lambda: valid(bus, "A", "B"), timeout=2.5, what="recovery")
    connections = (await peer.call("counts"))["connections"]
    assert connections >= 3  # connected while stopped, and still not reported up
    lines = messages()
    assert sum("is down: time-out" in m for m in lines) == 1
    assert sum("is down" in m for m in lines) == 1
    assert sum("is up" in m for m in lines) == 2
    assert not any("failed (" in m or "answers again" in m for m in lines)  # not per block
    assert len(lines) <= 7, lines  # up, down, a few thinned-out "still down", up


async def test_an_unreachable_device_is_retried_without_killing_the_adapter():
    port = free_port()
    dev = {"name": "plc", "host": "127.0.0.1", "port": port, "backoff_initial": 0.05,
           "backoff_max": 0.1, "poll_interval": 0.05}  # fmt: skip
    bus, adapter = client_on_bus([dev], [{"point": "A", "address": 0}], [PointDef(id="A")])
    async with running(adapter) as task:
        await asyncio.sleep(0.3)
        assert not task.done() and adapter.status()["devices"]["plc"]["state"] == "down"
        peer = await ModbusPeer(port).start()
        try:
            await eventually(lambda: valid(bus, "A"))
        finally:
            await peer.kill()


# -- commands --------------------------------------------------------------------------------

COMMAND_POINTS = [
    {"point": "SP", "address": 100, "type": "float32", "verify": True},
    {"point": "TAP", "address": 102, "type": "uint16", "scale": 0.5},
    {"point": "BRK", "table": "coil", "address": 3},
    {"point": "FLAG", "address": 110, "type": "bit", "bit": 3},
    {"point": "RO", "table": "input", "address": 0},
    {"point": "LOCKED", "address": 120, "writable": False},
]
COMMAND_DEFS = [
    PointDef(id="SP", usage_multiplier=2.0),
    PointDef(id="TAP", kind="discrete"),
    PointDef(id="BRK", kind="state"),
    PointDef(id="FLAG", kind="state"),
    PointDef(id="RO"),
    PointDef(id="LOCKED"),
]


async def test_write_commands_reach_the_device(peer):
    await peer.set("holding", 110, [0b0001])
    bus, adapter = client_on_bus([device(peer, poll_interval=0.05)], COMMAND_POINTS, COMMAND_DEFS)
    async with running(adapter):
        await eventually(lambda: valid(bus, *(d.id for d in COMMAND_DEFS)))
        assert (await bus.command("SP", 301.0)).ok  # raw 150.5 after the ISN multiplier
        assert (await bus.command("TAP", 7)).ok  # raw 14 with scale 0.5
        assert (await bus.command("BRK", State.ON)).ok
        assert (await bus.command("FLAG", State.ON)).ok  # read-modify-write of bit 3
        assert await peer.get("holding", 100, 2) == wire_registers(
            150.5, ModbusTcpClient.DATATYPE.FLOAT32, "ABCD"
        )
        assert await peer.get("holding", 102, 1) == [14]
        assert await peer.get("coil", 3, 1) == [True]
        assert await peer.get("holding", 110, 1) == [0b1001]
        counts = await peer.requests()
        assert counts[WRITE_REGISTERS] == 1 and counts[WRITE_REGISTER] == 2
        assert counts[WRITE_COIL] == 1
        await eventually(lambda: bus.get("SP").value == pytest.approx(301.0))  # polled back


async def test_command_failures_are_typed(peer):
    bus, adapter = client_on_bus([device(peer, poll_interval=0.05)], COMMAND_POINTS, COMMAND_DEFS)
    async with running(adapter):
        await eventually(lambda: valid(bus, "SP", "TAP"))
        outcomes = {
            "read-only table": await bus.command("RO", 1.0),
            "not writable": await bus.command("LOCKED", 1.0),
            "negative uint16": await bus.command("TAP", -3),
            "not a state": await bus.command("BRK", 7),
        }
        await peer.call("fail", table="holding", start=102, end=103, code=4)
        outcomes["device failure"] = await bus.command("TAP", 3)
        await peer.call("fail", table="holding", start=100, end=102, code=2)
        outcomes["illegal address"] = await bus.command("SP", 10.0)
        await peer.call("heal")
        await peer.call("delay", table="coil", start=3, end=4, seconds=1.0)
        outcomes["no answer"] = await bus.command("BRK", State.OFF)
    assert {k: r.failure for k, r in outcomes.items()} == {
        "read-only table": CommandFailure.NOT_PERMITTED,
        "not writable": CommandFailure.NOT_PERMITTED,
        "negative uint16": CommandFailure.INVALID_VALUE,
        "not a state": CommandFailure.INVALID_VALUE,
        "device failure": CommandFailure.DEVICE_FAILURE,
        "illegal address": CommandFailure.NOT_PERMITTED,
        "no answer": CommandFailure.TIMEOUT,
    }
    assert "exception 4" in outcomes["device failure"].detail


async def test_a_command_to_a_device_that_is_down_fails_at_once():
    dev = {"name": "plc", "host": "127.0.0.1", "port": free_port(), "backoff_initial": 1}
    bus, adapter = client_on_bus([dev], [{"point": "SP", "address": 0}], [PointDef(id="SP")])
    async with running(adapter):
        result = await bus.command("SP", 1.0)
    assert result.failure is CommandFailure.DEVICE_FAILURE and "not connected" in result.detail


# -- configuration ---------------------------------------------------------------------------


def registry():
    reg = AdapterRegistry(group="no-such-group")
    reg.register(ModbusClientAdapter)
    return reg


CSV = """point,table,address,type,order,scale,states,writable
MW,holding,0,float32,CDAB,,,
KV,input,0,uint16,,0.01,,
BRK,coil,0,,,,0:off;1:on,true
"""


async def test_a_config_with_a_csv_point_list_runs_under_the_runtime(peer, tmp_path):
    csv_path = tmp_path / "points.csv"
    csv_path.write_text(CSV)
    await peer.set("holding", 0, wire_registers(12.5, ModbusTcpClient.DATATYPE.FLOAT32, "CDAB"))
    await peer.set("input", 0, [23150])
    data = {
        "points": [{"id": "MW"}, {"id": "KV"}, {"id": "BRK", "kind": "state"}],
        "adapters": [
            {
                "name": "plc",
                "type": "modbus-client",
                "devices": [device(peer, poll_interval=0.05)],
                "points_file": str(csv_path),
            }
        ],
    }
    async with running_gateway(
        build_config(data, "test.yaml", registry=registry()), registry(), Backoff(0.05)
    ) as rt:
        bus = rt.bus
        await eventually(lambda: valid(bus, "MW", "KV", "BRK"))
        assert bus.get("MW").value == 12.5 and bus.get("KV").value == pytest.approx(231.5)
        assert (await bus.command("BRK", State.ON)).ok
        assert await peer.get("coil", 0, 1) == [True]


def test_a_bad_csv_row_is_reported_with_its_file_and_line(tmp_path):
    csv_path = tmp_path / "points.csv"
    csv_path.write_text(CSV + "BAD,input,70000,float32,,,,\nWORSE,input,1,bool,,,,\n")
    data = {
        "points": [{"id": p} for p in ("MW", "KV", "BRK", "BAD", "WORSE")],
        "adapters": [
            {
                "name": "plc",
                "type": "modbus-client",
                "devices": [{"name": "d", "host": "127.0.0.1"}],
                "points_file": str(csv_path),
            }
        ],
    }
    with pytest.raises(ConfigError) as err:
        build_config(data, "test.yaml", registry=registry())
    text = str(err.value)
    assert f"{csv_path}:5: address:" in text
    assert f"{csv_path}:6:" in text and "does not fit table input" in text


async def test_reconfigure_applies_point_changes_without_reconnecting(peer):
    points = [{"point": "A", "address": 0}]
    defs = [PointDef(id="A"), PointDef(id="B")]
    bus, adapter = client_on_bus([device(peer, poll_interval=0.05)], points, defs)
    await peer.set("holding", 50, [7])
    async with running(adapter):
        await eventually(lambda: valid(bus, "A"))
        new = ModbusClientSettings.model_validate(
            {
                "devices": [device(peer, poll_interval=0.05)],
                "points": [*points, {"point": "B", "address": 50}],
            }
        )
        assert adapter.reconfigure(new)
        await eventually(lambda: valid(bus, "B") and bus.get("B").value == 7)
        assert (await peer.call("counts"))["connections"] == 1


# -- faulty devices --------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def raw_device(answer):
    """A hand-written Modbus TCP device: `answer(function, address, count)` returns the
    response PDU after the function code, or None to drop the connection instead."""
    connections = []

    async def handle(reader, writer):
        connections.append(writer.get_extra_info("peername"))
        try:
            while True:
                tid, _, length, unit = struct.unpack(">HHHB", await reader.readexactly(7))
                pdu = await reader.readexactly(length - 1)
                function, address, count = struct.unpack(">BHH", pdu[:5])
                body = answer(function, address, count)
                if body is None:
                    break
                reply = bytes([function]) + body
                writer.write(struct.pack(">HHHB", tid, 0, len(reply) + 1, unit) + reply)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], connections
    finally:
        server.close()


def registers_reply(values):
    return bytes([2 * len(values)]) + struct.pack(f">{len(values)}H", *values)


async def test_a_short_answer_fails_only_its_block_and_never_kills_the_adapter(caplog):
    def answer(function, address, count):
        if address == 10:  # a faulty device: one register for a float32
            return registers_reply([1])
        return registers_reply([7] * count)

    points = [{"point": "A", "address": 0}, {"point": "F", "address": 10, "type": "float32"}]
    async with raw_device(answer) as (port, _):
        dev = {"name": "plc", "host": "127.0.0.1", "port": port, "poll_interval": 0.05}
        bus, adapter = client_on_bus([dev], points, [PointDef(id="A"), PointDef(id="F")])
        async with running(adapter) as task:
            await eventually(
                lambda: valid(bus, "A") and adapter.status()["devices"]["plc"]["polls"] > 3
            )
            assert not task.done()
            assert not_valid(bus, "F") and bus.get("A").value == 7
            assert adapter.status()["devices"]["plc"]["state"] == "up"
    assert sum("short answer" in r.getMessage() for r in caplog.records) == 1


async def test_a_device_that_drops_every_connection_is_retried_with_growing_delays(monkeypatch):
    """Connecting is not recovering: until the device answers, each attempt backs off more."""
    attempts = []

    def backoff(link, failures):
        attempts.append(failures)
        return 0.001

    monkeypatch.setattr(DeviceLink, "_backoff", backoff)
    async with raw_device(lambda *request: None) as (port, connections):
        dev = {"name": "plc", "host": "127.0.0.1", "port": port, "timeout": 0.1}
        bus, adapter = client_on_bus([dev], [{"point": "A", "address": 0}], [PointDef(id="A")])
        async with running(adapter):
            await eventually(lambda: len(attempts) >= 5)
    assert len(connections) >= 5  # each attempt did connect, and lost it at the first read
    assert attempts[:5] == [1, 2, 3, 4, 5]
    assert not_valid(bus, "A")


async def test_concurrent_commands_on_bits_of_one_register_both_take_effect(peer):
    points = [
        {"point": "F0", "address": 110, "type": "bit", "bit": 0},
        {"point": "F3", "address": 110, "type": "bit", "bit": 3},
    ]
    defs = [PointDef(id="F0", kind="state"), PointDef(id="F3", kind="state")]
    bus, adapter = client_on_bus([device(peer, poll_interval=0.05)], points, defs)
    async with running(adapter):
        await eventually(lambda: valid(bus, "F0", "F3"))
        results = await asyncio.gather(bus.command("F0", State.ON), bus.command("F3", State.ON))
        assert all(r.ok for r in results), results
        assert await peer.get("holding", 110, 1) == [0b1001]  # neither write lost the other


CLIENT_ONLY_RUN = """\
import asyncio, json, sys
from gateway.config import load_config
from gateway.runtime import Runtime

async def run() -> None:
    runtime = Runtime(load_config(sys.argv[1]))
    await runtime.start()
    await asyncio.sleep(0.1)
    await runtime.stop()

asyncio.run(run())
modbus = ("adapters.modbus", "pymodbus.server")
print(json.dumps(sorted(m for m in sys.modules if m.startswith(modbus))))
"""


def test_a_polling_only_gateway_imports_no_modbus_server(tmp_path):
    config = tmp_path / "client.yaml"
    config.write_text(
        "points:\n  - {id: A, kind: real}\n"
        "adapters:\n  - name: mb\n    type: modbus-client\n    devices:\n"
        f"      - {{name: d1, host: 127.0.0.1, port: {free_port()}, timeout: 0.2}}\n"
        "    points:\n      - {point: A, device: d1, address: 0, type: float32}\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", CLIENT_ONLY_RUN, str(config)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.splitlines()[-1])
    assert "adapters.modbus.client" in loaded
    assert "adapters.modbus.server" not in loaded
    assert not [m for m in loaded if m.startswith("pymodbus.server")]
