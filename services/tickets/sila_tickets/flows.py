"""The use cases every entrypoint shares: open, move, assign and annotate a ticket.

The HTTP API, the TMF621 face, incidents and the scheduler all go through these, inside
the caller's transaction, so the state change and its events commit together.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from sila_common.auth import Principal
from sila_common.geography import reference as geography
from sila_common.identity_client import identity_client_of
from sila_common.problems import Conflict, NotFound, Unprocessable
from sila_common.service import Runtime
from sila_tickets.domain.agencies import agency_named
from sila_tickets.domain.calendar import WorkingCalendar
from sila_tickets.domain.catalogue import ScriptAnswerError, check_script_answers
from sila_tickets.domain.escalation import WARNING_FRACTION
from sila_tickets.domain.incidents import ANY_SERVICE, area_keys
from sila_tickets.domain.lifecycle import (
    INITIAL,
    OPEN,
    PAUSING,
    PUBLIC_STATUS,
    Actor,
    ReasonRequiredError,
    Status,
    StatusSpan,
    TransitionError,
    check_transition,
    is_first_contact_resolution,
    is_reopen,
    pauses_from_history,
)
from sila_tickets.domain.routing import AssignmentStrategy, Candidate, choose_agent, queue_for
from sila_tickets.domain.sla import (
    ClockKind,
    Duration,
    SlaClock,
    TicketCategory,
    TicketPriority,
    select_policy,
)
from sila_tickets.events import (
    NOTE_ADDED,
    TICKET_ASSIGNED,
    TICKET_OPENED,
    TICKET_STATUS_CHANGED,
    NoteAdded,
    TicketAssigned,
    TicketOpened,
    TicketStatusChanged,
)
from sila_tickets.handlers import keep_identity_answer
from sila_tickets.reference import reference_of
from sila_tickets.settings import TicketsSettings
from sila_tickets.tables import (
    incidents,
    known_customers,
    known_installations,
    queue_agents,
    queues,
    ticket_counters,
    ticket_notes,
    ticket_transitions,
    tickets,
)

SCHEDULER = "system:scheduler"


@dataclass(frozen=True)
class Caller:
    """Who acts: written into the history as ``<kind>:<subject>``."""

    kind: str
    subject: str
    agency: str | None = None
    wilayas: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, principal: Principal) -> Caller:
        return cls(principal.kind, principal.subject, principal.agency, principal.wilayas)

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.subject}"

    @property
    def actor(self) -> Actor:
        return Actor.CUSTOMER if self.kind == "customer" else Actor.STAFF


SYSTEM = Caller("system", "scheduler")


@dataclass(frozen=True)
class NewTicket:
    customer_id: str
    category: TicketCategory
    channel: str
    subject: str
    subcategory: str | None = None
    priority: TicketPriority = TicketPriority.NORMAL
    contract_id: str | None = None
    description: str | None = None
    service: str | None = None
    exchange: str | None = None
    olt: str | None = None
    script_answers: Mapping[str, Any] | None = None
    # The partner's own reference for the ticket (TMF621 externalId).
    external_id: str | None = None
    # The agency handling it; None: the agency the caller's token names, if it names one.
    agency_code: str | None = None


def aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def partner_of(opened_by: str) -> str | None:
    """The partner that opened a ticket (``partner:<id>`` in its history), if one did."""
    kind, _, subject = opened_by.partition(":")
    return subject if kind == "partner" else None


def number_sequence(year: int) -> str:
    return f"ticket_numbers_{int(year):04d}"


async def next_number(session: AsyncSession, year: int, runtime: Runtime | None = None) -> str:
    """The year's next ticket number, TT-YYYY-NNNNNN.

    PostgreSQL: one sequence per year (``ticket_numbers_YYYY``), so concurrent creations in
    every process never wait on one another (a counter row serialised them all until each
    transaction committed). A sequence is not transactional: a creation that rolls back
    leaves a gap in the year's numbers (numbers stay unique and increasing).
    """
    known = runtime.extras.setdefault("number_sequences", set()) if runtime else set()
    assert isinstance(known, set)
    if year not in known:
        await ensure_number_sequence(session, year)
        known.add(year)
    value = await session.scalar(text(f"SELECT nextval('{number_sequence(year)}')"))
    return f"TT-{year}-{int(value or 0):06d}"


async def ensure_number_sequence(session: AsyncSession, year: int) -> None:
    """Creates the year's sequence if missing, in its own committed transaction (under an
    advisory lock, so processes racing on the first ticket of a year create it once). It
    starts after the year's counter row, so numbers given before sequences stay unique."""
    engine = session.bind
    assert isinstance(engine, AsyncEngine)
    name = number_sequence(year)
    async with engine.begin() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": 7_316_000 + year})
        if await conn.scalar(text("SELECT to_regclass(:name)"), {"name": name}) is None:
            last = await conn.scalar(
                select(ticket_counters.c.last_value).where(ticket_counters.c.year == year)
            )
            await conn.execute(text(f"CREATE SEQUENCE {name} START WITH {int(last or 0) + 1}"))


