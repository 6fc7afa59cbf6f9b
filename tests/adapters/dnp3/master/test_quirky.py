"""The `dnp3-master` adapter against outstations that are not opendnp3.

Each test scripts a :class:`~tests.support.peers.dnp3_quirky.QuirkyOutstation` (an
asyncio outstation in the test's loop, built from py1815's framing) with one behaviour real
devices show, runs the adapter against it and checks what a utility engineer expects: the
values, the log line, the requests the outstation got.
"""

import asyncio
import logging

import pytest
from py1815 import link
from py1815.application import IIN, FunctionCode
from py1815.control import CommandStatus
from py1815.master.requests import clear_restart

from gateway.bus import CommandFailure
from gateway.points import Validity
from tests.support import eventually, running
from tests.support.dnp3 import master_on_bus
from tests.support.peers.dnp3_quirky import (
    Out,
    QuirkyOutstation,
    analogs,
    bad_crc_frame,
    quirky_outstation,
    unknown_object,
)

pytestmark = [pytest.mark.timeout(60), pytest.mark.both_loops]

AI = [{"point": f"AI{i}", "type": "analog-input", "index": i} for i in range(3)]
STATIC = analogs(0, 1.0, 2.0, 3.0)


@pytest.fixture(autouse=True)
def _master_log(caplog):
    """The master's INFO lines, shown with a failure and read by some tests."""
    caplog.set_level(logging.INFO, "adapters.dnp3")


BO0 = {"point": "BO0", "type": "binary-output", "index": 0, "writable": True, "kind": "state"}


def master(peer: QuirkyOutstation, points=AI, **extra):
    """A bus whose points a dnp3-master adapter owns, polling `peer` (integrity at connect)."""
    outstation = {
        "name": "rtu",
        "host": "127.0.0.1",
        "port": peer.port,
        "response_timeout": 1.0,
        "link_timeout": 1.0,
        "backoff_initial": 0.2,
        "backoff_max": 0.5,
        "unsolicited": False,
        "event_interval": None,
        "static_variations": {"analog-input": 5},
        **extra,
    }
    return master_on_bus([outstation], points)


def counters(adapter):
    return adapter.status()["outstations"].get("rtu", {})


def valid(bus, point, value):
    return lambda: (
        bus.get(point).value == value and bus.get(point).quality.validity is (Validity.VALID)
    )


def never_read(bus, point):
    return bus.get(point).quality.validity is Validity.NOT_VALID


def count(peer, function):
    return peer.functions().count(function)


async def test_link_layer_requests_from_the_outstation_are_answered():
    async with quirky_outstation(static=STATIC) as peer:
        bus, adapter = master(peer)
        async with running(adapter):
            await eventually(valid(bus, "AI2", 3.0), 10, "the integrity poll")
            await peer.send_link_request(link.PrimaryFunction.REQUEST_LINK_STATUS)
            await peer.send_link_request(link.PrimaryFunction.RESET_LINK_STATES)
            await peer.send_link_request(link.PrimaryFunction.TEST_LINK_STATES)
            await eventually(lambda: len(peer.link_frames) >= 3, 5, "three link answers")
        answers = [f.function for f in peer.link_frames if not f.is_primary]
        assert answers == [
            link.SecondaryFunction.LINK_STATUS,
            link.SecondaryFunction.ACK,
            link.SecondaryFunction.ACK,
        ]


async def test_a_link_status_request_answered_keeps_the_link_up():
    async with quirky_outstation(static=STATIC) as peer:
        bus, adapter = master(peer, keep_alive=0.3)
        async with running(adapter):
            await eventually(
                lambda: any(f.is_primary for f in peer.link_frames), 10, "a keep-alive"
            )
            await eventually(
                lambda: sum(f.is_primary for f in peer.link_frames) >= 3, 10, "three keep-alives"
            )
            assert counters(adapter)["state"] == "up"
        assert peer.connections == 1
        assert bus.get("AI0").value == 1.0


