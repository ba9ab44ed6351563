"""The timeline read model: every service's events, one row each, keyed by event id.

A redelivered event hits the unique event id and changes nothing; an event that
arrives late takes its place by its own time, since pages are ordered by ``occurred_at``.
The entries of an erased customer keep no personal data, including those of events
that arrive after the erasure.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.events import CloudEvent
from sila_identity.domain.privacy import scrub
from sila_identity.runtime import IdentityContext
from sila_identity.tables import customers, timeline_entries

# Members never kept on the timeline, whoever the customer: the log-in code, sealed (and,
# in events older than the sealing, in clear).
SECRET_KEYS = {"identity.otp.requested": frozenset({"code", "sealed_code", "key_id"})}

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


# Entries for the staff only: an internal note on a ticket (its text never leaves tickets,
# but even its existence is not the customer's to see).
INTERNAL_NOTE = "tickets.note.added"


def customer_facing() -> ColumnElement[bool]:
    """The timeline entries a customer (or a partner) may see: no trace of internal notes.
    (The page's statement, ``flows.timeline.PAGE_AUDITED``, holds the same condition.)"""
    t = timeline_entries.c
    return or_(t.event_type != INTERNAL_NOTE, t.data["public"].as_boolean().is_(True))


def resource_for(event: CloudEvent) -> str | None:
    entity = event.type.rsplit(".", 1)[0]
    template = RESOURCE_PATHS.get(entity)
    return template.format(subject=event.subject, customer=event.customerid) if template else None


# Events keyed by something other than a customer (a partner, a place of the map, an agency,
# an incident as a whole): not on any timeline.
NOT_ABOUT_A_CUSTOMER = frozenset(
    {
        "identity.partner.changed",
        "identity.geography.changed",
        "tickets.hub_subscription.changed",
        "tickets.agency.relocated",
        "tickets.incident.relocated",
    }
)


async def project(session: AsyncSession, event: CloudEvent, context: IdentityContext) -> None:
    """Add the event to its customer's timeline (once, whatever the deliveries)."""
    await project_many(session, [event], context)


async def project_many(
    session: AsyncSession, events: list[CloudEvent], context: IdentityContext
) -> None:
    """Add events to their customers' timelines in one statement, which also names the
    erased customers among them: their events go in once scrubbed, by a second statement
    (the consumer's batch path; ``project`` is one of them)."""
    events = [event for event in events if event.type not in NOT_ABOUT_A_CUSTOMER]
    if not events:
        return
    now = context.clock()
    entries = [entry_of(event, scrubbed=False, at=now) for event in events]
    erased = set(await session.scalars(_INSERT_UNLESS_ERASED, _arrays(entries, now)))
    if erased:
        scrubbed = [
            entry_of(event, scrubbed=True, at=now) for event in events if event.customerid in erased
        ]
        await session.execute(_INSERT_ENTRIES, _arrays(scrubbed, now))
    for event in events:
        if event.type == "identity.customer.erased":
            # Anything projected while the erasure was committing is scrubbed now.
            await scrub_customer_entries(session, event.customerid)


project.many = project_many  # type: ignore[attr-defined]

# An entry's columns with their types, but its time of recording (one for the batch).
_ENTRY_TYPES = {
    "customer_id": "varchar",
    "event_id": "varchar",
    "occurred_at": "timestamptz",
    "event_type": "varchar",
    "source_service": "varchar",
    "channel": "varchar",
    "subject": "varchar",
    "resource": "varchar",
    "data": "jsonb",
}
_COLUMNS = ", ".join(_ENTRY_TYPES)
# The batch's entries as one array per column: the statements keep one text whatever the
# batch's size, so PostgreSQL plans each once per connection (a multi-row ``VALUES`` or an
# ``IN`` list is a new statement for each size: with fetches of 1-500 events, most batches
# prepared theirs anew).
_ENTRIES = (
    f"SELECT {_COLUMNS}, CAST(:recorded_at AS timestamptz) AS recorded_at FROM unnest("  # noqa: S608 - names
    + ", ".join(f"CAST(:{name} AS {type_}[])" for name, type_ in _ENTRY_TYPES.items())
    + f") AS u({_COLUMNS})"
)
_INSERT = f"INSERT INTO {timeline_entries.name} ({_COLUMNS}, recorded_at)"
_INSERT_ENTRIES = text(f"{_INSERT} {_ENTRIES} ON CONFLICT (event_id) DO NOTHING")
# The entries of customers not erased, in one round trip with the erased ones' ids.
_INSERT_UNLESS_ERASED = text(
    f"WITH erased AS (SELECT id FROM {customers.name} WHERE erased_at IS NOT NULL"  # noqa: S608 - names
    f" AND id = ANY(CAST(:customer_id AS varchar[]))),"
    f" entered AS ({_INSERT} SELECT * FROM ({_ENTRIES}) AS e"
    f" WHERE e.customer_id NOT IN (SELECT id FROM erased) ON CONFLICT (event_id) DO NOTHING)"
    f" SELECT id FROM erased"
)


def _arrays(entries: list[dict[str, Any]], recorded_at: datetime) -> dict[str, Any]:
    columns: dict[str, Any] = {name: [entry[name] for entry in entries] for name in _ENTRY_TYPES}
    columns["data"] = [json.dumps(data) for data in columns["data"]]
    return {**columns, "recorded_at": recorded_at}


def entry_of(event: CloudEvent, *, scrubbed: bool, at: datetime) -> dict[str, Any]:
    data: dict[str, Any] = {
        k: v for k, v in event.data.items() if k not in SECRET_KEYS.get(event.type, ())
    }
    if scrubbed:
        data = scrub(data)
    channel = event.data.get("channel")
    return {
        "customer_id": event.customerid,
        "event_id": event.id,
        "occurred_at": event.time.astimezone(UTC),
        "event_type": event.type,
        "source_service": event.service,
        "channel": str(channel) if channel else None,
        "subject": event.subject,
        "resource": resource_for(event),
        "data": data,
        "recorded_at": at,
    }


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
