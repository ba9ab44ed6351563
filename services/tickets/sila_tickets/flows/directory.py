"""The customer directory: identity's customers as tickets knows them (where they are, for
routing and incidents; how to reach them), and their erasure. An older event never
overwrites a newer one, and nothing resurrects an erasure.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.db import insert_for
from sila_common.events import CloudEvent
from sila_common.outbox import forget_customer_history
from sila_tickets.runtime import TicketsContext
from sila_tickets.tables import (
    known_customers,
    messaging,
    questionnaire_responses,
    surveys,
    ticket_notes,
    tickets,
)

ERASED_SUBJECT = "[effacé]"
_OPTIONAL_TEXT = {
    "kind": 20,
    "channel": 20,
    "display_name": 200,
    "phone": 20,
    "email": 254,
    "commune": 100,
    "exchange": 50,
    "olt": 50,
}


def _text(value: Any, limit: int) -> str | None:
    return str(value)[:limit] if value not in (None, "") else None


async def remember_customer(
    session: AsyncSession, event: CloudEvent, context: TicketsContext
) -> None:
    current = (
        await session.execute(
            select(known_customers.c.event_time, known_customers.c.erased_at).where(
                known_customers.c.customer_id == event.customerid
            )
        )
    ).one_or_none()
    if current is not None:
        if current.erased_at is not None:
            return
        stored = current.event_time
        if stored is not None and stored > event.time:
            return
    data = event.data
    values: dict[str, Any] = {
        "customer_id": event.customerid,
        "wilaya_code": str(data["wilaya_code"]),
        "language": str(data.get("language") or "fr")[:5],
        "status": str(data.get("status") or "active")[:20],
        "updated_at": context.clock(),
        "event_time": event.time,
        **{name: _text(data.get(name), limit) for name, limit in _OPTIONAL_TEXT.items()},
    }
    insert = insert_for(session)
    stmt = insert(known_customers).values(**values)
    await session.execute(stmt.on_conflict_do_update(index_elements=["customer_id"], set_=values))


async def erase_customer(session: AsyncSession, event: CloudEvent, context: TicketsContext) -> None:
    """Scrub the customer's personal data; tickets keep their numbers and dates for reports."""
    customer_id = event.customerid
    now = context.clock()
    insert = insert_for(session)
    scrubbed: dict[str, Any] = {
        "status": "erased",
        "updated_at": now,
        "event_time": event.time,
        "erased_at": now,
        **dict.fromkeys(_OPTIONAL_TEXT),
    }
    stmt = insert(known_customers).values(
        customer_id=customer_id, wilaya_code="00", language="fr", **scrubbed
    )
    await session.execute(stmt.on_conflict_do_update(index_elements=["customer_id"], set_=scrubbed))
    await session.execute(
        update(tickets)
        .where(tickets.c.customer_id == customer_id)
        .values(subject=ERASED_SUBJECT, description=None, script_answers=None, updated_at=now)
    )
    ticket_ids = select(tickets.c.id).where(tickets.c.customer_id == customer_id)
    await session.execute(
        update(ticket_notes).where(ticket_notes.c.ticket_id.in_(ticket_ids)).values(text=None)
    )
    await session.execute(
        update(surveys).where(surveys.c.customer_id == customer_id).values(comment=None)
    )
    await forget_customer_history(session, messaging.outbox, customer_id)
    await session.execute(
        update(questionnaire_responses)
        .where(questionnaire_responses.c.customer_id == customer_id)
        .values(answers={}, customer_id=None)
    )
