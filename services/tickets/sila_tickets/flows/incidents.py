"""Network incidents: declared over an area (its customers told), resolved (its tickets
resolved, its customers told).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.auth import Principal
from sila_common.events import EventSpec
from sila_common.outbox import NewEvent
from sila_common.problems import Conflict, NotFound
from sila_tickets.domain.incidents import (
    AreaKind,
    area_value,
    normalise,
    place_names,
    service_names,
)
from sila_tickets.domain.lifecycle import OPEN, Status
from sila_tickets.events import (
    INCIDENT_CUSTOMER_AFFECTED,
    INCIDENT_CUSTOMER_RESTORED,
    IncidentCustomerAffected,
    IncidentCustomerRestored,
    PlaceNames,
)
from sila_tickets.flows.geography import map_in
from sila_tickets.flows.lifecycle import transition
from sila_tickets.flows.shared import Caller
from sila_tickets.runtime import TicketsRuntime
from sila_tickets.tables import (
    incident_customers,
    incidents,
    known_customers,
    known_installations,
    tickets,
)

RESOLVE_BATCH = 200
RESOLVED_REASON = "The network incident is resolved."


@dataclass(frozen=True)
class Area:
    """Where an incident is: a wilaya, a daïra or commune (by its code in the geography
    reference), or an exchange or OLT in a wilaya."""

    kind: AreaKind
    value: str
    # Set for every kind (the API fills it for a wilaya and a place, requires it for others).
    wilaya_code: str | None


@dataclass(frozen=True)
class NewIncident:
    service: str
    area: Area
    estimated_end_at: datetime
    description: str | None
    area_label: str | None
    # The place's names in each language ({"fr": ..., "ar": ..., "en": ...}) when the area
    # is a place of the reference.
    names: dict[str, str] | None = None


async def affected_customers(session: AsyncSession, area: Area) -> list[str]:
    """The directory's customers in the area (erased ones are no longer anybody's)."""
    if area.kind in (AreaKind.COMMUNE, AreaKind.DAIRA):
        return await installed_in(session, area.kind, area.value)
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
    rows = (await session.execute(query)).all()
    if area.kind is AreaKind.WILAYA:
        return [row.customer_id for row in rows]
    wanted = normalise(area.value)
    column = area.kind.value
    return [row.customer_id for row in rows if normalise(getattr(row, column) or "") == wanted]


async def installed_in(session: AsyncSession, kind: AreaKind, code: str) -> list[str]:
    """The customers with a line installed in the commune or daïra (where they live does
    not matter: a network incident cuts lines, not homes)."""
    column = (
        known_installations.c.commune_code
        if kind is AreaKind.COMMUNE
        else known_installations.c.daira_code
    )
    installed = (
        select(known_installations.c.customer_id)
        .join(known_customers, known_customers.c.customer_id == known_installations.c.customer_id)
        .where(column == code, known_customers.c.erased_at.is_(None))
        .distinct()
    )
    return sorted((await session.scalars(installed)).all())


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


def named_service(code: str) -> PlaceNames:
    """The ``i18n`` member naming the service in each language, when it has names."""
    names = service_names(code)
    return {"service": names} if names else {}


async def declare_incident(
    runtime: TicketsRuntime, new: NewIncident, caller: Caller
) -> dict[str, Any]:
    """Record the incident and tell every customer of the area, in one transaction."""
    now = datetime.now(UTC)
    names = new.names
    # A label an agent wrote stays as written; a place's is named in each language.
    i18n: PlaceNames = {"area_label": names} if names and not new.area_label else {}
    label = new.area_label or (names or {}).get("fr") or f"{new.area.kind.value} {new.area.value}"
    places = {"area_label": f"{new.area.kind.value}:{new.area.value}"} if i18n else {}
    row: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "service": new.service,
        "area_kind": new.area.kind.value,
        "area_value": area_value(new.area.kind, new.area.value, new.area.wilaya_code),
        "wilaya_code": new.area.wilaya_code,
        "area_label": label,
        "description": new.description,
        "status": "active",
        "estimated_end_at": new.estimated_end_at,
        "declared_by": caller.label,
        "declared_at": now,
        "resolved_by": None,
        "resolved_at": None,
        "affected_count": 0,
    }
    async with runtime.session_factory() as session, session.begin():
        customers = await affected_customers(session, new.area)
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
                            service=new.service,
                            area_label=label,
                            estimated_end_at=new.estimated_end_at,
                            i18n=i18n | named_service(new.service),
                            places=places,
                        ),
                    )
                    for c in customers
                ],
            )
    return row


async def load_incident(
    session: AsyncSession, incident_id: str, principal: Principal, *, lock: bool = False
) -> Any:
    """The incident, if it is in the caller's wilayas; 404 otherwise."""
    query = select(incidents).where(incidents.c.id == incident_id)
    row = (await session.execute(query.with_for_update() if lock else query)).one_or_none()
    if row is None or not principal.serves_wilaya(row.wilaya_code):
        raise NotFound(f"No incident {incident_id}.")
    return row


async def linked_tickets(session: AsyncSession, incident_id: str) -> int:
    count = await session.scalar(
        select(func.count()).select_from(tickets).where(tickets.c.incident_id == incident_id)
    )
    return int(count or 0)


async def resolve_incident(
    runtime: TicketsRuntime,
    incident_id: str,
    *,
    principal: Principal,
    reason: str | None,
) -> None:
    """Resolve the incident and tell its customers, then resolve its open tickets."""
    caller = Caller.of(principal)
    now = datetime.now(UTC)
    async with runtime.session_factory() as session, session.begin():
        row = await load_incident(session, incident_id, principal, lock=True)
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
            names = place_names(
                await map_in(session, runtime.collaborators), row.area_kind, row.area_value
            )
            # A label an agent wrote stays as written; a place's is named in each language.
            named = names is not None and row.area_label == names["fr"]
            restored_names: PlaceNames = {"area_label": names} if named and names else {}
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
                            i18n=restored_names | named_service(row.service),
                            places=(
                                {"area_label": f"{row.area_kind}:{row.area_value}"}
                                if restored_names
                                else {}
                            ),
                        ),
                    )
                    for c in affected
                ],
            )
        elif await _open_linked(session, incident_id, limit=1) == []:
            raise Conflict(f"Incident {incident_id} is already resolved.", slug="incident-resolved")
    # The linked tickets in batches: a storm's thousands never sit in one transaction, and
    # calling resolve again finishes what a crash left.
    reason = reason or RESOLVED_REASON
    while True:
        async with runtime.session_factory() as session, session.begin():
            batch = await _open_linked(session, incident_id, limit=RESOLVE_BATCH)
            for ticket in batch:
                await transition(
                    session, runtime, ticket, Status.RESOLVED, reason=reason, caller=caller, now=now
                )
        if len(batch) < RESOLVE_BATCH:
            break


async def _open_linked(session: AsyncSession, incident_id: str, *, limit: int) -> list[Any]:
    query = (
        select(tickets)
        .where(tickets.c.incident_id == incident_id, tickets.c.status.in_([s.value for s in OPEN]))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.execute(query)).all())
