"""Opening a ticket: the customer, the commitment, the number, the incident, the agent."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sqlalchemy import (
    String,
    TextClause,
    any_,
    bindparam,
    func,
    insert,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.auth import Principal
from sila_common.db import as_utc
from sila_common.idempotency import Created, Last, create_once
from sila_common.identity_client import identity_client_of
from sila_common.outbox import NewEvent
from sila_common.problems import Unprocessable
from sila_tickets.domain.agencies import agency_named
from sila_tickets.domain.escalation import WARNING_FRACTION
from sila_tickets.domain.incidents import ANY_SERVICE, area_keys
from sila_tickets.domain.lifecycle import INITIAL
from sila_tickets.domain.routing import queue_for
from sila_tickets.domain.sla import (
    SlaClock,
    SlaPolicy,
    TicketCategory,
    TicketPriority,
    select_policy,
)
from sila_tickets.events import TICKET_OPENED, TicketOpened
from sila_tickets.flows.assignment import assigned_event, choose_assignee, stamp_assignment
from sila_tickets.flows.directory import keep_identity_answer
from sila_tickets.flows.geography import map_in
from sila_tickets.flows.scripts import checked_script
from sila_tickets.flows.shared import Caller, partner_of, record_transition
from sila_tickets.reference import reference_of
from sila_tickets.runtime import TicketsRuntime
from sila_tickets.tables import (
    incidents,
    known_customers,
    known_installations,
    ticket_counters,
    tickets,
)


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


# The statements of an opening are built once (a hot path): SQLAlchemy then reuses their
# cache keys and compiled forms. Values go as parameters, lists as arrays (``= ANY``: an
# expanding ``IN`` is rewritten at each execution).
INSERT_TICKET = insert(tickets)
_CUSTOMER = select(known_customers).where(known_customers.c.customer_id == bindparam("customer"))
_INSTALLED = select(known_installations.c.commune_code, known_installations.c.daira_code).where(
    known_installations.c.customer_id == bindparam("customer"),
    known_installations.c.commune_code.is_not(None),
)
_INSTALLED_FOR_CONTRACT = _INSTALLED.where(
    known_installations.c.contract_id == bindparam("contract")
)
# The line's areas as two arrays joined to the index of active incidents; 'active' written
# in the statement so that the partial index's predicate holds for any plan.
_AREAS = (
    func.unnest(bindparam("kinds", type_=ARRAY(String)), bindparam("values", type_=ARRAY(String)))
    .table_valued("kind", "value")
    .render_derived(name="area")
)
_ACTIVE_INCIDENT = (
    select(incidents)
    .join(
        _AREAS,
        (incidents.c.area_kind == _AREAS.c.kind) & (incidents.c.area_value == _AREAS.c.value),
    )
    .where(incidents.c.status == literal_column("'active'"))
    .order_by(incidents.c.declared_at.desc())
    .limit(1)
)
_ACTIVE_INCIDENT_OF_SERVICE = _ACTIVE_INCIDENT.where(
    incidents.c.service == any_(bindparam("services", type_=ARRAY(String)))
)


def number_sequence(year: int) -> str:
    return f"ticket_numbers_{int(year):04d}"


class NumberSequences(set[int]):
    """The years whose ticket-number sequence this process knows exists (a collaborator)."""


async def next_number(session: AsyncSession, year: int, runtime: TicketsRuntime) -> str:
    """The year's next ticket number, TT-YYYY-NNNNNN.

    One PostgreSQL sequence per year (``ticket_numbers_YYYY``), so concurrent creations in
    every process never wait on one another (a counter row serialised them all until each
    transaction committed). A sequence is not transactional: a creation that rolls back
    leaves a gap in the year's numbers (numbers stay unique and increasing).
    """
    known = runtime.collaborators.get_or_make(NumberSequences, NumberSequences)
    if year not in known and await ensure_number_sequence(session, year):
        known.add(year)
    value = await session.scalar(_nextval(year))
    return f"TT-{year}-{int(value or 0):06d}"


@functools.cache
def _nextval(year: int) -> TextClause:
    return text(f"SELECT nextval('{number_sequence(year)}')")


_SEQUENCE_EXISTS = text("SELECT to_regclass(:name) IS NOT NULL")


async def ensure_number_sequence(session: AsyncSession, year: int) -> bool:
    """Creates the year's sequence if missing, in the opening's own transaction (no second
    connection: a burst of openings holding the pool's every connection would otherwise
    wait for one more), under an advisory lock so racing openings create it once; it starts
    after the year's counter row, so numbers given before sequences stay unique. True when
    the sequence was already committed (a process may then remember it), False when this
    transaction created it (it exists only once the opening commits)."""
    name = number_sequence(year)
    if await session.scalar(_SEQUENCE_EXISTS, {"name": name}):
        return True
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": 7_316_000 + year})
    if await session.scalar(_SEQUENCE_EXISTS, {"name": name}):
        return True  # created by an opening that held the lock before us
    last = await session.scalar(
        select(ticket_counters.c.last_value).where(ticket_counters.c.year == year)
    )
    await session.execute(text(f"CREATE SEQUENCE {name} START WITH {int(last or 0) + 1}"))
    return False


async def known_customer(
    session: AsyncSession, runtime: TicketsRuntime, customer_id: str, *, now: datetime
) -> Any:
    """The directory entry of a customer tickets may serve, or an unknown-customer problem.

    A customer the directory lacks may have been registered a moment ago (its event not yet
    consumed): identity is asked, and its answer kept. Unknown to identity, or erased: 422.
    """
    parameters = {"customer": customer_id}
    customer = (await session.execute(_CUSTOMER, parameters)).one_or_none()
    if customer is None:
        # (An id that is no UUID is nobody to identity: answered None without a call.)
        answer = await identity_client_of(runtime).customer(customer_id)
        if answer is not None:
            if answer.erased:
                # Kept in its own transaction: an erased customer's answer stays kept after
                # the refusal rolls the request back (and identity is not asked again).
                async with runtime.session_factory() as own, own.begin():
                    await keep_identity_answer(own, answer, now=now)
            else:
                # Kept in the opening's transaction: no second connection while this one is
                # held (a burst of openings holding every pooled connection would wait for
                # one more). Should the opening fail, identity is asked again next time.
                await keep_identity_answer(session, answer, now=now)
            customer = (await session.execute(_CUSTOMER, parameters)).one_or_none()
    if customer is None or customer.erased_at is not None:
        raise Unprocessable(
            f"No customer {customer_id} is known.",
            slug="unknown-customer",
            title="Unknown customer",
            errors=[{"field": "body.customer_id", "message": "unknown customer"}],
        )
    return customer


async def check_subcategory(
    session: AsyncSession, runtime: TicketsRuntime, category: TicketCategory, code: str | None
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


async def handling_agency(
    session: AsyncSession, runtime: TicketsRuntime, new: NewTicket, caller: Caller
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
    parameters: dict[str, Any] = {
        "kinds": [kind.value for kind, _ in keys],
        "values": [value for _, value in keys],
    }
    query = _ACTIVE_INCIDENT
    if service is not None:
        query = _ACTIVE_INCIDENT_OF_SERVICE
        parameters["services"] = [ANY_SERVICE, service.strip().lower()]
    return (await session.execute(query, parameters)).one_or_none()


async def installed_places(
    session: AsyncSession, runtime: TicketsRuntime, customer: Any, contract_id: str | None
) -> list[tuple[str | None, str | None]]:
    """(commune, daïra) codes where the line is: the contract's installation, else every
    installation of the customer, else the customer's own commune."""
    parameters = {"customer": customer.customer_id}
    rows = (await session.execute(_INSTALLED, parameters)).all()
    if contract_id is not None:
        parameters["contract"] = contract_id
        chosen = (await session.execute(_INSTALLED_FOR_CONTRACT, parameters)).all()
        rows = chosen or rows
    if rows:
        return [(r.commune_code, r.daira_code) for r in rows]
    commune = (await map_in(session, runtime.collaborators)).communes.get(
        customer.commune_code or ""
    )
    return [(commune.code, commune.daira_code)] if commune else []


