"""Reference data as the service reads it: SLA policies, the working calendar, subcategories,
agencies and their hours.

Read from the tables and cached per process for a short while (writes through the admin
API drop this process's cache at once; other processes see them within CACHE_SECONDS).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sila_tickets.domain.agencies import Agency, hours_from_document, periods_from_document
from sila_tickets.domain.calendar import (
    Holiday,
    HolidayOverride,
    OverrideAction,
    WorkingCalendar,
    algerian_holidays,
    apply_overrides,
)
from sila_tickets.domain.sla import (
    ClockKind,
    Duration,
    SlaPolicy,
    TicketCategory,
    TicketPriority,
)
from sila_tickets.runtime import TicketsRuntime
from sila_tickets.tables import (
    agencies,
    calendar_holidays,
    calendar_years,
    holiday_overrides,
    sla_policies,
    subcategories,
)

CACHE_SECONDS = 30.0
# Years around "now" a calendar covers: a due date can fall into next year, a pause further.
YEARS_BEFORE, YEARS_AFTER = 1, 2


def covering_years(*instants: datetime) -> frozenset[int]:
    years = {instant.year for instant in instants}
    return frozenset(range(min(years) - YEARS_BEFORE, max(years) + YEARS_AFTER + 1))


def policy_from_row(row: Any) -> SlaPolicy:
    return SlaPolicy(
        category=TicketCategory(row.category),
        subcategory=row.subcategory,
        priority=TicketPriority(row.priority) if row.priority else None,
        first_response=Duration(row.first_response_amount, ClockKind(row.first_response_kind)),
        resolution=Duration(row.resolution_amount, ClockKind(row.resolution_kind)),
    )


def agency_from_row(row: Any) -> Agency:
    return Agency(
        code=row.code,
        name=row.name,
        wilaya_code=row.wilaya_code,
        active=row.active,
        hours=hours_from_document(row.hours),
        periods=periods_from_document(row.hour_overrides or []),
    )


async def seed_years(session: AsyncSession, years: Iterable[int]) -> None:
    """Copy the library's holidays of these years into the table, once per year."""
    wanted = set(years)
    present = set(
        (
            await session.execute(
                select(calendar_years.c.year).where(calendar_years.c.year.in_(wanted))
            )
        ).scalars()
    )
    missing = sorted(wanted - present)
    if not missing:
        return
    rows = [
        {"day": h.day, "name": h.name, "estimated": h.estimated} for h in algerian_holidays(missing)
    ]
    if rows:
        await session.execute(insert(calendar_holidays).values(rows).on_conflict_do_nothing())
    now = datetime.now(UTC)
    await session.execute(
        insert(calendar_years)
        .values([{"year": year, "seeded_at": now} for year in missing])
        .on_conflict_do_nothing()
    )


async def load_holidays(session: AsyncSession, years: frozenset[int]) -> list[Holiday]:
    """The holidays of these years: the seeded ones with the overrides applied in order."""
    await seed_years(session, years)
    seeded = [
        Holiday(row.day, row.name, row.estimated)
        for row in await session.execute(
            select(calendar_holidays).where(
                calendar_holidays.c.day >= date(min(years), 1, 1),
                calendar_holidays.c.day < date(max(years) + 1, 1, 1),
            )
        )
    ]
    overrides = [
        HolidayOverride(row.day, OverrideAction(row.action), row.name)
        for row in await session.execute(select(holiday_overrides).order_by(holiday_overrides.c.id))
    ]
    return [h for h in apply_overrides(seeded, overrides) if h.day.year in years]


class Reference:
    """One process's cached view of the reference tables."""

    def __init__(self) -> None:
        self._policies: tuple[float, tuple[SlaPolicy, ...]] | None = None
        self._calendars: dict[tuple[frozenset[int], str | None], tuple[float, WorkingCalendar]]
        self._calendars = {}
        self._subcategories: tuple[float, dict[str, Any]] | None = None
        self._agencies: tuple[float, dict[str, Agency]] | None = None

    def invalidate(self) -> None:
        self._policies = None
        self._calendars.clear()
        self._subcategories = None
        self._agencies = None

    async def policies(self, session: AsyncSession) -> tuple[SlaPolicy, ...]:
        if self._policies is not None and _fresh(self._policies[0]):
            return self._policies[1]
        rows = (await session.execute(select(sla_policies))).all()
        policies = tuple(policy_from_row(row) for row in rows)
        self._policies = (time.monotonic(), policies)
        return policies

    async def calendar(
        self, session: AsyncSession, *instants: datetime, agency: str | None = None
    ) -> WorkingCalendar:
        """The working calendar around these instants, on the agency's hours if it has any.

        A ticket without an agency, or whose agency is no longer in the table, runs on the
        standard hours.
        """
        years = covering_years(*instants)
        cached = self._calendars.get((years, agency))
        if cached is not None and _fresh(cached[0]):
            return cached[1]
        if agency is None:
            calendar = WorkingCalendar(await load_holidays(session, years), years=years)
        else:
            standard = await self.calendar(session, *instants)
            known = (await self.agencies(session)).get(agency)
            calendar = known.calendar(standard) if known is not None else standard
        self._calendars[(years, agency)] = (time.monotonic(), calendar)
        return calendar

    async def agencies(self, session: AsyncSession) -> dict[str, Agency]:
        """Every agency by code, inactive ones included (their open tickets keep the hours)."""
        if self._agencies is not None and _fresh(self._agencies[0]):
            return self._agencies[1]
        rows = (await session.execute(select(agencies))).all()
        by_code = {row.code: agency_from_row(row) for row in rows}
        self._agencies = (time.monotonic(), by_code)
        return by_code

    async def subcategories(self, session: AsyncSession) -> dict[str, Any]:
        if self._subcategories is not None and _fresh(self._subcategories[0]):
            return self._subcategories[1]
        rows = (await session.execute(select(subcategories))).all()
        by_code = {row.code: row for row in rows}
        self._subcategories = (time.monotonic(), by_code)
        return by_code


def _fresh(loaded_at: float) -> bool:
    return time.monotonic() - loaded_at < CACHE_SECONDS


def reference_of(runtime: TicketsRuntime) -> Reference:
    return runtime.collaborators.get_or_make(Reference, Reference)
