"""Commercial agencies (ACTEL) and their business hours over HTTP.

Agents read them; supervisors (of the agency's wilaya) and administrators create and change
them. A ticket handled by an agency runs its working-hour and working-day clocks on these
hours.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from itertools import pairwise
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import select

from sila_common.auth import Principal, require_roles
from sila_common.geography import Reference, match_commune
from sila_common.inputs import Name
from sila_common.problems import Forbidden, NotFound, Unprocessable
from sila_tickets.api.deps import RuntimeDep
from sila_tickets.api.views import AGENT_ROLES
from sila_tickets.domain.agencies import (
    AGENCY_CODE_PATTERN,
    LOCAL_TIME_PATTERN,
    hours_document,
)
from sila_tickets.domain.calendar import BusinessHours
from sila_tickets.flows import reference as reference_flows
from sila_tickets.flows.geography import current_map
from sila_tickets.tables import agencies

router = APIRouter(prefix="/v1/tickets", tags=["reference data"])

Agent = Depends(require_roles(*AGENT_ROLES))
Supervisor = Depends(require_roles("supervisor"))

WeekdayName = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
LocalTime = Annotated[
    str,
    Field(
        pattern=LOCAL_TIME_PATTERN,
        description="Local wall-clock time in Africa/Algiers, HH:MM, without offset",
        examples=["08:00"],
    ),
]
WILAYA_PATTERN = r"^(0[1-9]|[1-9]\d)$"


class WindowBody(BaseModel):
    """One day's opening: a single window, local Africa/Algiers times."""

    model_config = ConfigDict(extra="forbid")

    opens: LocalTime
    closes: LocalTime

    @model_validator(mode="after")
    def _closes_after_opening(self) -> WindowBody:
        # Zero-padded HH:MM strings compare in time order.
        if self.closes <= self.opens:
            raise ValueError(f"closes ({self.closes}) must be after opens ({self.opens})")
        return self


WeeklyHours = dict[WeekdayName, WindowBody | None]


def _standard_hours() -> WeeklyHours:
    return {
        day: WindowBody(**window)  # type: ignore[misc]
        for day, window in hours_document(BusinessHours.standard()).items()
    }


def _some_day_open(hours: WeeklyHours) -> WeeklyHours:
    if not any(window is not None for window in hours.values()):
        raise ValueError("at least one weekday must be open")
    return hours


def _document(hours: WeeklyHours) -> dict[str, dict[str, str]]:
    return {
        day: {"opens": window.opens, "closes": window.closes}
        for day, window in hours.items()
        if window is not None
    }


class HoursPeriodBody(BaseModel):
    """Other hours on a run of days, both included (Ramadan 2026: 09:00-15:00)."""

    model_config = ConfigDict(extra="forbid")

    label: Name = Field(min_length=2, max_length=100, examples=["Ramadan 2026"])
    first_day: date
    last_day: date
    hours: WeeklyHours

    _hours_open = field_validator("hours")(_some_day_open)

    @model_validator(mode="after")
    def _ordered(self) -> HoursPeriodBody:
        if self.last_day < self.first_day:
            raise ValueError("last_day must not be before first_day")
        return self


class AgencyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=AGENCY_CODE_PATTERN, examples=["15-TIZI-OUZOU"])
    name: Name = Field(min_length=2, max_length=200, examples=["ACTEL Tizi Ouzou"])
    wilaya_code: str = Field(pattern=WILAYA_PATTERN, examples=["15"])
    commune: str | None = Field(default=None, min_length=2, max_length=100)
    # The commune in the geography reference; matched from `commune` when not given.
    commune_code: str | None = Field(default=None, pattern=r"^\d{4}$")
    hours: WeeklyHours = Field(
        default_factory=_standard_hours,
        description="Open weekdays and their window; days left out (or null) are closed. "
        "Default: Sunday to Thursday, 08:00-16:30.",
    )
    hour_overrides: list[HoursPeriodBody] = Field(default_factory=list, max_length=50)
    active: bool = True

    _hours_open = field_validator("hours")(_some_day_open)

    @field_validator("hour_overrides")
    @classmethod
    def _no_overlap(cls, periods: list[HoursPeriodBody]) -> list[HoursPeriodBody]:
        ordered = sorted(periods, key=lambda period: period.first_day)
        for earlier, later in pairwise(ordered):
            if later.first_day <= earlier.last_day:
                raise ValueError(f"periods {earlier.label!r} and {later.label!r} overlap")
        return ordered


