"""A create run once per Idempotency-Key: its last step (a write that locks rows other
requests wait on) runs after the stored answer, in the same transaction, and never on a
replay."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import Column, String, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sila_common.db import make_engine, new_metadata
from sila_common.idempotency import run_idempotent
from sila_common.outbox import messaging_tables
from tests.conftest import PostgresServer, create_database, drop_database

metadata = new_metadata()
messaging = messaging_tables(metadata)
writes = Table("writes", metadata, Column("what", String(50), primary_key=True))


@pytest.fixture
async def factory(postgres: PostgresServer) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    name = f"sila_test_idempotency_{uuid.uuid4().hex[:8]}"
    engine = make_engine(await create_database(name))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        yield async_sessionmaker(engine, expire_on_commit=False)
    finally:
        await engine.dispose()
        await drop_database(name)


async def written(factory: async_sessionmaker[AsyncSession]) -> list[str]:
    async with factory() as session:
        return sorted((await session.execute(select(writes.c.what))).scalars())


async def stored(factory: async_sessionmaker[AsyncSession]) -> int:
    table = messaging.idempotency_keys
    async with factory() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def work(session: AsyncSession) -> tuple[int, dict[str, Any]]:
    await session.execute(insert(writes).values(what="work"))
    return 201, {"id": "created"}


async def test_the_last_step_runs_after_the_stored_answer_and_not_on_a_replay(
    factory: async_sessionmaker[AsyncSession],
) -> None:
    seen_stored: list[int] = []

    async def last(session: AsyncSession) -> None:
        table = messaging.idempotency_keys
        seen_stored.append(int(await session.scalar(select(func.count()).select_from(table)) or 0))
        await session.execute(insert(writes).values(what="last"))

    async def create() -> tuple[int, dict[str, Any], bool]:
        return await run_idempotent(
            factory,
            messaging.idempotency_keys,
            key="k-1",
            principal="agent:a",
            body={"x": 1},
            work=work,
            last=last,
        )

    assert await create() == (201, {"id": "created"}, False)
    assert seen_stored == [1]  # the answer was already stored when the last step ran
    assert await create() == (201, {"id": "created"}, True)
    assert seen_stored == [1]  # a replay runs neither the work nor the last step
    assert await written(factory) == ["last", "work"]


async def test_a_failing_last_step_leaves_neither_the_work_nor_the_answer(
    factory: async_sessionmaker[AsyncSession],
) -> None:
    class Refused(Exception):
        pass

    async def last(session: AsyncSession) -> None:
        raise Refused

    for key in ("k-2", None):
        with pytest.raises(Refused):
            await run_idempotent(
                factory,
                messaging.idempotency_keys,
                key=key,
                principal="agent:a",
                body={"x": 2},
                work=work,
                last=last,
            )
    assert await written(factory) == []
    assert await stored(factory) == 0
