"""Administration: agents and partners (their accounts and rights), the signing keys'
rotation and the wilayas, each change audited.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.auth import Principal
from sila_common.problems import Conflict, NotFound, Unprocessable
from sila_identity.auth import sessions
from sila_identity.auth.accounts import forget_account
from sila_identity.auth.keys import KeyStore
from sila_identity.auth.passwords import hash_password
from sila_identity.events import PARTNER_CHANGED, PartnerChanged
from sila_identity.flows import audit
from sila_identity.runtime import IdentityRuntime
from sila_identity.tables import agents, partners, wilayas

ALL_WILAYAS = "*"


async def _ensure_wilayas(session: AsyncSession, codes: list[str]) -> None:
    if codes == [ALL_WILAYAS]:
        return
    known = set(
        (await session.scalars(select(wilayas.c.code).where(wilayas.c.code.in_(codes)))).all()
    )
    missing = sorted(set(codes) - known)
    if missing:
        reason = f"no wilaya has the codes {', '.join(missing)}"
        raise Unprocessable.at("body.wilayas", reason, kind="unknown_wilaya")


async def agent_row(session: AsyncSession, agent_id: str) -> Any:
    row = (await session.execute(select(agents).where(agents.c.id == agent_id))).one_or_none()
    if row is None:
        raise NotFound(f"No agent {agent_id}.")
    return row


async def partner_row(session: AsyncSession, partner_id: str) -> Any:
    row = (await session.execute(select(partners).where(partners.c.id == partner_id))).one_or_none()
    if row is None:
        raise NotFound(f"No partner {partner_id}.")
    return row


async def create_agent(runtime: IdentityRuntime, principal: Principal, body: dict[str, Any]) -> Any:
    now = datetime.now(UTC)
    agent_id = str(uuid.uuid4())
    try:
        async with runtime.session_factory() as session, session.begin():
            await _ensure_wilayas(session, body["wilayas"])
            await session.execute(
                insert(agents).values(
                    id=agent_id,
                    username=body["username"],
                    display_name=body["display_name"],
                    password_hash=hash_password(body["password"]),
                    roles=body["roles"],
                    wilayas=body["wilayas"],
                    agency=body["agency"],
                    disabled=False,
                    created_at=now,
                    updated_at=now,
                )
            )
            await audit.record(session, principal, "agent.create", target=agent_id)
            row = await agent_row(session, agent_id)
    except IntegrityError as exc:
        raise Conflict(f"The username {body['username']} is taken.") from exc
    return row


async def update_agent(
    runtime: IdentityRuntime,
    principal: Principal,
    agent_id: str,
    values: dict[str, Any],
    *,
    revoke: bool,
    fields: list[str],
) -> Any:
    """Change an agent; with ``revoke``, their sessions end (new rights, new log-in)."""
    async with runtime.session_factory() as session, session.begin():
        await agent_row(session, agent_id)
        if "wilayas" in values:
            await _ensure_wilayas(session, values["wilayas"])
        if values:
            await session.execute(
                update(agents)
                .where(agents.c.id == agent_id)
                .values(**values, updated_at=datetime.now(UTC))
            )
        if revoke:
            # New rights or no rights: the agent logs in again to get a matching token.
            await sessions.revoke_subject(session, agent_id)
        await audit.record(
            session,
            principal,
            "agent.update",
            target=agent_id,
            detail={"fields": fields},
        )
        row = await agent_row(session, agent_id)
    if "disabled" in values:
        forget_account(runtime, agent_id)
    return row


async def create_partner(
    runtime: IdentityRuntime, principal: Principal, name: str, scopes: list[str]
) -> tuple[Any, str]:
    """Register a partner; returns its row and its client secret (shown once)."""
    now = datetime.now(UTC)
    partner_id = str(uuid.uuid4())
    secret = secrets.token_urlsafe(32)
    async with runtime.session_factory() as session, session.begin():
        await session.execute(
            insert(partners).values(
                id=partner_id,
                name=name,
                client_id=f"ptn_{secrets.token_hex(12)}",
                secret_hash=hash_password(secret),
                scopes=sorted(set(scopes)),
                disabled=False,
                created_at=now,
                updated_at=now,
            )
        )
        await audit.record(session, principal, "partner.create", target=partner_id)
        row = await partner_row(session, partner_id)
    return row, secret


async def update_partner(
    runtime: IdentityRuntime, principal: Principal, partner_id: str, values: dict[str, Any]
) -> Any:
    async with runtime.session_factory() as session, session.begin():
        await partner_row(session, partner_id)
        if values:
            await session.execute(
                update(partners)
                .where(partners.c.id == partner_id)
                .values(**values, updated_at=datetime.now(UTC))
            )
        await audit.record(
            session,
            principal,
            "partner.update",
            target=partner_id,
            detail={"fields": sorted(values)},
        )
        row = await partner_row(session, partner_id)
        if {"scopes", "disabled"} & values.keys():
            # Services holding what a partner receives (notify's webhooks) follow at once.
            await runtime.outbox.record(
                session,
                PARTNER_CHANGED,
                subject=partner_id,
                customer_id=partner_id,
                data=PartnerChanged(
                    partner_id=partner_id, scopes=list(row.scopes), disabled=bool(row.disabled)
                ),
            )
    if "disabled" in values:
        forget_account(runtime, partner_id)
    return row


async def rotate_partner_secret(
    runtime: IdentityRuntime, principal: Principal, partner_id: str
) -> tuple[Any, str]:
    secret = secrets.token_urlsafe(32)
    async with runtime.session_factory() as session, session.begin():
        await partner_row(session, partner_id)
        await session.execute(
            update(partners)
            .where(partners.c.id == partner_id)
            .values(secret_hash=hash_password(secret), updated_at=datetime.now(UTC))
        )
        await audit.record(session, principal, "partner.secret", target=partner_id)
        row = await partner_row(session, partner_id)
    return row, secret


async def rotate_keys(runtime: IdentityRuntime, principal: Principal, keys: KeyStore) -> str:
    kid = await keys.rotate()
    async with runtime.session_factory() as session, session.begin():
        await audit.record(session, principal, "keys.rotate", target=kid)
    return kid


async def create_wilaya(
    runtime: IdentityRuntime, principal: Principal, row: dict[str, Any]
) -> None:
    try:
        async with runtime.session_factory() as session, session.begin():
            await session.execute(insert(wilayas).values(**row))
            await audit.record(session, principal, "wilaya.create", target=row["code"])
    except IntegrityError as exc:
        raise Conflict(f"The wilaya {row['code']} exists already.") from exc
