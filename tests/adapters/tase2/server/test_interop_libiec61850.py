"""The TASE.2 server against libiec61850's MMS client (pyiec61850-ng raw API, a subprocess).

The whole Block 1/2 procedure of tase2-reference.md section 6.8, as a real peer does it,
plus the refusals; and transfer sets on a server-configured VCC data set, whose full
interval and integrity reports (VMD-specific variableListName) libiec61850 delivers.
:func:`run_flow` is shared with the tshark test.
"""

from __future__ import annotations

import pytest

from gateway.points import Quality, Source, Validity
from tests.support.peers.libiec61850 import PeerProcess, require_pyiec61850
from tests.support.tase2.flow import (
    VCC_DATA_SETS,
    VCC_POINTS,
    check_flow,
    check_vcc_flow,
    expected_point,
    peer_config,
    run_flow,
    run_vcc_flow,
)
from tests.support.tase2.server import make_bus, running_server, settings

pytestmark = [pytest.mark.timeout(60), pytest.mark.both_loops]  # the gateway runs on uvloop


@pytest.fixture(autouse=True)
def _peer_available() -> None:
    require_pyiec61850()


async def test_libiec61850_runs_the_block_1_and_2_procedure() -> None:
    bus, _ = make_bus()
    async with running_server(settings(limits={"critical_timeout": 1.0}), bus) as adapter:
        lines = await run_flow(adapter, bus)
        check_flow(lines, bus, adapter)


async def test_libiec61850_with_an_unknown_ap_title_is_refused() -> None:
    async with running_server() as adapter:
        assert adapter.server is not None
        cfg = peer_config(adapter.server.port, [{"op": "connect"}], ap="1.1.1.555")
        async with PeerProcess(cfg, 20) as peer:
            lines = await peer.finish()
        (connect,) = [line for line in lines if line.get("op") == "connect"]
        assert connect["ok"] is False and "connect failed" in connect["error"]
        assert adapter.server.associations == 0


async def test_libiec61850_receives_full_reports_of_a_vcc_data_set() -> None:
    bus, _ = make_bus()
    bus.update("FREQ", 50.0625, Quality(Validity.SUSPECT, Source.CALCULATED), 1_700_000_050.0)
    async with running_server(settings(vcc_data_sets=VCC_DATA_SETS), bus) as adapter:
        before = {p: expected_point(bus, p) for p in VCC_POINTS}
        lines = await run_vcc_flow(adapter, bus)
        check_vcc_flow(lines, before, bus)
