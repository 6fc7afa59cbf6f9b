"""The `opcua-server` adapter, browsed, read, subscribed to and written by an asyncua client
in another process (tests/support/peers/opcua_client_peer.py)."""

import asyncio
import contextlib
import logging
import socket

import pytest

from adapters.opcua import status
from adapters.opcua.server import OpcuaServerAdapter, OpcuaServerSettings
from gateway.bus import CommandError, CommandFailure, PointBus
from gateway.points import GOOD, PointDef, Quality, Source, State, Validity
from tests.support import eventually, free_port, running, scratch_dir
from tests.support.peers.opcua_client import OpcuaClientPeer, opcua_client

pytestmark = pytest.mark.timeout(90)

ROOT = "ns=2;s=folder:Gateway"
SUSPECT = Quality(Validity.SUSPECT, Source.TELEMETERED)


class Field:
    """The owner of the points: records commands, refuses tap positions above 20."""

    def __init__(self, bus):
        self.bus = bus
        self.commands = []

    async def on_command(self, point, value):
        if point.id == "G1_TAP" and value > 20:
            raise CommandError(CommandFailure.INVALID_VALUE, "tap range is 1..20")
        self.commands.append((point.id, value))
        self.bus.update(point.id, value, GOOD, 1000.0)


def _bus(defs):
    bus = PointBus()
    field = Field(bus)
    bus.add_owner("field", field.on_command)
    for d in defs:
        bus.register(d, "field")
    return bus, field


DEFS = [
    PointDef(id="G1_MW"),
    PointDef(id="G1_TAP", kind="discrete"),
    PointDef(id="G1_BRK", kind="state"),
    PointDef(id="G1_ISO", kind="state"),
    PointDef(id="KV"),
]


@contextlib.asynccontextmanager
async def served(bus, **options):
    port = free_port()
    options.setdefault("address_space_cache", str(scratch_dir("opcua-address-space")))
    settings = OpcuaServerSettings.model_validate({"port": port, **options})
    adapter = OpcuaServerAdapter("scada", settings, bus)
    bus.add_owner("scada")
    async with running(adapter) as task:
        await eventually(lambda: adapter.ready.is_set() or task.done(), 30, "listening")
        assert not task.done(), task
        yield adapter, f"opc.tcp://127.0.0.1:{port}/"


def _folder_sizes_ok(tree, limit):
    return all(n <= limit for n in tree["folders"].values())


async def test_the_tree_is_browsed_in_folders_of_at_most_100():
    defs = [PointDef(id=f"A_p{i:03d}") for i in range(250)] + [
        PointDef(id="B_x"),
        PointDef(id="Z"),
    ]
    bus, _ = _bus(defs)
    async with served(bus, points=[{"point": "*"}]) as (adapter, url):
        async with opcua_client(url) as client:
            tree = await client.call("browse", root=ROOT)
        assert adapter.status()["variables"] == 252
    assert _folder_sizes_ok(tree, 100)
    assert tree["folders"]["/A"] == 3  # 001, 002, 003
    assert sorted(tree["folders"]) == ["", "/A", "/A/001", "/A/002", "/A/003", "/B"]
    variables = tree["variables"]
    assert len(variables) == 252
    assert variables["/A/001/A_p000"] == "ns=2;s=A_p000"
    assert variables["/B/B_x"] == "ns=2;s=B_x"
    assert variables["/Z"] == "ns=2;s=Z"


