"""The map as notify names places: the reference shipped with the release
(`sila_common.geography`) with the admins' edits identity announced laid over it
(`identity.geography.changed`, kept in `geography_overlay`; see
`sila_common.geography_overlay`).

An event naming a place in every language (`i18n`) says which place each member names
(`places`: {"area_label": "commune:2801"}); notify names it as its map says when it plans
the message, so a commune an admin renamed after the event was written is still called by
its new name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.events import CloudEvent
from sila_common.geography import Place, Reference
from sila_common.geography_overlay import overlay_of
from sila_notify.runtime import NotifyContext
from sila_notify.tables import geography_overlay


async def remember_map_change(
    session: AsyncSession, event: CloudEvent, context: NotifyContext
) -> None:
    """identity.geography.changed: keep the place as it is now (the latest edit wins)."""
    await overlay_of(context.collaborators).apply(session, geography_overlay, event)


def _place(ref: Reference, key: str) -> Place | None:
    kind, _, code = key.partition(":")
    if kind == "wilaya":
        return ref.wilayas.get(code)
    if kind == "daira":
        return ref.dairas.get(code)
    return ref.communes.get(code) if kind == "commune" else None


async def named_places(
    session: AsyncSession, event: CloudEvent, context: NotifyContext
) -> CloudEvent:
    """The event with the places it names (`places`) named as notify's map says now."""
    places = event.data.get("places")
    names = event.data.get("i18n")
    if not isinstance(places, Mapping) or not places or not isinstance(names, Mapping):
        return event
    ref = await overlay_of(context.collaborators).reference(session, geography_overlay)
    renamed: dict[str, Any] = dict(names)
    data = dict(event.data)
    for member, key in places.items():
        place = _place(ref, str(key)) if member in names else None
        if place is not None:
            renamed[member] = place.names()
            data[member] = place.name_fr
    return event.model_copy(update={"data": data | {"i18n": renamed}})
