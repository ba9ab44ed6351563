"""The lifecycle: a ticket moved from status to status, its SLA clock kept."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.db import as_utc
from sila_common.problems import Conflict, Unprocessable
from sila_tickets.domain.calendar import WorkingCalendar
from sila_tickets.domain.escalation import WARNING_FRACTION
from sila_tickets.domain.lifecycle import (
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
from sila_tickets.domain.sla import (
    ClockKind,
    Duration,
    SlaClock,
)
from sila_tickets.events import (
    TICKET_STATUS_CHANGED,
    TicketStatusChanged,
)
from sila_tickets.flows.shared import (
    Caller,
    history_of,
    load_ticket,
    partner_of,
    record_transition,
    spans,
)
from sila_tickets.reference import reference_of
from sila_tickets.runtime import TicketsRuntime
from sila_tickets.settings import TicketsSettings
from sila_tickets.tables import (
    tickets,
)


def sla_dates(
    row: Mapping[str, Any], history: Sequence[StatusSpan], calendar: WorkingCalendar
) -> tuple[datetime | None, datetime | None]:
    """(due_at, warn_at) from the commitment fixed at opening and the pauses so far."""
    if row["resolution_kind"] is None:
        return as_utc(row["due_at"]), as_utc(row["warn_at"])
    clock = SlaClock(
        Duration(row["resolution_amount"], ClockKind(row["resolution_kind"])),
        as_utc(row["opened_at"]) or datetime.now(UTC),
        calendar,
        pauses_from_history(history),
    )
    return clock.due_at, clock.reached_at(WARNING_FRACTION)


def survey_url(settings: TicketsSettings, ticket_id: str) -> str:
    """The portal's survey page of the ticket (what the customer's SMS links to)."""
    return settings.portal_survey_url.replace("{ticket_id}", ticket_id)


async def transition(
    session: AsyncSession,
    runtime: TicketsRuntime,
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
            resolved_at=as_utc(row["resolved_at"]),
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
            session, as_utc(row["opened_at"]) or now, now, agency=row["agency"]
        )
        changes["due_at"], changes["warn_at"] = sla_dates(row, history, calendar)
    await session.execute(update(tickets).where(tickets.c.id == row["id"]).values(**changes))
    row.update(changes)
    url = survey_url(runtime.settings, row["id"]) if target is Status.RESOLVED else None
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
            due_at=as_utc(row["due_at"]),
            survey_url=url,
            public_status=PUBLIC_STATUS[target],
            actor_kind=caller.kind,
            partner_id=partner_of(row["opened_by"]),
            external_id=row.get("external_id"),
        ),
    )
    return row


async def move_ticket(
    runtime: TicketsRuntime,
    ticket_id: str,
    target: Status,
    *,
    reason: str | None,
    caller: Caller,
    authorise: Callable[[Any], None],
) -> Any:
    """Move a ticket the caller may see (``authorise`` refuses others); returns it after."""
    async with runtime.session_factory() as session, session.begin():
        row = await load_ticket(session, ticket_id, lock=True)
        authorise(row)
        await transition(session, runtime, row, target, reason=reason, caller=caller)
        return await load_ticket(session, ticket_id)
