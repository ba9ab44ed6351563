"""Algeria's map for anyone logged in (wilayas, daïras, communes, search in either script),
and its maintenance by admins (a law creates, renames or moves; the list is data)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from sila_common.pagination import decode_cursor, encode_cursor
from sila_common.problems import NotFound
from sila_identity.api.deps import Admin, Caller, FrontOffice, RuntimeDep
from sila_identity.flows import geography as flows
from sila_identity.flows.geography import name_matches
from sila_identity.flows.reform import unmatched
from sila_identity.runtime import IdentityRuntime
from sila_identity.tables import agents, communes, dairas, reform_scope_grants, wilayas

reference = APIRouter(tags=["reference data"])
admin = APIRouter(prefix="/v1/admin/identity", tags=["administration"])
WILAYA = r"^(0[1-9]|[1-9]\d)$"
CODE4 = r"^\d{4}$"


class WilayaRead(BaseModel):
    code: str
    name_fr: str
    name_ar: str
    name_en: str | None
    active: bool
    # A wilaya carved out of another by a reform: which one, and from when.
    parent_code: str | None
    established_on: date | None


class DairaRead(BaseModel):
    code: str
    wilaya_code: str
    name_fr: str
    name_ar: str
    name_en: str


class CommuneRead(BaseModel):
    code: str
    wilaya_code: str
    daira_code: str
    name_fr: str
    name_ar: str
    name_en: str
    postal_code: str | None
    former_wilaya_code: str | None
    active: bool


async def _wilaya_row(runtime: IdentityRuntime, code: str) -> Any:
    async with runtime.session_factory() as session:
        row = (await session.execute(select(wilayas).where(wilayas.c.code == code))).one_or_none()
    if row is None:
        raise NotFound(f"No wilaya {code}.")
    return row


@reference.get("/v1/wilayas", response_model=list[WilayaRead], summary="The wilayas, by code")
async def list_wilayas(
    runtime: RuntimeDep,
    principal: Caller,
    q: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
) -> list[WilayaRead]:
    async with runtime.session_factory() as session:
        rows = (await session.execute(select(wilayas).order_by(wilayas.c.code))).all()
    return [
        WilayaRead.model_validate(r, from_attributes=True)
        for r in rows
        if q is None or name_matches(q, r)
    ]


@reference.get("/v1/wilayas/{code}", response_model=WilayaRead, summary="One wilaya")
async def get_wilaya(code: str, runtime: RuntimeDep, principal: Caller) -> WilayaRead:
    return WilayaRead.model_validate(await _wilaya_row(runtime, code), from_attributes=True)


@reference.get(
    "/v1/wilayas/{code}/dairas", response_model=list[DairaRead], summary="A wilaya's daïras"
)
async def list_dairas(
    code: str,
    runtime: RuntimeDep,
    principal: Caller,
    q: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
) -> list[DairaRead]:
    await _wilaya_row(runtime, code)
    async with runtime.session_factory() as session:
        rows = (
            await session.execute(
                select(dairas).where(dairas.c.wilaya_code == code).order_by(dairas.c.code)
            )
        ).all()
    return [
        DairaRead.model_validate(r, from_attributes=True)
        for r in rows
        if q is None or name_matches(q, r)
    ]


@reference.get(
    "/v1/wilayas/{code}/communes", response_model=list[CommuneRead], summary="A wilaya's communes"
)
async def list_wilaya_communes(
    code: str,
    runtime: RuntimeDep,
    principal: Caller,
    q: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    daira: Annotated[str | None, Query(pattern=CODE4)] = None,
) -> list[CommuneRead]:
    await _wilaya_row(runtime, code)
    return await search_communes(runtime, principal, q=q, wilaya=code, daira=daira)


@reference.get(
    "/v1/communes",
    response_model=list[CommuneRead],
    summary="Find communes by name, in Latin or Arabic script (accents ignored)",
)
async def search_communes(
    runtime: RuntimeDep,
    principal: Caller,
    q: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    wilaya: Annotated[str | None, Query(pattern=WILAYA)] = None,
    daira: Annotated[str | None, Query(pattern=CODE4)] = None,
    limit: Annotated[int, Query(ge=1, le=2000)] = 2000,
) -> list[CommuneRead]:
    query = select(communes).order_by(communes.c.code)
    if wilaya is not None:
        query = query.where(communes.c.wilaya_code == wilaya)
    if daira is not None:
        query = query.where(communes.c.daira_code == daira)
    async with runtime.session_factory() as session:
        rows = (await session.execute(query)).all()
    found = [r for r in rows if q is None or name_matches(q, r)]
    return [CommuneRead.model_validate(r, from_attributes=True) for r in found[:limit]]


@reference.get("/v1/communes/{code}", response_model=CommuneRead, summary="One commune")
async def get_commune(code: str, runtime: RuntimeDep, principal: Caller) -> CommuneRead:
    async with runtime.session_factory() as session:
        row = (await session.execute(select(communes).where(communes.c.code == code))).one_or_none()
    if row is None:
        raise NotFound(f"No commune {code}.")
    return CommuneRead.model_validate(row, from_attributes=True)


# --- Maintenance (admins) -------------------------------------------------------------------


class WilayaPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name_fr: str | None = Field(default=None, min_length=2, max_length=100)
    name_ar: str | None = Field(default=None, min_length=2, max_length=100)
    name_en: str | None = Field(default=None, min_length=2, max_length=100)
    active: bool | None = None
    parent_code: str | None = Field(default=None, pattern=WILAYA)
    established_on: date | None = None


@admin.patch("/wilayas/{code}", response_model=WilayaRead, summary="Rename or re-date a wilaya")
async def patch_wilaya(
    code: str, body: WilayaPatch, runtime: RuntimeDep, principal: Admin
) -> WilayaRead:
    values = body.model_dump(exclude_unset=True)
    await _wilaya_row(runtime, code)
    await flows.update_wilaya(runtime, principal, code, values)
    return WilayaRead.model_validate(await _wilaya_row(runtime, code), from_attributes=True)


class DairaCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=CODE4)
    wilaya_code: str = Field(pattern=WILAYA)
    name_fr: str = Field(min_length=2, max_length=100)
    name_ar: str = Field(min_length=2, max_length=100)
    name_en: str = Field(min_length=2, max_length=100)


@admin.post(
    "/dairas", status_code=status.HTTP_201_CREATED, response_model=DairaRead, summary="Add a daïra"
)
async def create_daira(body: DairaCreate, runtime: RuntimeDep, principal: Admin) -> DairaRead:
    await _wilaya_row(runtime, body.wilaya_code)
    await flows.create_daira(runtime, principal, body.model_dump())
    return DairaRead(**body.model_dump())


class CommuneCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=CODE4)
    daira_code: str = Field(pattern=CODE4)
    name_fr: str = Field(min_length=2, max_length=100)
    name_ar: str = Field(min_length=2, max_length=100)
    name_en: str = Field(min_length=2, max_length=100)
    postal_code: str | None = Field(default=None, pattern=r"^\d{5}$")


class CommunePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    daira_code: str | None = Field(default=None, pattern=CODE4)
    name_fr: str | None = Field(default=None, min_length=2, max_length=100)
    name_ar: str | None = Field(default=None, min_length=2, max_length=100)
    name_en: str | None = Field(default=None, min_length=2, max_length=100)
    postal_code: str | None = Field(default=None, pattern=r"^\d{5}$")
    active: bool | None = None


async def _daira_wilaya(runtime: IdentityRuntime, code: str) -> str:
    async with runtime.session_factory() as session:
        wilaya = await session.scalar(select(dairas.c.wilaya_code).where(dairas.c.code == code))
    if wilaya is None:
        raise NotFound(f"No daïra {code}.")
    return str(wilaya)


@admin.post(
    "/communes",
    status_code=status.HTTP_201_CREATED,
    response_model=CommuneRead,
    summary="Add a commune (its wilaya is its daïra's)",
)
async def create_commune(body: CommuneCreate, runtime: RuntimeDep, principal: Admin) -> CommuneRead:
    row = body.model_dump() | {
        "wilaya_code": await _daira_wilaya(runtime, body.daira_code),
        "former_wilaya_code": None,
        "active": True,
    }
    await flows.create_commune(runtime, principal, row)
    return CommuneRead(**row)


@admin.patch(
    "/communes/{code}",
    response_model=CommuneRead,
    summary="Rename a commune, move it to another daïra (and its wilaya), or retire it",
)
async def patch_commune(
    code: str, body: CommunePatch, runtime: RuntimeDep, principal: Admin
) -> CommuneRead:
    values = body.model_dump(exclude_unset=True)
    if body.daira_code is not None:
        values["wilaya_code"] = await _daira_wilaya(runtime, body.daira_code)
    row = await flows.update_commune(runtime, principal, code, values)
    return CommuneRead.model_validate(row, from_attributes=True)


# --- Communes typed before the reference, and the reform's scope grants -------------------


class UnmatchedRead(BaseModel):
    kind: str
    id: str
    customer_id: str
    wilaya_code: str
    text: str
    # Several: the text is ambiguous; none: no commune of the wilaya is called that.
    candidates: list[dict[str, str]]


class UnmatchedPage(BaseModel):
    items: list[UnmatchedRead]
    next_cursor: str | None


@admin.get(
    "/communes/unmatched",
    response_model=UnmatchedPage,
    summary="Customers whose typed commune the reference could not place (for an agent to fix)",
)
async def list_unmatched(
    runtime: RuntimeDep,
    principal: FrontOffice,
    kind: Literal["customer", "contract"] = "customer",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> UnmatchedPage:
    after = str(decode_cursor(cursor, size=1)[0]) if cursor else None
    async with runtime.session_factory() as session:
        rows = await unmatched(session, principal.wilayas, limit + 1, after, kind)
    items = [UnmatchedRead(**vars(r)) for r in rows[:limit]]
    next_cursor = encode_cursor([rows[limit - 1].id]) if len(rows) > limit else None
    return UnmatchedPage(items=items, next_cursor=next_cursor)


class ScopeGrantRead(BaseModel):
    agent_id: str
    username: str
    wilaya_code: str
    parent_code: str
    granted_at: datetime
    # False once an admin took the wilaya back.
    still_granted: bool


@admin.get(
    "/reform/scope-grants",
    response_model=list[ScopeGrantRead],
    summary="Agents the reform gave the wilayas carved out of theirs (change with PATCH agents)",
)
async def list_scope_grants(runtime: RuntimeDep, principal: Admin) -> list[ScopeGrantRead]:
    async with runtime.session_factory() as session:
        rows = (
            await session.execute(
                select(reform_scope_grants, agents.c.username, agents.c.wilayas)
                .join(agents, agents.c.id == reform_scope_grants.c.agent_id)
                .order_by(agents.c.username, reform_scope_grants.c.wilaya_code)
            )
        ).all()
    return [
        ScopeGrantRead(
            agent_id=r.agent_id,
            username=r.username,
            wilaya_code=r.wilaya_code,
            parent_code=r.parent_code,
            granted_at=r.granted_at,
            still_granted=r.wilaya_code in (r.wilayas or []),
        )
        for r in rows
    ]
