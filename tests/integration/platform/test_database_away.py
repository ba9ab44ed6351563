"""A database away or saturated is a 503 problem the client may retry, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from sila_common.db import make_engine
from sila_common.problems import ContainUnexpected, install_problem_handlers
from sila_local.processes import free_port
from tests.support import problem_of


def app_over(engine: AsyncEngine) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(ContainUnexpected)

    @app.get("/read")
    async def read() -> dict[str, int]:
        async with engine.connect() as conn:
            return {"one": int(await conn.scalar(text("SELECT 1")) or 0)}

    @app.get("/bug")
    async def bug() -> None:
        raise ValueError("a defect")

    return app


@pytest.fixture
async def small_pool(scratch_database: Callable[[str], Any]) -> AsyncIterator[AsyncEngine]:
    url = await scratch_database("tickets")
    engine = make_engine(url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    yield engine
    await engine.dispose()


async def call(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://sila") as client:
        return await client.get(path)


async def test_every_connection_busy_past_the_pools_timeout_is_a_503(
    small_pool: AsyncEngine,
) -> None:
    app = app_over(small_pool)
    assert (await call(app, "/read")).json() == {"one": 1}
    async with small_pool.connect() as held:
        await held.execute(text("SELECT 1"))
        busy = await call(app, "/read")
    assert busy.status_code == 503, busy.text
    assert problem_of(busy)["type"].endswith("/unavailable")
    assert busy.headers["retry-after"] == "1"
    assert (await call(app, "/read")).status_code == 200


async def test_a_database_that_refuses_connections_is_a_503_and_a_defect_still_a_500() -> None:
    engine = make_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing")
    try:
        app = app_over(engine)
        away = await call(app, "/read")
        assert away.status_code == 503, away.text
        assert problem_of(away)["status"] == 503
        defect = await call(app, "/bug")
        assert defect.status_code == 500
        assert problem_of(defect)["type"].endswith("/internal-error")
    finally:
        await engine.dispose()
