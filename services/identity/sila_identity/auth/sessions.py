"""Refresh tokens: opaque, stored as SHA-256 digests, rotated on every use.

Each log-in starts a family; redeeming a token marks it used and issues the next one in
the family. Presenting a used or revoked token again means it leaked: the whole family
is revoked, so neither the thief nor the owner can go on without logging in again.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sila_common.db import as_utc, rows_affected
from sila_identity.auth.errors import invalid_grant
from sila_identity.tables import refresh_tokens

TOKEN_BYTES = 32


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Redeemed:
    """A refresh token that was valid and is now used: who it was for, and its family."""

    family_id: str
    principal_kind: str
    subject: str
    scope: str


async def issue(
    session: AsyncSession,
    *,
    principal_kind: str,
    subject: str,
    ttl_seconds: int,
    scope: str = "",
    family_id: str | None = None,
) -> str:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = datetime.now(UTC)
    await session.execute(
        insert(refresh_tokens).values(
            id=str(uuid.uuid4()),
            token_hash=digest(token),
            family_id=family_id or str(uuid.uuid4()),
            principal_kind=principal_kind,
            subject=subject,
            scope=scope,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_seconds),
            used_at=None,
            revoked_at=None,
        )
    )
    return token


async def redeem(factory: async_sessionmaker[AsyncSession], token: str) -> Redeemed:
    """Use a refresh token once; a second use revokes its family. Raises invalid_grant."""
    now = datetime.now(UTC)
    reused_family: str | None = None
    async with factory() as session, session.begin():
        row = await _find(session, token)
        if row is None:
            raise invalid_grant("The refresh token is not valid.")
        if row.used_at is not None or row.revoked_at is not None:
            reused_family = row.family_id
        elif (as_utc(row.expires_at) or now) <= now:
            raise invalid_grant("The refresh token has expired; log in again.")
        else:
            claimed = await session.execute(
                update(refresh_tokens)
                .where(
                    refresh_tokens.c.id == row.id,
                    refresh_tokens.c.used_at.is_(None),
                    refresh_tokens.c.revoked_at.is_(None),
                )
                .values(used_at=now)
            )
            if rows_affected(claimed) != 1:
                reused_family = row.family_id  # a concurrent request redeemed it first
    if reused_family is not None:
        async with factory() as session, session.begin():
            await revoke_family(session, reused_family)
        raise invalid_grant(
            "The refresh token was already used; the session is revoked for safety."
        )
    return Redeemed(
        family_id=row.family_id,
        principal_kind=row.principal_kind,
        subject=row.subject,
        scope=row.scope,
    )


async def _find(session: AsyncSession, token: str) -> Any:
    query = (
        select(refresh_tokens).where(refresh_tokens.c.token_hash == digest(token)).with_for_update()
    )
    return (await session.execute(query)).one_or_none()


async def revoke_family(session: AsyncSession, family_id: str) -> int:
    result = await session.execute(
        update(refresh_tokens)
        .where(refresh_tokens.c.family_id == family_id, refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    return rows_affected(result)


async def revoke_token(session: AsyncSession, token: str) -> str | None:
    """Revoke the family of a refresh token; returns its subject (None if unknown)."""
    row = (
        await session.execute(
            select(refresh_tokens.c.family_id, refresh_tokens.c.subject).where(
                refresh_tokens.c.token_hash == digest(token)
            )
        )
    ).one_or_none()
    if row is None:
        return None
    await revoke_family(session, row.family_id)
    return str(row.subject)


async def revoke_subject(session: AsyncSession, subject: str) -> int:
    """Revoke every session of an agent, partner or customer."""
    result = await session.execute(
        update(refresh_tokens)
        .where(refresh_tokens.c.subject == subject, refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    return rows_affected(result)


async def subject_of(session: AsyncSession, token: str) -> str | None:
    return await session.scalar(
        select(refresh_tokens.c.subject).where(refresh_tokens.c.token_hash == digest(token))
    )
