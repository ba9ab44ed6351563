"""Running ASGI apps on real loopback sockets inside a test."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from tests.support import wait_until

STARTUP_DEADLINE_SECONDS = 10.0
CONDITION_DEADLINE_SECONDS = 10.0


@contextlib.asynccontextmanager
async def serve(app: ASGIApp, *, lifespan: Literal["on", "off"] = "on") -> AsyncIterator[str]:
    """Serve `app` on a free 127.0.0.1 port (the OS picks it) and yield its base URL
    (``lifespan="off"`` for an app already started, such as a ``LiveService``'s)."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan=lifespan)
    )
    task = asyncio.create_task(server.serve())
    try:
        await wait_until(
            lambda: server.started or task.done(),
            timeout=STARTUP_DEADLINE_SECONDS,
            what="the server started",
        )
        if task.done():
            task.result()
            raise AssertionError("the server stopped before it started")
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, STARTUP_DEADLINE_SECONDS)


class DlrReceiver:
    """A partner's endpoint for delivery reports: records every call, answers `status_code`."""

    def __init__(self, status_code: int = 200) -> None:
        self.status_code = status_code
        self.calls: list[dict[str, Any]] = []
        self._called = asyncio.Event()
        self.app = Starlette(routes=[Route("/dlr", self._receive, methods=["GET"])])

    async def _receive(self, request: Request) -> Response:
        self.calls.append(dict(request.query_params))
        self._called.set()
        return PlainTextResponse("OK", status_code=self.status_code)

    async def wait_for_calls(
        self, count: int, deadline_seconds: float = CONDITION_DEADLINE_SECONDS
    ) -> list[dict[str, Any]]:
        async with asyncio.timeout(deadline_seconds):
            while len(self.calls) < count:
                self._called.clear()
                await self._called.wait()
        return self.calls
