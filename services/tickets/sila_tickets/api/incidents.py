"""Network incidents: declared over an area, customers told, tickets linked and resolved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select

from sila_common.auth import Principal, require_roles
from sila_common.db import as_utc
from sila_common.geography import Reference
from sila_common.inputs import Instant, Name
from sila_common.problems import Forbidden, Unprocessable
from sila_tickets import flows
from sila_tickets.api.deps import RuntimeDep
from sila_tickets.api.views import AGENT_ROLES
from sila_tickets.domain.incidents import PLACES, AreaKind, UnknownPlace, resolve_place
from sila_tickets.flows.geography import current_map
from sila_tickets.flows.incidents import Area as IncidentArea
from sila_tickets.flows.incidents import NewIncident, linked_tickets, load_incident
from sila_tickets.tables import incidents

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])
Staff = Annotated[Principal, Depends(require_roles(*AGENT_ROLES))]
# An estimate in the past is a typo (a client's clock a little behind is not); one beyond
# three months is not an estimate, and customers would be told a date nobody believes.
ESTIMATE_SKEW = timedelta(minutes=5)
LONGEST_INCIDENT = timedelta(days=90)


class Area(BaseModel):
    kind: AreaKind
    # The wilaya's code; the daïra's or commune's code (GET /v1/communes) or name in either
    # script (with its wilaya_code); the exchange's or the OLT's identifier.
    value: Name = Field(min_length=1, max_length=100)
    # Where the place, exchange or OLT is (required for exchanges, OLTs and names).
    wilaya_code: str | None = Field(default=None, pattern=r"^\d{2}$")

    @model_validator(mode="after")
    def _located(self) -> Area:
        if self.kind is AreaKind.WILAYA:
            if not (len(self.value) == 2 and self.value.isdigit()):
                raise ValueError("a wilaya is given by its two-digit code")
            self.wilaya_code = self.value
        elif self.kind not in PLACES and self.wilaya_code is None:
            raise ValueError(f"a {self.kind.value} needs the wilaya_code it is in")
        return self


def checked_area(area: Area, ref: Reference) -> tuple[Area, dict[str, str] | None]:
    """The area with a place's code and wilaya, and the place's names; 422 naming what is
    wrong when the reference has no such place in that wilaya."""
    if area.kind not in PLACES:
        return area, None
    try:
        place = resolve_place(ref, area.kind, area.value, area.wilaya_code)
    except UnknownPlace as exc:
        raise Unprocessable.at(
            "body.area.value",
            exc.reason,
            kind="unknown_place",
            slug="unknown-place",
            candidates=exc.candidates,
        ) from exc
    checked = area.model_copy(update={"value": place.code, "wilaya_code": place.wilaya_code})
    return checked, place.place.names()


class IncidentCreate(BaseModel):
    service: str = Field(min_length=2, max_length=30, pattern=r"^[a-z0-9_]+$")
    area: Area
    estimated_end_at: Instant
    description: str | None = Field(default=None, max_length=2000)
    area_label: Name | None = Field(default=None, max_length=200)


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
    estimated_end = body.estimated_end_at
    if estimated_end.tzinfo is None:
        raise Unprocessable("estimated_end_at needs a UTC offset.", slug="naive-datetime")
    area, names = checked_area(body.area, await current_map(runtime))
    if not principal.serves_wilaya(area.wilaya_code):
        raise Forbidden(f"Your scope does not cover wilaya {area.wilaya_code}.")
    now = datetime.now(UTC)
    if not now - ESTIMATE_SKEW <= estimated_end <= now + LONGEST_INCIDENT:
        raise Unprocessable(
            "estimated_end_at must be in the future and at most "
            f"{LONGEST_INCIDENT.days} days ahead.",
            slug="estimated-end-out-of-range",
            errors=[{"field": "body.estimated_end_at", "message": "out of range"}],
        )
    row = await flows.declare_incident(
        runtime,
        NewIncident(
            service=body.service,
            area=IncidentArea(area.kind, area.value, area.wilaya_code),
            estimated_end_at=estimated_end,
            description=body.description,
            area_label=body.area_label,
            names=names,
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
