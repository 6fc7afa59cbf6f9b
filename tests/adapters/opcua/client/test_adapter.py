"""The opcua-client adapter against an asyncua server in another process."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest

from adapters.opcua import status
from adapters.opcua.client.adapter import OpcUaClientAdapter
from adapters.opcua.client.settings import ClientPoint, OpcUaClientSettings
from gateway.bus import CommandFailure, PointBus
from gateway.points import PointDef, State, Validity
from tests.support import eventually, free_port, running
from tests.support.peers.opcua_server_peer import OpcUaServerPeer

POINTS: list[dict[str, Any]] = [
    {"point": "P1", "node": "ns=2;s=P1"},
    {"point": "P2", "path": "2:Plant/2:P2", "kind": "discrete", "writable": True},
    {"point": "S1", "node": "ns=2;s=S1", "kind": "state", "writable": True},
    {"point": "W1", "node": "ns=2;s=W1", "writable": True},
    {"point": "RO", "node": "ns=2;s=RO", "writable": True},
]


@pytest.fixture(scope="module")
def peer() -> Iterator[OpcUaServerPeer]:
    server = OpcUaServerPeer(free_port()).start()
    try:
        yield server
    finally:
        server.stop()


def client_on_bus(
    endpoints: Sequence[str],
    points: Sequence[Mapping[str, Any]] = POINTS,
    grace: float = 2.0,
    **extra: Any,
) -> tuple[PointBus, OpcUaClientAdapter]:
    """A bus whose points an opcua-client adapter owns (and takes commands for)."""
    kinds = {p["point"]: p.get("kind", "real") for p in points}
    bindings = [{k: v for k, v in p.items() if k != "kind"} for p in points]
    settings = OpcUaClientSettings.model_validate(
        {
            "endpoints": list(endpoints),
            "points": bindings,
            "publishing_interval": 20,
            "sampling_interval": 10,
            "backoff_initial": 0.1,
            "backoff_max": 0.5,
            **extra,
        }
    )
    bus = PointBus(grace=grace)
    bus.add_owner("ua")
    for point, kind in kinds.items():
        bus.register(PointDef(id=point, kind=kind), "ua")
    adapter = OpcUaClientAdapter("ua", settings, bus)
    bus.add_owner("ua", adapter.on_command)
    return bus, adapter


def valid(bus: PointBus, point: str) -> bool:
    return bus.get(point).quality.validity is Validity.VALID


async def test_subscription_flow_with_source_time(peer: OpcUaServerPeer) -> None:
    bus, adapter = client_on_bus([peer.url])
    async with running(adapter):
        await eventually(lambda: adapter.state == "up", 15, "session up")
        peer.set("P1", 12.5, source_time=1_700_000_000.25)
        peer.set("P2", 5)
        peer.set("S1", True)
        await eventually(lambda: bus.get("P1").value == 12.5, 5, "P1 changed")
        await eventually(lambda: bus.get("P2").value == 5 and bus.get("S1").value == State.ON)
        pv = bus.get("P1")
        assert pv.ts == pytest.approx(1_700_000_000.25)
        assert pv.quality.validity is Validity.VALID and not pv.quality.timestamp_invalid
        assert adapter.status()["batches"] >= 1


async def test_quality_mapping_and_missing_source_time(peer: OpcUaServerPeer) -> None:
    bus, adapter = client_on_bus([peer.url])
    async with running(adapter):
        await eventually(lambda: adapter.state == "up", 15, "session up")
        peer.set("P1", 1.0, status=status.UNCERTAIN_LAST_USABLE_VALUE)
        await eventually(lambda: bus.get("P1").quality.validity is Validity.HELD, 5, "held")
        peer.set("P1", 2.0, status=0x808C0000)  # BadSensorFailure
        await eventually(lambda: bus.get("P1").quality.validity is Validity.NOT_VALID, 5, "bad")
        peer.set("P1", 3.0, source_time=None)
        await eventually(lambda: bus.get("P1").value == 3.0 and valid(bus, "P1"), 5, "good")
        assert bus.get("P1").quality.timestamp_invalid


async def test_writes_typed_and_refused(peer: OpcUaServerPeer) -> None:
    bus, adapter = client_on_bus([peer.url])
    async with running(adapter):
        await eventually(lambda: adapter.state == "up", 15, "session up")
        assert (await bus.command("W1", 3.25)).ok
        assert peer.get("W1") == 3.25
        assert (await bus.command("P2", 4)).ok  # an Int32 node
        assert peer.get("P2") == 4
        assert (await bus.command("S1", State.ON)).ok
        assert peer.get("S1") is True
        assert (await bus.command("S1", int(State.OFF))).ok  # as TASE.2 and MQTT send it
        assert peer.get("S1") is False
        between = await bus.command("S1", int(State.BETWEEN))
        assert between.failure is CommandFailure.INVALID_VALUE and peer.get("S1") is False
        refused = await bus.command("RO", 1.0)  # read-only on the server
        assert refused.failure is CommandFailure.NOT_PERMITTED, refused
        assert peer.get("RO") == 7.0
        not_writable = await bus.command("P1", 1.0)  # not writable in our settings
        assert not_writable.failure is CommandFailure.NOT_PERMITTED


async def test_unknown_nodes_are_not_valid_and_named(
    peer: OpcUaServerPeer, caplog: pytest.LogCaptureFixture
) -> None:
    points = [
        *POINTS[:1],
        {"point": "GONE", "node": "ns=2;s=NoSuchNode"},
        {"point": "LOST", "path": "2:Plant/2:Nothing"},
    ]
    bus, adapter = client_on_bus([peer.url], points)
    with caplog.at_level(logging.WARNING, logger="adapters.opcua.client.adapter"):
        async with running(adapter):
            await eventually(lambda: adapter.state == "up", 15, "session up")
            peer.set("P1", 42.0)
            await eventually(lambda: bus.get("P1").value == 42.0, 5, "P1 flows")
    assert not valid(bus, "GONE") and not valid(bus, "LOST")
    named = [r.getMessage() for r in caplog.records if "GONE" in r.getMessage()]
    assert len(named) == 1 and "ns=2;s=NoSuchNode" in named[0]
    assert any("LOST" in r.getMessage() and "Nothing" in r.getMessage() for r in caplog.records)
    assert set(adapter.unknown) == {"GONE", "LOST"}


async def test_failover_to_the_next_endpoint(peer: OpcUaServerPeer) -> None:
    dead = f"opc.tcp://127.0.0.1:{free_port()}"
    bus, adapter = client_on_bus([dead, peer.url])
    async with running(adapter):
        await eventually(lambda: adapter.state == "up", 20, "session up on the second")
        assert adapter.endpoint == peer.url
        peer.set("P1", 77.0)
        await eventually(lambda: bus.get("P1").value == 77.0, 5, "P1 through the second")


async def test_server_restart_reconnects_and_resubscribes() -> None:
    server = OpcUaServerPeer(free_port()).start()
    try:
        bus, adapter = client_on_bus([server.url], POINTS[:1])
        async with running(adapter):
            await eventually(lambda: adapter.state == "up", 15, "session up")
            server.set("P1", 1.0)
            await eventually(lambda: bus.get("P1").value == 1.0 and valid(bus, "P1"), 5)
            server.stop()
            await eventually(lambda: not valid(bus, "P1"), 5, "not valid once the server dies")
            server.start()
            await eventually(lambda: adapter.status()["connects"] == 2, 30, "reconnected")
            server.set("P1", 2.0)
            await eventually(lambda: bus.get("P1").value == 2.0 and valid(bus, "P1"), 5)
    finally:
        server.stop()


async def test_a_session_closed_by_the_server_on_an_open_socket_is_seen_and_renewed() -> None:
    server = OpcUaServerPeer(free_port()).start()
    try:
        bus, adapter = client_on_bus([server.url], POINTS[:1])
        async with running(adapter):
            await eventually(lambda: adapter.state == "up", 15, "session up")
            server.set("P1", 1.0)
            await eventually(lambda: bus.get("P1").value == 1.0 and valid(bus, "P1"), 5)
            assert server.call("drop_sessions") == {"dropped": 1}
            await eventually(lambda: not valid(bus, "P1"), 20, "not valid once the session goes")
            await eventually(lambda: adapter.status()["connects"] == 2, 30, "a new session")
            server.set("P1", 2.0)
            await eventually(lambda: bus.get("P1").value == 2.0 and valid(bus, "P1"), 5)
    finally:
        server.stop()


async def test_user_password() -> None:
    server = OpcUaServerPeer(free_port(), "--user", "op:secret").start()
    try:
        bus, adapter = client_on_bus([server.url], POINTS[:1], username="op", password="secret")
        async with running(adapter):
            await eventually(lambda: adapter.state == "up", 15, "session up with the user")
            server.set("P1", 9.0)
            await eventually(lambda: bus.get("P1").value == 9.0, 5)
        _, refused = client_on_bus([server.url], POINTS[:1], username="op", password="wrong")
        async with running(refused):
            await eventually(lambda: refused.last_error is not None, 15, "refused")
            assert refused.state != "up"
    finally:
        server.stop()


async def test_new_bindings_apply_in_place(peer: OpcUaServerPeer) -> None:
    bus, adapter = client_on_bus([peer.url], POINTS[:1])
    bus.register(PointDef(id="W1"), "ua")
    async with running(adapter):
        await eventually(lambda: adapter.state == "up", 15, "session up")
        settings = adapter.opc_settings
        w1 = ClientPoint(point="W1", node="ns=2;s=W1")
        assert adapter.reconfigure(settings.model_copy(update={"points": [*settings.points, w1]}))
        peer.set("W1", 5.5)
        await eventually(lambda: bus.get("W1").value == 5.5, 5, "the new binding flows")
        assert adapter.reconfigure(settings.model_copy(update={"points": [w1]}))
        await eventually(lambda: adapter.status()["points"] == 1, 5, "P1's item deleted")
        peer.set("P1", 123.0)
        peer.set("W1", 6.5)
        await eventually(lambda: bus.get("W1").value == 6.5, 5, "W1 still flows")
        assert bus.get("P1").value != 123.0
        assert adapter.status()["connects"] == 1  # the same session throughout
        moved = settings.model_copy(update={"endpoints": [peer.url, peer.url]})
        assert not adapter.reconfigure(moved)  # a new session: the runtime restarts it


async def test_commands_as_method_calls(peer: OpcUaServerPeer) -> None:
    method = {"method": "ns=2;s=SetW1", "method_object": "ns=2;s=Plant", "writable": True}
    bus, adapter = client_on_bus([peer.url], [{"point": "W1", "node": "ns=2;s=W1", **method}])
    async with running(adapter):
        await eventually(lambda: adapter.state == "up", 15, "session up")
        assert (await bus.command("W1", 8.0)).ok
        assert peer.get("W1") == 8.0
        refused = await bus.command("W1", -1.0)  # the method answers BadOutOfRange
        assert refused.failure is CommandFailure.INVALID_VALUE, refused
        assert peer.get("W1") == 8.0


async def test_data_changes_are_read_without_asyncuas_decoder(peer: OpcUaServerPeer) -> None:
    """The publish responses of number values are read by `publish.decode_publish` (none
    left to asyncua), with their values, qualities and source times."""
    bus, adapter = client_on_bus([peer.url])
    async with running(adapter):
        await eventually(lambda: adapter.state == "up", 15, "session up")
        peer.set("P1", 4.5, source_time=1_700_000_100.5)
        peer.set("P2", -3, status=status.UNCERTAIN)
        await eventually(lambda: bus.get("P1").value == 4.5 and bus.get("P2").value == -3, 5)
        assert bus.get("P1").ts == pytest.approx(1_700_000_100.5)
        assert bus.get("P2").quality.validity is Validity.SUSPECT
        got = adapter.status()
        assert got["notifications"] >= 2 and got["asyncua_decoded"] == 0


def test_what_asyncua_decodes_is_applied_as_before() -> None:
    """The responses left to asyncua (e.g. with a string value) go through
    `Session.data_changes`: numbers applied with their source time, the rest not valid."""
    import asyncio
    from datetime import UTC, datetime

    from asyncua import ua

    from adapters.opcua.client.adapter import Session, Slot
    from gateway.points import PointKind

    bus = PointBus()
    bus.add_owner("ua")
    session = Session("ua", bus, asyncio.Event())
    for handle, point in enumerate(["A", "B", "C"], 1):
        bus.register(PointDef(id=point), "ua")
        binding = ClientPoint(point=point, node=f"ns=2;s={point}")
        nodeid = ua.NodeId(point, 2)
        session.slots[handle] = Slot(binding, point, nodeid, PointKind.REAL, 2.0, 1.0, None)
    stamp = datetime(2026, 1, 1, tzinfo=UTC)
    items = []
    for handle, value, vtype in [
        (1, 1.5, ua.VariantType.Double),
        (2, "text", ua.VariantType.String),
        (3, float("nan"), ua.VariantType.Double),
    ]:
        item = ua.MonitoredItemNotification()
        item.ClientHandle = handle
        item.Value = ua.DataValue(ua.Variant(value, vtype), SourceTimestamp=stamp)
        items.append(item)
    session.data_changes(items)
    assert (bus.get("A").value, bus.get("A").ts) == (4.0, stamp.timestamp())
    assert valid(bus, "A")
    assert not valid(bus, "B") and not valid(bus, "C")
    assert session.counters["problems"] == 2


async def test_a_dead_subscription_on_a_live_session_is_seen_and_renewed() -> None:
    """The server deletes the subscription and keeps the session: no publish response for 3
    keep-alive periods -> the points are not valid and a new session subscribes anew."""
    server = OpcUaServerPeer(free_port()).start()
    try:
        bus, adapter = client_on_bus([server.url], POINTS[:1], keepalive=0.5)
        async with running(adapter):
            await eventually(lambda: adapter.state == "up", 15, "session up")
            server.set("P1", 1.0)
            await eventually(lambda: bus.get("P1").value == 1.0 and valid(bus, "P1"), 5)
            await asyncio.sleep(2.0)  # keep-alives only: the subscription is alive
            assert valid(bus, "P1") and adapter.status()["connects"] == 1
            assert server.call("drop_subscriptions") == {"dropped": 1}
            await eventually(lambda: not valid(bus, "P1"), 10, "not valid once it is silent")
            await eventually(lambda: "no publish response" in (adapter.last_error or ""), 10)
            await eventually(lambda: adapter.status()["connects"] == 2, 30, "subscribed anew")
            server.set("P1", 2.0)
            await eventually(lambda: bus.get("P1").value == 2.0 and valid(bus, "P1"), 5)
    finally:
        server.stop()


async def test_keep_alives_keep_unchanged_points_fresh() -> None:
    """A value the server does not change for longer than its freshness: the keep-alives
    of its subscription keep it valid (not suspect by freshness)."""
    server = OpcUaServerPeer(free_port()).start()
    try:
        _, adapter = client_on_bus([server.url], POINTS[:1], keepalive=0.3)
        fresh = PointBus(grace=0.2)
        fresh.add_owner("ua", adapter.on_command)
        fresh.register(PointDef(id="P1", target_freshness=1.0), "ua")
        adapter.bus = fresh
        async with running(adapter):
            await eventually(lambda: adapter.state == "up", 15, "session up")
            server.set("P1", 5.0)
            await eventually(lambda: fresh.get("P1").value == 5.0 and valid(fresh, "P1"), 5)
            stale = 0
            for _ in range(15):  # 3 s: longer than 1 s freshness + 0.2 s grace
                await asyncio.sleep(0.2)
                stale += fresh.check_freshness()
            assert stale == 0 and valid(fresh, "P1")
    finally:
        server.stop()


async def test_namespace_uri_nodeids_resolve_on_the_servers_namespace_array(
    peer: OpcUaServerPeer,
) -> None:
    nsu = "nsu=urn:iccp-gateway:tests:opcua-peer"
    points = [
        {"point": "P1", "node": f"{nsu};s=P1"},
        {"point": "NOWHERE", "node": "nsu=urn:not-there;s=P1"},
        {
            "point": "W1",
            "node": f"{nsu};s=W1",
            "method": f"{nsu};s=SetW1",
            "method_object": f"{nsu};s=Plant",
            "writable": True,
        },
    ]
    bus, adapter = client_on_bus([peer.url], points)
    async with running(adapter):
        await eventually(lambda: adapter.state == "up", 15, "session up")
        peer.set("P1", 31.5)
        await eventually(lambda: bus.get("P1").value == 31.5 and valid(bus, "P1"), 5)
        assert (await bus.command("W1", 9.0)).ok
        assert peer.get("W1") == 9.0
    assert not valid(bus, "NOWHERE")
    assert "urn:not-there is not on the server" in adapter.unknown["NOWHERE"]


async def test_a_live_change_of_the_isn_multiplier_and_adder_applies(
    peer: OpcUaServerPeer,
) -> None:
    bus, adapter = client_on_bus([peer.url], POINTS[:1])
    async with running(adapter):
        await eventually(lambda: adapter.state == "up", 15, "session up")
        peer.set("P1", 10.0)
        await eventually(lambda: bus.get("P1").value == 10.0, 5, "P1 as is")
        bus.register(PointDef(id="P1", usage_multiplier=2.0, usage_adder=1.0), "ua")
        assert adapter.reconfigure(adapter.opc_settings.model_copy())  # as the runtime does
        await asyncio.sleep(0.2)
        peer.set("P1", 20.0)
        await eventually(lambda: bus.get("P1").value == 41.0, 5, "P1 scaled anew")
        assert adapter.status()["connects"] == 1


async def test_sessions_that_die_at_once_back_off_fail_over_and_log_thinned_out(
    peer: OpcUaServerPeer, caplog: pytest.LogCaptureFixture
) -> None:
    """Each session is lost soon after it is up (its subscription dropped): the same
    endpoint is tried once more, then the next takes over, the back-off grows (it starts
    again only after a session that lived backoff_max), and the same "lost" line is
    logged at the 1st and 2nd loss, not the 3rd."""
    other = OpcUaServerPeer(free_port()).start()
    try:
        _, adapter = client_on_bus(
            [peer.url, other.url], POINTS[:1], keepalive=0.3, backoff_initial=0.1, backoff_max=20
        )
        with caplog.at_level(logging.WARNING, logger="adapters.opcua.client.adapter"):
            async with running(adapter):
                endpoints = []
                for n in range(1, 4):
                    await eventually(lambda n=n: adapter.status()["connects"] == n, 30, "up")
                    endpoints.append(adapter.endpoint)
                    server = peer if adapter.endpoint == peer.url else other
                    assert server.call("drop_subscriptions")["dropped"] >= 1
                    await eventually(lambda: adapter.state != "up", 10, "lost")
                got = adapter.status()
    finally:
        other.stop()
    assert endpoints == [peer.url, peer.url, other.url]
    assert got["failures"] == 3 and got["reconnect_delay"] == pytest.approx(0.4)
    lost = [r.getMessage() for r in caplog.records if "lost:" in r.getMessage()]
    assert len(lost) == 2, lost


async def test_problems_of_many_points_are_logged_thinned_out_by_kind(
    peer: OpcUaServerPeer, caplog: pytest.LogCaptureFixture
) -> None:
    """100 points on one node that turns NaN three times: 300 problems, one log line (the
    first, naming its point and node) within the minute, not one a point."""
    points = [{"point": f"X{i}", "node": "ns=2;s=P1"} for i in range(100)]
    bus, adapter = client_on_bus([peer.url], points)
    with caplog.at_level(logging.WARNING, logger="adapters.opcua.client.adapter"):
        async with running(adapter):
            await eventually(lambda: adapter.state == "up", 15, "session up")
            for n in range(1, 4):
                peer.set("P1", float(n))
                await eventually(lambda n=n: bus.get("X99").value == float(n), 5)
                peer.set("P1", float("nan"))
                await eventually(lambda: not valid(bus, "X99"), 5, "not valid")
            problems = adapter.status()["problems"]
    lines = [r.getMessage() for r in caplog.records if "is no number" in r.getMessage()]
    assert problems == 300
    assert len(lines) == 1, lines
    assert "X" in lines[0] and "ns=2;s=P1" in lines[0]


async def test_writes_typed_by_range_supertype_chain_and_method_arguments(
    peer: OpcUaServerPeer,
) -> None:
    """An Int16 node refuses 40000 as INVALID_VALUE (no crash, nothing written); an
    enumeration node takes an Int32 and a Counter node a UInt32 (their DataTypes' supertype
    chains); a method call's argument takes the type of the method's InputArguments."""
    points = [
        {"point": "I16", "node": "ns=2;s=I16", "kind": "discrete", "writable": True},
        {"point": "EN", "node": "ns=2;s=EN", "kind": "discrete", "writable": True},
        {"point": "CT", "node": "ns=2;s=CT", "kind": "discrete", "writable": True},
        {
            "point": "TAP",
            "node": "ns=2;s=P2",  # an Int32 node; the method takes a UInt16
            "kind": "discrete",
            "writable": True,
            "method": "ns=2;s=SetI16",
            "method_object": "ns=2;s=Plant",
        },
    ]
    bus, adapter = client_on_bus([peer.url], points)
    async with running(adapter):
        await eventually(lambda: adapter.state == "up", 15, "session up")
        assert (await bus.command("I16", -300)).ok
        too_big = await bus.command("I16", 40000)
        assert (await bus.command("EN", 2)).ok
        assert (await bus.command("CT", 3_000_000_000)).ok
        negative = await bus.command("CT", -1)
        assert (await bus.command("TAP", 17)).ok
        got = {name: peer.get(name) for name in ("I16", "EN", "CT")}
        assert adapter.state == "up"
    assert too_big.failure is CommandFailure.INVALID_VALUE and "Int16" in too_big.detail
    assert negative.failure is CommandFailure.INVALID_VALUE
    assert got == {"I16": 17, "EN": 2, "CT": 3_000_000_000}


async def test_a_null_source_time_is_the_receive_time_on_both_decoding_paths(
    peer: OpcUaServerPeer,
) -> None:
    """A SourceTimestamp of 1601-01-01 (the null DateTime) is no time: the value takes the
    receive time with the time-stamp-invalid bit, whether the fast decoder reads the publish
    response or asyncua does (a String value in it)."""
    null = -11_644_473_600.0  # 1601-01-01 in POSIX seconds
    points = [*POINTS[:1], {"point": "TX", "node": "ns=2;s=TX"}]
    bus, adapter = client_on_bus([peer.url], points)
    async with running(adapter):
        await eventually(lambda: adapter.state == "up", 15, "session up")
        before = time.time()
        peer.set("P1", 61.0, source_time=null)  # alone: the fast decoder
        await eventually(lambda: bus.get("P1").value == 61.0, 5, "P1 (fast decoder)")
        fast = bus.get("P1")
        decoded = adapter.status()["asyncua_decoded"]
        peer.call(
            "set_many",
            values=[
                {"name": "TX", "value": "text"},
                {"name": "P1", "value": 62.0, "source_time": null},
            ],
        )
        await eventually(lambda: bus.get("P1").value == 62.0, 5, "P1 (asyncua's decoder)")
        slow = bus.get("P1")
        assert adapter.status()["asyncua_decoded"] > decoded
    for pv in (fast, slow):
        assert pv.ts >= before - 1 and pv.quality.timestamp_invalid, pv


async def test_monitored_items_are_created_within_the_servers_operation_limit() -> None:
    """A server that takes at most 3 monitored items a call (and says so in its
    OperationLimits): 8 points are monitored in calls of 3."""
    server = OpcUaServerPeer(free_port(), "--max-items", "3").start()
    try:
        points = [{"point": f"X{i}", "node": "ns=2;s=P1"} for i in range(8)]
        bus, adapter = client_on_bus([server.url], points)
        async with running(adapter):
            await eventually(lambda: adapter.state == "up", 15, "session up")
            server.set("P1", 8.5)
            await eventually(lambda: all(bus.get(f"X{i}").value == 8.5 for i in range(8)), 5)
            assert adapter.status()["points"] == 8 and not adapter.unknown
    finally:
        server.stop()


async def test_big_int64_values_stay_exact_and_writes_carry_the_value_only(
    peer: OpcUaServerPeer,
) -> None:
    """A discrete on an Int64 node above 2**53 arrives and is commanded exactly (not through
    a float); a Write's DataValue has a value and no StatusCode or time stamps (mask 1)."""
    big = 2**60 + 1
    points = [{"point": "I64", "node": "ns=2;s=I64", "kind": "discrete", "writable": True}]
    bus, adapter = client_on_bus([peer.url], points)
    async with running(adapter):
        await eventually(lambda: adapter.state == "up", 15, "session up")
        peer.set("I64", big)
        await eventually(lambda: bus.get("I64").value == big, 5, "I64 exact")
        assert (await bus.command("I64", big + 2)).ok
        assert peer.get("I64") == big + 2
        assert peer.call("write_masks") == {"masks": [1]}