async def open_ticket(
    session: AsyncSession,
    runtime: TicketsRuntime,
    new: NewTicket,
    caller: Caller,
    *,
    authorise: Callable[[Any], None] = lambda customer: None,
    now: datetime | None = None,
    later: Callable[[Last], None] | None = None,
) -> dict[str, Any]:
    """Open a ticket: commitment, number, incident link, automatic assignment, events.

    The chosen agent's queue rows are stamped last (every opening that chose the same
    agent waits on them until the commit); ``later`` takes that step instead, for a caller
    that still writes before committing (the stored Idempotency-Key answer).
    """
    now = now or datetime.now(UTC)
    customer = await known_customer(session, runtime, new.customer_id, now=now)
    authorise(customer)
    answers = await _script_answers(session, runtime, new)
    commitment = await _commitment(session, runtime, new, caller, now)
    exchange = new.exchange or customer.exchange
    olt = new.olt or customer.olt
    incident = None
    if new.category is TicketCategory.TECHNICAL:
        incident = await active_incident_for(
            session,
            wilaya_code=customer.wilaya_code,
            places=await installed_places(session, runtime, customer, new.contract_id),
            exchange=exchange,
            olt=olt,
            service=new.service,
        )
    number = await next_number(session, now.year, runtime)
    # The assignee is chosen before the ticket is written, so the ticket is inserted with it
    # (no insert-then-update). Tickets of a known incident are the incident's work: nobody
    # is dispatched to each.
    queue = queue_for(new.category)
    assignee_id = (
        await choose_assignee(session, queue, customer.wilaya_code) if incident is None else None
    )
    row = _ticket_row(
        new,
        customer,
        caller,
        commitment,
        number=number,
        exchange=exchange,
        olt=olt,
        incident_id=incident.id if incident is not None else None,
        assignee_id=assignee_id,
        answers=answers,
        now=now,
    )
    await session.execute(INSERT_TICKET, row)
    await record_transition(session, row["id"], None, INITIAL, "opened", caller, now)
    events = [NewEvent(TICKET_OPENED, row["id"], new.customer_id, _opened(row, incident))]
    if assignee_id is not None:
        events.append(assigned_event(row, automatic=True))
    # Opened, then assigned: one insert, the rows in that order (the customer's order).
    await runtime.outbox.record_many(session, events)
    if assignee_id is not None:
        stamp = partial(
            stamp_assignment,
            queue=queue,
            wilaya_code=customer.wilaya_code,
            agent_id=assignee_id,
            at=now,
        )
        if later is None:
            await stamp(session)
        else:
            later(stamp)
    return row


