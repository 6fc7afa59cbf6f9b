"""The operations surface: REST API, web console and Prometheus metrics, in the gateway's loop.

* :mod:`.tokens` - the bearer tokens file (read-only and operator roles); no web framework;
* :mod:`.views` - the JSON views of the gateway (status, adapters, links, points), shared by
  the REST routes, the live stream and the metrics;
* :mod:`.metrics` - ``/metrics`` on a private prometheus-client registry;
* :mod:`.stream` - Server-Sent Events of live values from a coalescing bus subscription;
* :mod:`.app` - the FastAPI application (``/api/v1``, ``/metrics``, the console);
* :mod:`.server` - uvicorn served inside the running event loop, started, reconfigured and
  stopped with the gateway.

The package knows no protocol: it sees the gateway only through the
:class:`~gateway.runtime.Runtime`, the bus, the audit log and each adapter's ``status()``.
Importing it imports nothing heavy; FastAPI is loaded by :mod:`.app` only.
"""