async def test_state_points_on_integer_nodes_follow_their_states_table(
    peer: OpcUaServerPeer, caplog: pytest.LogCaptureFixture
) -> None:
    """An integer node's codes -> states by the binding's `states` (CSV form here) with its
    normal state; commands write the code of the state; the default table is 0 off, 1 on;
    a code not in the table makes the point not valid, logged once (a line a minute)."""
    points = [
        {
            "point": "DB",
            "node": "ns=2;s=P2",
            "kind": "state",
            "writable": True,
            "states": "0:between;1:off;2:on;3:invalid",
            "normal": "off",
        },
        {"point": "SB", "node": "ns=2;s=I16", "kind": "state"},
    ]
    bus, adapter = client_on_bus([peer.url], points)
    with caplog.at_level(logging.WARNING, logger="adapters.opcua.client.adapter"):
        async with running(adapter):
            await eventually(lambda: adapter.state == "up", 15, "session up")
            peer.set("P2", 2)
            peer.set("I16", 1)
            await eventually(lambda: bus.get("SB").value == State.ON, 5, "SB: 1 on")
            peer.set("I16", 6)
            await eventually(lambda: not valid(bus, "SB"), 5, "SB: 6 is no code: not valid")
            peer.set("I16", 1)
            await eventually(lambda: valid(bus, "SB"), 5, "SB: 1 on again")
            peer.set("I16", 5)
            await eventually(lambda: bus.get("DB").value == State.ON, 5, "DB on")
            on = bus.get("DB")
            await eventually(lambda: not valid(bus, "SB"), 5, "SB: 5 is no code: not valid")
            peer.set("I16", 1)
            await eventually(lambda: bus.get("SB").value == State.ON, 5, "SB: 1 on")
            peer.set("P2", 1)
            await eventually(lambda: bus.get("DB").value == State.OFF, 5, "DB off")
            off = bus.get("DB")
            assert (await bus.command("DB", int(State.ON))).ok
            assert peer.get("P2") == 2
            between = await bus.command("DB", int(State.BETWEEN))
            assert peer.get("P2") == 2
    assert on.quality.abnormal and not off.quality.abnormal
    lines = [r.getMessage() for r in caplog.records if "no code of" in r.getMessage()]
    assert len(lines) == 1 and "SB" in lines[0] and "6" in lines[0], lines
    assert between.failure is CommandFailure.INVALID_VALUE  # a command is off or on only


