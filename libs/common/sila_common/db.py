"""Async SQLAlchemy engine and sessions for PostgreSQL (asyncpg), the one engine Sila runs on."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload

from pydantic_core import from_json
from sqlalchemy import (
    BigInteger,
    BindParameter,
    ColumnElement,
    CursorResult,
    DateTime,
    Dialect,
    MetaData,
    Result,
    Select,
    TypeDecorator,
    bindparam,
    event,
    tuple_,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import greenlet_spawn

if TYPE_CHECKING:
    import asyncpg

T = TypeVar("T")

# Stable constraint names make Alembic migrations deterministic.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# A 64-bit key.
BigId = BigInteger()
# A JSON document.
JsonDoc = JSONB()


@overload
def as_utc(moment: datetime) -> datetime: ...
@overload
def as_utc(moment: None) -> None: ...
@overload
def as_utc(moment: datetime | None) -> datetime | None: ...
def as_utc(moment: datetime | None) -> datetime | None:
    """An instant as an aware datetime: a naive one is taken to be UTC (how we store them).

    Columns of type UtcDateTime already read back aware; this is for instants that reach
    us another way (raw SQL, JSON documents).
    """
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """``TIMESTAMP WITH TIME ZONE`` that always reads back aware.

    asyncpg returns aware values; a naive one (raw SQL through another driver) is taken to
    be UTC, so no caller has to fix them.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return as_utc(value) if value is not None else None


@contextlib.asynccontextmanager
async def pooled_driver(engine: AsyncEngine) -> AsyncIterator[asyncpg.Connection]:
    """An asyncpg connection of the engine's pool, lent without a SQLAlchemy ``Connection``
    around it: for the hot paths' few fixed statements (prepared once, asyncpg's cache),
    where that wrapper's checkout, greenlet hops and statement building were a measurable
    share of the work (docs/benchmarks.md: identity's request path, the relay).

    Given back as SQLAlchemy gives a connection back, with what SQLAlchemy cannot see of
    the driver: a connection the server dropped is invalidated (the pool never lends it
    again), and a transaction the caller began on the driver and left open is rolled back
    (SQLAlchemy's reset on return only knows its own), the connection invalidated when even
    that fails."""
    pooled = await engine.raw_connection()
    driver = pooled.driver_connection
    assert driver is not None, "a pooled connection has its asyncpg connection"
    try:
        yield driver
    finally:
        # Shielded: a caller cancelled again while giving back (a shutdown's timeout on a
        # task being cancelled) still gets the connection back to the pool.
        await asyncio.shield(_give_back(pooled, driver))


async def _give_back(pooled: Any, driver: asyncpg.Connection) -> None:
    try:
        if not driver.is_closed() and driver.is_in_transaction():
            try:
                await driver.execute("ROLLBACK")
            except Exception:  # noqa: S110 - a connection that cannot roll back is dropped below
                pass
    finally:
        if driver.is_closed() or driver.is_in_transaction():
            await greenlet_spawn(pooled.invalidate)
        await greenlet_spawn(pooled.close)


def inline(value: T) -> BindParameter[T]:
    """A value written into the statement's text instead of sent as a parameter: for the
    ``state = 'queued'`` of a partial index's predicate, and for a queue claim's LIMIT.

    A statement run often is prepared once and kept (asyncpg's cache); after five runs
    PostgreSQL may plan it once for any parameters (the generic plan). Such a plan cannot
    use a partial index whose predicate compares with a parameter, and plans a parameter's
    LIMIT for a tenth of the rows: for notify's claim (``… WHERE state = $1 … ORDER BY …
    LIMIT $4 FOR UPDATE SKIP LOCKED``) that was a sort of every queued message at each
    claim, 2.6–25 ms while a burst of 10,000 codes was queued, against 0.2 ms reading the
    due index in order (docs/benchmarks.md, "SMS path"). Written in, the plan reads the
    index. Only for the few fixed values of a statement (each value is another statement
    text)."""
    return bindparam(None, value, literal_execute=True)


def rows_affected(result: Result[Any]) -> int:
    """How many rows an UPDATE, DELETE or INSERT touched (a session hides the cursor type)."""
    return int(cast(CursorResult[Any], result).rowcount or 0)


def newest_first(
    query: Select[Any],
    instant: ColumnElement[Any],
    key: ColumnElement[Any],
    *,
    after: tuple[Any, Any] | None,
    limit: int,
) -> Select[Any]:
    """``query`` as one page of a keyset list, newest first by ``(instant, key)``: the rows
    after the cursor's ``after`` (a decoded ``decode_time_cursor``), one row more than
    ``limit`` so the caller knows whether another page follows (``next_time_cursor``)."""
    if after is not None:
        # A row comparison, so the index range starts at the cursor instead of filtering.
        query = query.where(tuple_(instant, key) < tuple_(*after))
    return query.order_by(instant.desc(), key.desc()).limit(limit + 1)


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """A pooled asyncpg engine."""
    # Twenty connections kept, none beyond: with ten kept and ten "overflow" (the previous
    # setting, the same peak), a process serving more than ten requests at once opened a
    # connection for the eleventh and closed it on return, again and again (asyncpg's connect
    # and close were a tenth of a phone lookup's CPU at 16 clients: docs/benchmarks.md,
    # "identity's reads"). A connection is opened only when a request needs it.
    kwargs.setdefault("pool_size", 20)
    kwargs.setdefault("max_overflow", 0)
    # No ping before each checkout (a round trip on every transaction: 8-15 % of a request's
    # CPU in the profiles, docs/benchmarks.md). A connection the server dropped fails its
    # statement once; SQLAlchemy then recognises the disconnect and invalidates the whole
    # pool, so after a database restart each process fails at most the requests in flight
    # and the first one after, then reconnects. Connections are renewed every 30 minutes.
    kwargs.setdefault("pool_pre_ping", False)
    # JSONB read with pydantic's parser (Rust; the same values as json.loads on the JSON
    # PostgreSQL stores, about eight times faster on a small document): a timeline page
    # decodes one document per entry.
    kwargs.setdefault("json_deserializer", from_json)
    kwargs.setdefault("pool_recycle", 1800)
    return create_async_engine(url, **kwargs)


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def after_commit(session: AsyncSession, action: Callable[[], None]) -> None:
    """Run ``action`` once, when the session next commits: for what must wait until other
    transactions see the writes (dropping a cache a concurrent reader would otherwise fill
    again with the rows as they were). A handler calls it; its consumer owns the commit."""
    event.listen(session.sync_session, "after_commit", lambda _: action(), once=True)