async def known_customer(session: AsyncSession, runtime: Runtime, customer_id: str) -> Any:
    """The directory entry of a customer tickets may serve, or an unknown-customer problem.

    A customer the directory lacks may have been registered a moment ago (its event not yet
    consumed): identity is asked, and its answer kept. Unknown to identity, or erased: 422.
    """
    query = select(known_customers).where(known_customers.c.customer_id == customer_id)
    customer = (await session.execute(query)).one_or_none()
    if customer is None:
        answer = await identity_client_of(runtime).customer(customer_id)
        if answer is not None:
            # Kept in its own transaction: an erased customer's answer stays kept after the
            # refusal rolls the request back.
            async with runtime.session_factory() as own, own.begin():
                await keep_identity_answer(own, answer)
            customer = (await session.execute(query)).one_or_none()
    if customer is None or customer.erased_at is not None:
        raise Unprocessable(
            f"No customer {customer_id} is known.",
            slug="unknown-customer",
            title="Unknown customer",
            errors=[{"field": "body.customer_id", "message": "unknown customer"}],
        )
    return customer


async def check_subcategory(
    session: AsyncSession, runtime: Runtime, category: TicketCategory, code: str | None
) -> Any:
    if code is None:
        return None
    known = await reference_of(runtime).subcategories(session)
    row = known.get(code)
    if row is None or not row.active or row.category != category.value:
        valid = sorted(c for c, r in known.items() if r.category == category.value and r.active)
        raise Unprocessable(
            f"{code!r} is not a subcategory of {category.value}.",
            slug="unknown-subcategory",
            title="Unknown subcategory",
            errors=[{"field": "body.subcategory", "message": f"expected one of {valid}"}],
        )
    return row