async def test_values_are_read_with_their_type_status_and_source_time():
    bus, _ = _bus(DEFS)
    bus.update_many(["G1_MW", "G1_TAP"], [12.5, 7], GOOD, 1700000000.25)
    bus.update_many(["G1_BRK", "G1_ISO"], [State.ON, State.BETWEEN], GOOD, 1700000001.0)
    bus.update("KV", 231.0, SUSPECT, 1700000002.0)
    points = [
        {"point": "G1_MW", "nodeid": "i=1001"},
        {"point": "G1_TAP", "type": "int64"},
        {"point": "G1_BRK"},
        {"point": "G1_ISO", "type": "boolean"},
        {"point": "KV"},
    ]
    async with served(bus, points=points) as (_, url), opcua_client(url) as client:
        nodes = ["ns=2;i=1001", "ns=2;s=G1_TAP", "ns=2;s=G1_BRK", "ns=2;s=G1_ISO", "ns=2;s=KV"]
        mw, tap, brk, iso, kv = (await client.call("read", nodes=nodes))["values"]
        bus.owner_lost("field", 1700000009.0)
        lost = (await client.call("read", nodes=["ns=2;s=KV"]))["values"][0]
    assert mw == {"value": 12.5, "type": "Double", "status": 0, "source_ts": 1700000000.25}
    assert (tap["value"], tap["type"], tap["status"]) == (7, "Int64", 0)
    assert (brk["value"], brk["type"], brk["status"]) == (State.ON, "Int32", 0)
    assert brk["source_ts"] == 1700000001.0
    assert (iso["value"], iso["type"], iso["status"]) == (False, "Boolean", status.UNCERTAIN)
    assert (kv["value"], kv["status"]) == (231.0, status.UNCERTAIN)
    assert lost["status"] == status.BAD_NO_COMMUNICATION
    assert lost["source_ts"] == 1700000009.0


async def test_a_subscription_receives_bus_changes():
    bus, _ = _bus(DEFS)
    bus.update("G1_MW", 1.0, GOOD, 1.0)
    points = [{"point": "G1_*"}]
    async with served(bus, points=points) as (adapter, url), opcua_client(url) as client:
        await client.call("subscribe", nodes=["ns=2;s=G1_MW"], interval=20)
        await _until(client, 1)  # the value when subscribing
        (first,) = (await client.call("take"))["changes"]
        assert first["value"] == 1.0
        for i in range(5):
            bus.update("G1_MW", 10.0 + i, GOOD, 100.0 + i)
            await _until(client, 1)
            (change,) = (await client.call("take"))["changes"]
            assert (change["value"], change["source_ts"]) == (10.0 + i, 100.0 + i)
        assert adapter.pushed == 5


async def _until(client, n, timeout=10.0):
    """Wait (bounded) until the client has received at least `n` changes."""
    async with asyncio.timeout(timeout):
        while (await client.call("count"))["changes"] < n:
            await asyncio.sleep(0.05)


async def _browse_until(client, variable, timeout=15.0):
    """Browse (bounded) until the tree shows `variable`; the tree then. A browse that meets
    a folder deleted under it (the server is changing its tree) is tried again."""
    async with asyncio.timeout(timeout):
        while variable not in (tree := await client.call("browse", check=False, root=ROOT)).get(
            "variables", ()
        ):
            await asyncio.sleep(0.1)
    return tree


async def test_writes_become_commands_answered_with_the_owners_outcome():
    bus, field = _bus(DEFS)
    bus.update_many(["G1_MW", "G1_TAP"], [1.0, 3], GOOD, 1.0)
    bus.update("G1_BRK", State.OFF, GOOD, 1.0)
    points = [
        {"point": "G1_TAP", "writable": True},
        {"point": "G1_BRK", "writable": True, "type": "boolean"},
        {"point": "G1_MW"},
    ]
    users = [
        {"name": "op", "password": "secret"},
        {"name": "viewer", "password": "v", "write": False},
    ]
    async with served(bus, points=points, users=users, anonymous="read") as (_, url):
        async with opcua_client(url, "op", "secret") as op:
            ok = await op.call("write", node="ns=2;s=G1_TAP", value=12, type="Int32")
            on = await op.call("write", node="ns=2;s=G1_BRK", value=True, type="Boolean")
            refused = await op.call("write", node="ns=2;s=G1_TAP", value=25, type="Int32")
            ro = await op.call("write", node="ns=2;s=G1_MW", value=2.0, type="Double")
            wrong = await op.call("write", node="ns=2;s=G1_TAP", value=1.5, type="Double")
        async with opcua_client(url, "viewer", "v") as viewer:
            denied = await viewer.call("write", node="ns=2;s=G1_TAP", value=2, type="Int32")
        async with opcua_client(url) as anonymous:
            anon = await anonymous.call("write", node="ns=2;s=G1_TAP", value=2, type="Int32")
        intruder = OpcuaClientPeer(url, "op", "wrong")
        try:
            answer = await intruder.start()
        finally:
            await intruder.stop()
    assert ok["status"] == 0 and on["status"] == 0
    assert field.commands == [("G1_TAP", 12), ("G1_BRK", State.ON)]
    assert refused["status"] == status.code_of(CommandFailure.INVALID_VALUE)
    assert ro["status"] == status.BAD_NOT_WRITABLE
    assert wrong["status"] == status.BAD_TYPE_MISMATCH
    assert denied["status"] == anon["status"] == status.BAD_USER_ACCESS_DENIED
    assert "BadUserAccessDenied" in answer.get("error", ""), answer


