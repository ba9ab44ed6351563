"""Assignment: a ticket given to an agent of its queue, by hand or by the queue's strategy."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.db import as_utc
from sila_common.problems import Unprocessable
from sila_tickets.domain.lifecycle import OPEN
from sila_tickets.domain.routing import AssignmentStrategy, Candidate, choose_agent
from sila_tickets.events import (
    TICKET_ASSIGNED,
    TicketAssigned,
)
from sila_tickets.flows.shared import Caller, load_ticket
from sila_tickets.runtime import TicketsRuntime
from sila_tickets.tables import (
    queue_agents,
    queues,
    tickets,
)


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
    runtime: TicketsRuntime,
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
            at = as_utc(member.last_assigned_at)
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


async def assign_ticket(
    runtime: TicketsRuntime,
    ticket_id: str,
    assignee_id: str | None,
    *,
    caller: Caller,
    authorise: Callable[[Any], None],
) -> dict[str, Any]:
    """Assign an open ticket the caller may see, to ``assignee_id`` or by the queue's strategy."""
    async with runtime.session_factory() as session, session.begin():
        row = await load_ticket(session, ticket_id, lock=True)
        authorise(row)
        if row.status not in {s.value for s in OPEN}:
            raise Unprocessable(f"A {row.status} ticket is not assigned.", slug="ticket-not-open")
        assigned = await assign(session, runtime, dict(row._mapping), assignee_id, caller)
        if assigned is None:
            raise Unprocessable(
                f"No agent of the {row.queue} queue serves wilaya {row.wilaya_code}.",
                slug="no-agent-available",
            )
        return assigned
