"""The map as tickets reads it: the reference shipped with the release
(`sila_common.geography`) with the admins' edits identity announced laid over it
(`identity.geography.changed`, kept in `geography_overlay`; see
`sila_common.geography_overlay`). Incidents' places, agencies' communes and the names in
incident messages all read it here, so an admin's new or renamed commune counts at once.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.collaborators import Collaborators
from sila_common.events import CloudEvent
from sila_common.geography import Reference
from sila_common.geography_overlay import overlay_of
from sila_tickets.runtime import TicketsContext, TicketsRuntime
from sila_tickets.tables import geography_overlay, known_installations


async def remember_map_change(
    session: AsyncSession, event: CloudEvent, context: TicketsContext
) -> None:
    """identity.geography.changed: keep the place as it is now (the latest edit wins); a
    commune moved to another daïra takes the installations in it along, in the same
    transaction (an incident over its new daïra reaches them at once, not at the contract's
    next event)."""
    await overlay_of(context.collaborators).apply(session, geography_overlay, event)
    if event.data.get("kind") == "commune":
        await installations_follow_commune(session, str(event.data["code"]))


async def installations_follow_commune(session: AsyncSession, commune_code: str) -> None:
    """The installations in the commune get the commune's daïra as the kept edit says (the
    latest by event time: an older edit delivered late moves nothing back)."""
    place = await session.scalar(
        select(geography_overlay.c.place).where(
            geography_overlay.c.kind == "commune", geography_overlay.c.code == commune_code
        )
    )
    daira_code = place.get("daira_code") if isinstance(place, dict) else None
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


async def map_in(session: AsyncSession, collaborators: Collaborators) -> Reference:
    """The map (cached per process), read through the caller's session
    (``runtime.collaborators`` in a use case, ``context.collaborators`` in a handler)."""
    return await overlay_of(collaborators).reference(session, geography_overlay)


async def current_map(runtime: TicketsRuntime) -> Reference:
    """The map, for a caller without a session (an API checking its input)."""
    async with runtime.session_factory() as session:
        return await map_in(session, runtime.collaborators)
