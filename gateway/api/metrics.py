"""``/metrics``: the gateway's state for Prometheus, read fresh at every scrape.

A private :class:`~prometheus_client.CollectorRegistry` holds one collector that turns the
runtime's views into metric families: per adapter state, failures and restarts; per ICCP
association/link state and reports; points by validity; the bus counters (stale
transitions among them); commands by outcome; and every number an adapter's ``status()``
reports (polled and failed reads, buffer depths and losses...) as
``iccp_gateway_adapter_status{adapter, key}``. An adapter that reports ``tls_days_left``
(or ``tls: {days_left}``) is exported as ``iccp_gateway_tls_certificate_days_left``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from gateway.api.views import associations_view, validity_counts
from gateway.runtime import Runtime

__all__ = ["CONTENT_TYPE", "GatewayCollector", "metrics_registry", "render"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "iccp_gateway"
MAX_STATUS_SERIES = 200
"""At most this many numbers of one adapter's status() are exported (label cardinality)."""
_MAX_DEPTH = 3


def _numbers(
    status: Mapping[str, Any], prefix: str = "", depth: int = 0
) -> Iterator[tuple[str, float]]:
    """The numeric leaves of a status dict as (dotted key, value); booleans count as 0/1."""
    for key, value in status.items():
        name = f"{prefix}{key}"
        if isinstance(value, bool | int | float):
            yield name, float(value)
        elif isinstance(value, Mapping) and depth < _MAX_DEPTH:
            yield from _numbers(value, f"{name}.", depth + 1)


class GatewayCollector(Collector):
    """Collects the metric families of one runtime at each scrape."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Any]:
        runtime = self.runtime
        details = runtime.adapter_details()
        yield from self._adapters(details)
        yield from self._links(runtime, details)
        points = GaugeMetricFamily(
            f"{PREFIX}_points", "Points on the bus by validity", labels=["validity"]
        )
        for validity, count in validity_counts(runtime).items():
            points.add_metric([validity], count)
        yield points
        stats = runtime.bus.stats
        for key, help_text in (
            ("updates", "Updates published on the bus"),
            ("changes", "Recorded changes (after deadband)"),
            ("suppressed", "Updates within the deadband"),
            ("stale", "Stale transitions: valid points turned suspect by the watchdog"),
            ("unknown", "Updates of points the bus does not know"),
        ):
            yield CounterMetricFamily(f"{PREFIX}_bus_{key}", help_text, value=getattr(stats, key))
        commands = CounterMetricFamily(
            f"{PREFIX}_commands", "Bus commands by outcome", labels=["outcome"]
        )
        outcomes = runtime.audit.outcomes
        for outcome in sorted({"ok", *outcomes}):
            commands.add_metric([outcome], outcomes.get(outcome, 0))
        yield commands

    def _adapters(self, details: dict[str, dict[str, Any]]) -> Iterator[Any]:
        state = GaugeMetricFamily(
            f"{PREFIX}_adapter_state",
            "1 for the adapter's current supervisor state",
            labels=["adapter", "type", "state"],
        )
        up = GaugeMetricFamily(
            f"{PREFIX}_adapter_up", "1 when the adapter runs", labels=["adapter", "type"]
        )
        restarts = CounterMetricFamily(
            f"{PREFIX}_adapter_restarts", "Restarts after failures", labels=["adapter"]
        )
        failures = GaugeMetricFamily(
            f"{PREFIX}_adapter_failures", "Failures in a row", labels=["adapter"]
        )
        numbers = GaugeMetricFamily(
            f"{PREFIX}_adapter_status",
            "Numbers an adapter's status reports (reads, buffers, losses...)",
            labels=["adapter", "key"],
        )
        tls = GaugeMetricFamily(
            f"{PREFIX}_tls_certificate_days_left",
            "Days until the TLS certificate an adapter uses expires",
            labels=["adapter"],
        )
        for name, entry in details.items():
            kind = entry["type"]
            state.add_metric([name, kind, entry["state"]], 1)
            up.add_metric([name, kind], 1 if entry["state"] == "running" else 0)
            restarts.add_metric([name], entry.get("restarts", 0))
            failures.add_metric([name], entry.get("failures", 0))
            status = entry.get("status", {})
            for i, (key, value) in enumerate(_numbers(status)):
                if i >= MAX_STATUS_SERIES:
                    break
                numbers.add_metric([name, key], value)
            days = status.get("tls_days_left")
            if days is None and isinstance(status.get("tls"), Mapping):
                days = status["tls"].get("days_left")
            if isinstance(days, int | float) and not isinstance(days, bool):
                tls.add_metric([name], days)
        yield from (state, up, restarts, failures, numbers, tls)

    def _links(self, runtime: Runtime, details: dict[str, dict[str, Any]]) -> Iterator[Any]:
        view = associations_view(runtime, details)
        associations = GaugeMetricFamily(
            f"{PREFIX}_iccp_associations",
            "ICCP associations of a TASE.2 server adapter",
            labels=["adapter"],
        )
        sent = CounterMetricFamily(
            f"{PREFIX}_iccp_reports_sent", "Reports sent by a TASE.2 server", labels=["adapter"]
        )
        for server in view["servers"]:
            associations.add_metric([server["adapter"]], server.get("associations", 0))
            sent.add_metric([server["adapter"]], server.get("reports_sent", 0))
        link = GaugeMetricFamily(
            f"{PREFIX}_iccp_link_state",
            "1 for the current state of a TASE.2 client link",
            labels=["adapter", "state"],
        )
        received = CounterMetricFamily(
            f"{PREFIX}_iccp_reports_received",
            "Reports received by a TASE.2 client",
            labels=["adapter"],
        )
        rate = GaugeMetricFamily(
            f"{PREFIX}_iccp_reports_per_second",
            "Reports per second received by a TASE.2 client",
            labels=["adapter"],
        )
        for client in view["clients"]:
            name = client["adapter"]
            link.add_metric([name, str(client.get("state", "unknown"))], 1)
            reports = client.get("reports", 0)
            received.add_metric([name], reports if isinstance(reports, int | float) else 0)
            per_s = client.get("reports_per_s", 0)
            rate.add_metric([name], per_s if isinstance(per_s, int | float) else 0)
        yield from (associations, sent, link, received, rate)


def metrics_registry(runtime: Runtime) -> CollectorRegistry:
    """A private registry (never the process-global one) with the gateway's collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(GatewayCollector(runtime))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The text exposition of ``registry``."""
    return generate_latest(registry)