async def test_state_commands_write_the_states_tables_code_on_any_numeric_node(
    peer: OpcUaServerPeer, caplog: pytest.LogCaptureFixture
) -> None:
    """A states table applies to commands on a Double node as to its reads (ON -> 2.0, not
    1.0); a states table on a Boolean node is named in a warning at bind time and its
    commands are refused naming the point."""
    points = [
        {
            "point": "DD",
            "node": "ns=2;s=W1",
            "kind": "state",
            "writable": True,
            "states": "1:off;2:on",
        },
        {
            "point": "DB",
            "node": "ns=2;s=S1",
            "kind": "state",
            "writable": True,
            "states": "1:off;2:on",
        },
    ]
    bus, adapter = client_on_bus([peer.url], points)
    with caplog.at_level(logging.WARNING, logger="adapters.opcua.client.adapter"):
        async with running(adapter):
            await eventually(lambda: adapter.state == "up", 15, "session up")
            assert (await bus.command("DD", int(State.ON))).ok
            on = peer.get("W1")
            assert (await bus.command("DD", int(State.OFF))).ok
            off = peer.get("W1")
            boolean = await bus.command("DB", int(State.ON))
    warned = [r.getMessage() for r in caplog.records if "does not apply" in r.getMessage()]
    assert len(warned) == 1 and "DB" in warned[0] and "Boolean" in warned[0], warned
    assert (on, off) == (2.0, 1.0)
    assert boolean.failure is CommandFailure.NOT_PERMITTED
    assert "DB" in boolean.detail and "states" in boolean.detail