def checked_script(
    script: Sequence[Mapping[str, Any]], answers: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """The answers checked against the script, and the required questions still open."""
    try:
        return check_script_answers(script, answers)
    except ScriptAnswerError as exc:
        raise Unprocessable(
            "The script answers do not fit the subcategory's script.",
            slug="invalid-script-answers",
            errors=exc.errors,
        ) from exc


async def handling_agency(
    session: AsyncSession, runtime: Runtime, new: NewTicket, caller: Caller
) -> str | None:
    """The code of the agency handling a new ticket, whose hours its working clocks follow.

    The agency named in the request must be known and active. Without one, the agency of an
    agent's token is taken when it names an active agency (by code or name); else none.
    """
    known = await reference_of(runtime).agencies(session)
    if new.agency_code is not None:
        agency = known.get(new.agency_code)
        if agency is None or not agency.active:
            raise Unprocessable(
                f"No active agency {new.agency_code}.",
                slug="unknown-agency",
                title="Unknown agency",
                errors=[{"field": "body.agency_code", "message": "no such active agency"}],
            )
        return agency.code
    if caller.kind != "agent":
        return None
    agency = agency_named(known.values(), caller.agency)
    return agency.code if agency is not None else None


async def active_incident_for(
    session: AsyncSession,
    *,
    wilaya_code: str | None,
    places: Sequence[tuple[str | None, str | None]],
    exchange: str | None,
    olt: str | None,
    service: str | None,
) -> Any:
    """The active incident over the line's area (most recent first), by one indexed lookup."""
    keys = area_keys(wilaya_code=wilaya_code, places=places, exchange=exchange, olt=olt)
    if not keys:
        return None
    area = or_(
        *(
            (incidents.c.area_kind == kind.value) & (incidents.c.area_value == value)
            for kind, value in keys
        )
    )
    query = select(incidents).where(incidents.c.status == "active", area)
    if service is not None:
        query = query.where(incidents.c.service.in_([ANY_SERVICE, service.strip().lower()]))
    query = query.order_by(incidents.c.declared_at.desc()).limit(1)
    return (await session.execute(query)).one_or_none()


async def installed_places(
    session: AsyncSession, customer: Any, contract_id: str | None
) -> list[tuple[str | None, str | None]]:
    """(commune, daïra) codes where the line is: the contract's installation, else every
    installation of the customer, else the customer's own commune."""
    query = select(known_installations.c.commune_code, known_installations.c.daira_code).where(
        known_installations.c.customer_id == customer.customer_id,
        known_installations.c.commune_code.is_not(None),
    )
    rows = (await session.execute(query)).all()
    if contract_id is not None:
        chosen = (
            await session.execute(query.where(known_installations.c.contract_id == contract_id))
        ).all()
        rows = chosen or rows
    if rows:
        return [(r.commune_code, r.daira_code) for r in rows]
    commune = geography().communes.get(customer.commune_code or "")
    return [(commune.code, commune.daira_code)] if commune else []


def sla_dates(
    row: Mapping[str, Any], history: Sequence[StatusSpan], calendar: WorkingCalendar
) -> tuple[datetime | None, datetime | None]:
    """(due_at, warn_at) from the commitment fixed at opening and the pauses so far."""
    if row["resolution_kind"] is None:
        return aware(row["due_at"]), aware(row["warn_at"])
    clock = SlaClock(
        Duration(row["resolution_amount"], ClockKind(row["resolution_kind"])),
        aware(row["opened_at"]) or datetime.now(UTC),
        calendar,
        pauses_from_history(history),
    )
    return clock.due_at, clock.reached_at(WARNING_FRACTION)


async def open_ticket(
    session: AsyncSession,
    runtime: Runtime,
    new: NewTicket,
    caller: Caller,
    *,
    authorise: Callable[[Any], None] = lambda customer: None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Open a ticket: commitment, number, incident link, automatic assignment, events."""
    now = now or datetime.now(UTC)
    customer = await known_customer(session, runtime, new.customer_id)
    authorise(customer)
    sub = await check_subcategory(session, runtime, new.category, new.subcategory)
    answers = (
        checked_script(sub.script, new.script_answers)[0] if sub and new.script_answers else None
    )
    if new.script_answers and sub is None:
        raise Unprocessable("Script answers need a subcategory.", slug="invalid-script-answers")
    reference = reference_of(runtime)
    policy = select_policy(
        await reference.policies(session),
        category=new.category,
        subcategory=new.subcategory,
        priority=new.priority,
    )
    agency_code = await handling_agency(session, runtime, new, caller)
    calendar = await reference.calendar(session, now, agency=agency_code)
    resolution = SlaClock(policy.resolution, now, calendar)
    exchange = new.exchange or customer.exchange
    olt = new.olt or customer.olt
    incident = None
    if new.category is TicketCategory.TECHNICAL:
        incident = await active_incident_for(
            session,
            wilaya_code=customer.wilaya_code,
            places=await installed_places(session, customer, new.contract_id),
            exchange=exchange,
            olt=olt,
            service=new.service,
        )
    ticket_id = str(uuid.uuid4())
    row: dict[str, Any] = {
        "id": ticket_id,
        "number": await next_number(session, now.year, runtime),
        "customer_id": new.customer_id,
        "contract_id": new.contract_id,
        "category": new.category.value,
        "subcategory": new.subcategory,
        "priority": new.priority.value,
        "channel": new.channel,
        "subject": new.subject,
        "description": new.description,
        "status": INITIAL.value,
        "queue": queue_for(new.category),
        "wilaya_code": customer.wilaya_code,
        "assignee_id": None,
        "opened_by": caller.label,
        "opened_at": now,
        "first_response_due_at": SlaClock(policy.first_response, now, calendar).due_at,
        "due_at": resolution.due_at,
        "updated_at": now,
        "commune": customer.commune,
        "exchange": exchange,
        "olt": olt,
        "service": new.service,
        "agency": agency_code,
        "incident_id": incident.id if incident is not None else None,
        "first_response_kind": policy.first_response.kind.value,
        "first_response_amount": policy.first_response.amount,
        "resolution_kind": policy.resolution.kind.value,
        "resolution_amount": policy.resolution.amount,
        "warn_at": resolution.reached_at(WARNING_FRACTION),
        "warned_at": None,
        "breached_at": None,
        "escalation_level": None,
        "first_responded_at": None,
        "assigned_at": None,
        "resolved_at": None,
        "closed_at": None,
        "reopen_count": 0,
        "first_contact_resolution": None,
        "script_answers": answers,
        "external_id": new.external_id,
    }
    # Parameters rather than .values(): the compiled statement is cached (a hot path).
    await session.execute(insert(tickets), row)
    await record_transition(session, ticket_id, None, INITIAL, "opened", caller, now)
    await runtime.outbox.record(
        session,
        TICKET_OPENED,
        subject=ticket_id,
        customer_id=new.customer_id,
        data=TicketOpened(
            ticket_id=ticket_id,
            number=row["number"],
            customer_id=new.customer_id,
            category=row["category"],
            subcategory=row["subcategory"],
            priority=row["priority"],
            channel=row["channel"],
            subject=row["subject"],
            queue=row["queue"],
            status=row["status"],
            due_at=row["due_at"],
            first_response_due_at=row["first_response_due_at"],
            incident_id=row["incident_id"],
            estimated_end_at=aware(incident.estimated_end_at) if incident is not None else None,
            wilaya_code=row["wilaya_code"],
            partner_id=partner_of(row["opened_by"]),
            external_id=row["external_id"],
            agency_code=row["agency"],
        ),
    )
    # Tickets of a known incident are the incident's work: nobody is dispatched to each.
    if incident is None:
        assigned = await assign(session, runtime, row, None, caller, now=now)
        if assigned is not None:
            row = assigned
    return row


async def record_transition(
    session: AsyncSession,
    ticket_id: str,
    from_status: Status | None,
    to_status: Status,
    reason: str | None,
    caller: Caller,
    at: datetime,
) -> None:
    await session.execute(
        insert(ticket_transitions),
        {
            "ticket_id": ticket_id,
            "from_status": from_status.value if from_status else None,
            "to_status": to_status.value,
            "reason": reason,
            "actor": caller.label,
            "at": at,
        },
    )


async def load_ticket(session: AsyncSession, ticket_id: str, *, lock: bool = False) -> Any:
    query = select(tickets).where(tickets.c.id == ticket_id)
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).one_or_none()
    if row is None:
        raise NotFound(f"No ticket {ticket_id}.")
    return row


async def history_of(session: AsyncSession, ticket_id: str) -> list[Any]:
    return list(
        (
            await session.execute(
                select(ticket_transitions)
                .where(ticket_transitions.c.ticket_id == ticket_id)
                .order_by(ticket_transitions.c.id)
            )
        ).all()
    )


def spans(history: Sequence[Any]) -> list[StatusSpan]:
    return [StatusSpan(Status(h.to_status), aware(h.at) or datetime.now(UTC)) for h in history]


def survey_url(settings: TicketsSettings, ticket_id: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}/v1/tickets/{ticket_id}/survey"


async def transition(
    session: AsyncSession,
    runtime: Runtime,
    ticket: Any,
    target: Status,
    *,
    reason: str | None,
    caller: Caller,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Move a (locked) ticket to ``target``: history, SLA clock, timestamps and the event."""
    now = now or datetime.now(UTC)
    row = dict(ticket._mapping)
    current = Status(row["status"])
    try:
        check_transition(
            current,
            target,
            actor=caller.actor,
            resolved_at=aware(row["resolved_at"]),
            now=now,
            reason=reason,
        )
    except TransitionError as exc:
        raise Conflict(
            str(exc),
            slug="illegal-transition",
            title="Illegal transition",
            status_now=current.value,
            allowed_transitions=[status.value for status in exc.allowed],
        ) from exc
    except ReasonRequiredError as exc:
        raise Unprocessable(
            str(exc),
            slug="reason-required",
            errors=[{"field": "body.reason", "message": "a reason is required"}],
        ) from exc
    await record_transition(session, row["id"], current, target, reason, caller, now)
    history = spans(await history_of(session, row["id"]))
    changes: dict[str, Any] = {"status": target.value, "updated_at": now}
    if (
        caller.actor is Actor.STAFF
        and caller.kind != "system"
        and row["first_responded_at"] is None
    ):
        changes["first_responded_at"] = now
    if target is Status.RESOLVED:
        changes["resolved_at"] = now
        changes["first_contact_resolution"] = is_first_contact_resolution(history)
    elif target is Status.CLOSED:
        changes["closed_at"] = now
    elif is_reopen(current, target):
        changes["resolved_at"] = None
        changes["first_contact_resolution"] = None
        changes["reopen_count"] = row["reopen_count"] + 1
    # The clock stops on entering a pausing status and resumes on leaving one; a
    # resolution keeps the due date it was resolved against.
    if (target is Status.PENDING_CUSTOMER) or (current in PAUSING and target not in PAUSING):
        calendar = await reference_of(runtime).calendar(
            session, aware(row["opened_at"]) or now, now, agency=row["agency"]
        )
        changes["due_at"], changes["warn_at"] = sla_dates(row, history, calendar)
    await session.execute(update(tickets).where(tickets.c.id == row["id"]).values(**changes))
    row.update(changes)
    settings = runtime.settings
    url = (
        survey_url(settings, row["id"])
        if target is Status.RESOLVED and isinstance(settings, TicketsSettings)
        else None
    )
    await runtime.outbox.record(
        session,
        TICKET_STATUS_CHANGED,
        subject=row["id"],
        customer_id=row["customer_id"],
        data=TicketStatusChanged(
            ticket_id=row["id"],
            number=row["number"],
            customer_id=row["customer_id"],
            from_status=current.value,
            status=target.value,
            reason=reason,
            due_at=aware(row["due_at"]),
            survey_url=url,
            public_status=PUBLIC_STATUS[target],
            actor_kind=caller.kind,
            partner_id=partner_of(row["opened_by"]),
            external_id=row.get("external_id"),
        ),
    )
    return row


async def queue_strategy(session: AsyncSession, queue: str) -> AssignmentStrategy:
    value = await session.scalar(select(queues.c.strategy).where(queues.c.code == queue))
    return AssignmentStrategy(value) if value else AssignmentStrategy.MANUAL


async def queue_members(session: AsyncSession, queue: str, wilaya_code: str | None) -> list[Any]:
    wilayas = ["*", wilaya_code] if wilaya_code else ["*"]
    return list(
        (
            await session.execute(
                select(queue_agents).where(
                    queue_agents.c.queue == queue, queue_agents.c.wilaya_code.in_(wilayas)
                )
            )
        ).all()
    )


async def assign(
    session: AsyncSession,
    runtime: Runtime,
    ticket: Mapping[str, Any],
    assignee_id: str | None,
    caller: Caller,
    *,
    now: datetime | None = None,
) -> dict[str, Any] | None:
    """Give the ticket to ``assignee_id``, or choose by the queue's strategy when None.

    Returns the updated row, or None when no agent could be chosen automatically.
    """
    now = now or datetime.now(UTC)
    row = dict(ticket)
    members = await queue_members(session, row["queue"], row["wilaya_code"])
    automatic = assignee_id is None
    if automatic:
        strategy = await queue_strategy(session, row["queue"])
        if strategy is AssignmentStrategy.MANUAL or not members:
            return None
        loads = await open_loads(session, [m.agent_id for m in members])
        latest: dict[str, datetime | None] = {}
        for member in members:
            at = aware(member.last_assigned_at)
            previous = latest.get(member.agent_id)
            latest[member.agent_id] = max(at, previous) if at and previous else at or previous
        candidates = [
            Candidate(agent_id, loads.get(agent_id, 0), at) for agent_id, at in latest.items()
        ]
        chosen = choose_agent(candidates, strategy)
        if chosen is None:
            return None
        assignee_id = chosen.agent_id
    elif assignee_id not in {m.agent_id for m in members}:
        raise Unprocessable(
            f"Agent {assignee_id} is not an agent of the {row['queue']} queue for this wilaya.",
            slug="not-a-queue-agent",
            errors=[{"field": "body.assignee_id", "message": "not an agent of the queue"}],
        )
    assert assignee_id is not None
    await session.execute(
        update(queue_agents)
        .where(
            queue_agents.c.queue == row["queue"],
            queue_agents.c.agent_id == assignee_id,
            queue_agents.c.wilaya_code.in_([m.wilaya_code for m in members]),
        )
        .values(last_assigned_at=now)
    )
    changes = {"assignee_id": assignee_id, "assigned_at": now, "updated_at": now}
    await session.execute(update(tickets).where(tickets.c.id == row["id"]).values(**changes))
    row.update(changes)
    await runtime.outbox.record(
        session,
        TICKET_ASSIGNED,
        subject=row["id"],
        customer_id=row["customer_id"],
        data=TicketAssigned(
            ticket_id=row["id"],
            number=row["number"],
            customer_id=row["customer_id"],
            queue=row["queue"],
            assignee_id=assignee_id,
            automatic=automatic,
        ),
    )
    return row


async def open_loads(session: AsyncSession, agent_ids: Sequence[str]) -> dict[str, int]:
    if not agent_ids:
        return {}
    rows = await session.execute(
        select(tickets.c.assignee_id, func.count())
        .where(
            tickets.c.assignee_id.in_(list(agent_ids)),
            tickets.c.status.in_([status.value for status in OPEN]),
        )
        .group_by(tickets.c.assignee_id)
    )
    return {str(agent): int(count) for agent, count in rows.all()}


async def add_note(
    session: AsyncSession,
    runtime: Runtime,
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
