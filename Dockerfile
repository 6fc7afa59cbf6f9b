# syntax=docker/dockerfile:1
# The ICCP gateway's container image: docker build -t iccp-gateway .
#
# Stage 1 builds the wheel; stage 2 installs it with its runtime dependencies only (no test
# extra) into /opt/iccp-gateway, and runs as the unprivileged user iccp-gateway (uid and
# gid 10102, numeric so that runAsNonRoot-style checks can see it).
# Configuration: /etc/iccp-gateway (a volume; gateway.yaml by default). State (device tags,
# journals, spools): /var/lib/iccp-gateway (a volume).
# Port 102 without root or capabilities: the container's network namespace lets unprivileged
# users bind it (Docker 20.10+ and Podman set net.ipv4.ip_unprivileged_port_start=0; elsewhere
# run with --sysctl net.ipv4.ip_unprivileged_port_start=102, or serve a port above 1023). No
# file capability is set, so the image also runs under --cap-drop ALL.
# ICCP listens on every interface of the container (ICCP_LISTEN); the console stays on its
# loopback unless ICCP_API_LISTEN says otherwise. With API tokens on, give the health check a
# read token (ICCP_GATEWAY_TOKEN_FILE); with HTTPS, ICCP_GATEWAY_URL=https://...
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY gateway ./gateway
COPY adapters ./adapters
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10102 iccp-gateway \
    && useradd --system --uid 10102 --gid 10102 --home-dir /var/lib/iccp-gateway \
        --shell /usr/sbin/nologin iccp-gateway \
    && install -d -o iccp-gateway -g iccp-gateway -m 0750 /var/lib/iccp-gateway \
    && install -d -m 0755 /etc/iccp-gateway
COPY --from=build /wheels /tmp/wheels
RUN python -m venv /opt/iccp-gateway \
    && /opt/iccp-gateway/bin/pip install --no-cache-dir /tmp/wheels/*.whl \
    && rm -rf /tmp/wheels \
    && /opt/iccp-gateway/bin/pip list --format freeze
COPY packaging/etc/iccp-gateway/ /etc/iccp-gateway/

ENV PATH=/opt/iccp-gateway/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ICCP_GATEWAY_URL=http://127.0.0.1:8080 \
    ICCP_LISTEN=0.0.0.0
USER 10102:10102
WORKDIR /var/lib/iccp-gateway
VOLUME ["/etc/iccp-gateway", "/var/lib/iccp-gateway"]
# ICCP (TASE.2), and the console / REST API / metrics
EXPOSE 102 8080
HEALTHCHECK --interval=15s --timeout=10s --start-period=30s --retries=3 \
    CMD ["iccp-gateway", "status"]
ENTRYPOINT ["iccp-gateway"]
CMD ["run", "/etc/iccp-gateway/gateway.yaml"]