async def test_points_come_and_go_without_a_restart():
    defs = [PointDef(id=f"A_p{i}") for i in range(5)] + [PointDef(id="B_q")]
    bus, _ = _bus(defs)
    points = [{"point": "A_*"}]
    async with (
        served(bus, points=points, max_per_folder=4) as (adapter, url),
        opcua_client(url) as client,
    ):
        before = (await client.call("browse", root=ROOT))["variables"]
        new = OpcuaServerSettings.model_validate(
            {
                **adapter.settings.model_dump(),
                "points": [{"point": "A_p[0-3]"}, {"point": "B_*"}],
            }
        )
        assert adapter.reconfigure(new)
        after = await _browse_until(client, "/B/B_q")
        bus.register(PointDef(id="B_r"), "field")
        later = (await _browse_until(client, "/B/B_r"))["variables"]
    assert sorted(before) == [
        "/A/001/A_p0",
        "/A/001/A_p1",
        "/A/001/A_p2",
        "/A/001/A_p3",
        "/A/002/A_p4",
    ]
    assert sorted(after["variables"]) == ["/A/A_p0", "/A/A_p1", "/A/A_p2", "/A/A_p3", "/B/B_q"]
    assert _folder_sizes_ok(after, 4)
    assert "/B/B_r" in later


async def test_a_port_in_use_is_a_clear_error():
    bus, _ = _bus(DEFS)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        settings = OpcuaServerSettings.model_validate(
            {"port": port, "points": [{"point": "*"}], "address_space_cache": None}
        )
        adapter = OpcuaServerAdapter("scada", settings, bus)
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}"):
            await asyncio.wait_for(adapter.run(), 30)
    assert not adapter.ready.is_set()


async def test_a_batch_of_changes_keeps_each_values_source_time_and_status():
    """One bus batch whose rows alternate source times and qualities: each notification
    carries its own (the push shares a time stamp only between rows that have it)."""
    bus, _ = _bus(DEFS)
    bus.update_many(["G1_MW", "G1_TAP", "G1_ISO", "KV"], [0.0, 0, State.OFF, 0.0], GOOD, 1.0)
    points = [{"point": "G1_MW"}, {"point": "G1_TAP"}, {"point": "G1_ISO", "type": "boolean"}]
    points.append({"point": "KV"})
    nodes = ["ns=2;s=G1_MW", "ns=2;s=G1_TAP", "ns=2;s=G1_ISO", "ns=2;s=KV"]
    async with served(bus, points=points) as (adapter, url), opcua_client(url) as client:
        await client.call("subscribe", nodes=nodes, interval=20)
        await _until(client, 4)  # the values when subscribing
        await client.call("take")
        bus.update_rows(
            ["G1_MW", "G1_TAP", "G1_ISO", "KV"],
            [5.0, 6, State.BETWEEN, 7.0],
            [GOOD, GOOD, GOOD, SUSPECT],
            [200.0, 201.0, 201.0, 200.0],
        )
        await _until(client, 4)
        changes = {c["node"]: c for c in (await client.call("take"))["changes"]}
        assert adapter.pushed == 4
    got = {node: (c["value"], c["status"], c["source_ts"]) for node, c in changes.items()}
    assert got == {
        "ns=2;s=G1_MW": (5.0, 0, 200.0),
        "ns=2;s=G1_TAP": (6, 0, 201.0),
        "ns=2;s=G1_ISO": (False, status.UNCERTAIN, 201.0),
        "ns=2;s=KV": (7.0, status.UNCERTAIN, 200.0),
    }


