"""The opendnp3 outstation peer works: py1815's own master (a third party to both the peer
and our master) polls it, reads its events, controls it and sees it restart."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from py1815.application import FunctionCode, all_objects_header, class_header, object_header
from py1815.control import CommandStatus
from py1815.master import Master, Outstation, PointType, Unsolicited

from tests.support import eventually
from tests.support.peers import dnp3_outstation as dnp3_outstation_module
from tests.support.peers.dnp3_outstation import (
    Dnp3Outstation,
    PeerCommandError,
    dnp3_outstation,
    require_yadnp3,
)

#: Every type py1815 decodes (it stops at double-bit inputs, group 3).
DECODED_TYPES = [
    "binary-input",
    "binary-output",
    "counter",
    "frozen-counter",
    "analog-input",
    "analog-output",
]
ONLINE, RESTART, LOCAL_FORCED, OVER_RANGE = 0x01, 0x02, 0x10, 0x20
IIN1_NEED_TIME, IIN1_RESTART = 0x10, 0x80


@pytest.fixture(autouse=True)
def _yadnp3() -> None:
    require_yadnp3()


async def master_of(master: Master, peer: Dnp3Outstation, **options: Any) -> Outstation:
    """py1815's master on the peer: no automatic tasks, confirmations on."""
    return await master.add(
        "peer",
        host="127.0.0.1",
        port=peer.port,
        manual=True,
        confirm=True,
        response_timeout=5.0,
        **options,
    )


@pytest.fixture
async def master() -> AsyncIterator[Master]:
    async with Master() as m:
        yield m


async def test_an_integrity_poll_reads_the_values_and_flags_set(master: Master) -> None:
    async with dnp3_outstation(points=5, types=DECODED_TYPES) as peer:
        await peer.update(
            [
                {"type": "binary-input", "index": 1, "value": True},
                {"type": "binary-input", "index": 2, "value": False, "flags": ONLINE | 0x04},
                {"type": "counter", "index": 3, "value": 77, "flags": ONLINE | OVER_RANGE},
                {"type": "frozen-counter", "index": 0, "value": 12},
                {"type": "analog-input", "index": 0, "value": 100.5},
                {"type": "analog-input", "index": 4, "value": -3.25, "flags": LOCAL_FORCED},
                {"type": "binary-output", "index": 2, "value": True},
                {"type": "analog-output", "index": 1, "value": 42},
            ],
            mode="suppress",
        )
        dnp3 = await master_of(master, peer)
        poll = await dnp3.integrity_poll()
        assert poll.outcome.value == "complete" and poll.undecoded == ()
        store = dnp3.store

        def point(kind: PointType, index: int) -> tuple[object, int | None]:
            reported = store.get(kind, index)
            assert reported is not None, (kind, index)
            return reported.value, reported.flags

        assert point(PointType.BINARY_INPUT, 1) == (True, ONLINE)
        assert point(PointType.BINARY_INPUT, 2) == (False, ONLINE | 0x04)
        assert point(PointType.BINARY_INPUT, 0) == (False, RESTART)  # never set
        assert point(PointType.COUNTER, 3) == (77, ONLINE | OVER_RANGE)
        assert point(PointType.FROZEN_COUNTER, 0) == (12, ONLINE)
        assert point(PointType.BINARY_OUTPUT, 2) == (True, ONLINE)
        assert point(PointType.ANALOG_OUTPUT, 1) == (42, ONLINE)
        # opendnp3's default static analog variation is g30v1: a 32-bit integer.
        assert point(PointType.ANALOG_INPUT, 0) == (100, ONLINE)
        analog = store.analog_input(0)
        assert analog is not None and (analog.group, analog.variation) == (30, 1)
        floats = await dnp3.request(FunctionCode.READ, all_objects_header(30, 5))
        by_index = {o.index: o for o in floats.objects}
        assert (by_index[0].variation, by_index[0].value, by_index[0].flags) == (5, 100.5, ONLINE)
        assert (by_index[4].value, by_index[4].flags) == (-3.25, LOCAL_FORCED)


async def test_double_bit_inputs_are_served_as_group_3(master: Master) -> None:
    # py1815 does not decode group 3, so the octets it could not read are checked here.
    async with dnp3_outstation(points=4, types=["double-bit"]) as peer:
        await peer.update(
            [
                {"type": "double-bit", "index": 1, "value": 2},  # determined on
                {"type": "double-bit", "index": 2, "value": 1, "flags": ONLINE | LOCAL_FORCED},
            ],
            mode="suppress",
        )
        dnp3 = await master_of(master, peer)
        poll = await dnp3.scan("class0")
        (unread,) = poll.undecoded
        header, octets = unread.unread[:5], unread.unread[5:9]
        assert header == bytes([3, 2, 0x00, 0, 3])  # g3v2, start-stop 0..3
        assert octets[1] == (2 << 6) | ONLINE
        assert octets[2] == (1 << 6) | ONLINE | LOCAL_FORCED


