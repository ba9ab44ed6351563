"""The reference data staff maintain: SLA policies, the holiday calendar, queues and their
agents, agencies. Each change drops the process's cached copy (``reference_of``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from sila_common.db import rows_affected
from sila_common.problems import NotFound, Unprocessable
from sila_tickets.domain.calendar import WorkingCalendar
from sila_tickets.domain.routing import AssignmentStrategy
from sila_tickets.domain.sla import (
    NoPolicyError,
    SlaPolicy,
    TicketCategory,
    TicketPriority,
    select_policy,
)
from sila_tickets.reference import covering_years, load_holidays, reference_of
from sila_tickets.runtime import TicketsRuntime
from sila_tickets.seed import policy_row
from sila_tickets.tables import agencies, holiday_overrides, queue_agents, queues, sla_policies

# --- SLA policies ---------------------------------------------------------------------------


async def put_policy(runtime: TicketsRuntime, policy: SlaPolicy) -> None:
    row = policy_row(policy, datetime.now(UTC))
    async with runtime.session_factory() as session, session.begin():
        stmt = pg_insert(sla_policies).values(**row)
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["key"], set_={k: v for k, v in row.items() if k != "key"}
            )
        )
    reference_of(runtime).invalidate()


async def delete_policy(runtime: TicketsRuntime, key: str) -> None:
    async with runtime.session_factory() as session, session.begin():
        row = (
            await session.execute(select(sla_policies).where(sla_policies.c.key == key))
        ).one_or_none()
        if row is None:
            raise NotFound(f"No policy {key}.")
        if row.subcategory is None and row.priority is None:
            raise Unprocessable(
                "A category keeps its own policy: every ticket needs one.",
                slug="category-policy-required",
            )
        await session.execute(delete(sla_policies).where(sla_policies.c.key == key))
    reference_of(runtime).invalidate()


async def policy_for(
    runtime: TicketsRuntime,
    *,
    category: TicketCategory,
    subcategory: str | None,
    priority: TicketPriority | None,
    opened: datetime,
    agency_code: str | None,
) -> tuple[SlaPolicy, WorkingCalendar]:
    """The policy a ticket would get and the calendar its clocks would follow."""
    reference = reference_of(runtime)
    # The calendar seeds a year's holidays the first time it is asked for: a write.
    async with runtime.session_factory() as session, session.begin():
        try:
            policy = select_policy(
                await reference.policies(session),
                category=category,
                subcategory=subcategory,
                priority=priority,
            )
        except NoPolicyError as exc:
            raise Unprocessable(str(exc), slug="no-policy") from exc
        if agency_code is not None and agency_code not in await reference.agencies(session):
            raise Unprocessable(
                f"No agency {agency_code}.",
                slug="unknown-agency",
                errors=[{"field": "query.agency_code", "message": "no such agency"}],
            )
        calendar = await reference.calendar(session, opened, agency=agency_code)
    return policy, calendar


# --- the holiday calendar -------------------------------------------------------------------


async def calendar_of(runtime: TicketsRuntime, year: int) -> tuple[list[Any], list[Any]]:
    """A year's holidays (seeded the first time) and every override, oldest first."""
    async with runtime.session_factory() as session, session.begin():
        holidays = await load_holidays(session, frozenset({year}))
        overrides = (
            await session.execute(select(holiday_overrides).order_by(holiday_overrides.c.id))
        ).all()
    return list(holidays), list(overrides)


@dataclass(frozen=True)
class HolidayChange:
    action: str  # confirm, move, add or remove
    day: date
    name: str | None
    to_day: date | None
    reason: str


async def override_holiday(runtime: TicketsRuntime, change: HolidayChange, actor: str) -> None:
    """Confirm, move, add or remove a holiday, kept as overrides applied in order."""
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    base = {"reason": change.reason, "created_by": actor, "created_at": now}
    if change.action in ("confirm", "move", "remove"):
        async with runtime.session_factory() as session, session.begin():
            current = await load_holidays(session, covering_years(datetime(change.day.year, 6, 1)))
        names = [h.name for h in current if h.day == change.day]
        if change.name not in names and not (change.action == "remove" and change.name is None):
            raise Unprocessable(
                f"No holiday {change.name!r} on {change.day}; that day has {names}.",
                slug="no-such-holiday",
            )
    if change.action == "confirm":
        rows.append({"day": change.day, "action": "add", "name": change.name, **base})
    elif change.action == "move":
        rows.append({"day": change.day, "action": "remove", "name": change.name, **base})
        rows.append({"day": change.to_day, "action": "add", "name": change.name, **base})
    else:
        rows.append({"day": change.day, "action": change.action, "name": change.name, **base})
    async with runtime.session_factory() as session, session.begin():
        await session.execute(insert(holiday_overrides), rows)
    reference_of(runtime).invalidate()


# --- queues and their agents ----------------------------------------------------------------


async def set_strategy(runtime: TicketsRuntime, code: str, strategy: AssignmentStrategy) -> None:
    async with runtime.session_factory() as session, session.begin():
        await session.execute(
            update(queues).where(queues.c.code == code).values(strategy=strategy.value)
        )


async def add_member(
    runtime: TicketsRuntime, code: str, agent_id: str, wilaya: str, actor: str
) -> None:
    async with runtime.session_factory() as session, session.begin():
        stmt = pg_insert(queue_agents).values(
            queue=code,
            wilaya_code=wilaya,
            agent_id=agent_id,
            last_assigned_at=None,
            added_by=actor,
            added_at=datetime.now(UTC),
        )
        await session.execute(stmt.on_conflict_do_nothing())


async def remove_member(runtime: TicketsRuntime, code: str, agent_id: str, wilaya: str) -> None:
    async with runtime.session_factory() as session, session.begin():
        result = await session.execute(
            delete(queue_agents).where(
                queue_agents.c.queue == code,
                queue_agents.c.agent_id == agent_id,
                queue_agents.c.wilaya_code == wilaya,
            )
        )
    if not rows_affected(result):
        raise NotFound(f"Agent {agent_id} is not in queue {code} for {wilaya}.")


# --- agencies -------------------------------------------------------------------------------


async def put_agency(
    runtime: TicketsRuntime, row: dict[str, Any], *, authorise: Callable[[Sequence[str]], None]
) -> Any:
    """Create or replace an agency; ``authorise`` checks the wilayas it was and will be in."""
    async with runtime.session_factory() as session, session.begin():
        existing = await session.scalar(
            select(agencies.c.wilaya_code).where(agencies.c.code == row["code"]).with_for_update()
        )
        authorise(sorted({row["wilaya_code"], existing} - {None}))
        stmt = pg_insert(agencies).values(**row)
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["code"], set_={k: v for k, v in row.items() if k != "code"}
            )
        )
        saved = (
            await session.execute(select(agencies).where(agencies.c.code == row["code"]))
        ).one()
    reference_of(runtime).invalidate()
    return saved
