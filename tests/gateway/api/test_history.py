"""A point's history over the API, read from a real sql-historian on SQLite."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta

from tests.gateway.api.conftest import api_gateway, client, sim_config, with_historian
from tests.support import REPO, eventually


async def test_a_points_history_comes_from_the_historians_database(tmp_path):
    async with api_gateway(with_historian(tmp_path)) as (runtime, server), client(server) as http:
        hist = runtime.adapters["hist"]
        await eventually(lambda: hist.status()["rows_written"] >= 30, 10, "rows in the database")
        got = (await http.get("/api/v1/points/GEN1_MW/history")).json()
        assert got["point"] == "GEN1_MW" and got["historian"] == "hist"
        rows = got["rows"]
        assert len(rows) >= 5 and not got["truncated"]
        assert [r["ts_ms"] for r in rows] == sorted(r["ts_ms"] for r in rows)
        assert all(r["validity"] == "valid" and 0 <= r["value"] <= 100 for r in rows)
        covs = [r["cov"] for r in rows]
        assert covs == sorted(covs) and len(set(covs)) == len(covs)
        now = datetime.now(UTC)
        first = datetime.fromisoformat(rows[0]["time"])
        assert now - timedelta(minutes=1) < first <= now
        assert datetime.fromisoformat(got["from"]) < first  # the default window: the last hour

        window = {"limit": 2, "to": rows[-1]["time"]}  # the rows seen so far: the newest two
        two = (await http.get("/api/v1/points/GEN1_MW/history", params=window)).json()
        assert [r["cov"] for r in two["rows"]] == covs[-2:] and two["truncated"]
        since = (datetime.fromisoformat(rows[-1]["time"]) - timedelta(milliseconds=1)).isoformat()
        later = await http.get("/api/v1/points/GEN1_MW/history", params={"from": since})
        assert later.json()["rows"][0]["cov"] == rows[-1]["cov"]
        empty = await http.get(
            "/api/v1/points/GEN1_MW/history", params={"from": "2001-01-01", "to": "2001-01-02"}
        )
        assert empty.status_code == 200 and empty.json()["rows"] == []
        assert (await http.get("/api/v1/points/FIXED/history")).json()["rows"] == []

        # `iccp-gateway history` runs the same query: the same rows.
        cli = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "gateway.cli", "history", "GEN1_MW", "--format", "json"),
            *("--database", f"sqlite:///{tmp_path / 'history.db'}", "--limit", str(len(rows))),
            stdout=asyncio.subprocess.PIPE,
            cwd=REPO,
        )
        out, _ = await asyncio.wait_for(cli.communicate(), 30)
        assert cli.returncode == 0
        assert [r["cov"] for r in json.loads(out)] == covs


async def test_history_errors_are_clear(tmp_path):
    async with api_gateway(with_historian(tmp_path)) as (runtime, server), client(server) as http:
        path = "/api/v1/points/GEN1_MW/history"
        for params, status, words in [
            ({"from": "yesterday"}, 400, "'yesterday' is not a time"),
            ({"from": "-99999999999d"}, 400, "is not a time"),  # beyond year 1
            ({"limit": 10_001}, 422, "invalid request"),
            ({"from": "-1h", "to": "-2h"}, 400, "is before 'from'"),
            ({"limit": 0}, 422, "invalid request"),
            ({"adapter": "plant"}, 404, "adapter 'plant' keeps no history"),
            ({"adapter": "nope"}, 404, "no running adapter 'nope'"),
        ]:
            response = await http.get(path, params=params)
            assert response.status_code == status, (params, response.text)
            assert words in response.json()["error"], (params, response.text)
        missing = await http.get("/api/v1/points/NOPE/history")
        assert missing.status_code == 404 and "no point 'NOPE'" in missing.json()["error"]

        await eventually(lambda: runtime.adapters["hist"].status()["connected"], 10, "connected")
        (tmp_path / "history.db").unlink()  # the database is gone from under the historian
        gone = await http.get(path)
        assert gone.status_code == 503
        assert "the historian 'hist' cannot be read" in gone.json()["error"]
        assert "no SQLite database" in gone.json()["error"]


async def test_without_a_historian_history_is_a_clear_404():
    async with api_gateway(sim_config()) as (_, server), client(server) as http:
        response = await http.get("/api/v1/points/GEN1_MW/history")
        assert response.status_code == 404
        assert "no historian is running" in response.json()["error"]