class AgencyRead(AgencyBody):
    updated_by: str
    updated_at: datetime


def agency_read(row: Any) -> AgencyRead:
    return AgencyRead(
        code=row.code,
        name=row.name,
        wilaya_code=row.wilaya_code,
        commune=row.commune,
        commune_code=row.commune_code,
        hours=row.hours,
        hour_overrides=row.hour_overrides,
        active=row.active,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )


def agency_commune(body: AgencyBody, ref: Reference) -> str | None:
    """The agency's commune code, checked against its wilaya (422 naming both)."""
    if body.wilaya_code not in ref.wilayas:
        reason = f"no wilaya has the code {body.wilaya_code}"
        raise Unprocessable.at("body.wilaya_code", reason, kind="unknown")
    if body.commune_code is None:
        found, _ = match_commune(body.commune or "", ref.communes_of(body.wilaya_code))
        return found.code if found else None
    commune = ref.communes.get(body.commune_code)
    if commune is None or commune.wilaya_code != body.wilaya_code:
        reason = (
            f"no commune has the code {body.commune_code}"
            if commune is None
            else f"the commune {commune.name_fr} ({commune.code}) is in the wilaya of "
            f"{ref.wilaya_name(commune.wilaya_code)}, not {ref.wilaya_name(body.wilaya_code)}"
        )
        raise Unprocessable(
            reason,
            errors=[
                {"field": "body.commune_code", "message": reason, "type": "commune"},
                {"field": "body.wilaya_code", "message": reason, "type": "commune"},
            ],
        )
    return commune.code


@router.get(
    "/admin/agencies",
    response_model=list[AgencyRead],
    summary="Agencies (ACTEL) and their business hours",
    dependencies=[Agent],
)
async def list_agencies(
    runtime: RuntimeDep,
    wilaya: Annotated[str | None, Query(pattern=WILAYA_PATTERN)] = None,
    active: bool | None = None,
) -> list[AgencyRead]:
    query = select(agencies).order_by(agencies.c.code)
    if wilaya is not None:
        query = query.where(agencies.c.wilaya_code == wilaya)
    if active is not None:
        query = query.where(agencies.c.active.is_(active))
    async with runtime.session_factory() as session:
        rows = (await session.execute(query)).all()
    return [agency_read(row) for row in rows]


@router.get(
    "/admin/agencies/{code}",
    response_model=AgencyRead,
    summary="One agency and its business hours",
    dependencies=[Agent],
)
async def get_agency(runtime: RuntimeDep, code: Annotated[str, Path(max_length=40)]) -> AgencyRead:
    async with runtime.session_factory() as session:
        row = (await session.execute(select(agencies).where(agencies.c.code == code))).one_or_none()
    if row is None:
        raise NotFound(f"No agency {code}.")
    return agency_read(row)


@router.put(
    "/admin/agencies",
    response_model=AgencyRead,
    summary="Create or replace an agency (its hours apply to due dates computed from now on)",
)
async def put_agency(
    body: AgencyBody,
    runtime: RuntimeDep,
    principal: Annotated[Principal, Supervisor],
) -> AgencyRead:
    now = datetime.now(UTC)
    row = {
        "code": body.code,
        "name": body.name,
        "wilaya_code": body.wilaya_code,
        "commune": body.commune,
        "commune_code": agency_commune(body, await current_map(runtime)),
        "hours": _document(body.hours),
        "hour_overrides": [
            {
                "label": period.label,
                "first_day": period.first_day.isoformat(),
                "last_day": period.last_day.isoformat(),
                "hours": _document(period.hours),
            }
            for period in body.hour_overrides
        ],
        "active": body.active,
        "updated_by": f"{principal.kind}:{principal.subject}",
        "updated_at": now,
    }

    def authorise(wilayas: Sequence[str]) -> None:
        for wilaya in wilayas:
            if not principal.serves_wilaya(wilaya):
                raise Forbidden(f"Your scope does not cover wilaya {wilaya}.")

    saved = await reference_flows.put_agency(runtime, row, authorise=authorise)
    return agency_read(saved)
