"""Tickets over HTTP: open a complaint or request, read it, list a customer's."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Response, status
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.app import RuntimeDep
from sila_common.auth import CurrentPrincipal, Principal
from sila_common.db import insert_for
from sila_common.idempotency import run_idempotent
from sila_common.problems import Forbidden, NotFound, Unprocessable
from sila_tickets.domain.calendar import WorkingCalendar
from sila_tickets.domain.sla import (
    TicketCategory,
    TicketPriority,
    compute_due,
    default_policies,
    select_policy,
)
from sila_tickets.events import TICKET_OPENED, TicketOpened
from sila_tickets.tables import known_customers, ticket_counters, tickets

router = APIRouter(prefix="/v1/tickets", tags=["tickets"])

Channel = Literal["agency", "call_centre", "web", "app", "social", "email"]
QUEUE_BY_CATEGORY = {
    "technical": "technical",
    "administrative": "billing",
    "commercial": "commercial",
}
AGENT_ROLES = ("agent", "supervisor", "technician", "billing")


class TicketCreate(BaseModel):
    customer_id: str = Field(min_length=1, max_length=36)
    contract_id: str | None = Field(default=None, max_length=36)
    category: TicketCategory
    subcategory: str | None = Field(default=None, max_length=50, pattern=r"^[a-z_]+$")
    priority: TicketPriority = TicketPriority.NORMAL
    channel: Channel
    subject: str = Field(min_length=3, max_length=200)
    description: str | None = Field(default=None, max_length=5000)


class TicketRead(BaseModel):
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
    queue: str
    opened_at: datetime
    first_response_due_at: datetime | None
    due_at: datetime | None


@lru_cache(maxsize=4)
def calendar_for(year: int) -> WorkingCalendar:
    return WorkingCalendar.algeria(years=range(year - 1, year + 3))


async def next_number(session: AsyncSession, year: int) -> str:
    insert = insert_for(session)
    stmt = insert(ticket_counters).values(year=year, last_value=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=["year"], set_={"last_value": ticket_counters.c.last_value + 1}
    ).returning(ticket_counters.c.last_value)
    value = (await session.execute(stmt)).scalar_one()
    return f"TT-{year}-{value:06d}"


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def to_read(row: Any) -> TicketRead:
    ticket = TicketRead.model_validate(row, from_attributes=True)
    return ticket.model_copy(
        update={
            "opened_at": _aware(ticket.opened_at),
            "due_at": _aware(ticket.due_at),
            "first_response_due_at": _aware(ticket.first_response_due_at),
        }
    )


def ensure_may_open(principal: Principal, customer_id: str) -> None:
    if principal.kind == "customer" and principal.customer_id == customer_id:
        return
    if principal.kind == "agent" and principal.has_role(*AGENT_ROLES):
        return
    raise Forbidden("You may not open a ticket for this customer.")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TicketRead,
    summary="Open a complaint or request",
)
async def open_ticket(
    body: TicketCreate,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    response: Response,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Any:
    ensure_may_open(principal, body.customer_id)

    async def work(session: AsyncSession) -> tuple[int, dict[str, Any]]:
        customer = (
            await session.execute(
                select(known_customers).where(known_customers.c.customer_id == body.customer_id)
            )
        ).one_or_none()
        if customer is None:
            raise Unprocessable(
                f"No customer {body.customer_id} is known.",
                slug="unknown-customer",
                title="Unknown customer",
            )
        if principal.kind == "agent" and not principal.serves_wilaya(customer.wilaya_code):
            raise Forbidden(f"Your scope does not cover wilaya {customer.wilaya_code}.")
        now = datetime.now(UTC)
        policy = select_policy(
            default_policies(),
            category=body.category,
            subcategory=body.subcategory,
            priority=body.priority,
        )
        calendar = calendar_for(now.year)
        ticket_id = str(uuid.uuid4())
        row = {
            "id": ticket_id,
            "number": await next_number(session, now.year),
            "customer_id": body.customer_id,
            "contract_id": body.contract_id,
            "category": body.category.value,
            "subcategory": body.subcategory,
            "priority": body.priority.value,
            "channel": body.channel,
            "subject": body.subject,
            "description": body.description,
            "status": "acknowledged",
            "queue": QUEUE_BY_CATEGORY[body.category.value],
            "wilaya_code": customer.wilaya_code,
            "assignee_id": None,
            "opened_by": f"{principal.kind}:{principal.subject}",
            "opened_at": now,
            "first_response_due_at": compute_due(policy.first_response, now, calendar),
            "due_at": compute_due(policy.resolution, now, calendar),
            "updated_at": now,
        }
        await session.execute(insert_for(session)(tickets).values(**row))
        ticket = to_read(row)
        await runtime.outbox.record(
            session,
            TICKET_OPENED,
            subject=ticket_id,
            customer_id=body.customer_id,
            data=TicketOpened(
                ticket_id=ticket_id,
                number=ticket.number,
                customer_id=body.customer_id,
                category=ticket.category,
                subcategory=ticket.subcategory,
                priority=ticket.priority,
                channel=ticket.channel,
                subject=ticket.subject,
                queue=ticket.queue,
                status=ticket.status,
                due_at=ticket.due_at,
                first_response_due_at=ticket.first_response_due_at,
            ),
        )
        return status.HTTP_201_CREATED, ticket.model_dump(mode="json")

    code, payload, replayed = await run_idempotent(
        runtime.session_factory,
        runtime.definition.tables.idempotency_keys,
        key=idempotency_key,
        principal=f"{principal.kind}:{principal.subject}",
        body=body.model_dump(mode="json"),
        work=work,
    )
    response.status_code = code
    response.headers["Location"] = f"/v1/tickets/{payload['id']}"
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return payload


def ensure_may_read(principal: Principal, ticket: Any) -> None:
    if principal.kind == "customer" and principal.customer_id == ticket.customer_id:
        return
    if principal.kind == "agent" and principal.serves_wilaya(ticket.wilaya_code):
        return
    raise NotFound(f"No ticket {ticket.id}.")


@router.get("/{ticket_id}", response_model=TicketRead, summary="One ticket")
async def get_ticket(ticket_id: str, runtime: RuntimeDep, principal: CurrentPrincipal) -> Any:
    async with runtime.session_factory() as session:
        row = (
            await session.execute(select(tickets).where(tickets.c.id == ticket_id))
        ).one_or_none()
    if row is None:
        raise NotFound(f"No ticket {ticket_id}.")
    ensure_may_read(principal, row)
    return to_read(row)


@router.get("", response_model=list[TicketRead], summary="A customer's tickets, newest first")
async def list_tickets(
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    customer_id: Annotated[str | None, Query(max_length=36)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[TicketRead]:
    if principal.kind == "customer":
        customer_id = principal.customer_id
    if customer_id is None:
        raise Unprocessable("customer_id is required.")
    query = (
        select(tickets)
        .where(tickets.c.customer_id == customer_id)
        .order_by(tickets.c.opened_at.desc())
        .limit(limit)
    )
    async with runtime.session_factory() as session:
        rows = (await session.execute(query)).all()
    visible = []
    for row in rows:
        try:
            ensure_may_read(principal, row)
        except NotFound:
            continue
        visible.append(to_read(row))
    return visible
