"""The customer directory fed by identity's events: fields, order, erasure."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, select

from sila_common.events import CloudEvent
from sila_tickets.flows.directory import erase_customer, remember_customer
from sila_tickets.tables import known_customers, messaging, ticket_notes
from tests.integration.tickets.conftest import open_ticket
from tests.support import LiveService, bearer, eventually

T0 = datetime(2026, 11, 1, 9, tzinfo=UTC)


def event(event_type: str, customer_id: str, at: datetime, **data: Any) -> CloudEvent:
    return CloudEvent(
        id=str(uuid.uuid4()),
        source="/sila/identity",
        type=event_type,
        time=at,
        subject=customer_id,
        dataschema="x",
        customerid=customer_id,
        data={"customer_id": customer_id, **data},
    )


PROFILE = {
    "kind": "residential",
    "status": "active",
    "wilaya_code": "15",
    "language": "kab",
    "channel": "call_centre",
    "display_name": "Karim Aït Saïd",
    "phone": "+213661234567",
    "email": None,
    "commune": "Azazga",
}


async def apply(tickets: LiveService, handler: Any, evt: CloudEvent) -> None:
    async with tickets.runtime.session_factory() as session, session.begin():
        await handler(session, evt, tickets.runtime.handler_context())


async def entry(tickets: LiveService, customer_id: str) -> Any:
    async with tickets.runtime.session_factory() as session:
        return (
            await session.execute(
                select(known_customers).where(known_customers.c.customer_id == customer_id)
            )
        ).one()


async def test_registration_then_update_keep_commune_and_contact_and_ignore_older_events(
    tickets: LiveService,
) -> None:
    customer_id = str(uuid.uuid4())
    await apply(
        tickets,
        remember_customer,
        event("identity.customer.registered", customer_id, T0, **PROFILE),
    )
    await apply(
        tickets,
        remember_customer,
        event(
            "identity.customer.updated",
            customer_id,
            T0 + timedelta(hours=2),
            **{**PROFILE, "commune": "Tigzirt", "email": "karim@example.dz"},
        ),
    )
    await apply(
        tickets,
        remember_customer,
        event(
            "identity.customer.updated",
            customer_id,
            T0 + timedelta(hours=1),
            **{**PROFILE, "commune": "Stale"},
        ),
    )
    row = await entry(tickets, customer_id)
    assert (row.commune, row.email, row.language, row.phone) == (
        "Tigzirt",
        "karim@example.dz",
        "kab",
        "+213661234567",
    )


async def test_erasure_scrubs_the_directory_and_tickets_and_refuses_new_ones(
    tickets: LiveService,
    admin_token: str,
) -> None:
    customer_id = str(uuid.uuid4())
    await apply(
        tickets,
        remember_customer,
        event("identity.customer.registered", customer_id, T0, **PROFILE),
    )
    ticket = await open_ticket(
        tickets, bearer(admin_token), customer_id, description="Appelez-moi au 0661234567"
    )
    note = await tickets.client.post(
        f"/v1/tickets/{ticket['id']}/notes",
        headers=bearer(admin_token),
        json={"text": "Adresse: ..."},
    )
    assert note.status_code == 201
    outbox, waiting = messaging.outbox, messaging.pending
    is_pending = exists().where(waiting.c.id == outbox.c.id)

    async def published_history() -> int:
        async with tickets.runtime.session_factory() as session:
            return int(
                await session.scalar(
                    select(func.count()).where(outbox.c.message_key == customer_id, ~is_pending)
                )
                or 0
            )

    async def all_published() -> bool:
        async with tickets.runtime.session_factory() as session:
            pending = await session.scalar(
                select(func.count()).where(outbox.c.message_key == customer_id, is_pending)
            )
        return pending == 0 and await published_history() > 0

    # Events still waiting for the relay at erasure time go out afterwards (by design), so
    # the history is checked once everything about the customer has been published.
    await eventually(all_published, what="the ticket's events all published")
    await apply(
        tickets,
        erase_customer,
        event("identity.customer.erased", customer_id, T0 + timedelta(days=1)),
    )
    await apply(
        tickets,
        remember_customer,
        event("identity.customer.updated", customer_id, T0 + timedelta(days=2), **PROFILE),
    )
    row = await entry(tickets, customer_id)
    assert row.erased_at is not None
    assert await published_history() == 0, "the erased customer's event history is deleted"
    assert (row.display_name, row.phone, row.commune) == (None, None, None)
    seen = (
        await tickets.client.get(f"/v1/tickets/{ticket['id']}", headers=bearer(admin_token))
    ).json()
    assert seen["description"] is None and seen["subject"] == "[effacé]"
    assert seen["number"] == ticket["number"]
    async with tickets.runtime.session_factory() as session:
        texts = (
            (
                await session.execute(
                    select(ticket_notes.c.text).where(ticket_notes.c.ticket_id == ticket["id"])
                )
            )
            .scalars()
            .all()
        )
    assert texts == [None]
    again = await tickets.client.post(
        "/v1/tickets",
        headers=bearer(admin_token),
        json={
            "customer_id": customer_id,
            "category": "technical",
            "channel": "web",
            "subject": "Encore",
        },
    )
    assert again.status_code == 422
