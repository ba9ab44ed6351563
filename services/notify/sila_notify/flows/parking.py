"""Events about a customer the directory does not know yet wait (parked) until identity's
registration arrives, then are planned in the order they happened.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.events import CloudEvent
from sila_notify.flows.planning import plan_event
from sila_notify.settings import NotifySettings
from sila_notify.tables import parked_events


async def park(session: AsyncSession, event: CloudEvent, now: datetime) -> None:
    await session.execute(
        pg_insert(parked_events)
        .values(
            event_id=event.id,
            customer_id=event.customerid,
            envelope=event.model_dump(mode="json"),
            parked_at=now,
        )
        .on_conflict_do_nothing(index_elements=["event_id"])
    )


async def release_parked(
    session: AsyncSession,
    settings: NotifySettings,
    customer_id: str,
    prepare: Callable[[CloudEvent], Awaitable[CloudEvent]] | None = None,
) -> None:
    """Plan what waited for this customer, in the order it happened (each event through
    ``prepare`` first: its places named as the map says now)."""
    rows = (
        await session.execute(
            select(parked_events.c.envelope).where(parked_events.c.customer_id == customer_id)
        )
    ).all()
    waiting = sorted((CloudEvent.model_validate(row.envelope) for row in rows), key=_when)
    for parked in waiting:
        await plan_event(session, settings, await prepare(parked) if prepare else parked)
    if waiting:
        await session.execute(
            delete(parked_events).where(parked_events.c.customer_id == customer_id)
        )


def _when(event: CloudEvent) -> datetime:
    return event.time
