"""What a ticket looks like over HTTP, and who may see which ticket."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.auth import Principal, ensure_roles, ensure_scope
from sila_common.db import as_utc
from sila_common.pagination import KeysetPage
from sila_common.problems import NotFound
from sila_common.roles import CUSTOMER_CARE, Scope
from sila_tickets.domain.lifecycle import PUBLIC_STATUS, Status
from sila_tickets.flows import history_of
from sila_tickets.tables import ticket_notes

# The platform's groups (sila_common.roles): who works on customers' cases.
AGENT_ROLES = CUSTOMER_CARE
TICKETS_READ = Scope.TICKETS_READ.value
TICKETS_WRITE = Scope.TICKETS_WRITE.value


class TicketSummary(BaseModel):
    id: str
    number: str
    customer_id: str
    contract_id: str | None
    category: str
    subcategory: str | None
    priority: str
    channel: str
    subject: str
    description: str | None
    status: str
    public_status: str
    queue: str
    wilaya_code: str | None
    assignee_id: str | None
    opened_at: datetime
    first_response_due_at: datetime | None
    due_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    escalation_level: str | None
    incident_id: str | None
    reopen_count: int
    service: str | None
    agency_code: str | None = None


class HistoryEntry(BaseModel):
    from_status: str | None
    status: str
    reason: str | None
    at: datetime
    by: str


class NoteRead(BaseModel):
    id: str
    public: bool
    text: str | None
    author: str
    created_at: datetime


class TicketDetail(TicketSummary):
    history: list[HistoryEntry]
    notes: list[NoteRead]
    script_answers: dict[str, Any] | None


class TicketPage(KeysetPage[TicketSummary]):
    pass


def summary(row: Any) -> TicketSummary:
    data = dict(row) if isinstance(row, dict) else dict(row._mapping)
    for name in ("opened_at", "first_response_due_at", "due_at", "resolved_at", "closed_at"):
        data[name] = as_utc(data.get(name))
    data["public_status"] = PUBLIC_STATUS[Status(data["status"])]
    data.setdefault("reopen_count", 0)
    data["agency_code"] = data.get("agency")
    return TicketSummary.model_validate(data)


def may_see(principal: Principal, ticket: Any) -> bool:
    if principal.kind == "customer":
        return bool(principal.customer_id == ticket.customer_id)
    if principal.kind == "agent":
        return principal.has_role(*AGENT_ROLES) and principal.serves_wilaya(ticket.wilaya_code)
    if principal.kind == "partner":
        return (
            principal.has_scope(TICKETS_READ) and ticket.opened_by == f"partner:{principal.subject}"
        )
    return principal.kind == "service"


def ensure_visible(principal: Principal, ticket: Any) -> None:
    """A ticket outside the caller's reach does not exist for them (404, not 403)."""
    if principal.kind == "agent":
        ensure_roles(principal, *AGENT_ROLES)
    if principal.kind == "partner":
        ensure_scope(principal, TICKETS_READ)
    if not may_see(principal, ticket):
        raise NotFound(f"No ticket {ticket.id}.")


def ensure_may_work(principal: Principal) -> None:
    """Moving and annotating tickets: the customer themself, agents, writing partners."""
    if principal.kind == "agent":
        ensure_roles(principal, *AGENT_ROLES)
    if principal.kind == "partner":
        ensure_scope(principal, TICKETS_WRITE)


def sees_internals(principal: Principal) -> bool:
    """Internal notes and script answers are the agents' working notes: agents only."""
    return principal.is_agent_with(*AGENT_ROLES)


def shown_actor(principal: Principal, actor: str) -> str:
    """Customers and partners see who acted by kind only (no agent's account); staff see it."""
    if principal.kind in ("customer", "partner"):
        kind = actor.split(":", 1)[0]
        return "you" if actor == f"{principal.kind}:{principal.subject}" else kind
    return actor


async def detail(session: AsyncSession, principal: Principal, row: Any) -> TicketDetail:
    history = await history_of(session, row.id)
    query = select(ticket_notes).where(ticket_notes.c.ticket_id == row.id)
    internals = sees_internals(principal)
    if not internals:
        query = query.where(ticket_notes.c.public.is_(True))
    notes = (await session.execute(query.order_by(ticket_notes.c.created_at))).all()
    base = summary(row).model_dump()
    return TicketDetail(
        **base,
        history=[
            HistoryEntry(
                from_status=h.from_status,
                status=h.to_status,
                reason=h.reason,
                at=h.at,
                by=shown_actor(principal, h.actor),
            )
            for h in history
        ],
        notes=[
            NoteRead(
                id=n.id,
                public=n.public,
                text=n.text,
                author=shown_actor(principal, n.author),
                created_at=n.created_at,
            )
            for n in notes
        ],
        script_answers=row.script_answers if internals else None,
    )