async def test_a_link_status_request_unanswered_ends_the_connection(caplog):
    async with quirky_outstation(static=STATIC) as peer:
        peer.answer_link = False
        bus, adapter = master(peer, keep_alive=0.3, link_timeout=0.5)
        async with running(adapter):
            await eventually(valid(bus, "AI0", 1.0), 10, "the integrity poll")
            await eventually(lambda: peer.connections >= 2, 10, "a reconnect")
        assert "down: no answer to a link status request in 0.5 s" in caplog.text


async def test_responses_in_confirmed_user_data_frames_are_acknowledged_and_applied():
    async with quirky_outstation(static=STATIC) as peer:
        peer.confirmed_data = True
        bus, adapter = master(peer)
        async with running(adapter):
            await eventually(valid(bus, "AI2", 3.0), 10, "the integrity poll")
            await eventually(lambda: peer.link_frames, 5, "a link ACK")
        assert {f.function for f in peer.link_frames} == {link.SecondaryFunction.ACK}
        assert not any(f.is_primary for f in peer.link_frames)


async def test_a_response_in_several_fragments_is_confirmed_fragment_by_fragment():
    async with quirky_outstation(static=STATIC) as peer:
        peer.read_answers.append(
            [Out(analogs(0, 10.0)), Out(analogs(1, 20.0)), Out(analogs(2, 30.0))]
        )
        bus, adapter = master(peer)
        async with running(adapter):
            await eventually(valid(bus, "AI2", 30.0), 10, "the last fragment")
            await eventually(lambda: len(peer.confirms()) == 3, 5, "three confirmations")
        (read,) = [r for r in peer.requests if r.function == FunctionCode.READ]
        first = read.control.sequence
        assert [c.control.sequence for c in peer.confirms()] == [
            first,
            (first + 1) % 16,
            (first + 2) % 16,
        ]
        assert (bus.get("AI0").value, bus.get("AI1").value) == (10.0, 20.0)


async def test_a_fragment_out_of_sequence_is_dropped_and_not_confirmed(caplog):
    async with quirky_outstation(static=STATIC) as peer:
        peer.read_answers.append(
            [Out(analogs(0, 10.0)), Out(analogs(1, 20.0), sequence_shift=5), Out(analogs(2, 30.0))]
        )
        bus, adapter = master(peer)
        async with running(adapter):
            await eventually(valid(bus, "AI0", 10.0), 10, "the first fragment")
            await eventually(lambda: counters(adapter)["timeouts"] == 1, 5, "the time-out")
            assert len(peer.confirms()) == 1  # the first fragment only
            assert never_read(bus, "AI1")  # nothing after the gap is applied
            assert never_read(bus, "AI2")
        assert "is not the one awaited" in caplog.text


@pytest.mark.parametrize("confirmed_data", [False, True], ids=["unconfirmed", "link-confirmed"])
async def test_a_repeated_fragment_is_applied_and_confirmed_once(confirmed_data):
    async with quirky_outstation(static=STATIC) as peer:
        peer.confirmed_data = confirmed_data
        peer.read_answers.append([Out(analogs(0, 10.0), repeat=True), Out(analogs(1, 20.0))])
        bus, adapter = master(peer)
        changes = bus.subscribe(["AI0"], every=True)
        async with running(adapter):
            await eventually(valid(bus, "AI1", 20.0), 10, "the second fragment")
            await eventually(lambda: len(peer.confirms()) == 2, 5, "two confirmations")
            assert counters(adapter)["fragments"] == 2
            assert counters(adapter)["timeouts"] == 0
        assert [pv.value for pv in changes.drain()] == [10.0]
        # a link-layer retransmission (the same FCB) is acknowledged again
        assert len(peer.link_frames) == (3 if confirmed_data else 0)


