"""The store helpers on the one engine: a timestamp reads back aware in UTC whatever offset
it was written with, and a write's row count is read one way."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import Column, Integer, Table, delete, insert, select

from sila_common.db import UtcDateTime, make_engine, new_metadata, rows_affected
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
