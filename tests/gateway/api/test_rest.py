"""The REST API against a running gateway: a Runtime of sim adapters and real uvicorn."""

from __future__ import annotations

import asyncio
import json

import yaml

from gateway.api.stream import encode_values, value_stream
from gateway.api.views import glob_matcher
from gateway.points import PointValue, Quality
from tests.gateway.api.conftest import (
    OPERATOR,
    READER,
    api_gateway,
    client,
    sim_config,
    write_tokens,
)
from tests.support import eventually


async def test_status_adapters_and_points_describe_the_running_gateway():
    async with api_gateway(sim_config()) as (runtime, server), client(server) as http:
        await eventually(lambda: runtime.bus.get("GEN1_MW").quality.is_good, 5, "GEN1_MW valid")
        status = (await http.get("/api/v1/status")).json()
        assert status["gateway"] == "test-gw"
        assert status["points"]["total"] == 6 and status["points"]["suspect"] == 1
        assert status["adapters"]["plant"] == {"type": "sim", "state": "running", "last_error": ""}

        adapters = {a["name"]: a for a in (await http.get("/api/v1/adapters")).json()["adapters"]}
        assert adapters["plant"]["points_owned"] == 5 and adapters["plant"]["status"]["points"] == 5
        assert (await http.get("/api/v1/adapters/nope")).status_code == 404

        page = (await http.get("/api/v1/points", params={"glob": "GEN1*,GEN2_MW"})).json()
        assert [p["point"] for p in page["points"]] == ["GEN1_MW", "GEN2_MW"]
        gen1 = page["points"][0]
        assert gen1["owner"] == "plant" and gen1["validity"] == "valid" and gen1["units"] == "MW"
        assert gen1["cov"] >= 1 and gen1["age_s"] >= 0 and 0 <= gen1["value"] <= 100

        suspect = (await http.get("/api/v1/points", params={"validity": "suspect"})).json()
        assert [p["point"] for p in suspect["points"]] == ["FIXED"]
        owned = (await http.get("/api/v1/points", params={"adapter": "fixed"})).json()
        assert owned["total"] == 1
        limited = (await http.get("/api/v1/points", params={"limit": 2, "offset": 1})).json()
        assert limited["total"] == 6 and len(limited["points"]) == 2

        one = (await http.get("/api/v1/points/GEN3_MW")).json()
        assert one["point"] == "GEN3_MW" and one["units"] == "MW"
        openapi = (await http.get("/api/v1/openapi.json")).json()
        assert "/api/v1/points" in openapi["paths"] and "/api/v1/commands" in openapi["paths"]


async def test_bad_requests_get_clear_json_errors():
    async with api_gateway(sim_config()) as (_, server), client(server) as http:
        for path, status, words in [
            ("/api/v1/points?validity=bogus", 422, "unknown validity 'bogus'"),
            ("/api/v1/points?adapter=nope", 404, "no adapter 'nope'"),
            ("/api/v1/points/NOPE", 404, "no point 'NOPE'"),
            ("/api/v1/points?limit=-1", 422, "invalid request"),
            ("/api/v1/nothing", 404, "Not Found"),
        ]:
            response = await http.get(path)
            assert response.status_code == status, path
            assert words in response.json()["error"], path
        bad_body = await http.post("/api/v1/commands", content=b"{not json")
        assert bad_body.status_code == 422 and "Traceback" not in bad_body.text


async def test_without_a_tokens_file_reads_are_open_and_writes_refused():
    data = sim_config(commands={"enabled": True, "allow": ["*"]})
    async with api_gateway(data) as (runtime, server), client(server) as http:
        assert (await http.get("/api/v1/status")).status_code == 200
        refused = await http.post("/api/v1/commands", json={"point": "GEN1_MW", "value": 5})
        assert refused.status_code == 403 and "tokens_file" in refused.json()["error"]
        [event] = runtime.audit.events()
        assert (event.kind, event.outcome) == ("refused", "forbidden")


