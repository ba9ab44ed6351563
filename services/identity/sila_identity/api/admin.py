"""Administration: agents, partners, signing keys, wilayas, and the audit log."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select

from sila_common.db import as_utc
from sila_common.inputs import Name, decode_id_cursor
from sila_common.pagination import KeysetPage, encode_cursor
from sila_common.problems import Unprocessable
from sila_common.roles import ROLES, SCOPES
from sila_identity.api.deps import Admin, KeyStoreDep, RuntimeDep
from sila_identity.auth.passwords import hash_password
from sila_identity.domain.errors import InvalidValue
from sila_identity.domain.wilayas import format_wilaya_code
from sila_identity.flows import admin as flows
from sila_identity.tables import agents, audit_log, partners, signing_keys

router = APIRouter(prefix="/v1/admin/identity", tags=["administration"])

ALL_WILAYAS = "*"
SCOPE_PATTERN = r"^[a-z0-9_]+:[a-z_]+$"


def _known_scopes(value: list[str] | None) -> list[str] | None:
    """Only the platform's scopes (sila_common.roles.Scope): a typo is refused, not granted."""
    unknown = sorted(set(value or ()) - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scopes {unknown}; scopes are {', '.join(SCOPES)}")
    return value


# --- Agents -----------------------------------------------------------------------------


def _wilaya_codes(values: list[str]) -> list[str]:
    if values == [ALL_WILAYAS]:
        return values
    try:
        return sorted({format_wilaya_code(v) for v in values})
    except InvalidValue as exc:
        raise ValueError(exc.reason) from exc


class AgentFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: Name | None = Field(default=None, min_length=2, max_length=200)
    password: str | None = Field(default=None, min_length=12, max_length=200)
    roles: list[str] | None = Field(default=None, min_length=1, max_length=len(ROLES))
    # Wilaya codes served, or ["*"] for all.
    wilayas: list[str] | None = Field(default=None, min_length=1, max_length=70)
    agency: str | None = Field(default=None, min_length=2, max_length=100)

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        unknown = set(value) - set(ROLES)
        if unknown:
            raise ValueError(f"unknown roles {sorted(unknown)}; roles are {', '.join(ROLES)}")
        return sorted(set(value))

    @field_validator("wilayas")
    @classmethod
    def _wilayas(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _wilaya_codes(value)


class AgentCreate(AgentFields):
    username: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{2,99}$")
    display_name: Name = Field(min_length=2, max_length=200)
    password: str = Field(min_length=12, max_length=200)
    roles: list[str] = Field(min_length=1, max_length=len(ROLES))
    wilayas: list[str] = Field(min_length=1, max_length=70)


class AgentPatch(AgentFields):
    disabled: bool | None = None


class AgentRead(BaseModel):
    id: str
    username: str
    display_name: str
    roles: list[str]
    wilayas: list[str]
    agency: str | None
    disabled: bool
    created_at: datetime
    updated_at: datetime | None


def agent_read(row: Any) -> AgentRead:
    read = AgentRead.model_validate(row, from_attributes=True)
    return read.model_copy(
        update={"created_at": as_utc(read.created_at), "updated_at": as_utc(read.updated_at)}
    )


@router.post(
    "/agents", status_code=status.HTTP_201_CREATED, response_model=AgentRead, summary="Add an agent"
)
async def create_agent(body: AgentCreate, runtime: RuntimeDep, principal: Admin) -> AgentRead:
    row = await flows.create_agent(runtime, principal, body.model_dump())
    return agent_read(row)


@router.get("/agents", response_model=list[AgentRead], summary="Agents, by username")
async def list_agents(
    runtime: RuntimeDep,
    principal: Admin,
    after: Annotated[str | None, Query(max_length=100, description="last username seen")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> list[AgentRead]:
    query = select(agents).order_by(agents.c.username).limit(limit)
    if after:
        query = query.where(agents.c.username > after)
    async with runtime.session_factory() as session:
        rows = (await session.execute(query)).all()
    return [agent_read(row) for row in rows]


@router.get("/agents/{agent_id}", response_model=AgentRead, summary="One agent")
async def get_agent(agent_id: str, runtime: RuntimeDep, principal: Admin) -> AgentRead:
    async with runtime.session_factory() as session:
        return agent_read(await flows.agent_row(session, agent_id))


@router.patch(
    "/agents/{agent_id}",
    response_model=AgentRead,
    summary="Change an agent: roles, scope, password, or disable",
    description=(
        "Disabling refuses the agent at identity at once, ends their refresh tokens, and "
        "lets their last access token expire within 60 seconds everywhere else."
    ),
)
async def update_agent(
    agent_id: str, body: AgentPatch, runtime: RuntimeDep, principal: Admin
) -> AgentRead:
    values: dict[str, Any] = body.model_dump(exclude_unset=True, exclude={"password"})
    if None in values.values():
        raise Unprocessable("Fields of an agent cannot be set to null.")
    if body.password is not None:
        values["password_hash"] = hash_password(body.password)
    row = await flows.update_agent(
        runtime,
        principal,
        agent_id,
        values,
        revoke=bool(body.disabled or "roles" in values or "wilayas" in values or body.password),
        fields=sorted(body.model_fields_set),
    )
    return agent_read(row)


# --- Partners ---------------------------------------------------------------------------


class PartnerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(min_length=2, max_length=200)
    scopes: list[Annotated[str, Field(pattern=SCOPE_PATTERN, max_length=60)]] = Field(
        default_factory=list, max_length=30
    )

    _scopes = field_validator("scopes")(_known_scopes)


class PartnerPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = Field(default=None, min_length=2, max_length=200)
    scopes: list[Annotated[str, Field(pattern=SCOPE_PATTERN, max_length=60)]] | None = Field(
        default=None, max_length=30
    )
    disabled: bool | None = None

    _scopes = field_validator("scopes")(_known_scopes)


class PartnerRead(BaseModel):
    id: str
    name: str
    client_id: str
    scopes: list[str]
    disabled: bool
    created_at: datetime
    updated_at: datetime


class PartnerWithSecret(PartnerRead):
    """Only in the answer that creates the secret: it is stored hashed and never shown again."""

    client_secret: str


def partner_read(row: Any) -> PartnerRead:
    read = PartnerRead.model_validate(row, from_attributes=True)
    return read.model_copy(
        update={"created_at": as_utc(read.created_at), "updated_at": as_utc(read.updated_at)}
    )


@router.post(
    "/partners",
    status_code=status.HTTP_201_CREATED,
    response_model=PartnerWithSecret,
    summary="Register a partner (client credentials)",
)
async def create_partner(
    body: PartnerCreate, runtime: RuntimeDep, principal: Admin
) -> PartnerWithSecret:
    row, secret = await flows.create_partner(runtime, principal, body.name, body.scopes)
    return PartnerWithSecret(**partner_read(row).model_dump(), client_secret=secret)


@router.get("/partners", response_model=list[PartnerRead], summary="Partners")
async def list_partners(runtime: RuntimeDep, principal: Admin) -> list[PartnerRead]:
    async with runtime.session_factory() as session:
        rows = (await session.execute(select(partners).order_by(partners.c.name))).all()
    return [partner_read(row) for row in rows]


@router.patch("/partners/{partner_id}", response_model=PartnerRead, summary="Change a partner")
async def update_partner(
    partner_id: str, body: PartnerPatch, runtime: RuntimeDep, principal: Admin
) -> PartnerRead:
    values: dict[str, Any] = body.model_dump(exclude_unset=True)
    if None in values.values():
        raise Unprocessable("Fields of a partner cannot be set to null.")
    if "scopes" in values:
        values["scopes"] = sorted(set(values["scopes"]))
    row = await flows.update_partner(runtime, principal, partner_id, values)
    return partner_read(row)


@router.post(
    "/partners/{partner_id}/secret",
    response_model=PartnerWithSecret,
    summary="Issue a new client secret (the old one stops working)",
)
async def rotate_partner_secret(
    partner_id: str, runtime: RuntimeDep, principal: Admin
) -> PartnerWithSecret:
    row, secret = await flows.rotate_partner_secret(runtime, principal, partner_id)
    return PartnerWithSecret(**partner_read(row).model_dump(), client_secret=secret)


# --- Signing keys -----------------------------------------------------------------------


class SigningKeyRead(BaseModel):
    kid: str
    created_at: datetime
    retired_at: datetime | None


class Rotation(BaseModel):
    kid: str


@router.get("/keys", response_model=list[SigningKeyRead], summary="Signing keys, newest first")
async def list_keys(runtime: RuntimeDep, principal: Admin) -> list[SigningKeyRead]:
    async with runtime.session_factory() as session:
        rows = (
            await session.execute(
                select(
                    signing_keys.c.kid, signing_keys.c.created_at, signing_keys.c.retired_at
                ).order_by(signing_keys.c.created_at.desc())
            )
        ).all()
    return [
        SigningKeyRead(
            kid=r.kid,
            created_at=r.created_at,
            retired_at=r.retired_at,
        )
        for r in rows
    ]


@router.post(
    "/keys/rotate",
    response_model=Rotation,
    summary="Sign with a new key from now on",
    description=(
        "The previous key retires but stays in the JWKS for two hours, so tokens it signed "
        "keep verifying until they expire. Other instances of identity pick the new key up "
        "within key_cache_seconds; other services fetch it on first sight of its kid."
    ),
)
async def rotate_keys(runtime: RuntimeDep, keys: KeyStoreDep, principal: Admin) -> Rotation:
    kid = await flows.rotate_keys(runtime, principal, keys)
    return Rotation(kid=kid)


# --- Audit log --------------------------------------------------------------------------


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor_kind: str
    actor_id: str
    action: str
    customer_id: str | None
    target: str | None
    detail: dict[str, Any]
    correlation_id: str | None


class AuditPage(KeysetPage[AuditEntry]):
    pass


@router.get("/audit", response_model=AuditPage, summary="Who read or changed what, newest first")
async def read_audit(
    runtime: RuntimeDep,
    principal: Admin,
    customer_id: Annotated[str | None, Query(max_length=36)] = None,
    actor_id: Annotated[str | None, Query(max_length=100)] = None,
    action: Annotated[str | None, Query(max_length=50)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> AuditPage:
    query = select(audit_log)
    if customer_id:
        query = query.where(audit_log.c.customer_id == customer_id)
    if actor_id:
        query = query.where(audit_log.c.actor_id == actor_id)
    if action:
        query = query.where(audit_log.c.action == action)
    if cursor:
        last_id = decode_id_cursor(cursor)
        query = query.where(audit_log.c.id < last_id)
    query = query.order_by(audit_log.c.id.desc()).limit(limit + 1)
    async with runtime.session_factory() as session:
        rows = (await session.execute(query)).all()
    items = [
        AuditEntry.model_validate(r, from_attributes=True).model_copy(update={"at": r.at})
        for r in rows[:limit]
    ]
    next_cursor = encode_cursor([rows[limit - 1].id]) if len(rows) > limit else None
    return AuditPage(items=items, next_cursor=next_cursor)


# --- Wilayas ----------------------------------------------------------------------------


class WilayaRead(BaseModel):
    code: str
    name_fr: str
    name_ar: str
    name_en: str | None = None
    active: bool
    parent_code: str | None = None
    established_on: date | None = None


class WilayaCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(max_length=2)
    name_fr: str = Field(min_length=2, max_length=100)
    name_ar: str = Field(min_length=2, max_length=100)
    name_en: str | None = Field(default=None, min_length=2, max_length=100)
    # A wilaya carved out of another by a law: which one, and from when.
    parent_code: str | None = Field(default=None, pattern=r"^\d{2}$")
    established_on: date | None = None

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        try:
            return format_wilaya_code(value)
        except InvalidValue as exc:
            raise ValueError(exc.reason) from exc


@router.post(
    "/wilayas",
    status_code=status.HTTP_201_CREATED,
    response_model=WilayaRead,
    summary="Add a wilaya created by law (the list is data, not code)",
)
async def create_wilaya(body: WilayaCreate, runtime: RuntimeDep, principal: Admin) -> WilayaRead:
    row = body.model_dump() | {"active": True, "name_en": body.name_en or body.name_fr}
    await flows.create_wilaya(runtime, principal, row)
    return WilayaRead(**row)
