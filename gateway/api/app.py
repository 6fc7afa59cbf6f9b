"""The FastAPI application: REST under ``/api/v1``, ``/metrics`` and the web console.

Reads need a token of any role when a tokens file is configured (and none otherwise);
writes (commands, applying a configuration) always need an operator token. Every write and
every refused request is audited. Errors are JSON ``{"error": ..., ...}`` with a 4xx status;
nothing raised in a route reaches the client as a traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import asdict
from importlib.resources import files
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.api import history, metrics, views
from gateway.api.control import ConfigRefused, Operations
from gateway.api.stream import value_stream
from gateway.api.tokens import Role, TokenStore
from gateway.bus import CommandFailure
from gateway.config import ApiSettings, ConfigError, diff_configs
from gateway.logs import Throttle

__all__ = ["API_PREFIX", "create_app"]

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
STATIC = files("gateway.api") / "static"

_FAILURE_STATUS = {
    CommandFailure.UNKNOWN_POINT: 404,
    CommandFailure.NOT_PERMITTED: 403,
    CommandFailure.INVALID_VALUE: 422,
    CommandFailure.NOT_SELECTED: 409,
    CommandFailure.BUSY: 409,
    CommandFailure.TIMEOUT: 504,
    CommandFailure.DEVICE_FAILURE: 502,
}


class CommandBody(BaseModel):
    """A bus command: the point and the value to apply."""

    model_config = ConfigDict(extra="forbid")

    point: str
    value: float | int | bool


class ConfigBody(BaseModel):
    """A proposed configuration, as the YAML text of a configuration file."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=50_000_000)


def _json(data: Any, status: int = 200) -> Response:
    """JSON straight from ``json.dumps`` (FastAPI's encoder walks every value: slow)."""
    body = json.dumps(data, separators=(",", ":"), allow_nan=False, default=str)
    return Response(body, status, media_type="application/json")


def _error(status: int, error: str, **extra: Any) -> Response:
    return _json({"error": error, **extra}, status)


class _Guard:
    """ASGI middleware: an exception a route did not handle becomes a JSON 500 (logged,
    throttled), never a traceback to the client or the server's log."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.throttle = Throttle()
        self.failures = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            self.failures += 1
            if self.throttle.failure(type(exc).__name__, self.failures):
                log.exception("api: %s %s failed", scope.get("method"), scope.get("path"))
            if started:
                return
            body = json.dumps({"error": "internal error", "detail": type(exc).__name__})
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body.encode()})


class _Access:
    """Who is asking: the token's name and role (anonymous without a tokens file)."""

    def __init__(self, name: str, role: Role) -> None:
        self.name = name
        self.role = role