async def test_tokens_reads_need_one_writes_need_an_operator(tmp_path):
    tokens = write_tokens(tmp_path / "tokens")
    data = sim_config(tokens_file=str(tokens), commands={"enabled": True, "allow": ["GEN*"]})
    async with api_gateway(data) as (runtime, server):
        async with client(server) as anonymous:
            response = await anonymous.get("/api/v1/status")
            assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
            assert (await anonymous.get("/metrics")).status_code == 401
        async with client(server, "wrong-token-0123456789") as wrong:
            assert (await wrong.get("/api/v1/points")).status_code == 401
        async with client(server, READER) as reader:
            assert (await reader.get("/api/v1/points")).status_code == 200
            write = await reader.post("/api/v1/commands", json={"point": "GEN1_MW", "value": 5})
            assert write.status_code == 403 and "read-only" in write.json()["error"]
        async with client(server, OPERATOR) as operator:
            ok = await operator.post("/api/v1/commands", json={"point": "GEN1_MW", "value": 42})
            assert ok.status_code == 200 and ok.json()["ok"] is True
            assert runtime.bus.get("GEN1_MW").value == 42
            not_allowed = await operator.post(
                "/api/v1/commands", json={"point": "FIXED", "value": 1}
            )
            assert not_allowed.status_code == 403 and "allow" in not_allowed.json()["error"]
            out_of_range = await operator.post(
                "/api/v1/commands", json={"point": "GEN2_MW", "value": 1000}
            )
            assert out_of_range.status_code == 422
            assert out_of_range.json()["outcome"] == "invalid value"
            audit = (await operator.get("/api/v1/audit")).json()
        kinds = [(e["kind"], e["origin"], e["target"], e["outcome"]) for e in audit["events"]]
        assert ("refused", "grafana", "POST /api/v1/commands", "forbidden") in kinds
        assert ("command", "api:alice", "GEN1_MW", "ok") in kinds
        assert ("refused", "api:alice", "FIXED", "forbidden") in kinds
        assert ("command", "api:alice", "GEN2_MW", "invalid value") in kinds
        assert runtime.audit.outcomes == {"ok": 1, "invalid value": 1}
        async with client(server, READER) as reader:
            after = (await reader.get(f"/api/v1/audit?after={audit['last']}")).json()
        assert after["events"] == []


async def test_commands_are_off_unless_configured(tmp_path):
    tokens = write_tokens(tmp_path / "tokens")
    async with api_gateway(sim_config(tokens_file=str(tokens))) as (runtime, server):
        async with client(server, OPERATOR) as operator:
            response = await operator.post(
                "/api/v1/commands", json={"point": "GEN1_MW", "value": 1}
            )
        assert response.status_code == 403 and "off" in response.json()["error"]
        assert runtime.bus.stats.commands == 0


async def test_config_validate_diff_and_apply_take_the_reload_path(tmp_path):
    tokens = write_tokens(tmp_path / "tokens")
    data = sim_config(tokens_file=str(tokens))
    async with api_gateway(data) as (runtime, server), client(server, OPERATOR) as http:
        running = (await http.get("/api/v1/config")).json()
        assert running["file"] is None and "plant" in running["text"]
        assert yaml.safe_load(running["text"])["gateway"]["name"] == "test-gw"

        broken = {"text": "points: [{id: 1bad}]\nadapters: []\n"}
        checked = (await http.post("/api/v1/config/validate", json=broken)).json()
        assert checked["valid"] is False
        assert any("<posted>" in e and "points[0].id" in e for e in checked["errors"])
        refused = await http.post("/api/v1/config/apply", json=broken)
        assert refused.status_code == 422 and refused.json()["errors"]
        assert runtime.config.adapter_map().keys() == {"plant", "fixed"}

        proposed = json.loads(json.dumps(data))
        proposed["adapters"] = proposed["adapters"][:1]
        proposed["points"] = proposed["points"][:-1]
        text = yaml.safe_dump(proposed)
        assert (await http.post("/api/v1/config/validate", json={"text": text})).json()["valid"]
        diff = (await http.post("/api/v1/config/diff", json={"text": text})).json()
        assert diff["diff"]["adapters_removed"] == ["fixed"]
        assert "adapters removed: fixed" in diff["lines"]
        assert runtime.config.adapter_map().keys() == {"plant", "fixed"}  # a diff applies nothing

        applied = await http.post("/api/v1/config/apply", json={"text": text})
        assert applied.status_code == 200 and applied.json()["detail"]["removed"] == ["fixed"]
        assert runtime.config.adapter_map().keys() == {"plant"}
        events = [(e.kind, e.origin, e.outcome) for e in runtime.audit.events()]
        assert ("refused", "api:alice", "invalid") in events
        assert ("config", "api:alice", "ok") in events


