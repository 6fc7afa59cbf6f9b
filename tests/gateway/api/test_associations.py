"""ICCP association and link detail over the API: a gateway whose tase2-client is associated
with its own tase2-server over loopback (our client as the real peer)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.gateway.api.conftest import api_gateway, client
from tests.support import free_port

pytestmark = pytest.mark.timeout(60)

SERVER_AP, CLIENT_AP = "1.1.1.999.1", "1.1.1.998"


def iccp_config(port: int) -> dict[str, Any]:
    """Sim points served by a tase2-server; a tase2-client of the same gateway reads two of
    them by transfer sets (interval; RBE with integrity) and one by polling."""
    served = ["GEN1_MW", "GEN2_MW", "GEN3_MW"]
    return {
        "gateway": {"name": "iccp-gw", "api": {"listen": f"127.0.0.1:{free_port()}"}},
        "points": [{"id": p} for p in served] + [{"id": f"C_{p}"} for p in served],
        "adapters": [
            {
                "name": "plant",
                "type": "sim",
                "interval": 0.1,
                "points": [{"point": p, "min": 0, "max": 100} for p in served],
            },
            {
                "name": "iccp",
                "type": "tase2-server",
                "host": "127.0.0.1",
                "port": port,
                "ap_title": SERVER_AP,
                "ae_qualifier": 12,
                "tables": [
                    {
                        "id": "BLT_TEST",
                        "domain": "ICC1",
                        "peer": {"ap_title": CLIENT_AP, "ae_qualifier": 12},
                        "points": [{"match": "GEN*"}],
                    }
                ],
            },
            {
                "name": "link",
                "type": "tase2-client",
                "addresses": [f"127.0.0.1:{port}"],
                "local_ap_title": CLIENT_AP,
                "local_ae_qualifier": 12,
                "remote_ap_title": SERVER_AP,
                "remote_ae_qualifier": 12,
                "bilateral_table_id": "BLT_TEST",
                "domain": "ICC1",
                "data_sets": [
                    {"name": "SLOW", "interval": 1},
                    {"name": "FAST", "integrity": 30, "rbe": True},
                    {"name": "POLL", "poll_interval": 0.3},
                ],
                "points": [
                    {"remote": "GEN1_MW", "point": "C_GEN1_MW", "data_set": "SLOW"},
                    {"remote": "GEN2_MW", "point": "C_GEN2_MW", "data_set": "FAST"},
                    {"remote": "GEN3_MW", "point": "C_GEN3_MW", "data_set": "POLL"},
                ],
            },
        ],
    }


async def test_associations_show_peers_tables_transfer_sets_and_links():
    port = free_port()
    async with api_gateway(iccp_config(port)) as (runtime, server), client(server) as http:

        async def view() -> dict[str, Any]:
            return (await http.get("/api/v1/associations")).json()

        def reported(got: dict[str, Any]) -> bool:
            [iccp] = got["servers"]
            sets = [ts for peer in iccp.get("peers", []) for ts in peer["transfer_sets"]]
            return len(sets) == 2 and all(ts["reports"] >= 2 for ts in sets)

        got = await view()
        for _ in range(100):  # bounded: reports flow within a few seconds
            if reported(got):
                break
            await asyncio.sleep(0.1)
            got = await view()
        assert reported(got), got
        [iccp] = got["servers"]
        assert iccp["adapter"] == "iccp" and iccp["associations"] == 1
        [peer] = iccp["peers"]
        assert peer["ap_title"] == CLIENT_AP and peer["ae_qualifier"] == 12
        assert peer["table"] == "BLT_TEST" and peer["domain"] == "ICC1" and peer["tls"] is False
        assert peer["peer"].startswith("127.0.0.1:")
        since = datetime.fromisoformat(peer["since"])
        assert datetime.now(UTC) - timedelta(minutes=1) < since <= datetime.now(UTC)
        sets = peer["transfer_sets"]
        by_data_set = {ts["data_set"].rsplit("/", 1)[-1].split("_")[0]: ts for ts in sets}
        slow, fast = by_data_set["SLOW"], by_data_set["FAST"]
        assert slow["running"] and slow["conditions"] == ["interval"] and slow["interval"] == 1
        assert fast["running"] and fast["rbe"] and fast["integrity_check"] == 30
        assert "integrity" in fast["conditions"] and "object_change" in fast["conditions"]
        last = datetime.fromisoformat(slow["last_report"])
        assert since <= last <= datetime.now(UTC)

        [link] = got["clients"]
        assert link["adapter"] == "link" and link["state"] == "running"
        assert link["address"] == f"127.0.0.1:{port}"
        assert link["groups"] == {"SLOW": "reporting", "FAST": "reporting", "POLL": "polled"}
        assert link["since"] is not None and link["last_report"] is not None

        # the overview's links are the same view
        status = (await http.get("/api/v1/status")).json()
        assert status["links"]["servers"][0]["peers"][0]["table"] == "BLT_TEST"
        assert runtime.bus.get("C_GEN2_MW").quality.is_good
