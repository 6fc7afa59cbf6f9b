"""The demo's Unit 3 RTU: simulated field values served by the gateway's dnp3-outstation and
read back by its dnp3-master, with controls going all the way down to the simulator."""

import pytest

from gateway.points import State, Validity
from tests.support import eventually, free_ports
from tests.support.tase2.demo import demo_config, running_demo

pytestmark = pytest.mark.timeout(60)


async def test_the_demo_reads_unit_3_over_dnp3_and_controls_it(tmp_path):
    iccp, modbus = free_ports(2)
    async with running_demo(demo_config(tmp_path, iccp_port=iccp, plant_port=modbus)) as rt:
        bus = rt.bus

        def read_back() -> bool:
            return all(
                bus.get(point).quality.validity is Validity.VALID
                and bus.get(point).value == pytest.approx(bus.get(field).value, abs=1e-3)
                for point, field in (("GEN3_MW", "RTU3_MW"), ("BUS3_KV", "RTU3_KV"))
            )

        await eventually(read_back, 15, "Unit 3 polled over DNP3")
        assert bus.owner_of("GEN3_MW") == "rtu3"

        # A set-point: dnp3-master -> analog output -> dnp3-outstation -> the simulator.
        assert (await bus.command("GEN3_SETPOINT", 88.5)).ok
        assert bus.get("RTU3_SP").value == 88.5
        await eventually(lambda: bus.get("GEN3_SETPOINT").value == 88.5, 10, "read back")

        # The breaker: a CROB, select then operate, to the simulated contact and back.
        wanted = State.OFF if bus.get("RTU3_CB").value == State.ON else State.ON
        assert (await bus.command("BRK3_CMD", wanted)).ok
        assert bus.get("RTU3_CB").value == wanted
        await eventually(lambda: bus.get("BRK3_STATE").value == wanted, 10, "the status")
