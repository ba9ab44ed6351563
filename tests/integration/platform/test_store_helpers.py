"""The store helpers on the one engine: a timestamp reads back aware in UTC whatever offset
it was written with, a write's row count is read one way, and a connection lent without
SQLAlchemy goes back to the pool clean."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import Column, Integer, Table, delete, func, insert, select, text

from sila_common.db import UtcDateTime, make_engine, new_metadata, pooled_driver, rows_affected
from tests.conftest import PostgresServer, create_database, drop_database

metadata = new_metadata()
moments = Table(
    "moments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UtcDateTime(), nullable=True),
)


async def test_a_timestamp_reads_back_aware_in_utc(postgres: PostgresServer) -> None:
    name = f"sila_test_moments_{uuid.uuid4().hex[:8]}"
    engine = make_engine(await create_database(name))
    algiers_noon = datetime(2026, 3, 20, 12, 0, tzinfo=timezone(timedelta(hours=1)))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.execute(
                insert(moments), [{"id": 1, "at": algiers_noon}, {"id": 2, "at": None}]
            )
        async with engine.connect() as conn:
            rows = dict((await conn.execute(select(moments.c.id, moments.c.at))).all())
        async with engine.begin() as writing:
            deleted = await writing.execute(delete(moments).where(moments.c.id == 2))
    finally:
        await engine.dispose()
        await drop_database(name)
    assert rows[1] == algiers_noon
    assert rows[1].tzinfo is not None and rows[1].utcoffset() == timedelta(0)
    assert rows[2] is None
    assert rows_affected(deleted) == 1


async def test_a_transaction_left_open_on_a_lent_driver_is_rolled_back_before_it_goes_back(
    postgres: PostgresServer,
) -> None:
    # ``pooled_driver`` lends the pool's asyncpg connection without SQLAlchemy around it;
    # SQLAlchemy's reset on return only knows its own transactions, so one the caller began
    # on the driver and left open (a relay batch that failed mid-way) is rolled back here.
    name = f"sila_test_lent_{uuid.uuid4().hex[:8]}"
    url = await create_database(name)
    engine, onlooker = make_engine(url), make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        async with pooled_driver(engine) as driver:
            lent = await driver.fetchval("SELECT pg_backend_pid()")
            await driver.execute("BEGIN")
            await driver.execute("INSERT INTO moments (id) VALUES (1)")
        async with onlooker.connect() as conn:  # a connection of its own: not the lent one
            state = await conn.scalar(
                text("SELECT state FROM pg_stat_activity WHERE pid = :pid"), {"pid": lent}
            )
            written = await conn.scalar(select(func.count()).select_from(moments))
    finally:
        await engine.dispose()
        await onlooker.dispose()
        await drop_database(name)
    assert state == "idle"  # back in the pool, not idle in a transaction holding the row
    assert written == 0
