"""Our TASE.2 client operating the devices of another gateway instance (two Runtimes in one
test, free ports): a bus command on gateway B's point becomes select + operate at gateway
A, whose device's owner is its Modbus adapter; the outcome (success or the owner's typed
failure) comes back through both buses. Gateway A's information messages reach B's bus.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gateway.bus import CommandFailure
from gateway.config import load_config
from gateway.messages import Message
from gateway.points import State
from tests.support import eventually, free_ports
from tests.support.gateway import running_gateway
from tests.support.tase2.demo import GEN2_SETPOINT_SCALE, demo_config, plant, running_demo

pytestmark = pytest.mark.timeout(60)


def gateway_b(directory: Path, iccp_port: int) -> Path:
    """A gateway whose tase2-client takes GEN2_MW and operates A's devices."""
    raw = {
        "gateway": {"name": "b"},
        "points": [
            {"id": "A_GEN2_MW", "kind": "real"},
            {"id": "A_BRK2_CMD", "kind": "state"},
            {"id": "A_GEN2_SP", "kind": "real", "usage_multiplier": 2.0},
            {"id": "A_TAP2_SP", "kind": "discrete"},
        ],
        "adapters": [
            {
                "name": "to-a",
                "type": "tase2-client",
                "addresses": [f"127.0.0.1:{iccp_port}"],
                "local_ap_title": "1.1.1.999",
                "local_ae_qualifier": 12,
                "remote_ap_title": "1.1.1.999.1",
                "remote_ae_qualifier": 12,
                "bilateral_table_id": "BLT_DEMO_001",
                "domain": "ICC1",
                "backoff_initial": 0.2,
                "backoff_max": 1.0,
                "data_sets": [{"name": "B_DS", "interval": 1}],
                "points": [{"remote": "GEN2_MW", "point": "A_GEN2_MW"}],
                "devices": [
                    {"remote": "BRK2", "point": "A_BRK2_CMD", "sbo": True, "check_back_id": 2},
                    {"remote": "GEN2_SP", "point": "A_GEN2_SP", "kind": "setpoint_real"},
                    {"remote": "TAP2_SP", "point": "A_TAP2_SP", "kind": "setpoint_discrete"},
                ],
                "messages": True,
            }
        ],
    }
    path = directory / "b.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


async def test_our_client_operates_a_device_of_another_gateway(tmp_path: Path) -> None:
    iccp, modbus = free_ports(2)
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    a_dir.mkdir()
    b_dir.mkdir()
    path_a = demo_config(a_dir, iccp_port=iccp, plant_port=modbus, viewer_table=False)
    async with running_demo(path_a) as a, running_gateway(load_config(gateway_b(b_dir, iccp))) as b:
        client = b.adapters["to-a"]
        await eventually(
            lambda: client.status()["state"] == "running" and client.status()["messages_enabled"],
            10.0,
            "gateway B's link to A",
        )
        inbox = b.bus.subscribe_messages(name="test")
        a_commands = a.bus.stats.commands

        opened = await b.bus.command("A_BRK2_CMD", State.OFF, origin="test")
        assert opened.ok, opened
        assert (await plant(modbus))["coil"] is False
        closed = await b.bus.command("A_BRK2_CMD", State.ON, origin="test")
        assert closed.ok, closed
        assert (await plant(modbus))["coil"] is True

        # B's point carries usage ax+b (x2): 240 on B's bus is 120 MW at A, and
        # A's Modbus binding (scale 0.1) writes 1200 to the register
        sp = await b.bus.command("A_GEN2_SP", 240.0, origin="test")
        assert sp.ok, sp
        assert (await plant(modbus))["setpoint"] == pytest.approx(120.0 / GEN2_SETPOINT_SCALE)

        # a tap the register cannot hold: A's Modbus owner refuses (invalid value), A's
        # server answers object-value-invalid, B's bus gets the same typed failure
        failures = a.bus.stats.command_failures
        bad = await b.bus.command("A_TAP2_SP", -20, origin="test")
        assert bad.failure is CommandFailure.INVALID_VALUE, bad
        assert a.bus.stats.command_failures == failures + 1
        assert a.bus.stats.commands == a_commands + 4

        # not a state a breaker command can carry: refused at B, nothing sent
        between = await b.bus.command("A_BRK2_CMD", State.BETWEEN, origin="test")
        assert between.failure is CommandFailure.INVALID_VALUE
        assert a.bus.stats.commands == a_commands + 4

        a.bus.publish_message(Message(b"Line C-D back in service", 3, 77, 12, origin="ops"))
        got = await inbox.wait(5.0)
        assert len(got) == 1, got
        message = got[0]
        assert message.text == b"Line C-D back in service"
        assert (message.reference, message.local_reference, message.message_id) == (3, 77, 12)
        assert message.origin == "to-a"