def create_app(ops: Operations, settings: ApiSettings, stopping: asyncio.Event) -> FastAPI:
    """The application serving ``ops`` with ``settings``; ``stopping`` ends live streams."""
    runtime = ops.runtime
    audit = runtime.audit
    tokens = TokenStore(settings.tokens_file)
    registry = metrics.metrics_registry(runtime)
    app = FastAPI(
        title="ICCP gateway",
        version=views._version(),
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.tokens = tokens

    def access(request: Request, need: Role) -> _Access:
        """The caller, or an HTTPException (401/403) that is audited."""
        header = request.headers.get("authorization", "")
        secret = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if not secret:
            secret = request.query_params.get("token", "")
        what = f"{request.method} {request.url.path}"
        if not tokens.enabled:
            if need >= Role.OPERATOR:
                audit.record(
                    "refused",
                    "anonymous",
                    what,
                    outcome="forbidden",
                    detail="no tokens file: writes are off",
                )
                raise HTTPException(
                    403, "writes need an operator token: configure gateway.api.tokens_file"
                )
            return _Access("anonymous", Role.READ)
        token = tokens.check(secret) if secret else None
        if token is None:
            if need >= Role.OPERATOR or secret:
                audit.record(
                    "refused",
                    request.client.host if request.client else "-",
                    what,
                    outcome="unauthorized",
                    detail="bad token" if secret else "no token",
                )
            raise HTTPException(
                401,
                "a bearer token is needed" if not secret else "unknown token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if token.role < need:
            audit.record(
                "refused",
                token.name,
                what,
                outcome="forbidden",
                detail="a read-only token cannot write",
            )
            raise HTTPException(403, "this needs an operator token; this one is read-only")
        return _Access(token.name, token.role)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        response = _error(exc.status_code, str(exc.detail))
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        issues = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return _error(422, "invalid request", issues=issues)

    # -- reading ---------------------------------------------------------------------

    @app.get(f"{API_PREFIX}/status", summary="Overview: points by validity, adapters, links")
    async def status(request: Request) -> Response:
        access(request, Role.READ)
        return _json(views.status_view(runtime))

    @app.get(f"{API_PREFIX}/adapters", summary="Adapters: state, last error, counters, status")
    async def adapters(request: Request) -> Response:
        access(request, Role.READ)
        return _json({"adapters": views.adapters_view(runtime)})

    @app.get(f"{API_PREFIX}/adapters/{{name}}", summary="One adapter")
    async def adapter(request: Request, name: str) -> Response:
        access(request, Role.READ)
        for entry in views.adapters_view(runtime):
            if entry["name"] == name:
                return _json(entry)
        return _error(404, f"no adapter {name!r}")

    @app.get(f"{API_PREFIX}/associations", summary="ICCP associations and client links")
    async def associations(request: Request) -> Response:
        access(request, Role.READ)
        return _json(views.associations_view(runtime))

    @app.get(f"{API_PREFIX}/points", summary="Points: value, quality, age, COV, owner")
    async def points(
        request: Request,
        glob: str | None = Query(None, description="comma-separated globs of point ids"),
        adapter: str | None = Query(None, description="only the points this adapter owns"),
        validity: Annotated[list[str], Query(description="valid, held, suspect, not_valid")] = [],  # noqa: B006 - FastAPI copies it
        limit: int | None = Query(None, ge=0),
        offset: int = Query(0, ge=0),
    ) -> Response:
        access(request, Role.READ)
        wanted = [v for item in validity for v in item.split(",") if v]
        bad = [v for v in wanted if v not in views.VALIDITIES]
        if bad:
            return _error(422, f"unknown validity {bad[0]!r}", allowed=list(views.VALIDITIES))
        if adapter is not None and adapter not in runtime.config.adapter_map():
            return _error(404, f"no adapter {adapter!r}")
        return _json(views.points_view(runtime, glob, adapter, wanted, limit, offset))

    @app.get(f"{API_PREFIX}/points/{{point}}", summary="One point")
    async def point(request: Request, point: str) -> Response:
        access(request, Role.READ)
        bus = runtime.bus
        if point not in bus:
            return _error(404, f"no point {point!r}")
        defn = bus.definition(point)
        row = views.point_dict(bus.get(point), bus.owner_of(point), defn.kind.value, defn.units)
        return _json(
            {
                **row,
                "description": defn.description,
                "target_freshness": defn.target_freshness,
                "deadband": defn.deadband,
            }
        )

    @app.get(
        f"{API_PREFIX}/points/{{point}}/history",
        summary="A point's stored history (when a historian is configured)",
    )
    async def point_history(
        request: Request,
        point: str,
        start: str = Query("-1h", alias="from", description="ISO 8601 or relative (-15m)"),
        end: str = Query("now", alias="to", description="ISO 8601 or relative, or now"),
        limit: int = Query(1000, ge=1, le=10_000, description="at most the newest this many rows"),
        adapter: str | None = Query(None, description="which historian (default: the first)"),
    ) -> Response:
        access(request, Role.READ)
        if point not in runtime.bus:
            return _error(404, f"no point {point!r}")
        try:
            return _json(await history.point_history(runtime, point, start, end, limit, adapter))
        except history.HistoryError as exc:
            return _error(exc.status, str(exc))

    @app.get(f"{API_PREFIX}/stream", summary="Live values (Server-Sent Events)")
    async def stream(
        request: Request,
        glob: str | None = Query(None, description="comma-separated globs of point ids"),
        interval: float = Query(0.2, ge=0.0, le=60.0, description="seconds between events"),
    ) -> StreamingResponse:
        access(request, Role.READ)
        events = value_stream(runtime.bus, views.glob_matcher(glob), interval, stopping)
        return StreamingResponse(
            events,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.get(f"{API_PREFIX}/audit", summary="Audit events: commands, config, refusals")
    async def audit_events(
        request: Request,
        after: int = Query(0, ge=0, description="only events after this sequence number"),
        limit: int = Query(200, ge=0, le=100_000),
    ) -> Response:
        access(request, Role.READ)
        events = [e.to_dict() for e in audit.events(after, limit)]
        return _json({"last": audit.last_seq, "events": events})

    @app.get("/metrics", include_in_schema=False)
    async def metrics_page(request: Request) -> Response:
        access(request, Role.READ)
        return Response(metrics.render(registry), media_type=metrics.CONTENT_TYPE)

    # -- commands --------------------------------------------------------------------

    @app.post(f"{API_PREFIX}/commands", summary="A bus command (operator token, allow-list)")
    async def command(request: Request, body: CommandBody) -> Response:
        who = access(request, Role.OPERATOR)
        allowed = settings.commands
        refusal = ""
        match = views.glob_matcher(",".join(allowed.allow))  # None: "*", every point
        if not allowed.enabled:
            refusal = "commands over the API are off (gateway.api.commands.enabled)"
        elif not allowed.allow or (match is not None and not match(body.point)):
            refusal = f"point {body.point!r} is not in gateway.api.commands.allow"
        if refusal:
            audit.record("refused", f"api:{who.name}", body.point, body.value, "forbidden", refusal)
            return _error(403, refusal)
        value = int(body.value) if isinstance(body.value, bool) else body.value
        result = await runtime.bus.command(body.point, value, origin=f"api:{who.name}")
        out = {
            "point": result.point,
            "value": result.value,
            "ok": result.ok,
            "outcome": "ok" if result.failure is None else str(result.failure),
            "detail": result.detail,
        }
        if result.failure is None:
            return _json(out)
        return _json(
            {"error": f"command {out['outcome']}", **out}, _FAILURE_STATUS.get(result.failure, 409)
        )

    # -- configuration ---------------------------------------------------------------

    @app.get(f"{API_PREFIX}/config", summary="The running configuration")
    async def config(request: Request) -> Response:
        access(request, Role.READ)
        return _json(
            {
                "file": None if ops.path is None else str(ops.path),
                "text": ops.config_text(),
                "config": runtime.config.model_dump(mode="json"),
            }
        )

    async def checked(body: ConfigBody) -> tuple[Any, list[str], list[str]]:
        try:
            new, warnings = await ops.check_text(body.text)
        except ConfigError as exc:
            return None, [str(i) for i in exc.issues], [str(i) for i in exc.warnings]
        return new, [], [str(i) for i in warnings]

    @app.post(f"{API_PREFIX}/config/validate", summary="Check a proposed configuration")
    async def validate(request: Request, body: ConfigBody) -> Response:
        access(request, Role.READ)
        new, errors, warnings = await checked(body)
        return _json({"valid": new is not None, "errors": errors, "warnings": warnings})

    @app.post(f"{API_PREFIX}/config/diff", summary="What applying a configuration would change")
    async def diff(request: Request, body: ConfigBody) -> Response:
        access(request, Role.READ)
        new, errors, warnings = await checked(body)
        if new is None:
            return _error(422, "the configuration is not valid", errors=errors, warnings=warnings)
        changes = diff_configs(runtime.config, new)
        return _json(
            {"valid": True, "warnings": warnings, "lines": changes.lines(), "diff": asdict(changes)}
        )

    @app.post(f"{API_PREFIX}/config/apply", summary="Apply a configuration (operator token)")
    async def apply(request: Request, body: ConfigBody) -> Response:
        who = access(request, Role.OPERATOR)
        origin = f"api:{who.name}"
        try:
            changes = await ops.apply_text(body.text, origin)
        except ConfigError as exc:
            errors = [str(i) for i in exc.issues]
            audit.record(
                "refused", origin, "configuration", outcome="invalid", detail="; ".join(errors[:3])
            )
            return _error(
                422,
                "the configuration is not valid; nothing was applied",
                errors=errors,
                warnings=[str(i) for i in exc.warnings],
            )
        except ConfigRefused as exc:
            audit.record("refused", origin, "configuration", outcome="refused", detail=str(exc))
            return _error(409, str(exc))
        return _json({"applied": True, "changes": str(changes), "detail": asdict(changes)})

    # -- the console -----------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        return RedirectResponse("/console/", 307)

    @app.get("/console/", include_in_schema=False)
    async def console() -> Response:
        return FileResponse(str(STATIC / "index.html"), headers={"Cache-Control": "no-cache"})

    app.mount("/console", StaticFiles(directory=str(STATIC)), name="console")
    app.add_middleware(_Guard)
    return app
