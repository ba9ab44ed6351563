"""Async SQLAlchemy engine and sessions for PostgreSQL (asyncpg) and SQLite (aiosqlite)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast, overload

from sqlalchemy import (
    JSON,
    BigInteger,
    CursorResult,
    DateTime,
    Dialect,
    Integer,
    MetaData,
    Result,
    TypeDecorator,
    event,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

# Stable constraint names make Alembic migrations deterministic across dialects.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# A 64-bit key on PostgreSQL that SQLite still auto-increments (it only does for INTEGER).
BigId = BigInteger().with_variant(Integer(), "sqlite")
# JSONB where we have it.
JsonDoc = JSON().with_variant(JSONB(), "postgresql")


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

    PostgreSQL returns aware values; SQLite keeps no offset and returns naive ones, which
    were written in UTC: they are read back as UTC, so no caller has to fix them.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None and dialect.name == "sqlite":
            return value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return as_utc(value) if value is not None else None


def rows_affected(result: Result[Any]) -> int:
    """How many rows an UPDATE, DELETE or INSERT touched (a session hides the cursor type)."""
    return int(cast(CursorResult[Any], result).rowcount or 0)


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


def is_postgres(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An engine tuned for the dialect: a pool for PostgreSQL, WAL and a busy timeout for SQLite."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def insert_for(session: AsyncSession) -> Any:
    """The dialect's INSERT, which knows ``ON CONFLICT`` on both PostgreSQL and SQLite."""
    from sqlalchemy.dialects import postgresql, sqlite

    bind = session.bind
    return (
        postgresql.insert
        if bind is not None and bind.dialect.name == "postgresql"
        else sqlite.insert
    )