async def test_events_come_in_a_class_poll_and_with_their_time_when_asked(
    master: Master,
) -> None:
    async with dnp3_outstation(points=5) as peer:
        dnp3 = await master_of(master, peer)
        await dnp3.integrity_poll()
        stamp = int(time.time() * 1000) - 60_000
        await peer.update(
            [
                {"type": "analog-input", "index": 2, "value": 7.25, "time": stamp},
                {"type": "binary-input", "index": 3, "value": True, "time": stamp + 5},
            ]
        )
        events = await dnp3.scan("class1")
        seen = {(o.group, o.variation, o.index): o for o in events.objects}
        # The default event variations carry no time.
        assert seen[(32, 1, 2)].value == 7 and seen[(32, 1, 2)].time_ms is None
        assert seen[(2, 1, 3)].value is True
        assert (await dnp3.scan("events")).objects == ()  # confirmed, so gone
        await peer.update(
            [
                {"type": "analog-input", "index": 2, "value": 8.5, "time": stamp + 10},
                {"type": "binary-input", "index": 3, "value": False, "time": stamp + 15},
            ]
        )
        timed = await dnp3.request(
            FunctionCode.READ, all_objects_header(32, 7) + all_objects_header(2, 2)
        )
        seen = {(o.group, o.variation, o.index): o for o in timed.objects}
        assert (seen[(32, 7, 2)].value, seen[(32, 7, 2)].time_ms) == (8.5, stamp + 10)
        assert (seen[(2, 2, 3)].value, seen[(2, 2, 3)].time_ms) == (False, stamp + 15)


async def test_a_static_change_makes_no_event_and_force_makes_one(master: Master) -> None:
    async with dnp3_outstation(points=3) as peer:
        dnp3 = await master_of(master, peer)
        await dnp3.integrity_poll()
        await peer.set("counter", 1, 5, mode="suppress")
        assert (await dnp3.scan("events")).objects == ()
        await peer.set("counter", 1, 5, mode="detect")  # unchanged: no event
        assert (await dnp3.scan("events")).objects == ()
        await peer.set("counter", 1, 5, mode="force")
        (event,) = (await dnp3.scan("events")).objects
        assert (event.group, event.index, event.value) == (22, 1, 5)


async def test_assign_class_moves_events_to_class_2(master: Master) -> None:
    async with dnp3_outstation(points=4) as peer:
        dnp3 = await master_of(master, peer)
        assigned = await dnp3.request(
            FunctionCode.ASSIGN_CLASS, class_header(2) + all_objects_header(30, 0)
        )
        assert assigned.outcome.value == "complete"
        await peer.wait_for(lambda e: e["event"] == "assign-class")
        assert peer.events[-1] == {
            "event": "assign-class",
            "type": "AnalogInput",
            "class": "Class2",
            "start": 0,
            "stop": 3,
        }
        await peer.set("analog-input", 1, 5.0)
        assert (await dnp3.scan("class1")).objects == ()
        (event,) = (await dnp3.scan("class2")).objects
        assert (event.group, event.index, event.value) == (32, 1, 5)


async def test_a_thousand_analogs_in_one_command(master: Master) -> None:
    async with dnp3_outstation(points=1000, types=["analog-input", "binary-input"]) as peer:
        await peer.update(
            [{"type": "analog-input", "index": i, "value": i + 0.5} for i in range(1000)],
            mode="suppress",
        )
        dnp3 = await master_of(master, peer)
        read = await dnp3.request(
            FunctionCode.READ, all_objects_header(30, 5) + object_header(1, 0, start=0, stop=99)
        )
        analogs = {o.index: o.value for o in read.objects if o.group == 30}
        assert analogs == {i: i + 0.5 for i in range(1000)}
        assert sum(o.group == 1 for o in read.objects) == 100
        assert len(read.fragments) > 1  # 2,048-octet fragments by default


async def test_a_larger_transmit_fragment_is_used(master: Master) -> None:
    async with dnp3_outstation(points=100, types=["analog-input"], max_tx_fragment=256) as peer:
        dnp3 = await master_of(master, peer)
        read = await dnp3.request(FunctionCode.READ, all_objects_header(30, 5))
        assert len(read.objects) == 100
        assert len(read.fragments) >= 2  # 500 octets of objects in 256-octet fragments