async def test_apply_needs_an_operator_token(tmp_path):
    tokens = write_tokens(tmp_path / "tokens")
    async with api_gateway(sim_config(tokens_file=str(tokens))) as (runtime, server):
        async with client(server, READER) as reader:
            response = await reader.post("/api/v1/config/apply", json={"text": "adapters: []"})
        assert response.status_code == 403
        assert runtime.config.adapter_map().keys() == {"plant", "fixed"}


async def test_the_stream_sends_a_snapshot_then_coalesced_changes():
    async with api_gateway(sim_config()) as (runtime, server), client(server) as http:
        events: list[tuple[str, list[list[object]]]] = []
        async with http.stream("GET", "/api/v1/stream?glob=GEN1*&interval=0.05") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            event = ""
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    events.append((event, json.loads(line[6:])))
                    if len(events) == 3:
                        break
        assert events[0][0] == "snapshot" and [r[0] for r in events[0][1]] == ["GEN1_MW"]
        assert all(kind == "values" for kind, _ in events[1:])
        covs = [row[4] for _, rows in events for row in rows]
        assert covs == sorted(covs) and len(set(covs)) == len(covs)
        assert not runtime.bus.subscriptions  # the stream costs the bus nothing per update


async def test_a_client_that_does_not_read_never_backs_up_the_bus():
    """The stream coalesces on its timer: a consumer that stops reading holds nothing on
    the bus, and then gets each point once, at its latest value, however many updates the
    bus recorded meanwhile."""
    runtime_data = sim_config(points=50, interval=3600)
    async with api_gateway(runtime_data) as (runtime, _server):
        stopping = asyncio.Event()
        stream = value_stream(runtime.bus, glob_matcher("GEN*"), 0.0, stopping)
        first = await anext(stream)
        assert first.startswith(b"event: snapshot")
        assert json.loads(first.split(b"data: ", 1)[1])[0][0] == "GEN10_MW"  # sorted by id
        names = [f"GEN{i}_MW" for i in range(1, 51)]
        for step in range(200):  # the client reads nothing meanwhile
            runtime.bus.update_many(names, [float(step)] * 50)
        runtime.bus.update("FIXED", 7.0)  # not matched: not sent
        assert not runtime.bus.subscriptions
        batch = await anext(stream)
        rows = json.loads(batch.split(b"data: ", 1)[1])
        assert len(rows) == 50 and {r[1] for r in rows} == {199.0}
        assert {r[0] for r in rows} == set(names)
        stopping.set()
        assert [chunk async for chunk in stream] == []  # the server stops: the stream ends


def test_the_encoder_writes_json_a_browser_parses():
    values = [
        PointValue("A", 1.5, Quality.from_flags(0x10), 1.25, 3),
        PointValue('odd "name"\\', float("nan"), Quality.from_flags(0), 1.25, 4),
        PointValue("C", 7, Quality.from_flags(0x31), 2.25, 65535),
        PointValue("D", float("-inf"), Quality.from_flags(0), 2.25, 0),
    ]
    rows = json.loads(encode_values(values))
    assert rows == [
        ["A", 1.5, 16, 1250, 3],
        ['odd "name"\\', None, 0, 1250, 4],
        ["C", 7, 49, 2250, 65535],
        ["D", None, 0, 2250, 0],
    ]
    assert encode_values([]) == "[]"
