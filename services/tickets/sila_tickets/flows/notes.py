"""Notes on a ticket, public or internal; a customer's answer resumes the ticket."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from sila_tickets.domain.lifecycle import (
    Actor,
    Status,
)
from sila_tickets.events import (
    NOTE_ADDED,
    NoteAdded,
)
from sila_tickets.flows.lifecycle import transition
from sila_tickets.flows.shared import Caller, load_ticket, partner_of
from sila_tickets.runtime import TicketsRuntime
from sila_tickets.tables import (
    ticket_notes,
    tickets,
)


async def add_note(
    session: AsyncSession,
    runtime: TicketsRuntime,
    ticket: Any,
    *,
    text: str,
    public: bool,
    caller: Caller,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A note on a (locked) ticket; a customer's answer resumes a ticket waiting on them."""
    now = now or datetime.now(UTC)
    row = dict(ticket._mapping)
    note = {
        "id": str(uuid.uuid4()),
        "ticket_id": row["id"],
        "author": caller.label,
        "public": public,
        "text": text,
        "created_at": now,
    }
    await session.execute(insert(ticket_notes).values(**note))
    changes: dict[str, Any] = {"updated_at": now}
    if public and caller.actor is Actor.STAFF and row["first_responded_at"] is None:
        changes["first_responded_at"] = now
    await session.execute(update(tickets).where(tickets.c.id == row["id"]).values(**changes))
    await runtime.outbox.record(
        session,
        NOTE_ADDED,
        subject=row["id"],
        customer_id=row["customer_id"],
        data=NoteAdded(
            ticket_id=row["id"],
            number=row["number"],
            customer_id=row["customer_id"],
            note_id=note["id"],
            public=public,
            text=text if public else None,
            partner_id=partner_of(row["opened_by"]),
        ),
    )
    if caller.actor is Actor.CUSTOMER and row["status"] == Status.PENDING_CUSTOMER.value:
        await transition(
            session,
            runtime,
            await load_ticket(session, row["id"]),
            Status.IN_PROGRESS,
            reason="The customer answered.",
            caller=caller,
            now=now,
        )
    return note


async def note_ticket(
    runtime: TicketsRuntime,
    ticket_id: str,
    *,
    text: str,
    public: bool,
    caller: Caller,
    authorise: Callable[[Any], None],
) -> dict[str, Any]:
    """A note on a ticket the caller may see (``authorise`` refuses others)."""
    async with runtime.session_factory() as session, session.begin():
        row = await load_ticket(session, ticket_id, lock=True)
        authorise(row)
        return await add_note(session, runtime, row, text=text, public=public, caller=caller)