async def test_a_crob_direct_operate_arrives_and_is_printed(master: Master) -> None:
    async with dnp3_outstation(points=4) as peer:
        dnp3 = await master_of(master, peer)
        pulse = {"operation": "pulse_on", "count": 3, "on_time_ms": 250, "off_time_ms": 750}
        done = await dnp3.operate(binary_outputs={1: pulse, 2: True})
        assert done.accepted
        await eventually(lambda: len(peer.controls()) == 2, what="two controls")
        first, second = peer.controls()
        assert first == {
            "event": "control",
            "function": "direct-operate",
            "type": "binary-output",
            "index": 1,
            "status": "SUCCESS",
            "op_type": "PULSE_ON",
            "tcc": "NUL",
            "clear": False,
            "count": 3,
            "on_ms": 250,
            "off_ms": 750,
        }
        assert (second["index"], second["op_type"]) == (2, "LATCH_ON")
        outputs = await dnp3.scan("outputs")
        status = {o.index: o.value for o in outputs.objects if o.group == 10}
        assert status[2] is True and status[1] is False  # a latch moves the status, a pulse not


async def test_select_before_operate_prints_both_steps(master: Master) -> None:
    async with dnp3_outstation(points=4) as peer:
        dnp3 = await master_of(master, peer)
        done = await dnp3.operate(binary_outputs={0: "trip"}, mode="select")
        assert done.accepted and done.operated
        await eventually(lambda: len(peer.controls()) == 2, what="select and operate")
        assert [(c["function"], c["tcc"]) for c in peer.controls()] == [
            ("select", "TRIP"),
            ("operate", "TRIP"),
        ]


async def test_an_analog_output_arrives_with_its_variation(master: Master) -> None:
    async with dnp3_outstation(points=4) as peer:
        dnp3 = await master_of(master, peer)
        assert (await dnp3.operate(analog_outputs={2: 12.5})).accepted
        assert (await dnp3.operate(analog_outputs={3: 7}, variation=2, mode="select")).accepted
        await eventually(lambda: len(peer.controls()) == 3, what="three controls")
        direct, select, operate = peer.controls()
        assert (direct["function"], direct["index"], direct["variation"]) == (
            "direct-operate",
            2,
            3,
        )
        assert direct["value"] == 12.5
        assert (select["function"], operate["function"], operate["variation"]) == (
            "select",
            "operate",
            2,
        )
        assert operate["value"] == 7
        outputs = await dnp3.scan("outputs")
        assert {o.index: o.value for o in outputs.objects if o.group == 40}[2] == 12


async def test_a_refused_control_comes_back_with_the_status_set(master: Master) -> None:
    async with dnp3_outstation(points=4) as peer:
        await peer.control_status("binary-output", 1, "LOCAL")
        await peer.control_status("analog-output", 0, "HARDWARE_ERROR")
        dnp3 = await master_of(master, peer)
        refused = await dnp3.operate(binary_outputs={1: True})
        assert not refused.accepted
        assert [s.status for s in refused.statuses] == [CommandStatus.LOCAL]
        refused = await dnp3.operate(analog_outputs={0: 1.5}, mode="select")
        assert not refused.accepted and not refused.operated  # no operate after a failed select
        assert [s.status for s in refused.statuses] == [CommandStatus.HARDWARE_ERROR]
        beyond = await dnp3.operate(binary_outputs={9: True})  # no such point
        assert [s.status for s in beyond.statuses] == [CommandStatus.NOT_SUPPORTED]
        await peer.control_status("binary-output", 1, "SUCCESS")
        assert (await dnp3.operate(binary_outputs={1: True})).accepted
        await eventually(lambda: len(peer.controls()) == 4, what="four controls")
        assert [c["status"] for c in peer.controls()] == [
            "LOCAL",
            "HARDWARE_ERROR",
            "NOT_SUPPORTED",
            "SUCCESS",
        ]
        outputs = await dnp3.scan("outputs")
        assert {o.index: o.value for o in outputs.objects if o.group == 40}[0] == 0


