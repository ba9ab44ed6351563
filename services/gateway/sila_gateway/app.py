"""The edge as an ASGI app: forwards by prefix, aggregates readiness, speaks problem details."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException

from sila_common.correlation import new_correlation_id
from sila_common.problems import MEDIA_TYPE, PROBLEM_BASE
from sila_gateway.routes import DEV_ROUTES, ROUTES, UnsafePath, check_path, route

# As nginx's ``client_max_body_size 1m`` and the Ingress's: the services' input checks
# (sila_common.inputs) assume no body is larger.
MAX_BODY_BYTES = 1024 * 1024


def problem(status: int, slug: str, title: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {"type": f"{PROBLEM_BASE}/{slug}", "title": title, "status": status, "detail": detail},
        status_code=status,
        media_type=MEDIA_TYPE,
    )


async def _accepted(
    request: Request, path: str, table: dict[str, tuple[str, ...]]
) -> tuple[str, str, dict[bytes, bytes], bytes] | JSONResponse:
    """The service, its path, the headers and the body to forward; or the edge's refusal."""
    raw_path = request.scope.get("raw_path") or b""
    try:
        checked = check_path(raw_path.decode("latin-1") or "/" + path)
    except UnsafePath as refused:
        return problem(400, "unsafe-path", "Unsafe path", str(refused))
    target = route(checked, table)
    if target is None:
        return problem(404, "not-found", "Not found", "No service answers this path.")
    body = await _body_within(request, MAX_BODY_BYTES)
    if body is None:
        return problem(
            413,
            "content-too-large",
            "Content too large",
            f"A request body is at most {MAX_BODY_BYTES // 1024} KiB.",
        )
    return (*target, _forwarded_headers(request), body)


def _forwarded_headers(request: Request) -> dict[bytes, bytes]:
    """The request's end-to-end headers as the upstream gets them.

    Whitespace around a field value is not part of it (RFC 9110 5.5); the upstream's client
    refuses to send it ("Authorization: Bearer " with an empty token). Values go on as the
    bytes that came (Starlette read them as latin-1): UTF-8 in a header
    (``Idempotency-Key: مفتاح``) is the service's to judge, not a failure of the edge.
    """
    headers: dict[bytes, bytes] = {
        k.encode("latin-1"): v.strip(" \t").encode("latin-1")
        for k, v in request.headers.items()
        if k.lower() not in HOP_BY_HOP
    }
    headers.setdefault(b"x-request-id", new_correlation_id().encode())
    client_ip = request.client.host if request.client else ""
    headers[b"x-forwarded-for"] = ", ".join(
        p for p in (request.headers.get("x-forwarded-for"), client_ip) if p
    ).encode("latin-1")
    return headers


async def _body_within(request: Request, limit: int) -> bytes | None:
    """The request's body, or None once it is larger than ``limit`` (read no further)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}
# The edge answers with its own Date and Server (uvicorn's); the services' would be a
# second copy of each.
EDGE_OWN = {"date", "server"}
# Methods the edge may send again when a kept-alive connection turns out to be closed
# (the service dropped it after its previous answer): repeating them changes nothing.
IDEMPOTENT = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}


def create_gateway(upstreams: dict[str, str]) -> FastAPI:
    """``upstreams`` maps a service name to its base URL (http://127.0.0.1:8001); a
    development upstream (``DEV_ROUTES``: the message viewer) is routed when it is given."""
    table = {**ROUTES, **{name: p for name, p in DEV_ROUTES.items() if name in upstreams}}
    client_holder: dict[str, httpx.AsyncClient] = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=3.0)) as client:
            client_holder["client"] = client
            yield

    app = FastAPI(
        title="Sila gateway", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )

    @app.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok", "service": "gateway"}

    @app.get("/health/ready")
    async def ready() -> JSONResponse:
        client = client_holder["client"]

        async def check(name: str) -> tuple[str, str]:
            try:
                answer = await client.get(f"{upstreams[name]}/health/ready", timeout=5)
            except httpx.HTTPError as exc:
                return name, f"unreachable: {type(exc).__name__}"
            return name, "ok" if answer.status_code == 200 else f"not ready ({answer.status_code})"

        results = dict(await asyncio.gather(*(check(name) for name in ROUTES)))
        healthy = all(v == "ok" for v in results.values())
        return JSONResponse(
            {"status": "ok" if healthy else "unavailable", "services": results},
            status_code=200 if healthy else 503,
        )

    @app.api_route(
        "/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]
    )
    async def forward(request: Request, path: str) -> Response:
        accepted = await _accepted(request, path, table)
        if isinstance(accepted, JSONResponse):
            return accepted
        service, upstream_path, headers, body = accepted
        client = client_holder["client"]
        upstream = client.build_request(
            request.method,
            f"{upstreams[service]}{upstream_path}",
            params=httpx.QueryParams(request.url.query),
            headers=headers,
            content=body,
        )
        try:
            answer = await _send(client, upstream)
        except httpx.LocalProtocolError:
            # What the client sent cannot be forwarded as HTTP: its fault, not the service's.
            return problem(400, "bad-request", "Bad request", "The request cannot be forwarded.")
        except (httpx.HTTPError, httpx.InvalidURL):
            return problem(
                502,
                "bad-gateway",
                "Service unavailable",
                f"The {service} service cannot be reached.",
            )
        return StreamingResponse(
            answer.aiter_raw(),
            status_code=answer.status_code,
            headers={
                k: v
                for k, v in answer.headers.items()
                if k.lower() not in HOP_BY_HOP and k.lower() not in EDGE_OWN
            },
            background=BackgroundTask(answer.aclose),
        )

    @app.exception_handler(StarletteHTTPException)
    async def refused(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # What the edge itself refuses before forwarding (a method it never forwards: TRACE,
        # PROPFIND): a problem like the services', not Starlette's {"detail": ...}.
        if exc.status_code == 405:
            answer = problem(
                405,
                "method-not-allowed",
                "Method not allowed",
                f"{request.method} is not allowed on {request.url.path}",
            )
        else:
            phrase = HTTPStatus(exc.status_code).phrase
            answer = problem(exc.status_code, "http-error", phrase, str(exc.detail))
        answer.headers.update(exc.headers or {})
        return answer

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, _exc: Exception) -> JSONResponse:
        return problem(500, "internal-error", "Internal error", "The edge failed; it is logged.")

    return app


async def _send(client: httpx.AsyncClient, upstream: httpx.Request) -> httpx.Response:
    """Send, once more on a fresh connection if the kept-alive one was found closed."""
    try:
        return await client.send(upstream, stream=True)
    except httpx.RemoteProtocolError:
        if upstream.method not in IDEMPOTENT:
            raise
        return await client.send(upstream, stream=True)
