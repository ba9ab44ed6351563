"""The customer directory: identity's customers as tickets knows them (where they are, for
routing and incidents; how to reach them), where their contracts are installed, and their
erasure. An older event never overwrites a newer one, and nothing resurrects an erasure.
A customer who moves (or whose commune the 2025 reform moved) takes their live tickets to
their new wilaya, each with its ``tickets.ticket.relocated`` event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.events import CloudEvent
from sila_common.identity_client import IdentityCustomer
from sila_common.outbox import NewEvent, Outbox, forget_customer_history
from sila_tickets.domain.lifecycle import OPEN, Status
from sila_tickets.events import TICKET_RELOCATED, TicketRelocated
from sila_tickets.flows.geography import map_in
from sila_tickets.runtime import TicketsContext
from sila_tickets.tables import (
    known_customers,
    known_installations,
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
    "commune_code": 4,
}
# A ticket still on someone's desk (or resolved and reopenable) follows its customer.
FOLLOWS_CUSTOMER = sorted(s.value for s in (*OPEN, Status.RESOLVED))


def _text(value: Any, limit: int) -> str | None:
    return str(value)[:limit] if value not in (None, "") else None


async def remember_customer(
    session: AsyncSession, event: CloudEvent, context: TicketsContext
) -> None:
    current = (
        await session.execute(
            select(
                known_customers.c.event_time,
                known_customers.c.erased_at,
                known_customers.c.wilaya_code,
            ).where(known_customers.c.customer_id == event.customerid)
        )
    ).one_or_none()
    if current is not None:
        if current.erased_at is not None:
            return
        stored = current.event_time
        if stored is not None and stored > event.time:
            return
    data = event.data
    now = context.clock()
    values: dict[str, Any] = {
        "customer_id": event.customerid,
        "wilaya_code": str(data["wilaya_code"]),
        "language": str(data.get("language") or "fr")[:5],
        "status": str(data.get("status") or "active")[:20],
        "updated_at": now,
        "event_time": event.time,
        **{name: _text(data.get(name), limit) for name, limit in _OPTIONAL_TEXT.items()},
    }
    stmt = insert(known_customers).values(**values)
    await session.execute(stmt.on_conflict_do_update(index_elements=["customer_id"], set_=values))
    if current is not None and current.wilaya_code != values["wilaya_code"]:
        await relocate_tickets(
            session,
            context.outbox,
            event.customerid,
            values["wilaya_code"],
            data.get("reason"),
            now=now,
        )


async def relocate_tickets(
    session: AsyncSession,
    outbox: Outbox,
    customer_id: str,
    wilaya_code: str,
    reason: Any,
    *,
    now: datetime,
) -> None:
    """The customer's live tickets move to their new wilaya, each with its event."""
    rows = (
        await session.execute(
            select(tickets.c.id, tickets.c.number, tickets.c.wilaya_code).where(
                tickets.c.customer_id == customer_id,
                tickets.c.status.in_(FOLLOWS_CUSTOMER),
                tickets.c.wilaya_code != wilaya_code,
            )
        )
    ).all()
    if not rows:
        return
    await session.execute(
        update(tickets)
        .where(tickets.c.id.in_([r.id for r in rows]))
        .values(wilaya_code=wilaya_code, updated_at=now)
    )
    await outbox.record_many(
        session,
        [
            NewEvent(
                TICKET_RELOCATED,
                row.id,
                customer_id,
                TicketRelocated(
                    ticket_id=row.id,
                    number=row.number,
                    customer_id=customer_id,
                    from_wilaya_code=row.wilaya_code,
                    wilaya_code=wilaya_code,
                    reason=str(reason) if reason else None,
                ),
            )
            for row in rows
        ],
    )


async def remember_installation(
    session: AsyncSession, event: CloudEvent, context: TicketsContext
) -> None:
    """identity.contract.signed / updated: where the contract is installed."""
    data = event.data
    contract_id = str(data["contract_id"])
    stored = await session.scalar(
        select(known_installations.c.event_time).where(
            known_installations.c.contract_id == contract_id
        )
    )
    if stored is not None and stored > event.time:
        return
    commune_code = data.get("installation_commune_code")
    # The map with the admins' edits: a line in a commune created since the release counts.
    commune = (await map_in(session, context.collaborators)).communes.get(str(commune_code or ""))
    values: dict[str, Any] = {
        "contract_id": contract_id,
        "customer_id": event.customerid,
        "wilaya_code": data.get("installation_wilaya_code"),
        "commune_code": commune.code if commune else None,
        "daira_code": commune.daira_code if commune else None,
        "event_time": event.time,
    }
    stmt = insert(known_installations).values(**values)
    await session.execute(stmt.on_conflict_do_update(index_elements=["contract_id"], set_=values))


async def keep_identity_answer(
    session: AsyncSession, customer: IdentityCustomer, *, now: datetime
) -> None:
    """What identity answered about a customer the directory lacked (registered a moment ago,
    its event not consumed yet). No event time is stored: the customer's events, which follow,
    stay the authority; an erasure is kept as one, so nothing resurrects it."""
    values: dict[str, Any] = {
        "customer_id": customer.id,
        "wilaya_code": customer.wilaya_code,
        "language": customer.language[:5],
        "status": customer.status[:20],
        "updated_at": now,
        "event_time": None,
        "erased_at": customer.erased_at,
        **dict.fromkeys(_OPTIONAL_TEXT),
    }
    if not customer.erased:
        for name in ("kind", "display_name", "phone", "email", "commune"):
            values[name] = _text(getattr(customer, name), _OPTIONAL_TEXT[name])
    stmt = insert(known_customers).values(**values)
    # A consumer (or another request) that wrote the row first wins: it is as fresh.
    await session.execute(stmt.on_conflict_do_nothing(index_elements=["customer_id"]))


async def erase_customer(session: AsyncSession, event: CloudEvent, context: TicketsContext) -> None:
    """Scrub the customer's personal data; tickets keep their numbers and dates for reports."""
    customer_id = event.customerid
    now = context.clock()
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
    await forget_customer_history(session, messaging, customer_id)
    await session.execute(
        update(questionnaire_responses)
        .where(questionnaire_responses.c.customer_id == customer_id)
        .values(answers={}, customer_id=None)
    )