async def test_writes_to_base_data_type_or_structure_nodes_are_refused_naming_the_type(
    peer: OpcUaServerPeer,
) -> None:
    """Nodes of DataType BaseDataType or Structure: a command is INVALID_VALUE naming the
    type (no traceback), the session stays up."""
    points = [
        {"point": "BD", "node": "ns=2;s=BD", "writable": True},
        {"point": "SR", "node": "ns=2;s=SR", "writable": True},
    ]
    bus, adapter = client_on_bus([peer.url], points)
    async with running(adapter):
        await eventually(lambda: adapter.state == "up", 15, "session up")
        base = await bus.command("BD", 1.0)
        structure = await bus.command("SR", 1.0)
        assert adapter.state == "up"
    assert base.failure is CommandFailure.INVALID_VALUE and "Variant" in base.detail
    assert structure.failure is CommandFailure.INVALID_VALUE
    assert "ExtensionObject" in structure.detail


async def test_a_rescaled_unchanged_value_is_read_anew_within_the_read_limit() -> None:
    """A server that refuses a Read of more than 2 nodes (the OperationLimits read of three
    too, BadTooManyOperations): the session comes up all the same; after a live change of
    the ISN multiplier and adder the unchanged values take the new scaling at once, read
    in Reads of at most 2 nodes."""
    server = OpcUaServerPeer(free_port(), "--max-read", "2").start()
    try:
        points = [{"point": f"X{i}", "node": "ns=2;s=P1"} for i in range(3)]
        bus, adapter = client_on_bus([server.url], points)
        async with running(adapter):
            await eventually(lambda: adapter.state == "up", 15, "session up")
            server.set("P1", 10.0)
            await eventually(lambda: all(bus.get(f"X{i}").value == 10.0 for i in range(3)), 5)
            sizes = len(server.call("read_sizes")["sizes"])
            for i in range(3):
                bus.register(PointDef(id=f"X{i}", usage_multiplier=2.0, usage_adder=1.0), "ua")
            assert adapter.reconfigure(adapter.opc_settings.model_copy())
            await eventually(lambda: all(bus.get(f"X{i}").value == 21.0 for i in range(3)), 5)
            assert all(valid(bus, f"X{i}") for i in range(3))
            reads = server.call("read_sizes")["sizes"][sizes:]
            assert adapter.status()["connects"] == 1
        assert reads and max(reads) <= 2 and sum(reads) >= 3, reads
    finally:
        server.stop()


