"""The map as tickets reads it: the reference shipped with the release
(`sila_common.geography`) with the admins' edits identity announced laid over it
(`identity.geography.changed`, kept in `geography_overlay`; see
`sila_common.geography_overlay`). Incidents' places, agencies' communes and the names in
incident messages all read it here, so an admin's new or renamed commune counts at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.collaborators import Collaborators
from sila_common.db import after_commit
from sila_common.events import CloudEvent
from sila_common.geography import Reference
from sila_common.geography_overlay import overlay_of
from sila_common.outbox import Outbox
from sila_tickets.domain.incidents import AreaKind
from sila_tickets.events import (
    AGENCY_RELOCATED,
    INCIDENT_RELOCATED,
    AgencyRelocated,
    IncidentRelocated,
)
from sila_tickets.reference import Reference as CachedReference
from sila_tickets.runtime import TicketsContext, TicketsRuntime
from sila_tickets.tables import agencies, geography_overlay, incidents, known_installations

# An admin's edit of the map moved an agency or an incident (flows/reform.py's is the reform's).
MAP_EDIT = "map-edit"
MAP_ACTOR = "service:tickets.geography"


async def remember_map_change(
    session: AsyncSession, event: CloudEvent, context: TicketsContext
) -> None:
    """identity.geography.changed: keep the place as it is now (the latest edit wins); a
    commune moved to another daïra takes the installations in it along, and, moved to
    another wilaya, the agencies in it and the active incidents over it, in the same
    transaction (an incident over its new daïra reaches them at once, not at the contract's
    next event; the agents of the new wilaya see the agency and the incident at once)."""
    await overlay_of(context.collaborators).apply(session, geography_overlay, event)
    if event.data.get("kind") == "commune":
        code = str(event.data["code"])
        place = await kept_commune(session, code)
        await installations_follow_commune(session, code, place)
        await agencies_and_incidents_follow_commune(session, code, place, context)


async def kept_commune(session: AsyncSession, commune_code: str) -> dict[str, Any]:
    """The commune as the kept edit says (the latest by event time: an older edit delivered
    late moves nothing back)."""
    place = await session.scalar(
        select(geography_overlay.c.place).where(
            geography_overlay.c.kind == "commune", geography_overlay.c.code == commune_code
        )
    )
    return place if isinstance(place, dict) else {}


async def installations_follow_commune(
    session: AsyncSession, commune_code: str, place: dict[str, Any]
) -> None:
    """The installations in the commune get the commune's daïra."""
    daira_code = place.get("daira_code")
    if not daira_code:
        return
    await session.execute(
        update(known_installations)
        .where(
            known_installations.c.commune_code == commune_code,
            known_installations.c.daira_code.is_distinct_from(str(daira_code)),
        )
        .values(daira_code=str(daira_code))
    )


async def agencies_and_incidents_follow_commune(
    session: AsyncSession, commune_code: str, place: dict[str, Any], context: TicketsContext
) -> None:
    """The agencies in a commune now in another wilaya, and the active incidents over it,
    move to that wilaya, each with its ``tickets.agency.relocated`` /
    ``tickets.incident.relocated`` (``reason: "map-edit"``), as the reform's command moves
    them (flows/reform.py)."""
    wilaya_code = place.get("wilaya_code")
    if not wilaya_code:
        return
    moved_agencies = (
        await session.execute(
            select(agencies)
            .where(agencies.c.commune_code == commune_code, agencies.c.wilaya_code != wilaya_code)
            .with_for_update()
        )
    ).all()
    now = context.clock()
    for agency in moved_agencies:
        await relocate_agency(
            session,
            context.outbox,
            agency,
            commune_code=commune_code,
            wilaya_code=wilaya_code,
            reason=MAP_EDIT,
            actor=MAP_ACTOR,
            now=now,
        )
    moved_incidents = (
        await session.execute(
            select(incidents)
            .where(
                incidents.c.status == "active",
                incidents.c.area_kind == AreaKind.COMMUNE.value,
                incidents.c.area_value == commune_code,
                incidents.c.wilaya_code != wilaya_code,
            )
            .with_for_update()
        )
    ).all()
    for incident in moved_incidents:
        await relocate_incident(
            session,
            context.outbox,
            incident,
            wilaya_code=wilaya_code,
            reason=MAP_EDIT,
            actor=MAP_ACTOR,
        )
    if moved_agencies:
        # This process's cached agencies are read again once the move commits (dropped
        # before, a request in between would cache the old ones again for 30 s); the other
        # processes' within their 30 s.
        cached = context.collaborators.get_or_make(CachedReference, CachedReference)
        after_commit(session, cached.invalidate)


async def relocate_agency(
    session: AsyncSession,
    outbox: Outbox,
    agency: Any,
    *,
    commune_code: str,
    wilaya_code: str,
    reason: str,
    actor: str,
    now: datetime,
) -> None:
    """Move an agency (its ``agencies`` row, as it was) to the commune and wilaya given and
    record its ``tickets.agency.relocated``: an admin's map edit (``"map-edit"``, above) and
    the reform (``"reform-2025"``, flows/reform.py) move agencies this one way."""
    await session.execute(
        update(agencies)
        .where(agencies.c.code == agency.code)
        .values(
            commune_code=commune_code, wilaya_code=wilaya_code, updated_by=actor, updated_at=now
        )
    )
    await outbox.record(
        session,
        AGENCY_RELOCATED,
        subject=agency.code,
        customer_id=agency.code,
        data=AgencyRelocated(
            agency_code=agency.code,
            name=agency.name,
            commune_code=commune_code,
            from_wilaya_code=agency.wilaya_code,
            wilaya_code=wilaya_code,
            reason=reason,
            actor=actor,
        ),
    )


async def relocate_incident(
    session: AsyncSession,
    outbox: Outbox,
    incident: Any,
    *,
    wilaya_code: str,
    reason: str,
    actor: str,
) -> None:
    """Move an active incident (its ``incidents`` row, as it was) to the wilaya given and
    record its ``tickets.incident.relocated``, for a map edit as for the reform."""
    await session.execute(
        update(incidents).where(incidents.c.id == incident.id).values(wilaya_code=wilaya_code)
    )
    await outbox.record(
        session,
        INCIDENT_RELOCATED,
        subject=incident.id,
        customer_id=incident.id,
        data=IncidentRelocated(
            incident_id=incident.id,
            area_kind=incident.area_kind,
            area_value=incident.area_value,
            area_label=incident.area_label,
            from_wilaya_code=incident.wilaya_code,
            wilaya_code=wilaya_code,
            reason=reason,
            actor=actor,
        ),
    )


async def map_in(session: AsyncSession, collaborators: Collaborators) -> Reference:
    """The map (cached per process), read through the caller's session
    (``runtime.collaborators`` in a use case, ``context.collaborators`` in a handler)."""
    return await overlay_of(collaborators).reference(session, geography_overlay)


async def current_map(runtime: TicketsRuntime) -> Reference:
    """The map, for a caller without a session (an API checking its input)."""
    async with runtime.session_factory() as session:
        return await map_in(session, runtime.collaborators)
