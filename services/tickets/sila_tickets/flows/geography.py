"""The map as tickets reads it: the reference shipped with the release
(`sila_common.geography`) with the admins' edits identity announced laid over it
(`identity.geography.changed`, kept in `geography_overlay`; see
`sila_common.geography_overlay`). Incidents' places, agencies' communes and the names in
incident messages all read it here, so an admin's new or renamed commune counts at once.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.collaborators import Collaborators
from sila_common.events import CloudEvent
from sila_common.geography import Reference
from sila_common.geography_overlay import overlay_of
from sila_tickets.runtime import TicketsContext, TicketsRuntime
from sila_tickets.tables import geography_overlay


async def remember_map_change(
    session: AsyncSession, event: CloudEvent, context: TicketsContext
) -> None:
    """identity.geography.changed: keep the place as it is now (the latest edit wins)."""
    await overlay_of(context.collaborators).apply(session, geography_overlay, event)


async def map_in(session: AsyncSession, collaborators: Collaborators) -> Reference:
    """The map (cached per process), read through the caller's session
    (``runtime.collaborators`` in a use case, ``context.collaborators`` in a handler)."""
    return await overlay_of(collaborators).reference(session, geography_overlay)


async def current_map(runtime: TicketsRuntime) -> Reference:
    """The map, for a caller without a session (an API checking its input)."""
    async with runtime.session_factory() as session:
        return await map_in(session, runtime.collaborators)
