"""The timeline read model: every service's events, one row each, keyed by event id.

A redelivered event hits the unique event id and changes nothing; an event that
arrives late takes its place by its own time, since pages are ordered by ``occurred_at``.
The entries of an erased customer keep no personal data, including those of events
that arrive after the erasure.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.db import insert_for
from sila_common.events import CloudEvent
from sila_identity.domain.privacy import scrub
from sila_identity.runtime import IdentityContext
from sila_identity.tables import customers, timeline_entries

# Members never kept on the timeline, whoever the customer (the log-in code).
SECRET_KEYS = {"identity.otp.requested": frozenset({"code"})}

RESOURCE_PATHS = {
    "identity.customer": "/v1/customers/{subject}",
    "identity.contract": "/v1/customers/{customer}/contracts/{subject}",
    "identity.interaction": "/v1/customers/{customer}/interactions/{subject}",
    "tickets.ticket": "/v1/tickets/{subject}",
    "tickets.incident": "/v1/incidents/{subject}",
    "billing.invoice": "/v1/invoices/{subject}",
    "billing.payment": "/v1/payments/{subject}",
    "billing.subscription": "/v1/subscriptions/{subject}",
    "loyalty.account": "/v1/loyalty/accounts/{customer}",
    "notify.message": "/v1/notifications/{subject}",
}


def resource_for(event: CloudEvent) -> str | None:
    entity = event.type.rsplit(".", 1)[0]
    template = RESOURCE_PATHS.get(entity)
    return template.format(subject=event.subject, customer=event.customerid) if template else None


async def project(session: AsyncSession, event: CloudEvent, context: IdentityContext) -> None:
    """Add the event to its customer's timeline (once, whatever the deliveries)."""
    insert = insert_for(session)
    data: dict[str, Any] = {
        k: v for k, v in event.data.items() if k not in SECRET_KEYS.get(event.type, ())
    }
    erased = await session.scalar(
        select(customers.c.erased_at).where(customers.c.id == event.customerid)
    )
    if erased is not None:
        data = scrub(data)
    channel = event.data.get("channel")
    await session.execute(
        insert(timeline_entries)
        .values(
            customer_id=event.customerid,
            event_id=event.id,
            occurred_at=event.time.astimezone(UTC),
            event_type=event.type,
            source_service=event.service,
            channel=str(channel) if channel else None,
            subject=event.subject,
            resource=resource_for(event),
            data=data,
            recorded_at=context.clock(),
        )
        .on_conflict_do_nothing(index_elements=["event_id"])
    )

    if event.type == "identity.customer.erased":
        # Anything projected while the erasure was committing is scrubbed now.
        await scrub_customer_entries(session, event.customerid)


async def scrub_customer_entries(session: AsyncSession, customer_id: str) -> int:
    """Remove personal data from every timeline entry of the customer; returns how many."""
    rows = (
        await session.execute(
            select(timeline_entries.c.id, timeline_entries.c.data).where(
                timeline_entries.c.customer_id == customer_id
            )
        )
    ).all()
    changed = 0
    for row in rows:
        cleaned = scrub(row.data)
        if cleaned != row.data:
            await session.execute(
                update(timeline_entries).where(timeline_entries.c.id == row.id).values(data=cleaned)
            )
            changed += 1
    return changed


async def reset(session: AsyncSession) -> None:
    """Empty the timeline, so that a replay of every service's history rebuilds it."""
    await session.execute(delete(timeline_entries))
