"""Tickets over HTTP: open, read, list; move through the lifecycle; notes; assignment; scripts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, status
from pydantic import BaseModel, Field

from sila_common.auth import CurrentPrincipal, Principal, ensure_roles, ensure_scope
from sila_common.inputs import decode_time_cursor
from sila_common.pagination import next_time_cursor
from sila_common.problems import Forbidden, Unprocessable
from sila_tickets import flows, queries
from sila_tickets.api.deps import RuntimeDep
from sila_tickets.api.views import (
    AGENT_ROLES,
    TICKETS_READ,
    TICKETS_WRITE,
    NoteRead,
    TicketDetail,
    TicketPage,
    TicketSummary,
    detail,
    ensure_may_work,
    ensure_visible,
    summary,
)
from sila_tickets.domain.agencies import AGENCY_CODE_PATTERN
from sila_tickets.domain.lifecycle import Status
from sila_tickets.domain.sla import TicketCategory, TicketPriority
from sila_tickets.flows import Caller, NewTicket
from sila_tickets.queries import TicketFilter

router = APIRouter(prefix="/v1/tickets", tags=["tickets"])

Queue = Literal["technical", "billing", "commercial"]
Channel = Literal["agency", "call_centre", "web", "app", "social", "email", "partner"]


class TicketCreate(BaseModel):
    customer_id: str = Field(min_length=1, max_length=36)
    contract_id: str | None = Field(default=None, max_length=36)
    category: TicketCategory
    subcategory: str | None = Field(default=None, max_length=50, pattern=r"^[a-z_]+$")
    priority: TicketPriority = TicketPriority.NORMAL
    channel: Channel
    subject: str = Field(min_length=3, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    service: str | None = Field(default=None, max_length=30, pattern=r"^[a-z0-9_]+$")
    exchange: str | None = Field(default=None, max_length=50)
    olt: str | None = Field(default=None, max_length=50)
    script_answers: dict[str, Any] | None = None
    agency_code: str | None = Field(
        default=None,
        pattern=AGENCY_CODE_PATTERN,
        description="The agency handling the ticket (agents only); its hours set the working "
        "clocks. Default: the agency of the agent's token, if it names one.",
    )


def ensure_may_open(principal: Principal, customer_id: str, agency_code: str | None) -> None:
    if agency_code is not None and principal.kind != "agent":
        raise Forbidden("Only an agent names the agency handling a ticket.")
    if principal.kind == "customer" and principal.customer_id == customer_id:
        return
    if principal.kind == "agent" and principal.has_role(*AGENT_ROLES):
        return
    if principal.kind == "partner" and principal.has_scope(TICKETS_WRITE):
        return
    raise Forbidden("You may not open a ticket for this customer.")


def scope_check(principal: Principal) -> Any:
    def authorise(customer: Any) -> None:
        # Outside the agent's wilayas the customer is as unknown as one that does not exist
        # (the same 422): nothing says they exist, nor where (docs/security.md, case 4).
        if principal.kind == "agent" and not principal.serves_wilaya(customer.wilaya_code):
            raise Unprocessable(
                f"No customer {customer.customer_id} is known.",
                slug="unknown-customer",
                title="Unknown customer",
                errors=[{"field": "body.customer_id", "message": "unknown customer"}],
            )

    return authorise


def new_ticket(body: TicketCreate) -> NewTicket:
    return NewTicket(
        customer_id=body.customer_id,
        category=body.category,
        channel=body.channel,
        subject=body.subject,
        subcategory=body.subcategory,
        priority=body.priority,
        contract_id=body.contract_id,
        description=body.description,
        service=body.service,
        exchange=body.exchange,
        olt=body.olt,
        script_answers=body.script_answers,
        agency_code=body.agency_code,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TicketSummary,
    summary="Open a complaint or request (idempotent with Idempotency-Key)",
)
async def open_ticket(
    body: TicketCreate,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Any:
    ensure_may_open(principal, body.customer_id, body.agency_code)
    created = await flows.open_ticket_once(
        runtime,
        principal,
        new_ticket(body),
        idempotency_key=idempotency_key,
        request=body.model_dump(mode="json"),
        authorise=scope_check(principal),
        render=lambda row: summary(row).model_dump(mode="json"),
    )
    # The stored answer was rendered as a TicketSummary: sent as it is, not validated again.
    return created.response(location=f"/v1/tickets/{created.body['id']}")


@router.get(
    "/{ticket_id}", response_model=TicketDetail, summary="One ticket, its history and notes"
)
async def get_ticket(ticket_id: str, runtime: RuntimeDep, principal: CurrentPrincipal) -> Any:
    async with runtime.session_factory() as session:
        row = await flows.load_ticket(session, ticket_id)
        ensure_visible(principal, row)
        return await detail(session, principal, row)


@router.get("", response_model=TicketPage, summary="Tickets, newest first, filtered and paged")
async def list_tickets(
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    customer_id: Annotated[str | None, Query(max_length=36)] = None,
    status_: Annotated[Status | None, Query(alias="status")] = None,
    queue: Annotated[Queue | None, Query()] = None,
    wilaya: Annotated[str | None, Query(pattern=r"^\d{2}$")] = None,
    assignee: Annotated[str | None, Query(max_length=36)] = None,
    overdue: bool | None = None,
    incident_id: Annotated[str | None, Query(max_length=36)] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> TicketPage:
    bounds = _list_bounds(principal, customer_id, wilaya)
    if bounds is None:
        return TicketPage(items=[], next_cursor=None)
    wanted = replace(
        bounds,
        status=status_.value if status_ is not None else None,
        queue=queue,
        assignee=assignee,
        incident_id=incident_id,
        overdue=overdue,
    )
    after = decode_time_cursor(cursor) if cursor is not None else None
    query = queries.ticket_list(wanted, now=datetime.now(UTC), after=after, limit=limit)
    async with runtime.session_factory() as session:
        rows = (await session.execute(query)).all()
    return TicketPage(
        items=[summary(row) for row in rows[:limit]],
        next_cursor=next_time_cursor(rows, limit, "opened_at"),
    )


def _list_bounds(
    principal: Principal, customer_id: str | None, wilaya: str | None
) -> TicketFilter | None:
    """The part of the list ``principal`` may ask for: a customer their own tickets (None
    when they ask for another's: an empty page, no leak), an agent the wilayas they serve
    (403 for another), a partner with ``tickets:read`` the tickets it opened."""
    if principal.kind == "customer":
        if customer_id not in (None, principal.customer_id):
            return None
        return TicketFilter(customer_id=principal.customer_id, wilaya=wilaya)
    if principal.kind == "agent":
        ensure_roles(principal, *AGENT_ROLES)
        if wilaya is not None and not principal.serves_wilaya(wilaya):
            raise Forbidden(f"Your scope does not cover wilaya {wilaya}.")
        within = None if "*" in principal.wilayas else principal.wilayas
        return TicketFilter(customer_id=customer_id, wilaya=wilaya, within_wilayas=within)
    if principal.kind == "partner":
        # Listing is reading: tickets:write alone opens tickets but does not list them.
        ensure_scope(principal, TICKETS_READ)
        opened_by = f"partner:{principal.subject}"
        return TicketFilter(customer_id=customer_id, wilaya=wilaya, opened_by=opened_by)
    return TicketFilter(customer_id=customer_id, wilaya=wilaya)


class TransitionRequest(BaseModel):
    to: Status
    reason: str | None = Field(default=None, max_length=2000)


@router.post(
    "/{ticket_id}/transitions",
    response_model=TicketDetail,
    summary="Move a ticket in its lifecycle (409 lists the allowed transitions)",
)
async def move_ticket(
    ticket_id: str, body: TransitionRequest, runtime: RuntimeDep, principal: CurrentPrincipal
) -> Any:
    ensure_may_work(principal)
    moved = await flows.move_ticket(
        runtime,
        ticket_id,
        body.to,
        reason=body.reason,
        caller=Caller.of(principal),
        authorise=lambda row: ensure_visible(principal, row),
    )
    async with runtime.session_factory() as session:
        return await detail(session, principal, moved)


class NoteCreate(BaseModel):
    text: str = Field(min_length=1, max_length=5000)
    public: bool = True


@router.post(
    "/{ticket_id}/notes",
    status_code=status.HTTP_201_CREATED,
    response_model=NoteRead,
    summary="Add a public note (the customer sees it) or an internal one",
)
async def add_note(
    ticket_id: str, body: NoteCreate, runtime: RuntimeDep, principal: CurrentPrincipal
) -> Any:
    ensure_may_work(principal)
    if principal.kind in ("customer", "partner") and not body.public:
        # Internal notes are the agents' own working notes (docs/security.md).
        raise Forbidden(f"{principal.kind.capitalize()}s' notes are always public.")
    note = await flows.note_ticket(
        runtime,
        ticket_id,
        text=body.text,
        public=body.public,
        caller=Caller.of(principal),
        authorise=lambda row: ensure_visible(principal, row),
    )
    return NoteRead(
        id=note["id"],
        public=note["public"],
        text=note["text"],
        author=note["author"],
        created_at=note["created_at"],
    )


class AssignmentRequest(BaseModel):
    # None: let the queue's strategy choose.
    assignee_id: str | None = Field(default=None, max_length=36)


@router.post(
    "/{ticket_id}/assignment",
    response_model=TicketSummary,
    summary="Assign a ticket to an agent of its queue, or automatically",
)
async def assign_ticket(
    ticket_id: str, body: AssignmentRequest, runtime: RuntimeDep, principal: CurrentPrincipal
) -> Any:
    if principal.kind != "agent" or not principal.has_role(*AGENT_ROLES):
        raise Forbidden("This needs an agent role.")
    taking_it = body.assignee_id == principal.subject
    if not taking_it and not principal.has_role("supervisor"):
        raise Forbidden("Only a supervisor assigns tickets to others; agents may take one.")
    assigned = await flows.assign_ticket(
        runtime,
        ticket_id,
        body.assignee_id,
        caller=Caller.of(principal),
        authorise=lambda row: ensure_visible(principal, row),
    )
    return summary(assigned)


class ScriptAnswers(BaseModel):
    answers: dict[str, Any]


class ScriptState(BaseModel):
    subcategory: str
    answers: dict[str, Any]
    missing: list[str]
    complete: bool


@router.put(
    "/{ticket_id}/script-answers",
    response_model=ScriptState,
    summary="Record the answers to the subcategory's agent script (merged with earlier ones)",
)
async def record_script_answers(
    ticket_id: str, body: ScriptAnswers, runtime: RuntimeDep, principal: CurrentPrincipal
) -> ScriptState:
    if principal.kind != "agent" or not principal.has_role(*AGENT_ROLES):
        raise Forbidden("Scripts are the agents' tools.")
    state = await flows.record_script_answers(
        runtime, ticket_id, body.answers, authorise=lambda row: ensure_visible(principal, row)
    )
    return ScriptState(
        subcategory=state.subcategory,
        answers=state.answers,
        missing=state.missing,
        complete=not state.missing,
    )
