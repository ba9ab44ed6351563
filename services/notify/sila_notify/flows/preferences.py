"""A customer's preferences: channel order, consents per purpose and channel, and the
devices that receive push messages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from sila_notify.directory import record_consent
from sila_notify.runtime import NotifyRuntime
from sila_notify.tables import push_tokens, recipients

Scope = Callable[[AsyncSession, str], Awaitable[Any]]
"""The directory row of a customer the caller may act for (404 or 403 otherwise)."""


async def set_preferences(
    runtime: NotifyRuntime,
    customer_id: str,
    *,
    channel_order: list[str] | None,
    consents: Sequence[tuple[str, str, bool]],
    captured_via: str,
    scope: Scope,
) -> None:
    """The channel order (if given) and consents (purpose, channel, granted), together."""
    now = datetime.now(UTC)
    async with runtime.session_factory() as session, session.begin():
        await scope(session, customer_id)
        if channel_order is not None:
            await session.execute(
                update(recipients)
                .where(recipients.c.customer_id == customer_id)
                .values(channel_order=channel_order, updated_at=now)
            )
        for purpose, channel, granted in consents:
            await record_consent(
                session,
                customer_id=customer_id,
                purpose=purpose,
                channel=channel,
                granted=granted,
                captured_via=captured_via,
                at=now,
            )


async def add_push_token(
    runtime: NotifyRuntime, customer_id: str, token: str, platform: str, *, scope: Scope
) -> None:
    async with runtime.session_factory() as session, session.begin():
        await scope(session, customer_id)
        values = {"customer_id": customer_id, "platform": platform, "created_at": datetime.now(UTC)}
        stmt = pg_insert(push_tokens).values(token=token, **values)
        # A device that changes hands belongs to whoever registered it last.
        await session.execute(stmt.on_conflict_do_update(index_elements=["token"], set_=values))


async def delete_push_token(
    runtime: NotifyRuntime, customer_id: str, token: str, *, scope: Scope
) -> None:
    async with runtime.session_factory() as session, session.begin():
        await scope(session, customer_id)
        await session.execute(
            delete(push_tokens).where(
                push_tokens.c.customer_id == customer_id, push_tokens.c.token == token
            )
        )
