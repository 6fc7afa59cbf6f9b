"""/metrics scraped from a running gateway and parsed with prometheus_client's parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from gateway.api.metrics import metrics_registry, render
from tests.gateway.api.conftest import api_gateway, client, sim_config
from tests.support import eventually


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_metrics_are_served_at_an_exact_route_and_parse():
    async with api_gateway(sim_config()) as (runtime, server), client(server) as http:
        await eventually(lambda: runtime.bus.stats.updates > 10, 5, "some updates")
        await runtime.bus.command("GEN1_MW", 50.0, origin="test")
        await runtime.bus.command("NOPE", 1.0, origin="test")
        response = await http.get("/metrics")  # an exact route: no redirect (a mount's 307)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        values = samples(response.text)
        assert values[("iccp_gateway_points", (("validity", "valid"),))] == 5
        assert values[("iccp_gateway_points", (("validity", "suspect"),))] == 1
        state = (
            "iccp_gateway_adapter_state",
            (("adapter", "plant"), ("state", "running"), ("type", "sim")),
        )
        assert values[state] == 1
        assert values[("iccp_gateway_adapter_up", (("adapter", "plant"), ("type", "sim")))] == 1
        assert values[("iccp_gateway_adapter_restarts_total", (("adapter", "plant"),))] == 0
        assert values[("iccp_gateway_bus_updates_total", ())] > 10
        assert ("iccp_gateway_bus_stale_total", ()) in values
        assert values[("iccp_gateway_commands_total", (("outcome", "ok"),))] == 1
        assert values[("iccp_gateway_commands_total", (("outcome", "unknown point"),))] == 1
        status = ("iccp_gateway_adapter_status", (("adapter", "plant"), ("key", "commands")))
        assert values[status] == 1


def test_adapter_status_numbers_links_and_tls_days_are_exported():
    """A status() with nested counters, an ICCP client link and a certificate's days left,
    as the collector sees it (the runtime's view of adapters, faked at the seam)."""

    class FakeRuntime:
        def __init__(self) -> None:
            from gateway.audit import AuditLog
            from gateway.bus import PointBus

            self.bus = PointBus()
            self.audit = AuditLog()

        def adapter_details(self) -> dict[str, dict[str, object]]:
            return {
                "rto": {
                    "type": "tase2-client",
                    "state": "running",
                    "restarts": 2,
                    "failures": 0,
                    "status": {
                        "state": "degraded",
                        "reports": 12,
                        "reports_per_s": 1.5,
                        "errors": {"malformed_reports": 3},
                        "tls_days_left": 41,
                        "polled": ["DS1"],
                    },
                },
                "iccp": {
                    "type": "tase2-server",
                    "state": "running",
                    "status": {"associations": 2, "reports_sent": 7, "tables": ["T1"]},
                },
            }

    values = samples(render(metrics_registry(FakeRuntime())).decode())  # type: ignore[arg-type]
    assert (
        values[("iccp_gateway_iccp_link_state", (("adapter", "rto"), ("state", "degraded")))] == 1
    )
    assert values[("iccp_gateway_iccp_reports_received_total", (("adapter", "rto"),))] == 12
    assert values[("iccp_gateway_iccp_associations", (("adapter", "iccp"),))] == 2
    assert values[("iccp_gateway_iccp_reports_sent_total", (("adapter", "iccp"),))] == 7
    key = ("iccp_gateway_adapter_status", (("adapter", "rto"), ("key", "errors.malformed_reports")))
    assert values[key] == 3
    assert values[("iccp_gateway_tls_certificate_days_left", (("adapter", "rto"),))] == 41
    assert values[("iccp_gateway_adapter_restarts_total", (("adapter", "rto"),))] == 2