async def test_a_revised_publishing_interval_gets_a_keep_alive_count_for_it() -> None:
    """keepalive 1 s asked at 20 ms (count 50); the server revises the interval to 500 ms:
    the client asks (ModifySubscription) for a count of 2, a 1 s keep-alive, not 25 s."""
    server = OpcUaServerPeer(free_port(), "--min-interval", "500").start()
    try:
        _, adapter = client_on_bus([server.url], POINTS[:1], keepalive=1.0)
        async with running(adapter):
            await eventually(lambda: adapter.state == "up", 15, "session up")
            (sub,) = server.call("subscriptions")["subscriptions"]
            keepalive = adapter.status()["keepalive"]
    finally:
        server.stop()
    assert sub == {"interval": 500.0, "keepalive_count": 2}
    assert keepalive == 1.0


async def test_a_keep_alive_count_revised_to_0_does_not_drop_the_session() -> None:
    """A server that answers a keep-alive count of 0: the silence watchdog has a floor (the
    keep-alive asked for), the session stays up."""
    server = OpcUaServerPeer(free_port(), "--zero-keepalive").start()
    try:
        bus, adapter = client_on_bus([server.url], POINTS[:1], keepalive=0.5)
        async with running(adapter):
            await eventually(lambda: adapter.state == "up", 15, "session up")
            await asyncio.sleep(2.0)  # 4 keep-alive periods
            server.set("P1", 3.0)
            await eventually(lambda: bus.get("P1").value == 3.0, 5, "P1")
            status = adapter.status()
    finally:
        server.stop()
    assert status["connects"] == 1 and status["keepalive"] == 0.5


