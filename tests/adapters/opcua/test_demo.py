"""The demo's Unit 4 DCS: simulated field values served by the gateway's opcua-server and
subscribed back by its opcua-client, with a set-point written all the way down to the simulator."""

import pytest

from gateway.points import Validity
from tests.support import eventually, free_ports
from tests.support.tase2.demo import demo_config, running_demo

pytestmark = pytest.mark.timeout(60)


async def test_the_demo_reads_unit_4_over_opcua_and_writes_its_set_point(tmp_path):
    iccp, modbus = free_ports(2)
    async with running_demo(demo_config(tmp_path, iccp_port=iccp, plant_port=modbus)) as rt:
        bus = rt.bus

        def read_back() -> bool:
            return all(
                bus.get(point).quality.validity is Validity.VALID
                and bus.get(point).value == pytest.approx(bus.get(field).value, abs=0.11)
                and bus.get(point).ts == pytest.approx(bus.get(field).ts, abs=1e-3)  # source time
                for point, field in (("GEN4_MW", "DCS4_MW"), ("GEN4_MVAR", "DCS4_MVAR"))
            )

        await eventually(read_back, 20, "Unit 4 subscribed over OPC UA")
        assert bus.owner_of("GEN4_MW") == "dcs4"

        # A set-point: opcua-client Write -> opcua-server -> bus command -> the simulator.
        assert (await bus.command("GEN4_SETPOINT", 123.5)).ok
        assert bus.get("DCS4_SP").value == 123.5
        await eventually(lambda: bus.get("GEN4_SETPOINT").value == 123.5, 10, "read back")

        # Beyond the simulator's range: the owner's refusal comes back through OPC UA.
        refused = await bus.command("GEN4_SETPOINT", 999.0)
        assert not refused.ok and bus.get("DCS4_SP").value == 123.5
