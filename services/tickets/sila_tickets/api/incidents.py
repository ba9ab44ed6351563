"""Network incidents: declared over an area, customers told, tickets linked and resolved."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.auth import Principal, require_roles
from sila_common.db import as_utc
from sila_common.events import EventSpec
from sila_common.outbox import NewEvent
from sila_common.problems import Conflict, Forbidden, NotFound, Unprocessable
from sila_tickets import flows
from sila_tickets.api.deps import RuntimeDep
from sila_tickets.api.views import AGENT_ROLES
from sila_tickets.domain.incidents import AreaKind, area_value, normalise
from sila_tickets.domain.lifecycle import OPEN, Status
from sila_tickets.events import (
    INCIDENT_CUSTOMER_AFFECTED,
    INCIDENT_CUSTOMER_RESTORED,
    IncidentCustomerAffected,
    IncidentCustomerRestored,
)
from sila_tickets.runtime import TicketsRuntime
from sila_tickets.tables import incident_customers, incidents, known_customers, tickets

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])
Staff = Annotated[Principal, Depends(require_roles(*AGENT_ROLES))]
RESOLVE_BATCH = 200
RESOLVED_REASON = "The network incident is resolved."


class Area(BaseModel):
    kind: AreaKind
    # The wilaya code, the commune's name, the exchange's or the OLT's identifier.
    value: str = Field(min_length=1, max_length=100)
    # Where the commune, exchange or OLT is (required for them).
    wilaya_code: str | None = Field(default=None, pattern=r"^\d{2}$")

    @model_validator(mode="after")
    def _located(self) -> Area:
        if self.kind is AreaKind.WILAYA:
            if not (len(self.value) == 2 and self.value.isdigit()):
                raise ValueError("a wilaya is given by its two-digit code")
            self.wilaya_code = self.value
        elif self.wilaya_code is None:
            raise ValueError(f"a {self.kind.value} needs the wilaya_code it is in")
        return self


class IncidentCreate(BaseModel):
    service: str = Field(min_length=2, max_length=30, pattern=r"^[a-z0-9_]+$")
    area: Area
    estimated_end_at: datetime
    description: str | None = Field(default=None, max_length=2000)
    area_label: str | None = Field(default=None, max_length=200)


class IncidentRead(BaseModel):
    id: str
    service: str
    area_kind: str
    area_value: str
    wilaya_code: str | None
    area_label: str
    description: str | None
    status: Literal["active", "resolved"]
    estimated_end_at: datetime
    declared_at: datetime
    resolved_at: datetime | None
    affected_count: int
    linked_tickets: int = 0


def read(row: Any, linked: int = 0) -> IncidentRead:
    data = dict(row._mapping) if hasattr(row, "_mapping") else dict(row)
    for name in ("estimated_end_at", "declared_at", "resolved_at"):
        data[name] = as_utc(data[name])
    return IncidentRead(**data, linked_tickets=linked)


async def affected_customers(session: AsyncSession, area: Area) -> list[str]:
    """The directory's customers in the area (erased ones are no longer anybody's)."""
    query = select(
        known_customers.c.customer_id,
        known_customers.c.commune,
        known_customers.c.exchange,
        known_customers.c.olt,
    ).where(
        known_customers.c.erased_at.is_(None), known_customers.c.wilaya_code == area.wilaya_code
    )
    if area.kind is AreaKind.EXCHANGE:
        query = query.where(known_customers.c.exchange.is_not(None))
    elif area.kind is AreaKind.OLT:
        query = query.where(known_customers.c.olt.is_not(None))
    elif area.kind is AreaKind.COMMUNE:
        query = query.where(known_customers.c.commune.is_not(None))
    rows = (await session.execute(query)).all()
    if area.kind is AreaKind.WILAYA:
        return [row.customer_id for row in rows]
    wanted = normalise(area.value)
    column = area.kind.value
    return [row.customer_id for row in rows if normalise(getattr(row, column) or "") == wanted]


async def record_many(
    session: AsyncSession,
    runtime: TicketsRuntime,
    spec: EventSpec,
    subject: str,
    payloads: Sequence[tuple[str, Any]],
) -> None:
    """One event per customer, written to the outbox in bulk (a storm is thousands)."""
    await runtime.outbox.record_many(
        session, [NewEvent(spec, subject, customer_id, data) for customer_id, data in payloads]
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=IncidentRead,
    summary="Declare a network incident; the customers of the area are told",
)
async def declare_incident(body: IncidentCreate, runtime: RuntimeDep, principal: Staff) -> Any:
    if not principal.serves_wilaya(body.area.wilaya_code):
        raise Forbidden(f"Your scope does not cover wilaya {body.area.wilaya_code}.")
    estimated_end = body.estimated_end_at
    if estimated_end.tzinfo is None:
        raise Unprocessable("estimated_end_at needs a UTC offset.", slug="naive-datetime")
    now = datetime.now(UTC)
    label = body.area_label or f"{body.area.kind.value} {body.area.value}"
    incident_id = str(uuid.uuid4())
    row: dict[str, Any] = {
        "id": incident_id,
        "service": body.service,
        "area_kind": body.area.kind.value,
        "area_value": area_value(body.area.kind, body.area.value, body.area.wilaya_code),
        "wilaya_code": body.area.wilaya_code,
        "area_label": label,
        "description": body.description,
        "status": "active",
        "estimated_end_at": estimated_end,
        "declared_by": f"{principal.kind}:{principal.subject}",
        "declared_at": now,
        "resolved_by": None,
        "resolved_at": None,
        "affected_count": 0,
    }
    async with runtime.session_factory() as session, session.begin():
        customers = await affected_customers(session, body.area)
        row["affected_count"] = len(customers)
        await session.execute(insert(incidents).values(**row))
        if customers:
            await session.execute(
                insert(incident_customers),
                [
                    {"incident_id": row["id"], "customer_id": c, "notified_at": now}
                    for c in customers
                ],
            )
            await record_many(
                session,
                runtime,
                INCIDENT_CUSTOMER_AFFECTED,
                row["id"],
                [
                    (
                        c,
                        IncidentCustomerAffected(
                            incident_id=row["id"],
                            customer_id=c,
                            service=body.service,
                            area_label=label,
                            estimated_end_at=estimated_end,
                        ),
                    )
                    for c in customers
                ],
            )
    return read(row)


async def _load(
    session: AsyncSession, incident_id: str, principal: Principal, *, lock: bool = False
) -> Any:
    query = select(incidents).where(incidents.c.id == incident_id)
    row = (await session.execute(query.with_for_update() if lock else query)).one_or_none()
    if row is None or not principal.serves_wilaya(row.wilaya_code):
        raise NotFound(f"No incident {incident_id}.")
    return row


async def _linked(session: AsyncSession, incident_id: str) -> int:
    count = await session.scalar(
        select(func.count()).select_from(tickets).where(tickets.c.incident_id == incident_id)
    )
    return int(count or 0)


@router.get("/{incident_id}", response_model=IncidentRead, summary="One incident")
async def get_incident(incident_id: str, runtime: RuntimeDep, principal: Staff) -> Any:
    async with runtime.session_factory() as session:
        row = await _load(session, incident_id, principal)
        return read(row, await _linked(session, incident_id))


@router.get("", response_model=list[IncidentRead], summary="Incidents, newest first")
async def list_incidents(
    runtime: RuntimeDep,
    principal: Staff,
    status_: Annotated[Literal["active", "resolved"] | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Any:
    query = select(incidents).order_by(incidents.c.declared_at.desc()).limit(limit)
    if status_ is not None:
        query = query.where(incidents.c.status == status_)
    if "*" not in principal.wilayas:
        query = query.where(incidents.c.wilaya_code.in_(sorted(principal.wilayas)))
    async with runtime.session_factory() as session:
        return [read(row) for row in (await session.execute(query)).all()]


class ResolveBody(BaseModel):
    reason: str | None = Field(default=None, max_length=2000)


@router.post(
    "/{incident_id}/resolve",
    response_model=IncidentRead,
    summary="Resolve the incident: its tickets are resolved, its customers told",
)
async def resolve_incident(
    incident_id: str, runtime: RuntimeDep, principal: Staff, body: ResolveBody | None = None
) -> Any:
    caller = flows.Caller.of(principal)
    now = datetime.now(UTC)
    async with runtime.session_factory() as session, session.begin():
        row = await _load(session, incident_id, principal, lock=True)
        if row.status == "active":
            await session.execute(
                update(incidents)
                .where(incidents.c.id == incident_id)
                .values(status="resolved", resolved_at=now, resolved_by=caller.label)
            )
            affected = (
                (
                    await session.execute(
                        select(incident_customers.c.customer_id).where(
                            incident_customers.c.incident_id == incident_id
                        )
                    )
                )
                .scalars()
                .all()
            )
            await record_many(
                session,
                runtime,
                INCIDENT_CUSTOMER_RESTORED,
                incident_id,
                [
                    (
                        c,
                        IncidentCustomerRestored(
                            incident_id=incident_id,
                            customer_id=c,
                            service=row.service,
                            area_label=row.area_label,
                        ),
                    )
                    for c in affected
                ],
            )
        elif await _open_linked(session, incident_id, limit=1) == []:
            raise Conflict(f"Incident {incident_id} is already resolved.", slug="incident-resolved")
    # The linked tickets in batches: a storm's thousands never sit in one transaction, and
    # calling resolve again finishes what a crash left.
    reason = (body.reason if body else None) or RESOLVED_REASON
    while True:
        async with runtime.session_factory() as session, session.begin():
            batch = await _open_linked(session, incident_id, limit=RESOLVE_BATCH)
            for ticket in batch:
                await flows.transition(
                    session, runtime, ticket, Status.RESOLVED, reason=reason, caller=caller, now=now
                )
        if len(batch) < RESOLVE_BATCH:
            break
    async with runtime.session_factory() as session:
        return read(
            await _load(session, incident_id, principal), await _linked(session, incident_id)
        )


async def _open_linked(session: AsyncSession, incident_id: str, *, limit: int) -> list[Any]:
    query = (
        select(tickets)
        .where(tickets.c.incident_id == incident_id, tickets.c.status.in_([s.value for s in OPEN]))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.execute(query)).all())
