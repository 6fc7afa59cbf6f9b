"""The `dnp3-master` adapter against py1815's own outstation, an independent implementation.

The outstation (``py1815.Session`` + ``py1815.OutstationServer``) runs in a subprocess
(tests/support/peers/py1815_outstation_peer.py): analogs served as g30v5 and binaries as
g1v2, class 1 events with time (g32v3, g2v2), unsolicited responses allowed, and a
ControlProvider that answers every control with one status.
"""

import logging

import pytest

from gateway.bus import CommandFailure
from gateway.points import State, Validity
from tests.support import eventually, running
from tests.support.dnp3 import master_on_bus
from tests.support.peers.py1815_outstation import py1815_outstation

pytestmark = [pytest.mark.timeout(90), pytest.mark.both_loops]

T_EVENT = 1_760_000_000_123  # ms since the epoch
POINTS = [
    {"point": "AI0", "type": "analog-input", "index": 0},
    {"point": "AI1", "type": "analog-input", "index": 1},
    {"point": "BI0", "type": "binary-input", "index": 0, "kind": "state"},
    {"point": "BI1", "type": "binary-input", "index": 1, "kind": "state"},
    {
        "point": "BO0",
        "type": "binary-output",
        "index": 0,
        "writable": True,
        "kind": "state",
    },
    {
        "point": "AO0",
        "type": "analog-output",
        "index": 0,
        "writable": True,
        "control": "direct",
    },
]


@pytest.fixture(autouse=True)
def _master_log(caplog):
    caplog.set_level(logging.INFO, "adapters.dnp3")


def master(peer, **extra):
    outstation = {
        "name": "rtu",
        "host": "127.0.0.1",
        "port": peer.port,
        "response_timeout": 2.0,
        "link_timeout": 2.0,
        "backoff_initial": 0.2,
        "backoff_max": 0.5,
        "unsolicited": False,
        "event_interval": 0.2,
        "static_variations": {"analog-input": 5},
        **extra,
    }
    return master_on_bus([outstation], POINTS)


def valid(bus, point, value):
    return lambda: (
        bus.get(point).value == value and bus.get(point).quality.validity is (Validity.VALID)
    )


async def test_an_integrity_poll_reads_float_analogs_and_binaries():
    async with py1815_outstation() as peer:
        bus, adapter = master(peer, event_interval=None)
        async with running(adapter):
            await eventually(valid(bus, "BI1", State.OFF), 20, "the integrity poll")
        assert [bus.get(p).value for p in ("AI0", "AI1", "BI0")] == [0.0, 0.0, State.OFF]
        assert all(bus.get(p).quality.validity is Validity.VALID for p in ("AI0", "AI1", "BI0"))


async def test_events_keep_their_own_time_stamps():
    async with py1815_outstation() as peer:
        bus, adapter = master(peer)
        changes = bus.subscribe(["AI1", "BI0"], every=True)
        async with running(adapter):
            await eventually(valid(bus, "BI0", State.OFF), 20, "the integrity poll")
            changes.drain()
            await peer.send(op="analog", index=1, value=17.0, time=T_EVENT)
            await peer.send(op="binary", index=0, value=True, time=T_EVENT + 5)
            await eventually(valid(bus, "BI0", State.ON), 10, "the event poll")
        seen = [(pv.point, pv.value, pv.ts) for pv in changes.drain()]
        assert ("AI1", 17.0, T_EVENT / 1000) in seen
        assert ("BI0", State.ON, (T_EVENT + 5) / 1000) in seen
        assert not bus.get("BI0").quality.timestamp_invalid


@pytest.mark.parametrize(
    ("status", "failure"),
    [("SUCCESS", None), ("LOCAL", CommandFailure.NOT_PERMITTED)],
)
async def test_a_crob_and_an_analog_output_get_the_providers_status(status, failure):
    async with py1815_outstation(status=status) as peer:
        bus, adapter = master(peer)
        async with running(adapter):
            await eventually(valid(bus, "BI0", State.OFF), 20, "the integrity poll")
            crob = await bus.command("BO0", 1)
            ao = await bus.command("AO0", 12.5)
            await peer.poll_controls()
        assert (crob.failure, ao.failure) == (failure, failure)
        operated = [(c["function"], c["group"], c["index"]) for c in peer.controls]
        if failure is None:  # select-before-operate for the CROB, direct for the AO
            assert operated == [("OPERATE", 12, 0), ("DIRECT_OPERATE", 41, 0)]
        else:  # a refused select operates nothing
            assert operated == [("DIRECT_OPERATE", 41, 0)]


async def test_unsolicited_responses_bring_events_without_polls():
    async with py1815_outstation() as peer:
        bus, adapter = master(peer, unsolicited=True, event_interval=None)
        async with running(adapter):
            await eventually(valid(bus, "BI0", State.OFF), 20, "the integrity poll")
            await peer.send(op="analog", index=0, value=42.0, time=T_EVENT)
            await eventually(valid(bus, "AI0", 42.0), 10, "an unsolicited response")
            status = adapter.status()["outstations"]["rtu"]
        assert status["unsolicited"] >= 1
        assert status["state"] == "up"
