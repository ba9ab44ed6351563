"""RFC 9457 problem details for every error a service returns.

Raise a ``Problem`` (or one of its named subclasses) from any layer; the handlers
installed by ``install_problem_handlers`` turn it, validation errors, 404/405 and any
unexpected exception into ``application/problem+json``.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import InterfaceError as SqlInterfaceError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from sila_common.correlation import current_correlation_id

log = structlog.get_logger(__name__)

PROBLEM_BASE = "https://sila.algerietelecom.dz/problems"
MEDIA_TYPE = "application/problem+json"


class Problem(Exception):
    """An error with an RFC 9457 shape; ``slug`` names its type URI."""

    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        slug: str | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        if slug is not None:
            self.slug = slug
        if title is not None:
            self.title = title
        self.headers = headers or {}
        self.extensions = extensions

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"{PROBLEM_BASE}/{self.slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        correlation = current_correlation_id()
        if correlation:
            body["correlation_id"] = correlation
        body.update(self.extensions)
        return body


class NotFound(Problem):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(Problem):
    status, slug, title = 409, "conflict", "Conflict"


class Unauthorized(Problem):
    status, slug, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"}, **extensions)


class Forbidden(Problem):
    status, slug, title = 403, "forbidden", "Not allowed"


class Unprocessable(Problem):
    status, slug, title = 422, "validation-error", "Invalid request"

    @classmethod
    def at(
        cls,
        field: str,
        message: str,
        *,
        detail: str | None = None,
        kind: str | None = None,
        **extensions: Any,
    ) -> Unprocessable:
        """A 422 naming the one field at fault, as FastAPI's own validation errors do:
        ``errors=[{"field", "message", "type"}]`` (``type`` is ``kind``, left out when None);
        ``detail`` is ``message`` unless given; ``slug``, ``title`` and other members pass on."""
        error = {"field": field, "message": message}
        if kind is not None:
            error["type"] = kind
        return cls(message if detail is None else detail, errors=[error], **extensions)


class TooManyRequests(Problem):
    status, slug, title = 429, "too-many-requests", "Too many requests"


class ServiceUnavailable(Problem):
    status, slug, title = 503, "unavailable", "Service unavailable"


# The database (or its connection) is away or saturated: the request may be tried again.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    PoolTimeout,  # every pooled connection busy past the pool's timeout
    SqlInterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # the driver's connection closed under it
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    ConnectionError,
)


def unexpected_problem(exc: BaseException) -> Problem:
    """What an exception no handler took becomes: a 503 to retry when the database is
    away or saturated, else a 500."""
    if isinstance(exc, _UNAVAILABLE) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    ):
        return ServiceUnavailable(
            "The service cannot reach its database right now; try again shortly.",
            headers={"Retry-After": "1"},
        )
    return Problem(
        "An unexpected error occurred; it has been logged.",
        status=500,
        slug="internal-error",
        title="Internal error",
    )


def problem_response(problem: Problem, request: Request) -> JSONResponse:
    return JSONResponse(
        problem.body(instance=request.url.path),
        status_code=problem.status,
        media_type=MEDIA_TYPE,
        headers=problem.headers,
    )


_HTTP_TITLES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Not allowed"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    429: ("too-many-requests", "Too many requests"),
}


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(exc, request)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {
                "field": ".".join(str(part) for part in err.get("loc", ())),
                "message": err.get("msg", ""),
                "type": err.get("type", ""),
            }
            for err in exc.errors()
        ]
        problem = Unprocessable(f"{len(errors)} field(s) are invalid", errors=errors)
        return problem_response(problem, request)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        slug, title = _HTTP_TITLES.get(exc.status_code, ("error", "Error"))
        detail = exc.detail if isinstance(exc.detail, str) else title
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"No resource at {request.url.path}"
        if exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
        problem = Problem(
            detail,
            status=exc.status_code,
            slug=slug,
            title=title,
            headers=dict(exc.headers or {}),
        )
        return problem_response(problem, request)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("http.unhandled_error", path=request.url.path, error_type=type(exc).__name__)
        return problem_response(unexpected_problem(exc), request)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)


class ContainUnexpected:
    """ASGI middleware: an unexpected exception becomes a 500 problem and stops there.

    Starlette's outermost error middleware answers 500 and then raises the exception again
    to the server, and uvicorn closes the connection: a proxy keeping that connection alive
    (the edge) then fails its next request on it with a 502. Answering here, without
    raising further, keeps the connection usable.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            log.exception(
                "http.unhandled_error", path=scope.get("path"), error_type=type(exc).__name__
            )
            if started:
                raise
            problem = unexpected_problem(exc)
            payload = json.dumps(problem.body(scope.get("path"))).encode()
            headers = [
                (b"content-type", MEDIA_TYPE.encode()),
                (b"content-length", str(len(payload)).encode()),
            ]
            headers += [(k.lower().encode(), v.encode()) for k, v in problem.headers.items()]
            await send(
                {"type": "http.response.start", "status": problem.status, "headers": headers}
            )
            await send({"type": "http.response.body", "body": payload})
