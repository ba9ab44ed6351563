"""Reference data over HTTP: subcategories and scripts, SLA policies, the holiday calendar,
queues and their agents. Reading is for agents; changing is for administrators (calendar,
policies) and supervisors (queues).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Response, status
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select

from sila_common.auth import CurrentPrincipal, Principal, require_roles
from sila_common.inputs import Day, Instant, Name
from sila_common.problems import Forbidden, NotFound, Unprocessable
from sila_tickets.api.deps import RuntimeDep
from sila_tickets.api.views import AGENT_ROLES
from sila_tickets.domain.agencies import AGENCY_CODE_PATTERN
from sila_tickets.domain.calendar import CalendarCoverageError
from sila_tickets.domain.routing import AssignmentStrategy
from sila_tickets.domain.sla import (
    ClockKind,
    Duration,
    SlaPolicy,
    TicketCategory,
    TicketPriority,
    compute_due,
)
from sila_tickets.flows import reference as reference_flows
from sila_tickets.reference import policy_from_row
from sila_tickets.seed import policy_key
from sila_tickets.tables import queue_agents, queues, sla_policies, subcategories

router = APIRouter(prefix="/v1/tickets", tags=["reference data"])

Agent = Depends(require_roles(*AGENT_ROLES))
Admin = Depends(require_roles("admin"))
Supervisor = Depends(require_roles("supervisor"))


# --- subcategories and their scripts ------------------------------------------------------


class ScriptQuestionRead(BaseModel):
    key: str
    text: str
    type: str
    options: list[str]
    required: bool


class SubcategoryRead(BaseModel):
    code: str
    category: str
    label_fr: str
    label_en: str
    label_ar: str
    script: list[ScriptQuestionRead]


@router.get(
    "/reference/subcategories",
    response_model=list[SubcategoryRead],
    summary="Subcategories per category, each with its agent script",
)
async def list_subcategories(
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    category: TicketCategory | None = None,
) -> list[SubcategoryRead]:
    query = select(subcategories).where(subcategories.c.active.is_(True))
    if category is not None:
        query = query.where(subcategories.c.category == category.value)
    async with runtime.session_factory() as session:
        rows = (await session.execute(query.order_by(subcategories.c.code))).all()
    show_script = principal.kind == "agent"
    return [
        SubcategoryRead(
            code=row.code,
            category=row.category,
            label_fr=row.label_fr,
            label_en=row.label_en,
            label_ar=row.label_ar,
            script=[ScriptQuestionRead(**q) for q in row.script] if show_script else [],
        )
        for row in rows
    ]


# --- SLA policies ---------------------------------------------------------------------------


# The longest commitment of each kind, about a year: the calendar is loaded two years
# ahead of a ticket, so a due date always falls on days whose holidays are known.
LONGEST: dict[ClockKind, int] = {
    ClockKind.CALENDAR_HOURS: 24 * 366,
    ClockKind.WORKING_HOURS: 2_500,
    ClockKind.WORKING_DAYS: 260,
}


class DurationBody(BaseModel):
    amount: int = Field(gt=0, le=10_000)
    kind: ClockKind

    @model_validator(mode="after")
    def _at_most_a_year(self) -> DurationBody:
        if self.amount > LONGEST[self.kind]:
            raise ValueError(f"at most {LONGEST[self.kind]} {self.kind.value.replace('_', ' ')}")
        return self


class PolicyBody(BaseModel):
    category: TicketCategory
    subcategory: str | None = Field(default=None, max_length=50)
    priority: TicketPriority | None = None
    first_response: DurationBody
    resolution: DurationBody


class PolicyRead(PolicyBody):
    key: str


def policy_read(policy: SlaPolicy) -> PolicyRead:
    return PolicyRead(
        key=policy_key(policy.category.value, policy.subcategory, policy.priority),
        category=policy.category,
        subcategory=policy.subcategory,
        priority=policy.priority,
        first_response=DurationBody(
            amount=policy.first_response.amount, kind=policy.first_response.kind
        ),
        resolution=DurationBody(amount=policy.resolution.amount, kind=policy.resolution.kind),
    )


@router.get(
    "/admin/sla-policies",
    response_model=list[PolicyRead],
    summary="The SLA policy table",
    dependencies=[Agent],
)
async def list_policies(runtime: RuntimeDep) -> list[PolicyRead]:
    async with runtime.session_factory() as session:
        rows = (await session.execute(select(sla_policies).order_by(sla_policies.c.key))).all()
    return [policy_read(policy_from_row(row)) for row in rows]


@router.put(
    "/admin/sla-policies",
    response_model=PolicyRead,
    summary="Create or replace a policy (applies to tickets opened from now on)",
    dependencies=[Admin],
)
async def put_policy(body: PolicyBody, runtime: RuntimeDep) -> PolicyRead:
    policy = SlaPolicy(
        category=body.category,
        subcategory=body.subcategory,
        priority=body.priority,
        first_response=Duration(body.first_response.amount, body.first_response.kind),
        resolution=Duration(body.resolution.amount, body.resolution.kind),
    )
    await reference_flows.put_policy(runtime, policy)
    return policy_read(policy)


@router.delete(
    "/admin/sla-policies/{key:path}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a narrowing policy (a category's own policy cannot be removed)",
    dependencies=[Admin],
)
async def delete_policy(key: str, runtime: RuntimeDep) -> Response:
    await reference_flows.delete_policy(runtime, key)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


class PolicyPreview(BaseModel):
    policy: PolicyRead
    opened_at: datetime
    agency_code: str | None = None
    first_response_due_at: datetime | None
    due_at: datetime | None


@router.get(
    "/admin/sla-policies/preview",
    response_model=PolicyPreview,
    summary="Which policy a ticket would get, and its due dates if opened at `opened_at` "
    "(on an agency's hours with `agency_code`)",
    dependencies=[Agent],
)
async def preview_policy(
    runtime: RuntimeDep,
    category: TicketCategory,
    subcategory: Annotated[str | None, Query(max_length=50)] = None,
    priority: TicketPriority | None = None,
    opened_at: Instant | None = None,
    agency_code: Annotated[str | None, Query(pattern=AGENCY_CODE_PATTERN)] = None,
) -> PolicyPreview:
    opened = opened_at or datetime.now(UTC)
    if opened.tzinfo is None:
        raise Unprocessable("opened_at needs a UTC offset.", slug="naive-datetime")
    policy, calendar = await reference_flows.policy_for(
        runtime,
        category=category,
        subcategory=subcategory,
        priority=priority,
        opened=opened,
        agency_code=agency_code,
    )
    try:
        first_response_due_at = compute_due(policy.first_response, opened, calendar)
        due_at = compute_due(policy.resolution, opened, calendar)
    except CalendarCoverageError as exc:
        raise Unprocessable(
            f"The due dates fall outside the known calendar: {exc}.",
            slug="outside-calendar",
            errors=[{"field": "query.opened_at", "message": str(exc)}],
        ) from exc
    return PolicyPreview(
        policy=policy_read(policy),
        opened_at=opened,
        agency_code=agency_code,
        first_response_due_at=first_response_due_at,
        due_at=due_at,
    )


# --- the holiday calendar -----------------------------------------------------------------


class HolidayRead(BaseModel):
    day: date
    name: str
    estimated: bool


class OverrideRead(BaseModel):
    id: int
    day: date
    action: str
    name: str | None
    reason: str | None
    created_by: str
    created_at: datetime


class CalendarRead(BaseModel):
    year: int
    holidays: list[HolidayRead]
    overrides: list[OverrideRead]


@router.get(
    "/admin/calendar",
    response_model=CalendarRead,
    summary="A year's public holidays (library, then overrides); Islamic dates flagged estimated",
    dependencies=[Agent],
)
async def get_calendar(
    runtime: RuntimeDep, year: Annotated[int, Query(ge=2000, le=2100)]
) -> CalendarRead:
    holidays, overrides = await reference_flows.calendar_of(runtime, year)
    return CalendarRead(
        year=year,
        holidays=[HolidayRead(day=h.day, name=h.name, estimated=h.estimated) for h in holidays],
        overrides=[
            OverrideRead.model_validate(row, from_attributes=True)
            for row in overrides
            if row.day.year == year
        ],
    )


class OverrideBody(BaseModel):
    """confirm: the estimated date is the official one; move: it is ``to_day`` instead;
    add: a holiday the library does not know (e.g. an exceptional day off); remove: drop
    the named holiday of that day (or all of that day's without a name)."""

    action: Literal["confirm", "move", "add", "remove"]
    day: Day
    name: Name | None = Field(default=None, min_length=1, max_length=100)
    to_day: Day | None = None
    reason: str = Field(min_length=3, max_length=1000)

    @model_validator(mode="after")
    def _complete(self) -> OverrideBody:
        if self.action in ("confirm", "move", "add") and not self.name:
            raise ValueError(f"{self.action} needs the holiday's name")
        if self.action == "move" and self.to_day is None:
            raise ValueError("move needs to_day")
        return self


@router.post(
    "/admin/calendar/overrides",
    status_code=status.HTTP_201_CREATED,
    response_model=CalendarRead,
    summary="Confirm, move, add or remove a holiday (kept as overrides, applied in order)",
)
async def override_holiday(
    body: OverrideBody,
    runtime: RuntimeDep,
    principal: Annotated[Principal, Admin],
) -> CalendarRead:
    await reference_flows.override_holiday(
        runtime,
        reference_flows.HolidayChange(
            action=body.action,
            day=body.day,
            name=body.name,
            to_day=body.to_day,
            reason=body.reason,
        ),
        actor=f"{principal.kind}:{principal.subject}",
    )
    return await get_calendar(runtime, body.day.year)


# --- queues and their agents ----------------------------------------------------------------


class QueueMember(BaseModel):
    agent_id: str
    wilaya_code: str
    last_assigned_at: datetime | None


class QueueRead(BaseModel):
    code: str
    label: str
    strategy: AssignmentStrategy
    agents: list[QueueMember]


@router.get(
    "/queues",
    response_model=list[QueueRead],
    summary="Queues and their agents",
    dependencies=[Agent],
)
async def list_queues(runtime: RuntimeDep) -> list[QueueRead]:
    async with runtime.session_factory() as session:
        queue_rows = (await session.execute(select(queues).order_by(queues.c.code))).all()
        members = (await session.execute(select(queue_agents))).all()
    return [
        QueueRead(
            code=q.code,
            label=q.label,
            strategy=AssignmentStrategy(q.strategy),
            agents=[
                QueueMember(
                    agent_id=m.agent_id,
                    wilaya_code=m.wilaya_code,
                    last_assigned_at=m.last_assigned_at,
                )
                for m in members
                if m.queue == q.code
            ],
        )
        for q in queue_rows
    ]


class StrategyBody(BaseModel):
    strategy: AssignmentStrategy


async def _queue_exists(runtime: RuntimeDep, code: str) -> None:
    async with runtime.session_factory() as session:
        if await session.scalar(select(queues.c.code).where(queues.c.code == code)) is None:
            raise NotFound(f"No queue {code}.")


@router.put(
    "/queues/{code}", response_model=StrategyBody, summary="Set a queue's assignment strategy"
)
async def set_strategy(
    code: str,
    body: StrategyBody,
    runtime: RuntimeDep,
    principal: Annotated[Principal, Supervisor],
) -> StrategyBody:
    await _queue_exists(runtime, code)
    await reference_flows.set_strategy(runtime, code, body.strategy)
    return body


def _ensure_supervises(principal: Principal, wilaya: str) -> None:
    if wilaya == "*" and "*" not in principal.wilayas:
        raise Forbidden("Only a supervisor of every wilaya manages national queue members.")
    if wilaya != "*" and not principal.serves_wilaya(wilaya):
        raise Forbidden(f"Your scope does not cover wilaya {wilaya}.")


@router.put(
    "/queues/{code}/agents/{agent_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary='Make an agent a member of a queue for a wilaya ("*": every wilaya)',
)
async def add_member(
    code: str,
    agent_id: Annotated[str, Path(max_length=36)],
    runtime: RuntimeDep,
    principal: Annotated[Principal, Supervisor],
    wilaya: Annotated[str, Query(pattern=r"^(\d{2}|\*)$")] = "*",
) -> Response:
    await _queue_exists(runtime, code)
    _ensure_supervises(principal, wilaya)
    await reference_flows.add_member(
        runtime, code, agent_id, wilaya, f"{principal.kind}:{principal.subject}"
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/queues/{code}/agents/{agent_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove an agent from a queue for a wilaya",
)
async def remove_member(
    code: str,
    agent_id: str,
    runtime: RuntimeDep,
    principal: Annotated[Principal, Supervisor],
    wilaya: Annotated[str, Query(pattern=r"^(\d{2}|\*)$")] = "*",
) -> Response:
    _ensure_supervises(principal, wilaya)
    await reference_flows.remove_member(runtime, code, agent_id, wilaya)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