async def test_data_touches_unchanged_points_within_half_their_freshness() -> None:
    """P1 changes every 100 ms, U never (keep-alive 20 s): U is touched by the data
    responses at least every half of its 1 s freshness and stays valid."""
    server = OpcUaServerPeer(free_port()).start()
    try:
        points = [*POINTS[:1], {"point": "U", "node": "ns=2;s=RO"}]
        bus, adapter = client_on_bus([server.url], points, grace=0.2, keepalive=20.0)
        bus.register(PointDef(id="U", target_freshness=1.0), "ua")
        async with running(adapter):
            await eventually(lambda: adapter.state == "up", 15, "session up")
            await eventually(lambda: valid(bus, "U"), 5, "U")
            stale = 0
            for i in range(25):
                server.set("P1", float(i))
                await asyncio.sleep(0.1)
                stale += bus.check_freshness()
            assert valid(bus, "U")
    finally:
        server.stop()
    assert stale == 0


def _connections_to(port: int) -> int:
    """Established TCP connections to 127.0.0.1:`port` (both ends are on this host: those
    whose remote end is the port are the clients')."""
    count = 0
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            remote, state = fields[2], fields[3]
            if state == "01" and int(remote.split(":")[1], 16) == port:
                count += 1
    return count


async def test_the_socket_is_closed_when_close_session_gets_no_answer() -> None:
    """A server that never answers CloseSession: when the adapter stops, its socket is
    closed all the same (no connection left behind)."""
    server = OpcUaServerPeer(free_port(), "--mute-close").start()
    try:
        _, adapter = client_on_bus([server.url], POINTS[:1], request_timeout=5.0)
        async with running(adapter):
            await eventually(lambda: adapter.state == "up", 15, "session up")
            assert _connections_to(server.port) == 1
        await eventually(lambda: _connections_to(server.port) == 0, 3, "socket closed")
    finally:
        server.stop()


async def test_fail_back_to_the_first_endpoint_when_it_answers_again(
    peer: OpcUaServerPeer,
) -> None:
    """The first endpoint is down at start (tried twice), the second takes the session;
    once the first answers a probe (every failback_interval) the session moves back to it."""
    port = free_port()
    first = f"opc.tcp://127.0.0.1:{port}"
    bus, adapter = client_on_bus([first, peer.url], POINTS[:1], failback_interval=0.3)
    async with running(adapter):
        await eventually(lambda: adapter.state == "up", 20, "session up on the second")
        assert adapter.endpoint == peer.url and adapter.status()["failures"] == 2
        primary = OpcUaServerPeer(port).start()
        try:
            await eventually(lambda: adapter.endpoint == first, 20, "back on the first")
            await eventually(lambda: adapter.state == "up", 20, "up on the first")
            primary.set("P1", 31.0)
            await eventually(lambda: bus.get("P1").value == 31.0, 5, "P1 from the first")
            assert adapter.status()["failbacks"] == 1
        finally:
            primary.stop()
