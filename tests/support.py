"""Helpers every test layer shares: waiting on conditions, test identities, in-process services."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import fastapi.routing
import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.dependencies.utils import solve_dependencies
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from sila_common.app import create_app
from sila_common.auth import KeySource
from sila_common.service import Runtime, ServiceDefinition
from sila_common.settings import PlatformSettings, ServiceSettings

T = TypeVar("T")
# A failure bound, not a wait: a condition met sooner returns at once. Generous because a
# consumer that has just joined its group on a loaded 2-core machine (CI's, with another
# session's benchmarks beside it) took more than 15 s for its first event.
DEADLINE_SECONDS = 30.0


async def eventually(
    probe: Callable[[], Awaitable[T | None]],
    *,
    timeout: float = DEADLINE_SECONDS,
    interval: float = 0.05,
    what: str = "condition",
) -> T:
    """Poll ``probe`` until it returns something truthy, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"{what} not reached within {timeout}s (last: {last!r})")


async def wait_until(
    condition: Callable[[], bool],
    *,
    timeout: float = DEADLINE_SECONDS,
    interval: float = 0.01,
    what: str = "condition",
) -> None:
    """Poll a synchronous ``condition`` until it holds, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        await asyncio.sleep(interval)


def random_mobile() -> str:
    """A valid Algerian mobile number nobody else in the run has (06 + 8 digits)."""
    return f"+2136{random.randrange(10**7, 10**8)}"


@dataclass
class LiveService:
    """A service running in this process with its real database and broker."""

    app: FastAPI
    client: httpx.AsyncClient

    @property
    def runtime(self) -> Runtime[Any]:
        runtime: Runtime[Any] = self.app.state.runtime
        return runtime


@asynccontextmanager
async def live_service(
    definition: ServiceDefinition[Any],
    *,
    platform: PlatformSettings,
    settings: ServiceSettings,
    with_workers: bool = True,
    key_source: KeySource | None = None,
) -> AsyncIterator[LiveService]:
    app = create_app(
        definition,
        with_workers=with_workers,
        platform=platform,
        settings=settings,
        key_source=key_source,
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url=f"http://{definition.name}"
        ) as client:
            yield LiveService(app=app, client=client)


@asynccontextmanager
async def on_a_port(app: FastAPI) -> AsyncIterator[str]:
    """An in-process service (its lifespan already ran) also served on a real loopback port,
    for the services and simulators that call it over HTTP; yields its base URL."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    await wait_until(lambda: server.started or task.done(), what="the server started")
    try:
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


class FastApiSolving:
    """Counts the requests whose arguments FastAPI solved (a ``DirectRoute`` gives its plain
    requests theirs directly): ``count`` after each request tells which path it took."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0

        async def counted(**arguments: Any) -> Any:
            self.count += 1
            return await solve_dependencies(**arguments)

        monkeypatch.setattr(fastapi.routing, "solve_dependencies", counted)


async def drop_the_pools_connection(pool_of_one: AsyncEngine, other: AsyncEngine) -> None:
    """The server ends the one connection of ``pool_of_one``'s pool (``pool_size=1``) while
    it sits in the pool, as a restarted or failed-over server would; returns once it is gone
    (``other``: an engine to watch from)."""
    async with pool_of_one.connect() as connection:  # the pool's one connection, given back
        backend = await connection.scalar(text("SELECT pg_backend_pid()"))
    async with other.connect() as watching:
        await watching.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})

    async def dropped() -> bool:
        async with other.connect() as watching:
            alive = await watching.scalar(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": backend}
            )
        return bool(alive == 0)

    await eventually(dropped, what="the backend gone")


def plan_nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    """Every node of an ``EXPLAIN (FORMAT JSON)`` plan, the root first."""
    return [node, *(n for child in node.get("Plans", []) for n in plan_nodes(child))]


def without_correlation(problem: dict[str, Any]) -> dict[str, Any]:
    """A problem's members but its correlation id (each request has its own)."""
    return {name: value for name, value in problem.items() if name != "correlation_id"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def problem_of(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == response.status_code
    assert {"type", "title", "detail"} <= body.keys()
    return body


class HasTransportKey(Protocol):
    """Identity's or notify's settings: both hold the transport key of one-time codes."""

    @property
    def otp_transport_key(self) -> SecretStr: ...


def otp_code_of(data: dict[str, Any], settings: HasTransportKey) -> str:
    """The code sealed in an ``identity.otp.requested`` event's data, opened as notify opens it
    (with the transport key identity and notify share: ``settings.otp_transport_key``)."""
    from sila_common.otp_transport import TransportKeyring

    keys = TransportKeyring([settings.otp_transport_key.get_secret_value()])
    return keys.open(
        str(data["sealed_code"]),
        key_id=str(data["key_id"]),
        customer_id=str(data["customer_id"]),
        phone=str(data["phone"]),
    )


def otp_event_data(
    settings: HasTransportKey,
    *,
    customer_id: str,
    phone: str,
    code: str,
    expires_at: str = "2026-01-12T13:35:00+00:00",
    language: str = "fr",
) -> dict[str, Any]:
    """The data of an ``identity.otp.requested`` event as identity records it: the code
    sealed under the transport key of ``settings`` (identity's or notify's: the same)."""
    from sila_common.otp_transport import TransportKey

    key = TransportKey.from_secret(settings.otp_transport_key.get_secret_value())
    return {
        "customer_id": customer_id,
        "phone": phone,
        "sealed_code": key.seal(code, customer_id=customer_id, phone=phone),
        "key_id": key.key_id,
        "expires_at": expires_at,
        "language": language,
    }