@pytest.mark.parametrize("con", [True, False], ids=["with-con", "without-con"])
async def test_an_unsolicited_response_unasked_is_applied_once_and_confirmed(con):
    async with quirky_outstation(static=STATIC) as peer:
        bus, adapter = master(peer)
        changes = bus.subscribe(["AI1"], every=True)
        async with running(adapter):
            await eventually(valid(bus, "AI1", 2.0), 10, "the integrity poll")
            changes.drain()
            await peer.send_unsolicited(analogs(1, 42.0), con=con)
            await eventually(valid(bus, "AI1", 42.0), 5, "the unsolicited value")
            if con:
                await eventually(lambda: len(peer.confirms(unsolicited=True)) == 1, 5, "confirm")
            await peer.send_unsolicited(analogs(1, 43.0), con=con, times=2)  # a retry
            await eventually(valid(bus, "AI1", 43.0), 5, "the second unsolicited value")
            if con:  # each sending confirmed (the first confirm may have been lost)
                await eventually(lambda: len(peer.confirms(unsolicited=True)) == 3, 5, "confirms")
            assert counters(adapter)["unsolicited"] == 2
        assert [pv.value for pv in changes.drain()] == [42.0, 43.0]
        confirms = peer.confirms(unsolicited=True)
        assert len(confirms) == (3 if con else 0)
        assert not peer.confirms(unsolicited=False)


async def test_an_unknown_object_in_a_response_keeps_the_values_before_it(caplog):
    body = analogs(0, 1.0) + unknown_object() + analogs(1, 2.0, 3.0)
    async with quirky_outstation(static=body) as peer:
        bus, adapter = master(peer)
        async with running(adapter):
            await eventually(valid(bus, "AI0", 1.0), 10, "the integrity poll")
            await eventually(lambda: "objects not read" in caplog.text, 5, "the log line")
        assert never_read(bus, "AI1")
        (line,) = [r.getMessage() for r in caplog.records if "objects not read" in r.getMessage()]
        assert "dnp3/rtu" in line and "g99v99" in line and "body offset" in line


async def test_a_read_refused_with_object_unknown_is_logged(caplog):
    async with quirky_outstation(static=STATIC) as peer:
        peer.iin2 = 0x02
        bus, adapter = master(peer)
        async with running(adapter):
            await eventually(
                lambda: "READ refused: object unknown (IIN2)" in caplog.text, 10, "the log line"
            )
            assert counters(adapter)["state"] == "up"
            assert bus.get("AI0").value == 1.0


async def test_a_control_refused_with_parameter_error_is_not_permitted():
    async with quirky_outstation(static=STATIC) as peer:
        bus, adapter = master(peer, [BO0, *AI])
        async with running(adapter):
            await eventually(valid(bus, "AI0", 1.0), 10, "the integrity poll")
            peer.iin2, peer.echo_controls = 0x04, False
            result = await bus.command("BO0", 1)
        assert result.failure is CommandFailure.NOT_PERMITTED
        assert "parameter error" in result.detail
        assert count(peer, FunctionCode.OPERATE) == 0  # a refused select operates nothing


async def test_a_select_echoed_with_a_different_object_is_not_operated():
    async with quirky_outstation(static=STATIC) as peer:
        bus, adapter = master(peer, [BO0, *AI])
        async with running(adapter):
            await eventually(valid(bus, "AI0", 1.0), 10, "the integrity poll")
            peer.alter_echo = True
            result = await bus.command("BO0", 1)
        assert result.failure is CommandFailure.DEVICE_FAILURE
        assert "echo differs" in result.detail
        assert count(peer, FunctionCode.OPERATE) == 0


async def test_a_select_whose_operate_is_ignored_times_out_and_is_not_retried():
    async with quirky_outstation(static=STATIC) as peer:
        bus, adapter = master(peer, [BO0, *AI])
        async with running(adapter):
            await eventually(valid(bus, "AI0", 1.0), 10, "the integrity poll")
            peer.ignore.add(FunctionCode.OPERATE)
            result = await bus.command("BO0", 1, timeout=5)
            assert result.failure is CommandFailure.TIMEOUT
            await peer.send_unsolicited(analogs(0, 5.0), con=False)  # time for a retry to show
            await eventually(valid(bus, "AI0", 5.0), 5, "a later value")
            assert counters(adapter)["state"] == "up"
        assert count(peer, FunctionCode.SELECT) == 1
        assert count(peer, FunctionCode.OPERATE) == 1


