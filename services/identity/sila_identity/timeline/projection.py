"""The timeline read model: every service's events, one row each, keyed by event id.

A redelivered event hits the unique event id and changes nothing; an event that
arrives late takes its place by its own time, since pages are ordered by ``occurred_at``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.db import insert_for
from sila_common.events import CloudEvent
from sila_identity.tables import timeline_entries

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


async def project(session: AsyncSession, event: CloudEvent) -> None:
    """Add the event to its customer's timeline (once, whatever the deliveries)."""
    insert = insert_for(session)
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
            data=event.data,
            recorded_at=datetime.now(UTC),
        )
        .on_conflict_do_nothing(index_elements=["event_id"])
    )
