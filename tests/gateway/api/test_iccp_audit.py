"""ICCP controls in the gateway's audit log (GET /api/v1/audit): a real TASE.2 client (our
MmsClient) selects and tags a device, writes a point its table does not let it write, and,
associated with a read-only table, tries to operate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters.tase2.mms.aio.client import MmsClient
from adapters.tase2.mms.association import AssociationConfig
from adapters.tase2.mms.data import DataAccessError, Float32, Integer
from adapters.tase2.mms.names import ObjectName
from adapters.tase2.model.devices import TagState, TagValue, encode_tag
from tests.gateway.api.conftest import api_gateway, client
from tests.support import eventually, free_port

pytestmark = pytest.mark.timeout(60)

SERVER_AP, OPS_AP, VIEW_AP = "1.1.1.999.1", "1.1.1.998", "1.1.1.997"
BREAKER = {
    "name": "BRK",
    "point": "BRK_CMD",
    "status_point": "BRK_STATE",
    "kind": "command",
    "sbo": True,
    "check_back_id": 2,
    "taggable": True,
    "operate": True,
    "get_tag": True,
    "set_tag": True,
}


def controls_config(port: int, state: Path) -> dict[str, Any]:
    """A breaker device offered to an operating peer (ICC1) and, read only, to a viewer."""
    return {
        "gateway": {"name": "ctl-gw", "api": {"listen": f"127.0.0.1:{free_port()}"}},
        "points": [
            {"id": "BRK_CMD", "kind": "state"},
            {"id": "BRK_STATE", "kind": "state"},
            {"id": "SP1"},
        ],
        "adapters": [
            {
                "name": "plant",
                "type": "sim",
                "interval": 3600,
                "points": [{"point": "BRK_STATE", "signal": "constant", "min": 1}],
            },
            {
                "name": "iccp",
                "type": "tase2-server",
                "host": "127.0.0.1",
                "port": port,
                "ap_title": SERVER_AP,
                "ae_qualifier": 12,
                "state_dir": str(state),
                "tables": [
                    {
                        "id": "BLT_OPS",
                        "domain": "ICC1",
                        "peer": {"ap_title": OPS_AP, "ae_qualifier": 12},
                        "points": [{"match": "SP1"}],  # readable, not writable
                        "devices": [BREAKER],
                    },
                    {
                        "id": "BLT_VIEW",
                        "domain": "ICC2",
                        "peer": {"ap_title": VIEW_AP, "ae_qualifier": 12},
                        "points": [{"match": "BRK_STATE"}],
                        "devices": [{**BREAKER, "operate": False, "set_tag": False}],
                    },
                ],
            },
        ],
    }


def table(origin: str) -> str:
    """``tase2:TABLE`` of an ICCP origin (``tase2:TABLE:ADDRESS[:DEVICE]``)."""
    return ":".join(origin.split(":")[:2])


async def peer(port: int, ap: str) -> MmsClient:
    config = AssociationConfig(
        local_ap_title=ap,
        local_ae_qualifier=12,
        remote_ap_title=SERVER_AP,
        remote_ae_qualifier=12,
    )
    return await MmsClient.connect(
        "127.0.0.1", port, config=config, connect_timeout=5.0, request_timeout=5.0
    )


async def test_selects_tags_and_refusals_of_a_tase2_peer_are_audited(tmp_path):
    port = free_port()
    data = controls_config(port, tmp_path / "state")
    async with api_gateway(data) as (runtime, server), client(server) as http:
        await eventually(lambda: runtime.adapters["iccp"].ready.is_set(), 10, "the server")
        ops = await peer(port, OPS_AP)
        try:
            tag = encode_tag(TagValue(TagState.CLOSE_ONLY_INHIBIT, "crew on line"))
            assert await ops.write(ObjectName.dom("ICC1", "BRK_TAG"), tag) is None
            (check_back,) = await ops.read(ObjectName.dom("ICC1", "BRK_SBO"))
            assert check_back == Integer(2)
            # tagging an armed device is refused (and audited as such)
            again = await ops.write(ObjectName.dom("ICC1", "BRK_TAG"), tag)
            assert again is DataAccessError.TEMPORARILY_UNAVAILABLE
            # an operate that reaches the bus is audited there, once, as a command (the
            # point has no owner to carry it out: it fails)
            failed = await ops.write(ObjectName.dom("ICC1", "BRK"), Integer(0))
            assert failed is not None
            refused = await ops.write(ObjectName.dom("ICC1", "SP1"), Float32(5.0))
            assert refused is DataAccessError.OBJECT_ACCESS_DENIED
        finally:
            await ops.conclude()
        viewer = await peer(port, VIEW_AP)
        try:
            operate = await viewer.write(ObjectName.dom("ICC2", "BRK"), Integer(0))
            assert operate is DataAccessError.OBJECT_ACCESS_DENIED
        finally:
            await viewer.conclude()

        events = (await http.get("/api/v1/audit")).json()["events"]
        got = [(e["kind"], table(e["origin"]), e["target"], e["outcome"]) for e in events]
        assert got == [
            ("tag", "tase2:BLT_OPS", "BRK_CMD", "ok"),
            ("select", "tase2:BLT_OPS", "BRK_CMD", "ok"),
            ("tag refused", "tase2:BLT_OPS", "BRK_CMD", "temporarily-unavailable"),
            ("command", "tase2:BLT_OPS", "BRK_CMD", "not permitted"),
            ("write refused", "tase2:BLT_OPS", "SP1", "object-access-denied"),
            ("operate refused", "tase2:BLT_VIEW", "BRK_CMD", "object-access-denied"),
        ], events
        tag, select, tag_refused, command, write, operate = events
        assert command["origin"] == "tase2:BLT_OPS:127.0.0.1:BRK"
        assert select["origin"] == "tase2:BLT_OPS:127.0.0.1:BRK"
        assert "check-back 2" in select["detail"] and "device BRK" in select["detail"]
        assert tag["value"] == ["80", "crew on line"]  # the flags octet in hex, the reason
        assert "device is armed or operating" in tag_refused["detail"]
        assert write["origin"] == "tase2:BLT_OPS:127.0.0.1"
        assert write["value"] == 5.0 and "refused by bilateral table BLT_OPS" in write["detail"]
        assert operate["value"] == 0 and "device BRK" in operate["detail"]
        assert runtime.bus.stats.commands == 1  # the refused ones never reached the bus