async def _script_answers(
    session: AsyncSession, runtime: TicketsRuntime, new: NewTicket
) -> dict[str, Any] | None:
    """The answers to the subcategory's script, checked (None without answers)."""
    sub = await check_subcategory(session, runtime, new.category, new.subcategory)
    answers = (
        checked_script(sub.script, new.script_answers)[0] if sub and new.script_answers else None
    )
    if new.script_answers and sub is None:
        raise Unprocessable("Script answers need a subcategory.", slug="invalid-script-answers")
    return answers


@dataclass(frozen=True)
class Commitment:
    """What the ticket is promised at opening: its policy, on the handling agency's clock."""

    policy: SlaPolicy
    agency_code: str | None
    first_response_due_at: datetime | None
    resolution: SlaClock


async def _commitment(
    session: AsyncSession, runtime: TicketsRuntime, new: NewTicket, caller: Caller, now: datetime
) -> Commitment:
    reference = reference_of(runtime)
    policy = select_policy(
        await reference.policies(session),
        category=new.category,
        subcategory=new.subcategory,
        priority=new.priority,
    )
    agency_code = await handling_agency(session, runtime, new, caller)
    calendar = await reference.calendar(session, now, agency=agency_code)
    return Commitment(
        policy=policy,
        agency_code=agency_code,
        first_response_due_at=SlaClock(policy.first_response, now, calendar).due_at,
        resolution=SlaClock(policy.resolution, now, calendar),
    )


def _ticket_row(
    new: NewTicket,
    customer: Any,
    caller: Caller,
    commitment: Commitment,
    *,
    number: str,
    exchange: str | None,
    olt: str | None,
    incident_id: str | None,
    assignee_id: str | None,
    answers: dict[str, Any] | None,
    now: datetime,
) -> dict[str, Any]:
    policy = commitment.policy
    return {
        "id": str(uuid.uuid4()),
        "number": number,
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
        "assignee_id": assignee_id,
        "opened_by": caller.label,
        "opened_at": now,
        "first_response_due_at": commitment.first_response_due_at,
        "due_at": commitment.resolution.due_at,
        "updated_at": now,
        "commune": customer.commune,
        "exchange": exchange,
        "olt": olt,
        "service": new.service,
        "agency": commitment.agency_code,
        "incident_id": incident_id,
        "first_response_kind": policy.first_response.kind.value,
        "first_response_amount": policy.first_response.amount,
        "resolution_kind": policy.resolution.kind.value,
        "resolution_amount": policy.resolution.amount,
        "warn_at": commitment.resolution.reached_at(WARNING_FRACTION),
        "warned_at": None,
        "breached_at": None,
        "escalation_level": None,
        "first_responded_at": None,
        "assigned_at": now if assignee_id is not None else None,
        "resolved_at": None,
        "closed_at": None,
        "reopen_count": 0,
        "first_contact_resolution": None,
        "script_answers": answers,
        "external_id": new.external_id,
    }


def _opened(row: dict[str, Any], incident: Any) -> TicketOpened:
    return TicketOpened(
        ticket_id=row["id"],
        number=row["number"],
        customer_id=row["customer_id"],
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
        estimated_end_at=as_utc(incident.estimated_end_at) if incident is not None else None,
        wilaya_code=row["wilaya_code"],
        partner_id=partner_of(row["opened_by"]),
        external_id=row["external_id"],
        agency_code=row["agency"],
    )


async def open_ticket_once(
    runtime: TicketsRuntime,
    principal: Principal,
    new: NewTicket,
    *,
    idempotency_key: str | None,
    request: Any,
    authorise: Callable[[Any], None],
    render: Callable[[dict[str, Any]], dict[str, Any]],
) -> Created:
    """Open a ticket in its own transaction, once per Idempotency-Key; ``render`` makes the
    stored answer (a retry gets the same one).
    """

    steps: list[Last] = []

    async def work(session: AsyncSession) -> tuple[int, dict[str, Any]]:
        caller = Caller.of(principal)
        row = await open_ticket(
            session, runtime, new, caller, authorise=authorise, later=steps.append
        )
        return 201, render(row)

    async def last(session: AsyncSession) -> None:
        for step in steps:
            await step(session)

    return await create_once(
        runtime, principal, key=idempotency_key, body=request, work=work, last=last
    )