async def test_a_discrete_value_out_of_its_type_is_bad_out_of_range_on_that_node_only(caplog):
    """A discrete of 2**31 in an Int32 variable: that node says BadOutOfRange (one log line),
    and the subscription goes on serving every other node."""
    bus, _ = _bus(DEFS)
    bus.update_many(["G1_MW", "G1_TAP"], [1.0, 1], GOOD, 1.0)
    points = [{"point": "G1_MW"}, {"point": "G1_TAP", "type": "int32"}]
    nodes = ["ns=2;s=G1_MW", "ns=2;s=G1_TAP"]
    async with served(bus, points=points) as (_, url), opcua_client(url) as client:
        await client.call("subscribe", nodes=nodes, interval=20)
        await _until(client, 2)
        await client.call("take")
        bus.update("G1_TAP", 2**31, GOOD, 300.0)
        bus.update("G1_TAP", -(2**31) - 1, GOOD, 301.0)
        bus.update("G1_MW", 2.0, GOOD, 302.0)
        await _until(client, 2)
        await asyncio.sleep(0.2)
        changes = (await client.call("take"))["changes"]
        (tap,) = (await client.call("read", nodes=["ns=2;s=G1_TAP"]))["values"]
        for i in range(3):
            bus.update("G1_MW", 3.0 + i, GOOD, 303.0 + i)
            await _until(client, 1)
            (change,) = (await client.call("take"))["changes"]
            assert change["value"] == 3.0 + i
        bus.update("G1_TAP", 2**31 - 1, GOOD, 310.0)  # in range again
        (back,) = (await client.call("read", nodes=["ns=2;s=G1_TAP"]))["values"]
    by_node = {c["node"]: c for c in changes}
    assert by_node["ns=2;s=G1_MW"]["value"] == 2.0
    assert by_node["ns=2;s=G1_TAP"]["status"] == status.BAD_OUT_OF_RANGE
    assert tap["status"] == status.BAD_OUT_OF_RANGE and tap["value"] is None
    assert (back["value"], back["type"], back["status"]) == (2**31 - 1, "Int32", 0)
    lines = [r.getMessage() for r in caplog.records if "does not fit" in r.getMessage()]
    assert 1 <= len(lines) <= 2 and "G1_TAP" in lines[0]


async def test_the_writes_of_one_request_are_commands_at_once_answered_by_their_outcomes():
    """Two writes in one request whose owner answers each only once it has both commands:
    run one after the other the first would time out. An owner that never answers is
    BadTimeout within the command time-out (below a client's 4 s)."""
    bus = PointBus()
    arrived: dict[str, asyncio.Event] = {"G1_TAP": asyncio.Event(), "G1_MW": asyncio.Event()}

    async def on_command(point, value):
        if point.id == "KV":
            await asyncio.sleep(3600)
        arrived[point.id].set()
        for event in arrived.values():
            await event.wait()
        bus.update(point.id, value, GOOD, 1000.0)

    bus.add_owner("field", on_command)
    for d in DEFS:
        bus.register(d, "field")
    points = [{"point": p, "writable": True} for p in ("G1_TAP", "G1_MW", "KV")]
    writes = [
        {"node": "ns=2;s=G1_TAP", "value": 4, "type": "Int32"},
        {"node": "ns=2;s=G1_MW", "value": 2.5, "type": "Double"},
        {"node": "ns=2;s=KV", "value": 1.0, "type": "Double"},
    ]
    async with (
        served(bus, points=points, command_timeout=1.5, anonymous="write") as (_, url),
        opcua_client(url) as client,
    ):
        answer = await client.call("write_many", writes=writes)
    assert answer["statuses"] == [0, 0, status.BAD_TIMEOUT]
    assert bus.get("G1_TAP").value == 4 and bus.get("G1_MW").value == 2.5
    assert OpcuaServerSettings().command_timeout < 4.0


