"""Rate limits kept in the database, so every instance of identity counts the same hits."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sila_common.problems import TooManyRequests
from sila_identity.domain.ratelimit import Limit
from sila_identity.tables import rate_limit_counters

# Counters older than this are deleted as new windows open.
KEEP = timedelta(days=1)


def private_key(value: str) -> str:
    """A bucket key that does not store the phone number or address itself."""
    return hashlib.sha256(value.encode()).hexdigest()[:40]


def _refusal(limit: Limit, now: datetime) -> TooManyRequests:
    retry = limit.retry_after(now)
    return TooManyRequests(
        f"Too many attempts; try again in {retry} seconds.",
        headers={"Retry-After": str(retry)},
        retry_after=retry,
    )


async def hit(factory: async_sessionmaker[AsyncSession], limit: Limit, key: str) -> None:
    """Count one hit; 429 when the bucket is over its limit (the hit still counts)."""
    now = datetime.now(UTC)
    if await count(factory, limit, key) > limit.hits:
        raise _refusal(limit, now)


async def count(factory: async_sessionmaker[AsyncSession], limit: Limit, key: str) -> int:
    """Count one hit; the bucket's hits in this window, this one included."""
    now = datetime.now(UTC)
    window = limit.window_start(now)
    bucket = limit.bucket(private_key(key))
    async with factory() as session, session.begin():
        statement = (
            insert(rate_limit_counters)
            .values(bucket=bucket, window_start=window, hits=1)
            .on_conflict_do_update(
                index_elements=["bucket", "window_start"],
                set_={"hits": rate_limit_counters.c.hits + 1},
            )
            .returning(rate_limit_counters.c.hits)
        )
        hits = (await session.execute(statement)).scalar_one()
        if hits == 1:
            await session.execute(
                delete(rate_limit_counters).where(
                    rate_limit_counters.c.bucket == bucket,
                    rate_limit_counters.c.window_start < now - KEEP,
                )
            )
    return int(hits)


async def ensure_under(factory: async_sessionmaker[AsyncSession], limit: Limit, key: str) -> None:
    """429 if the bucket is already at its limit, without counting a hit."""
    now = datetime.now(UTC)
    if await current(factory, limit, key) >= limit.hits:
        raise _refusal(limit, now)


async def current(factory: async_sessionmaker[AsyncSession], limit: Limit, key: str) -> int:
    """The bucket's hits in this window, without counting one."""
    now = datetime.now(UTC)
    async with factory() as session:
        hits = await session.scalar(
            select(rate_limit_counters.c.hits).where(
                rate_limit_counters.c.bucket == limit.bucket(private_key(key)),
                rate_limit_counters.c.window_start == limit.window_start(now),
            )
        )
    return int(hits or 0)