async def test_need_time_until_the_master_writes_the_time(master: Master) -> None:
    async with dnp3_outstation(points=2, need_time=True) as peer:
        dnp3 = await master_of(master, peer)
        first = await dnp3.scan("class1")
        assert first.fragments[0].iin.first & (IIN1_NEED_TIME | IIN1_RESTART) == (
            IIN1_NEED_TIME | IIN1_RESTART
        )
        await dnp3.clear_restart()
        assert not (await dnp3.scan("class1")).fragments[0].iin.first & IIN1_RESTART
        synced = await dnp3.synchronize_time()  # LAN: record current time, then g50v3
        assert all(e.outcome.value == "complete" for e in synced.exchanges)
        event = await peer.wait_for(lambda e: e["event"] == "time")
        assert abs(event["ms"] - time.time() * 1000) < 60_000
        assert not (await dnp3.scan("class1")).fragments[0].iin.first & IIN1_NEED_TIME
        await peer.set_need_time()
        assert (await dnp3.scan("class1")).fragments[0].iin.first & IIN1_NEED_TIME
        await dnp3.write_time(1_700_000_000_000)
        event = await peer.wait_for(lambda e: e["event"] == "time" and e is not event)
        assert event["ms"] == 1_700_000_000_000
        assert not (await dnp3.scan("class1")).fragments[0].iin.first & IIN1_NEED_TIME


async def test_unsolicited_responses_when_allowed(master: Master) -> None:
    received: list[Unsolicited] = []
    async with dnp3_outstation(points=3, unsolicited=True) as peer:
        dnp3 = await master_of(master, peer, on_unsolicited=received.append)
        await dnp3.integrity_poll()
        await dnp3.enable_unsolicited()
        await peer.set("binary-input", 2, True)

        def reported() -> bool:
            return any(o.group == 2 and o.index == 2 for u in received for o in u.objects)

        await eventually(reported, timeout=10, what="the event in an unsolicited response")


async def test_restart_drops_the_link_and_comes_back_fresh(master: Master) -> None:
    async with dnp3_outstation(points=3, types=DECODED_TYPES) as peer:
        dnp3 = await master_of(master, peer, reconnect=0.2)
        await dnp3.clear_restart()
        await peer.set("analog-input", 0, 5.0)
        assert not (await dnp3.scan("class0")).fragments[0].iin.first & IIN1_RESTART
        port = peer.port
        await peer.restart(down=0.3)
        assert peer.port == port and peer.running
        await eventually(lambda: dnp3.connected, timeout=10, what="the master reconnected")
        poll = await dnp3.scan("class0")
        assert poll.fragments[0].iin.first & IIN1_RESTART  # a new device: IIN1.7 again
        analog = dnp3.store.analog_input(0)
        assert analog is not None and analog.value == 0  # a fresh database
        await peer.set_restart_iin()
        assert [e["event"] for e in peer.events].count("ready") == 2


async def test_a_bad_command_is_answered_with_an_error_and_the_peer_goes_on() -> None:
    async with dnp3_outstation(points=2, types=["counter", "binary-output"]) as peer:
        with pytest.raises(PeerCommandError, match="type 'nope'"):
            await peer.set("nope", 0, 1)
        with pytest.raises(PeerCommandError, match="no analog-input points"):
            await peer.set("analog-input", 0, 1)
        with pytest.raises(PeerCommandError, match="index 2 is not 0 to 1"):
            await peer.set("counter", 2, 1)
        with pytest.raises(PeerCommandError, match="mode 'sometimes'"):
            await peer.set("counter", 0, 1, mode="sometimes")
        with pytest.raises(PeerCommandError, match="status 'MAYBE'"):
            await peer.control_status("binary-output", 0, "MAYBE")
        with pytest.raises(PeerCommandError, match="unknown op"):
            await peer.command("dance")
        await peer.set("counter", 1, 3)
        assert peer.errors() == [] and all(e["event"] != "garbage" for e in peer.events)


async def test_stop_asks_the_peer_to_exit_and_a_second_stop_does_nothing() -> None:
    peer = await Dnp3Outstation(points=1).start()
    await peer.stop()
    assert not peer.running
    assert [e["event"] for e in peer.events][-2:] == ["stopped", "exited"]
    await peer.stop()
    assert b"Traceback" not in peer.stderr


@pytest.mark.parametrize("required", [False, True])
def test_without_yadnp3_the_tests_skip_or_fail_when_peers_are_required(
    monkeypatch: pytest.MonkeyPatch, required: bool
) -> None:
    monkeypatch.setattr(dnp3_outstation_module, "yadnp3_available", lambda: False)
    monkeypatch.setattr(dnp3_outstation_module, "peers_required", lambda: required)
    outcome = pytest.fail.Exception if required else pytest.skip.Exception
    with pytest.raises(outcome, match="yadnp3"):
        dnp3_outstation_module.require_yadnp3()
