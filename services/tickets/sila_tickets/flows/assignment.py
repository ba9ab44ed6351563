"""Assignment: a ticket given to an agent of its queue, by hand or by the queue's strategy."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, any_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.db import as_utc
from sila_common.outbox import NewEvent
from sila_common.problems import Unprocessable
from sila_tickets.domain.lifecycle import OPEN
from sila_tickets.domain.routing import ALL_WILAYAS, AssignmentStrategy, Candidate, choose_agent
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

# The queue's strategy, its members serving a wilaya and each member's open tickets, in one
# statement (built once: a hot path). A queue without a row has no strategy (manual).
# Lists are bound as arrays (``= ANY``): an expanding ``IN`` is rewritten per execution.
_WILAYAS = bindparam("wilayas", type_=ARRAY(String))
_OPEN_TICKETS = (
    select(func.count())
    .where(
        tickets.c.assignee_id == queue_agents.c.agent_id,
        tickets.c.status == any_(bindparam("open", [s.value for s in OPEN], type_=ARRAY(String))),
    )
    .scalar_subquery()
)
_CANDIDATES = (
    select(
        queues.c.strategy,
        queue_agents.c.agent_id,
        queue_agents.c.last_assigned_at,
        _OPEN_TICKETS.label("open_tickets"),
    )
    .select_from(
        queues.outerjoin(
            queue_agents,
            (queue_agents.c.queue == queues.c.code)
            & (queue_agents.c.wilaya_code == any_(_WILAYAS)),
        )
    )
    .where(queues.c.code == bindparam("queue"))
)
# The chosen agent's rows of the queue (every wilaya it was chosen through) remember when it
# was last given a ticket: what round-robin reads next time.
_STAMP = (
    update(queue_agents)
    .where(
        queue_agents.c.queue == bindparam("of_queue"),
        queue_agents.c.agent_id == bindparam("of_agent"),
        queue_agents.c.wilaya_code == any_(_WILAYAS),
    )
    # Never backwards: an opening that chose earlier may commit later.
    .values(last_assigned_at=func.greatest(queue_agents.c.last_assigned_at, bindparam("at")))
)


def serving(wilaya_code: str | None) -> list[str]:
    """The member rows that serve a ticket of this wilaya: every wilaya's and its own."""
    return [ALL_WILAYAS, wilaya_code] if wilaya_code else [ALL_WILAYAS]


async def queue_members(session: AsyncSession, queue: str, wilaya_code: str | None) -> list[Any]:
    return list(
        (
            await session.execute(
                select(queue_agents).where(
                    queue_agents.c.queue == queue,
                    queue_agents.c.wilaya_code.in_(serving(wilaya_code)),
                )
            )
        ).all()
    )


async def choose_assignee(session: AsyncSession, queue: str, wilaya_code: str | None) -> str | None:
    """The agent the queue's strategy gives a ticket of this wilaya to, or None (a manual
    queue, nobody serving the wilaya). One statement; nothing is written."""
    rows = (
        await session.execute(_CANDIDATES, {"queue": queue, "wilayas": serving(wilaya_code)})
    ).all()
    strategy = AssignmentStrategy(rows[0].strategy) if rows else AssignmentStrategy.MANUAL
    # An agent listed for every wilaya and for this one is one candidate: the later of its
    # two last assignments counts.
    latest: dict[str, tuple[int, datetime | None]] = {}
    for row in rows:
        if row.agent_id is None:  # the queue has no member for this wilaya
            continue
        at = as_utc(row.last_assigned_at)
        previous = latest.get(row.agent_id, (0, None))[1]
        latest[row.agent_id] = (
            int(row.open_tickets),
            max(at, previous) if at and previous else at or previous,
        )
    candidates = [Candidate(agent, load, at) for agent, (load, at) in latest.items()]
    chosen = choose_agent(candidates, strategy)
    return chosen.agent_id if chosen is not None else None


async def stamp_assignment(
    session: AsyncSession, *, queue: str, wilaya_code: str | None, agent_id: str, at: datetime
) -> None:
    """Remember that ``agent_id`` was given a ticket of this queue at ``at``."""
    await session.execute(
        _STAMP,
        {"of_queue": queue, "of_agent": agent_id, "wilayas": serving(wilaya_code), "at": at},
    )


def assigned_event(row: Mapping[str, Any], *, automatic: bool) -> NewEvent:
    """``tickets.ticket.assigned`` for a row that carries its assignee."""
    return NewEvent(
        TICKET_ASSIGNED,
        subject=row["id"],
        customer_id=row["customer_id"],
        data=TicketAssigned(
            ticket_id=row["id"],
            number=row["number"],
            customer_id=row["customer_id"],
            queue=row["queue"],
            assignee_id=row["assignee_id"],
            automatic=automatic,
        ),
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
    """Give an existing ticket to ``assignee_id``, or choose by the queue's strategy when
    None (a new ticket is inserted with its assignee instead: ``opening.open_ticket``).

    Returns the updated row, or None when no agent could be chosen automatically.
    """
    now = now or datetime.now(UTC)
    row = dict(ticket)
    automatic = assignee_id is None
    if assignee_id is None:
        assignee_id = await choose_assignee(session, row["queue"], row["wilaya_code"])
        if assignee_id is None:
            return None
    else:
        members = await queue_members(session, row["queue"], row["wilaya_code"])
        if assignee_id not in {m.agent_id for m in members}:
            raise Unprocessable(
                f"Agent {assignee_id} is not an agent of the {row['queue']} queue for this wilaya.",
                slug="not-a-queue-agent",
                errors=[{"field": "body.assignee_id", "message": "not an agent of the queue"}],
            )
    await stamp_assignment(
        session, queue=row["queue"], wilaya_code=row["wilaya_code"], agent_id=assignee_id, at=now
    )
    changes = {"assignee_id": assignee_id, "assigned_at": now, "updated_at": now}
    await session.execute(update(tickets).where(tickets.c.id == row["id"]).values(**changes))
    row.update(changes)
    await runtime.outbox.record_many(session, [assigned_event(row, automatic=automatic)])
    return row


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