async def test_a_change_during_a_reconfiguration_is_not_lost():
    """A bus change that comes while new nodes are added (the subscription to the bus is
    being replaced) still reaches a subscribed client; the nodes removed leave no
    reference behind (the folder browses without them)."""
    defs = [*DEFS, *(PointDef(id=f"N_{i:03d}") for i in range(250))]
    bus, _ = _bus(defs)
    bus.update("G1_MW", 1.0, GOOD, 1.0)
    async with (
        served(bus, points=[{"point": "G1_*"}, {"point": "KV"}]) as (adapter, url),
        opcua_client(url) as client,
    ):
        await client.call("subscribe", nodes=["ns=2;s=G1_MW"], interval=20)
        await _until(client, 1)
        await client.call("take")
        prune = adapter._prune_folders

        async def prune_after_a_change():  # the moment inside the reconfiguration
            bus.update("G1_MW", 42.0, GOOD, 400.0)
            await prune()

        adapter._prune_folders = prune_after_a_change
        new = adapter.settings.model_dump() | {"points": [{"point": "G1_*"}, {"point": "N_*"}]}
        assert adapter.reconfigure(OpcuaServerSettings.model_validate(new))
        await _until(client, 1)
        (change,) = (await client.call("take"))["changes"]
        tree = await _browse_until(client, "/N/003/N_249")
    assert (change["value"], change["source_ts"]) == (42.0, 400.0)
    assert "/KV" not in tree["variables"] and len(tree["variables"]) == 254


async def test_folder_nodeids_cannot_collide_and_a_bad_node_stops_only_itself(caplog):
    """A folder named like the root is a folder of its own; a point whose NodeId another
    point has already is not served (named in one log line and the status), the rest is."""
    bus, _ = _bus(DEFS)
    points = [
        {"point": "G1_MW", "folder": "Gateway"},
        {"point": "KV", "nodeid": "s=G1_TAP"},
        {"point": "G1_*"},
    ]
    async with served(bus, points=points) as (adapter, url), opcua_client(url) as client:
        tree = await client.call("browse", root=ROOT)
        got = adapter.status()
    assert tree["variables"]["/Gateway/G1_MW"] == "ns=2;s=G1_MW"
    assert "/G1/G1_BRK" in tree["variables"] and "/G1/G1_ISO" in tree["variables"]
    served_tap = [v for v in tree["variables"].values() if v == "ns=2;s=G1_TAP"]
    assert len(served_tap) == 1
    assert got["variables"] == 4 and list(got["node_errors"]) in (["KV"], ["G1_TAP"])
    (bad,) = got["node_errors"]
    lines = [r.getMessage() for r in caplog.records if "is not served" in r.getMessage()]
    assert len(lines) == 1 and bad in lines[0] and "ns=2;s=G1_TAP" in lines[0]


def test_a_nodeid_in_the_folders_scheme_is_refused():
    with pytest.raises(ValueError, match="names the server's folders"):
        OpcuaServerSettings.model_validate({"points": [{"point": "A", "nodeid": "s=folder:X"}]})


async def test_writes_of_an_index_range_a_status_or_time_stamps_are_not_supported():
    bus, field = _bus(DEFS)
    bus.update("G1_TAP", 1, GOOD, 1.0)
    tap = {"node": "ns=2;s=G1_TAP", "value": 5, "type": "Int32"}
    async with (
        served(bus, points=[{"point": "G1_TAP", "writable": True}], anonymous="write") as (_, url),
        opcua_client(url) as client,
    ):
        answer = await client.call(
            "write_many",
            writes=[
                tap | {"index_range": "0"},
                tap | {"status": status.UNCERTAIN},
                tap | {"source_ts": 1700000000.0},
                tap,
            ],
        )
    bad = status.BAD_WRITE_NOT_SUPPORTED
    assert answer["statuses"] == [bad, bad, bad, 0]
    assert field.commands == [("G1_TAP", 5)]


