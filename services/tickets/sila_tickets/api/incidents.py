"""Network incidents: declared over an area, customers told, tickets linked and resolved."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select

from sila_common.auth import Principal, require_roles
from sila_common.db import as_utc
from sila_common.problems import Forbidden, Unprocessable
from sila_tickets import flows
from sila_tickets.api.deps import RuntimeDep
from sila_tickets.api.views import AGENT_ROLES
from sila_tickets.domain.incidents import AreaKind
from sila_tickets.flows.incidents import Area as IncidentArea
from sila_tickets.flows.incidents import NewIncident, linked_tickets, load_incident
from sila_tickets.tables import incidents

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])
Staff = Annotated[Principal, Depends(require_roles(*AGENT_ROLES))]


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


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=IncidentRead,
    summary="Declare a network incident; the customers of the area are told",
)
async def declare_incident(body: IncidentCreate, runtime: RuntimeDep, principal: Staff) -> Any:
    if not principal.serves_wilaya(body.area.wilaya_code):
        raise Forbidden(f"Your scope does not cover wilaya {body.area.wilaya_code}.")
    if body.estimated_end_at.tzinfo is None:
        raise Unprocessable("estimated_end_at needs a UTC offset.", slug="naive-datetime")
    area = body.area
    row = await flows.declare_incident(
        runtime,
        NewIncident(
            service=body.service,
            area=IncidentArea(area.kind, area.value, area.wilaya_code),
            estimated_end_at=body.estimated_end_at,
            description=body.description,
            area_label=body.area_label,
        ),
        flows.Caller.of(principal),
    )
    return read(row)


@router.get("/{incident_id}", response_model=IncidentRead, summary="One incident")
async def get_incident(incident_id: str, runtime: RuntimeDep, principal: Staff) -> Any:
    async with runtime.session_factory() as session:
        row = await load_incident(session, incident_id, principal)
        return read(row, await linked_tickets(session, incident_id))


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
    await flows.resolve_incident(
        runtime, incident_id, principal=principal, reason=body.reason if body else None
    )
    async with runtime.session_factory() as session:
        return read(
            await load_incident(session, incident_id, principal),
            await linked_tickets(session, incident_id),
        )