@pytest.mark.parametrize(
    ("status", "failure"),
    [
        (CommandStatus.SUCCESS, None),
        (CommandStatus.LOCAL, CommandFailure.NOT_PERMITTED),
        (CommandStatus.HARDWARE_ERROR, CommandFailure.DEVICE_FAILURE),
        (CommandStatus.NOT_SUPPORTED, CommandFailure.NOT_PERMITTED),
    ],
    ids=lambda v: getattr(v, "name", str(v)),
)
async def test_a_control_status_becomes_the_commands_result(status, failure):
    async with quirky_outstation(static=STATIC) as peer:
        points = [
            {
                "point": "AO0",
                "type": "analog-output",
                "index": 0,
                "writable": True,
                "control": "direct",
            },
            *AI,
        ]
        bus, adapter = master(peer, points)
        async with running(adapter):
            await eventually(valid(bus, "AI0", 1.0), 10, "the integrity poll")
            peer.control_status = status
            result = await bus.command("AO0", 12.5)
        assert result.failure is failure
        (operate,) = [r for r in peer.requests if r.function == FunctionCode.DIRECT_OPERATE]
        assert (operate.headers[0].group, operate.headers[0].variation) == (41, 3)


async def test_a_restart_indication_is_cleared_then_everything_read_again():
    async with quirky_outstation(static=STATIC) as peer:
        peer.iin1 = 0x80
        _bus, adapter = master(peer)
        async with running(adapter):
            await eventually(lambda: count(peer, FunctionCode.READ) >= 2, 10, "a second read")
        functions = peer.functions()
        first_write = functions.index(FunctionCode.WRITE)
        assert FunctionCode.READ in functions[first_write + 1 :]
        write = peer.requests[first_write]
        header = write.headers[0]
        assert (header.group, header.variation, header.start, header.stop) == (80, 1, 7, 7)
        assert write.body == clear_restart()[-1:] == b"\x00"
        reads = [r for r in peer.requests if r.function == FunctionCode.READ]
        assert reads[0].headers == reads[1].headers  # the integrity poll again
        assert peer.iin1 == 0


async def test_a_need_time_indication_leads_to_a_time_sync():
    async with quirky_outstation(static=STATIC) as peer:
        peer.iin1 = 0x10
        _bus, adapter = master(peer)
        async with running(adapter):
            await eventually(lambda: counters(adapter).get("time_syncs") == 1, 10, "a time sync")
        functions = peer.functions()
        record = functions.index(FunctionCode.RECORD_CURRENT_TIME)
        write = peer.requests[record + 1]
        assert write.function == FunctionCode.WRITE
        assert (write.headers[0].group, write.headers[0].variation) == (50, 3)
        assert peer.iin1 == 0


async def test_an_event_buffer_overflow_leads_to_an_integrity_poll():
    async with quirky_outstation(static=STATIC) as peer:
        bus, adapter = master(peer)
        async with running(adapter):
            await eventually(valid(bus, "AI0", 1.0), 10, "the integrity poll")
            await peer.send_unsolicited(analogs(0, 5.0), iin=IIN(0, 0x08))
            await eventually(lambda: count(peer, FunctionCode.READ) == 2, 10, "a second read")
            await eventually(valid(bus, "AI0", 1.0), 10, "the static value read again")
        reads = [r for r in peer.requests if r.function == FunctionCode.READ]
        assert reads[0].headers == reads[1].headers  # the same integrity poll