async def test_anonymous_clients_read_only_by_default_and_unknown_nodes_are_named_so():
    bus, field = _bus(DEFS)
    bus.update("G1_TAP", 1, GOOD, 1.0)
    async with (
        served(bus, points=[{"point": "G1_TAP", "writable": True}]) as (_, url),
        opcua_client(url) as client,
    ):
        (tap,) = (await client.call("read", nodes=["ns=2;s=G1_TAP"]))["values"]
        answer = await client.call(
            "write_many",
            writes=[
                {"node": "ns=2;s=G1_TAP", "value": 5, "type": "Int32"},
                {"node": "ns=2;s=NoSuchPoint", "value": 5, "type": "Int32"},
            ],
        )
    assert tap["value"] == 1
    assert answer["statuses"] == [status.BAD_USER_ACCESS_DENIED, status.BAD_NODE_ID_UNKNOWN]
    assert field.commands == []


async def test_a_glob_served_point_whose_kind_changes_on_a_reload_is_served_with_its_new_type():
    """The same ids, one of them redefined discrete -> real (as a reload does): its variable
    is served anew as a Double with the real value."""
    bus, _ = _bus([PointDef(id="G1_MW", kind="discrete")])
    bus.update("G1_MW", 12, GOOD, 1000.0)
    options = {"points": [{"point": "G1_*"}], "refresh_period": 0.2}
    async with served(bus, **options) as (_, url), opcua_client(url) as client:
        (before,) = (await client.call("read", nodes=["ns=2;s=G1_MW"]))["values"]
        bus.register(PointDef(id="G1_MW", kind="real"), "field")
        bus.update("G1_MW", 57.8, GOOD, 1001.0)

        async def retyped():
            (now,) = (await client.call("read", nodes=["ns=2;s=G1_MW"]))["values"]
            return now if now["type"] == "Double" else None

        after = None
        for _ in range(50):
            after = await retyped()
            if after is not None:
                break
            await asyncio.sleep(0.1)
    assert before["type"] == "Int32" and before["value"] == 12
    assert after is not None and after["value"] == 57.8


async def test_a_failed_sync_closes_its_new_bus_subscription():
    """An exception in the middle of a sync (here a folder pruning that fails) leaves no
    second bus subscription behind."""
    bus, _ = _bus(DEFS)
    async with served(bus, points=[{"point": "G1_*"}]) as (adapter, _):
        subs = len(bus.subscriptions)

        async def broken():
            raise RuntimeError("prune failed")

        adapter._prune_folders = broken
        bus.register(PointDef(id="G1_NEW"), "field")
        with pytest.raises(RuntimeError):
            await adapter._sync()
        assert len(bus.subscriptions) == subs


async def test_writable_points_nobody_may_write_and_refused_writes_are_warned_of(caplog):
    """Writable points with the read-only anonymous default and no writing user: a warning
    at start naming them and the setting; refused writes are warned of naming point, user
    and reason, one line a minute per reason (not one a write). A command_timeout of 10 s
    is taken, with a warning about clients' 4 s."""
    bus, field = _bus(DEFS)
    bus.update("G1_TAP", 1, GOOD, 1.0)
    points = [{"point": "G1_TAP", "writable": True}]
    with caplog.at_level(logging.WARNING, logger="adapters.opcua.server.adapter"):
        async with (
            served(bus, points=points, command_timeout=10) as (_, url),
            opcua_client(url) as client,
        ):
            for value in (5, 6, 7):
                answer = await client.call("write", node="ns=2;s=G1_TAP", value=value, type="Int32")
                assert answer["status"] == status.BAD_USER_ACCESS_DENIED
    lines = [r.getMessage() for r in caplog.records]
    start = [line for line in lines if "no client may write" in line]
    assert len(start) == 1 and "G1_TAP" in start[0] and "anonymous is 'read'" in start[0]
    refused = [line for line in lines if "write of G1_TAP by" in line]
    assert len(refused) == 1, refused
    assert "G1_TAP" in refused[0] and "anonymous" in refused[0]
    assert "BadUserAccessDenied" in refused[0]
    assert any("command_timeout 10 s" in line for line in lines)
    assert field.commands == []
