"""The FastAPI application every service is made of: same middleware, errors, health, metrics."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Annotated, Any

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sila_common.auth import KeySource
from sila_common.correlation import new_correlation_id, set_correlation_id
from sila_common.inputs import RefuseNul
from sila_common.kafka import make_consumer
from sila_common.logging import configure_logging
from sila_common.metrics import HTTP_LATENCY
from sila_common.problems import ContainUnexpected, install_problem_handlers
from sila_common.relay import refresh_outbox_gauges
from sila_common.runtime import freeze_startup_heap, open_runtime, run_workers
from sila_common.service import Runtime, ServiceDefinition
from sila_common.settings import PlatformSettings, SettingsT
from sila_common.tracing import instrument_app, make_tracer_provider

CORRELATION_HEADER = "X-Request-ID"
_PLAIN_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
BROKER_CHECK_CACHE_SECONDS = 2.0


def runtime_of(request: Request) -> Runtime[Any]:
    """The process's runtime; a service's own dependency gives it with its settings type
    (``Runtime[TicketsSettings]``): the app was made from that service's definition.
    """
    runtime: Runtime[Any] = request.app.state.runtime
    return runtime


# Dependencies are ``async def`` even when they do not await: FastAPI runs a plain ``def``
# dependency in the thread pool, a thread hop per dependency per request (measured in
# docs/benchmarks.md).
async def get_runtime(request: Request) -> Runtime[Any]:
    return runtime_of(request)


RuntimeDep = Annotated[Runtime[Any], Depends(get_runtime)]


def create_app(
    definition: ServiceDefinition[SettingsT],
    *,
    with_workers: bool = False,
    platform: PlatformSettings | None = None,
    settings: SettingsT | None = None,
    key_source: KeySource | None = None,
    freeze_heap: bool = False,
) -> FastAPI:
    """The service's HTTP app; ``with_workers`` also runs its relay and consumers in-process;
    ``freeze_heap`` (a process serving the app, not a test) leaves what start-up built out
    of later garbage collections (``freeze_startup_heap``)."""
    platform = platform or PlatformSettings()
    settings = settings or definition.settings_factory()
    configure_logging(
        service=definition.name, level=platform.log_level, json_output=platform.log_json
    )
    tracer_provider = make_tracer_provider(definition.name)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_runtime(
            definition,
            platform=platform,
            settings=settings,
            key_source=key_source,
            tracer_provider=tracer_provider,
        ) as runtime:
            app.state.runtime = runtime
            app.state.token_verifier = runtime.verifier
            stop = asyncio.Event()
            workers = asyncio.create_task(run_workers(runtime, stop)) if with_workers else None
            if freeze_heap:
                freeze_startup_heap()
            try:
                yield
            finally:
                stop.set()
                if workers is not None:
                    with suppress(asyncio.CancelledError):
                        await asyncio.wait_for(workers, timeout=15)

    app = FastAPI(
        title=definition.title or f"Sila {definition.name}",
        description=definition.description,
        version="0.1.0",
        lifespan=lifespan,
        # The pages are ours (below): FastAPI's name the document as /openapi.json, which
        # the edge does not route (it serves this service's as /<service>/openapi.json).
        docs_url=None,
        redoc_url=None,
        # Tracing is sila_common.tracing's (its spans keep no query string: phone numbers,
        # names). FastAPI's own would start with any global OpenTelemetry provider, keeping
        # what ours leaves out; checking whether one is configured cost every request
        # ≈ 1.5 % of a phone lookup (docs/benchmarks.md).
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    _add_api_pages(app)
    install_problem_handlers(app)
    app.add_middleware(CorrelationAndMetrics, service=definition.name)
    instrument_app(app, tracer_provider)
    app.add_middleware(RefuseNul)
    app.add_middleware(ContainUnexpected)
    app.include_router(_operations_router(definition))
    for router in definition.routers:
        app.include_router(router)
    return app


class CorrelationAndMetrics:
    """Pure ASGI middleware: the request's correlation id (from X-Request-ID or
    X-Correlation-ID, else new) set for logs and events and echoed on the answer, and the
    latency histogram by route template. Not ``@app.middleware("http")``: Starlette's
    BaseHTTPMiddleware runs the app in a task group with a streamed body, which the profile
    showed on every request (docs/benchmarks.md)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        offered = headers.get(CORRELATION_HEADER) or headers.get("X-Correlation-ID") or ""
        # A caller's id is kept only when it is a plain token (it is echoed back and logged).
        correlation = offered if _PLAIN_ID.fullmatch(offered) else new_correlation_id()
        set_correlation_id(correlation)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[CORRELATION_HEADER] = correlation
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            template = getattr(scope.get("route"), "path", "unmatched")
            HTTP_LATENCY.labels(self.service, scope["method"], template, str(status)).observe(
                time.perf_counter() - started
            )


def _add_api_pages(app: FastAPI) -> None:
    """/docs and /redoc naming the OpenAPI document relative to themselves: the browser asks
    for /<service>/openapi.json behind the edge (/<service>/docs), /openapi.json on the
    service itself."""

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="openapi.json", title=f"{app.title} - Swagger UI")

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url="openapi.json", title=f"{app.title} - ReDoc")


def _operations_router(definition: ServiceDefinition[Any]) -> APIRouter:
    router = APIRouter(tags=["operations"])
    broker_state: dict[str, float | bool] = {"checked_at": -1e9, "ok": False}

    async def broker_reachable(runtime: Runtime[Any]) -> bool:
        now = time.monotonic()
        if now - float(broker_state["checked_at"]) < BROKER_CHECK_CACHE_SECONDS:
            return bool(broker_state["ok"])
        consumer = make_consumer(runtime.platform, group_id=None, client_id="readiness")
        ok = True
        try:
            await asyncio.wait_for(consumer.start(), timeout=3)
        except (KafkaError, OSError, TimeoutError):
            ok = False
        finally:
            with suppress(Exception):
                await consumer.stop()
        broker_state.update(checked_at=now, ok=ok)
        return ok

    @router.get("/health/live", summary="The process is up")
    async def live() -> dict[str, str]:
        return {"status": "ok", "service": definition.name}

    @router.get("/health/ready", summary="The database and the broker are reachable")
    async def ready(runtime: RuntimeDep) -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            async with runtime.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unavailable: {type(exc).__name__}"
        checks["broker"] = "ok" if await broker_reachable(runtime) else "unavailable"
        healthy = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {
                "status": "ok" if healthy else "unavailable",
                "service": definition.name,
                "checks": checks,
            },
            status_code=200 if healthy else 503,
        )

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics(runtime: RuntimeDep) -> Response:
        with suppress(Exception):
            await refresh_outbox_gauges(runtime.engine, definition.tables, definition.name)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