async def test_garbage_and_bad_crcs_between_frames_do_not_break_the_link():
    async with quirky_outstation(static=STATIC) as peer:
        peer.garbage = b"\x00\xff\x05junk\x05\x64" + bad_crc_frame()
        peer.read_answers.append([Out(analogs(0, 10.0)), Out(analogs(1, 20.0))])
        bus, adapter = master(peer)
        async with running(adapter):
            await eventually(valid(bus, "AI1", 20.0), 10, "both fragments")
            await peer.send_unsolicited(analogs(2, 33.0))
            await eventually(valid(bus, "AI2", 33.0), 5, "an unsolicited value")
            assert counters(adapter)["state"] == "up"
        assert peer.connections == 1
        assert len(peer.confirms()) == 3


async def test_a_connection_closed_mid_response_marks_the_points_not_valid_and_reconnects():
    async with quirky_outstation(static=STATIC) as peer:
        peer.read_answers.append([Out(analogs(0, 10.0), close_after=True), Out(analogs(1, 20.0))])
        bus, adapter = master(peer)
        changes = bus.subscribe(["AI0"], every=True)
        async with running(adapter):
            await eventually(lambda: peer.connections == 2, 10, "a reconnect")
            await eventually(valid(bus, "AI0", 1.0), 10, "the integrity poll after it")
        seen = [(pv.value, pv.quality.validity) for pv in changes.drain()]
        assert seen[0] == (10.0, Validity.VALID)
        assert seen[1][1] is Validity.NOT_VALID  # at once, before the reconnect
        assert seen[-1] == (1.0, Validity.VALID)


async def test_a_slow_outstation_within_the_response_time_out_is_polled():
    async with quirky_outstation(static=STATIC) as peer:
        peer.delay = 0.4
        bus, adapter = master(peer)
        async with running(adapter):
            await eventually(valid(bus, "AI2", 3.0), 10, "the slow answer")
            assert counters(adapter)["timeouts"] == 0


async def test_an_answer_later_than_the_response_time_out_is_dropped(caplog):
    async with quirky_outstation(static=STATIC) as peer:
        peer.delay = 1.5
        bus, adapter = master(peer, response_timeout=0.5)
        async with running(adapter):
            await eventually(lambda: "nothing outstanding" in caplog.text, 10, "the late answer")
            assert counters(adapter)["timeouts"] >= 1
            assert never_read(bus, "AI0")
        assert "no answer to READ within 0.5 s" in caplog.text


async def test_an_unsolicited_greeting_at_connect_is_confirmed_and_the_restart_cleared():
    async with quirky_outstation(static=STATIC) as peer:
        peer.iin1 = 0x80
        peer.greeting = b""
        bus, adapter = master(peer, unsolicited=True)
        async with running(adapter):
            await eventually(valid(bus, "AI0", 1.0), 10, "the integrity poll")
            await eventually(lambda: count(peer, FunctionCode.ENABLE_UNSOLICITED) == 1, 5, "on")
            await eventually(lambda: peer.iin1 == 0, 5, "the restart indication cleared")
            assert counters(adapter)["state"] == "up"
        assert len(peer.confirms(unsolicited=True)) == 1
        assert peer.connections == 1


async def test_a_restart_indication_that_stays_set_does_not_stop_the_polls():
    async with quirky_outstation(static=STATIC) as peer:
        peer.iin1, peer.restart_clears = 0x80, False
        _bus, adapter = master(peer)
        async with running(adapter):
            await eventually(lambda: count(peer, FunctionCode.READ) >= 2, 5, "a second read")
            await asyncio.sleep(0.5)
        assert count(peer, FunctionCode.WRITE) <= 3


async def test_an_overflow_that_stays_set_does_not_poll_integrity_back_to_back():
    async with quirky_outstation(static=STATIC) as peer:
        bus, adapter = master(peer)
        async with running(adapter):
            await eventually(valid(bus, "AI0", 1.0), 10, "the integrity poll")
            peer.iin2 = 0x08
            await peer.send_unsolicited(analogs(0, 5.0), con=False)
            await eventually(lambda: count(peer, FunctionCode.READ) >= 2, 5, "an integrity poll")
            await asyncio.sleep(0.5)
        assert count(peer, FunctionCode.READ) <= 4
