"""Escalation: warn supervisors at 75 %, flag breaches, close old resolutions (the
scheduler, ``sila_tickets.scheduler``, runs a pass every few seconds).

``run_escalation_pass`` is safe with several instances running at once: each batch locks
the due tickets with ``FOR UPDATE SKIP LOCKED`` and each level is raised once (its
timestamp is set in the same transaction as the event), so concurrent passes never raise
the same escalation twice. It looks for everything already due, so a pass after a
downtime catches up on all that was missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy import and_, or_, select, update

from sila_common.db import as_utc
from sila_tickets.domain.escalation import EscalationLevel, escalation_due
from sila_tickets.domain.lifecycle import OPEN, REOPEN_WINDOW, Status
from sila_tickets.events import TICKET_ESCALATED, TicketEscalated
from sila_tickets.flows import lifecycle
from sila_tickets.flows.shared import SYSTEM
from sila_tickets.runtime import TicketsRuntime
from sila_tickets.tables import tickets

log = structlog.get_logger(__name__)
AUTO_CLOSE_REASON = "Closed automatically 7 days after the resolution."


@dataclass
class PassResult:
    warned: int = 0
    breached: int = 0
    closed: int = 0


async def run_escalation_pass(
    runtime: TicketsRuntime, now: datetime | None = None, *, batch_size: int = 200
) -> PassResult:
    """Raise every escalation due at ``now`` and close resolutions older than 7 days."""
    now = now or datetime.now(UTC)
    result = PassResult()
    while True:
        warned, breached, seen = await _escalate_batch(runtime, now, batch_size)
        result.warned += warned
        result.breached += breached
        if seen < batch_size or warned + breached == 0:
            break
    while True:
        closed = await _close_batch(runtime, now, batch_size)
        result.closed += closed
        if closed < batch_size:
            break
    return result


async def _escalate_batch(
    runtime: TicketsRuntime, now: datetime, limit: int
) -> tuple[int, int, int]:
    warn_due = and_(
        tickets.c.warned_at.is_(None), tickets.c.breached_at.is_(None), tickets.c.warn_at <= now
    )
    breach_due = and_(tickets.c.breached_at.is_(None), tickets.c.due_at < now)
    query = (
        select(tickets)
        .where(tickets.c.status.in_([s.value for s in OPEN]), or_(warn_due, breach_due))
        .order_by(tickets.c.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    warned = breached = 0
    async with runtime.session_factory() as session, session.begin():
        rows = (await session.execute(query)).all()
        for row in rows:
            level = escalation_due(
                now=now,
                warn_at=as_utc(row.warn_at),
                due_at=as_utc(row.due_at),
                warned=row.warned_at is not None,
                breached=row.breached_at is not None,
            )
            if level is None:
                continue
            changes: dict[str, object] = {"escalation_level": level.value, "updated_at": now}
            if level is EscalationLevel.BREACHED:
                changes["breached_at"] = now
                changes["warned_at"] = row.warned_at or now
                breached += 1
            else:
                changes["warned_at"] = now
                warned += 1
            await session.execute(update(tickets).where(tickets.c.id == row.id).values(**changes))
            await runtime.outbox.record(
                session,
                TICKET_ESCALATED,
                subject=row.id,
                customer_id=row.customer_id,
                data=TicketEscalated(
                    ticket_id=row.id,
                    number=row.number,
                    customer_id=row.customer_id,
                    level=level.value,
                    due_at=as_utc(row.due_at),
                    queue=row.queue,
                    wilaya_code=row.wilaya_code,
                    assignee_id=row.assignee_id,
                ),
            )
    return warned, breached, len(rows)


async def _close_batch(runtime: TicketsRuntime, now: datetime, limit: int) -> int:
    query = (
        select(tickets)
        .where(
            tickets.c.status == Status.RESOLVED.value,
            tickets.c.resolved_at < now - REOPEN_WINDOW,
        )
        .order_by(tickets.c.resolved_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    async with runtime.session_factory() as session, session.begin():
        rows = (await session.execute(query)).all()
        for row in rows:
            await lifecycle.transition(
                session,
                runtime,
                row,
                Status.CLOSED,
                reason=AUTO_CLOSE_REASON,
                caller=SYSTEM,
                now=now,
            )
    return len(rows)
