"""Log-in sessions: refresh-token families started, continued, revoked and logged out
(the token and grant rules are ``auth``; this is where their writes commit).
"""

from __future__ import annotations

from sila_identity.auth import sessions
from sila_identity.runtime import IdentityRuntime


async def start_refresh(
    runtime: IdentityRuntime,
    *,
    principal_kind: str,
    subject: str,
    ttl_seconds: int,
    scope: str,
    family_id: str | None,
) -> str:
    """A refresh token, of a new family or continuing ``family_id``."""
    async with runtime.session_factory() as session, session.begin():
        return await sessions.issue(
            session,
            principal_kind=principal_kind,
            subject=subject,
            ttl_seconds=ttl_seconds,
            scope=scope,
            family_id=family_id,
        )


async def revoke_family(runtime: IdentityRuntime, family_id: str) -> None:
    async with runtime.session_factory() as session, session.begin():
        await sessions.revoke_family(session, family_id)


async def revoke_token(runtime: IdentityRuntime, token: str) -> None:
    """The token's whole log-in session ends (RFC 7009: unknown tokens change nothing)."""
    async with runtime.session_factory() as session, session.begin():
        await sessions.revoke_token(session, token)


async def log_out(
    runtime: IdentityRuntime,
    subject: str | None,
    *,
    account: str,
    refresh_token: str | None,
    everywhere: bool,
) -> None:
    """End the session of ``refresh_token`` if it is the subject's, or every session of the
    subject (of the ``account`` when the token names no subject).
    """
    async with runtime.session_factory() as session, session.begin():
        if refresh_token and not everywhere:
            owner = await sessions.subject_of(session, refresh_token)
            if owner == subject:
                await sessions.revoke_token(session, refresh_token)
        else:
            await sessions.revoke_subject(session, subject or account)
