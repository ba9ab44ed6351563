"""The territorial reference held by identity: reading it, checking addresses against it,
and matching the communes people typed to it.

The tables (`wilayas`, `dairas`, `communes`) are the editable copy: loaded by migration
0006 from a frozen file, maintained by admins through the API (the use cases below). Each
admin edit is also an ``identity.geography.changed`` event (the place as it is after the
edit, keyed by ``geography``), recorded with it: tickets and notify lay it over the
reference shipped with their release, so names and commune checks follow at once.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sila_common.auth import Principal
from sila_common.geography import (
    Commune,
    Daira,
    Reference,
    Wilaya,
    match_commune,
    normalise_name,
)
from sila_common.geography_overlay import GEOGRAPHY_KEY
from sila_common.problems import Conflict, NotFound, Unprocessable
from sila_identity.events import GEOGRAPHY_CHANGED, GeographyChanged
from sila_identity.flows import audit
from sila_identity.runtime import IdentityRuntime
from sila_identity.tables import communes, dairas, wilayas


def _commune(row: Any) -> Commune:
    return Commune(
        code=row.code,
        name_fr=row.name_fr,
        name_ar=row.name_ar,
        name_en=row.name_en,
        daira_code=row.daira_code,
        wilaya_code=row.wilaya_code,
        postal_code=row.postal_code,
        former_wilaya_code=row.former_wilaya_code,
    )


def _wilaya(row: Any) -> Wilaya:
    return Wilaya(
        code=row.code,
        name_fr=row.name_fr,
        name_ar=row.name_ar,
        name_en=row.name_en or row.name_fr,
        parent_code=row.parent_code,
        established_on=row.established_on,
    )


async def load_reference(session: AsyncSession) -> Reference:
    """The whole reference as identity holds it now (1,541 communes: a few milliseconds)."""
    wilaya_rows = (await session.execute(select(wilayas))).all()
    daira_rows = (await session.execute(select(dairas))).all()
    commune_rows = (
        await session.execute(select(communes).where(communes.c.active.is_(True)))
    ).all()
    return Reference(
        wilayas={r.code: _wilaya(r) for r in wilaya_rows},
        dairas={
            r.code: Daira(
                code=r.code,
                name_fr=r.name_fr,
                name_ar=r.name_ar,
                name_en=r.name_en,
                wilaya_code=r.wilaya_code,
            )
            for r in daira_rows
        },
        communes={r.code: _commune(r) for r in commune_rows},
    )


# How long a process names places from its copy before reading the tables again (the
# process where an admin edits drops its copy at once).
MAP_CACHE_SECONDS = 30.0


class IdentityMap:
    """One process's cached copy of the reference as identity's tables hold it (the
    timeline's summaries name places from it)."""

    def __init__(self) -> None:
        self._cached: tuple[float, Reference] | None = None

    def invalidate(self) -> None:
        self._cached = None

    async def reference(self, session_factory: async_sessionmaker[AsyncSession]) -> Reference:
        """The copy, read again from the tables (a session of ``session_factory``) when it is
        older than MAP_CACHE_SECONDS: a fresh copy costs no session."""
        if self._cached is not None and time.monotonic() - self._cached[0] < MAP_CACHE_SECONDS:
            return self._cached[1]
        async with session_factory() as session:
            loaded = await load_reference(session)
        self._cached = (time.monotonic(), loaded)
        return loaded


def map_of(runtime: IdentityRuntime) -> IdentityMap:
    return runtime.collaborators.get_or_make(IdentityMap, IdentityMap)


async def current_map(runtime: IdentityRuntime) -> Reference:
    return await map_of(runtime).reference(runtime.session_factory)


async def wilaya_names(session: AsyncSession, codes: set[str]) -> dict[str, str]:
    rows = (await session.execute(select(wilayas).where(wilayas.c.code.in_(sorted(codes))))).all()
    return {r.code: f"{r.name_fr} ({r.code})" for r in rows}


async def ensure_commune(
    session: AsyncSession,
    commune_code: str,
    wilaya_code: str,
    *,
    commune_field: str,
    wilaya_field: str,
) -> Any:
    """The commune's row if it is a commune of the wilaya; else a 422 naming both."""
    row = (
        await session.execute(select(communes).where(communes.c.code == commune_code))
    ).one_or_none()
    if row is None or not row.active:
        reason = f"no commune has the code {commune_code}"
        raise Unprocessable(
            reason, errors=[{"field": commune_field, "message": reason, "type": "unknown_commune"}]
        )
    if row.wilaya_code != wilaya_code:
        names = await wilaya_names(session, {row.wilaya_code, wilaya_code})
        theirs = names.get(row.wilaya_code, row.wilaya_code)
        asked = names.get(wilaya_code, wilaya_code)
        reason = f"the commune {row.name_fr} ({row.code}) is in the wilaya of {theirs}, not {asked}"

        raise Unprocessable(
            reason,
            slug="commune-of-another-wilaya",
            errors=[
                {"field": commune_field, "message": reason, "type": "commune_of_another_wilaya"},
                {"field": wilaya_field, "message": reason, "type": "commune_of_another_wilaya"},
            ],
            commune_code=row.code,
            commune_wilaya_code=row.wilaya_code,
            wilaya_code=wilaya_code,
        )
    return row


async def commune_for_text(session: AsyncSession, wilaya_code: str, text: str | None) -> str | None:
    """The code of the commune of the wilaya that the text names unambiguously, else None."""
    if not text:
        return None
    rows = (
        await session.execute(
            select(communes).where(
                communes.c.wilaya_code == wilaya_code, communes.c.active.is_(True)
            )
        )
    ).all()
    found, _ = match_commune(text, [_commune(r) for r in rows])
    return found.code if found else None


def name_matches(query: str, row: Any) -> bool:
    """A search by name in either script, accents and spacing ignored ("bou saada" finds
    "Bou Saâda", "بوسعادة" finds it too)."""
    wanted = normalise_name(query)
    return any(wanted in normalise_name(n or "") for n in (row.name_fr, row.name_ar, row.name_en))


# --- Maintenance by admins (a law creates, renames or moves; each change audited) ---------


async def _announce(
    session: AsyncSession,
    runtime: IdentityRuntime,
    kind: Literal["wilaya", "daira", "commune"],
    code: str,
    change: Literal["created", "updated"],
) -> Any:
    """Record the place as it is now as an ``identity.geography.changed``; returns its row."""
    table = {"wilaya": wilayas, "daira": dairas, "commune": communes}[kind]
    row = (await session.execute(select(table).where(table.c.code == code))).one()
    fields = row._mapping
    await runtime.outbox.record(
        session,
        GEOGRAPHY_CHANGED,
        subject=f"{kind}:{code}",
        customer_id=GEOGRAPHY_KEY,
        data=GeographyChanged(
            kind=kind,
            code=code,
            change=change,
            name_fr=row.name_fr,
            name_ar=row.name_ar,
            name_en=row.name_en,
            wilaya_code=fields.get("wilaya_code"),
            daira_code=fields.get("daira_code"),
            postal_code=fields.get("postal_code"),
            former_wilaya_code=fields.get("former_wilaya_code"),
            active=bool(fields.get("active", True)),
            parent_code=fields.get("parent_code"),
            established_on=fields.get("established_on"),
        ),
    )
    return row


async def update_wilaya(
    runtime: IdentityRuntime, principal: Principal, code: str, values: dict[str, Any]
) -> None:
    async with runtime.session_factory() as session, session.begin():
        if values:
            await session.execute(update(wilayas).where(wilayas.c.code == code).values(**values))
            await _announce(session, runtime, "wilaya", code, "updated")
        await audit.record(
            session, principal, "wilaya.update", target=code, detail={"fields": sorted(values)}
        )
    map_of(runtime).invalidate()


async def create_daira(runtime: IdentityRuntime, principal: Principal, row: dict[str, Any]) -> None:
    try:
        async with runtime.session_factory() as session, session.begin():
            await session.execute(insert(dairas).values(**row))
            await _announce(session, runtime, "daira", row["code"], "created")
            await audit.record(session, principal, "daira.create", target=row["code"])
    except IntegrityError as exc:
        raise Conflict(f"The daïra {row['code']} exists already.") from exc
    map_of(runtime).invalidate()


async def create_commune(
    runtime: IdentityRuntime, principal: Principal, row: dict[str, Any]
) -> None:
    try:
        async with runtime.session_factory() as session, session.begin():
            await session.execute(insert(communes).values(**row))
            await _announce(session, runtime, "commune", row["code"], "created")
            await audit.record(session, principal, "commune.create", target=row["code"])
    except IntegrityError as exc:
        raise Conflict(f"The commune {row['code']} exists already.") from exc
    map_of(runtime).invalidate()


async def update_commune(
    runtime: IdentityRuntime, principal: Principal, code: str, values: dict[str, Any]
) -> Any:
    """Rename, move (a new daïra: its wilaya, the former one remembered) or retire a
    commune; returns its row after."""
    async with runtime.session_factory() as session, session.begin():
        row = (await session.execute(select(communes).where(communes.c.code == code))).one_or_none()
        if row is None:
            raise NotFound(f"No commune {code}.")
        values = dict(values)
        if values.get("wilaya_code", row.wilaya_code) != row.wilaya_code:
            values["former_wilaya_code"] = row.wilaya_code
        if values:
            await session.execute(update(communes).where(communes.c.code == code).values(**values))
        await audit.record(
            session, principal, "commune.update", target=code, detail={"fields": sorted(values)}
        )
        if values:
            row = await _announce(session, runtime, "commune", code, "updated")
        else:
            row = (await session.execute(select(communes).where(communes.c.code == code))).one()
    map_of(runtime).invalidate()
    return row
