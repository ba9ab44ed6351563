"""Admins' edits of the map on top of the shipped reference, for the services that do not
own it (tickets, notify).

Identity owns the editable copy of the map and records each admin edit as an
``identity.geography.changed`` event carrying the place as it is after the edit (names
fr/ar/en, its daïra and wilaya, postal code, active). A service keeps those places in its
own small ``geography_overlay`` table (one row per place, the latest edit by event time
winning) and reads ``overlay_of(runtime.collaborators).reference(session, table)``: the
shipped reference (`sila_common.geography.reference()`) with the overlay applied. The
merged reference is cached per process; the consumer applying an edit drops it at once
(after its commit), and other processes of the service read the table again within
``CACHE_SECONDS``. With no edit the shipped reference itself is returned (one small query
per ``CACHE_SECONDS``).

The next release's data file carries the edits; the overlay rows then agree with it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, Final

from sqlalchemy import Column, MetaData, String, Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.collaborators import Collaborators
from sila_common.db import JsonDoc, UtcDateTime, after_commit, as_utc
from sila_common.events import CloudEvent
from sila_common.geography import Commune, Daira, Reference, Wilaya, reference

GEOGRAPHY_CHANGED: Final = "identity.geography.changed"
# The message key of every map edit: one key keeps them in order (a daïra before its commune).
GEOGRAPHY_KEY: Final = "geography"
CACHE_SECONDS: Final = 30.0


def geography_overlay_table(metadata: MetaData) -> Table:
    return Table(
        "geography_overlay",
        metadata,
        # "wilaya", "daira" or "commune", and its code.
        Column("kind", String(10), primary_key=True),
        Column("code", String(4), primary_key=True),
        # The event's data: the place as it is after the edit.
        Column("place", JsonDoc, nullable=False),
        Column("changed_at", UtcDateTime(), nullable=False),
        Column("event_id", String(64), nullable=False),
    )


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None


def overlaid(base: Reference, places: Iterable[Mapping[str, Any]]) -> Reference:
    """The reference with these places (``identity.geography.changed`` data) applied: a
    renamed place has its new names, a new one is added, a retired commune disappears."""
    wilayas = dict(base.wilayas)
    dairas = dict(base.dairas)
    communes = dict(base.communes)
    for place in places:
        code = str(place["code"])
        names = {k: str(place[k]) for k in ("name_fr", "name_ar") if place.get(k)}
        name_en = place.get("name_en") or place.get("name_fr")
        kind = place.get("kind")
        if kind == "wilaya":
            old_wilaya = wilayas.get(code)
            wilayas[code] = Wilaya(
                code=code,
                name_fr=names.get("name_fr", old_wilaya.name_fr if old_wilaya else code),
                name_ar=names.get("name_ar", old_wilaya.name_ar if old_wilaya else code),
                name_en=str(name_en or code),
                parent_code=place.get("parent_code"),
                established_on=_date(place.get("established_on")),
            )
        elif kind == "daira":
            dairas[code] = Daira(
                code=code,
                name_fr=names.get("name_fr", code),
                name_ar=names.get("name_ar", code),
                name_en=str(name_en or code),
                wilaya_code=str(place.get("wilaya_code") or code[:2]),
            )
        elif kind == "commune":
            if place.get("active") is False:
                communes.pop(code, None)
                continue
            communes[code] = Commune(
                code=code,
                name_fr=names.get("name_fr", code),
                name_ar=names.get("name_ar", code),
                name_en=str(name_en or code),
                daira_code=str(place.get("daira_code") or ""),
                wilaya_code=str(place.get("wilaya_code") or code[:2]),
                postal_code=place.get("postal_code"),
                former_wilaya_code=place.get("former_wilaya_code"),
            )
    return dataclasses.replace(base, wilayas=wilayas, dairas=dairas, communes=communes)


class GeographyOverlay:
    """One process's merged view of the map (a ``runtime.collaborators`` member)."""

    def __init__(self) -> None:
        self._cached: tuple[float, Reference] | None = None

    def invalidate(self) -> None:
        self._cached = None

    async def reference(self, session: AsyncSession, table: Table) -> Reference:
        cached = self._cached
        if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        rows = (await session.execute(select(table.c.place).order_by(table.c.changed_at))).all()
        merged = overlaid(reference(), (row.place for row in rows)) if rows else reference()
        self._cached = (time.monotonic(), merged)
        return merged

    async def apply(self, session: AsyncSession, table: Table, event_: CloudEvent) -> None:
        """Keep the edit (unless a later one of the same place is kept already) and drop the
        cached view now and once the transaction commits."""
        data = dict(event_.data)
        changed_at = as_utc(event_.time)
        statement = pg_insert(table).values(
            kind=str(data["kind"]),
            code=str(data["code"]),
            place=data,
            changed_at=changed_at,
            event_id=event_.id,
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[table.c.kind, table.c.code],
                set_={
                    "place": statement.excluded.place,
                    "changed_at": statement.excluded.changed_at,
                    "event_id": statement.excluded.event_id,
                },
                where=table.c.changed_at <= statement.excluded.changed_at,
            )
        )
        self.invalidate()
        after_commit(session, self.invalidate)


def overlay_of(collaborators: Collaborators) -> GeographyOverlay:
    """The process's overlay: ``overlay_of(runtime.collaborators)`` in a use case,
    ``overlay_of(context.collaborators)`` in a handler (the same one)."""
    return collaborators.get_or_make(GeographyOverlay, GeographyOverlay)
