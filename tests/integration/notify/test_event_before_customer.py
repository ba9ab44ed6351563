"""Topics are not ordered against each other: a ticket may be heard of before its customer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from sila_notify.handlers import on_event
from sila_notify.tables import messages, parked_events
from tests.support import LiveService, random_mobile

from .test_rules import event
from .test_sms_and_inbox import opened


async def test_a_ticket_heard_of_before_its_customer_is_sent_once_the_customer_is_known(
    notify: LiveService,
) -> None:
    customer_id = str(uuid.uuid4())
    ticket_event = event("tickets.ticket.opened", customer_id, opened(customer_id))
    registered = event(
        "identity.customer.registered",
        customer_id,
        {
            "customer_id": customer_id,
            "kind": "residential",
            "status": "active",
            "wilaya_code": "15",
            "language": "fr",
            "channel": "agency",
            "display_name": "Karim Aït Saïd",
            "phone": random_mobile(),
            "email": None,
        },
    )
    registered = registered.model_copy(update={"time": datetime.now(UTC) + timedelta(seconds=1)})
    factory = notify.runtime.session_factory

    async with factory() as session, session.begin():
        # No error: it waits, it is not dead-lettered.
        await on_event(session, ticket_event, notify.runtime.handler_context())
    async with factory() as session:
        assert (
            await session.scalar(
                select(func.count()).where(parked_events.c.customer_id == customer_id)
            )
            == 1
        )

    async with factory() as session, session.begin():
        await on_event(session, registered, notify.runtime.handler_context())
    async with factory() as session:
        planned = (
            await session.execute(
                select(messages.c.channel).where(messages.c.event_id == ticket_event.id)
            )
        ).all()
        left = await session.scalar(
            select(func.count()).where(parked_events.c.customer_id == customer_id)
        )
    assert planned, "the parked ticket event became a message"
    assert left == 0

    async with factory() as session, session.begin():
        # A redelivery plans nothing twice.
        await on_event(session, registered, notify.runtime.handler_context())
    async with factory() as session:
        again = await session.scalar(
            select(func.count()).where(messages.c.event_id == ticket_event.id)
        )
    assert again == len(planned)
