"""Whether the account behind a valid token is still usable: an agent or partner not
disabled, a customer not erased.

Identity asks on every request it serves. The answers are kept for a few seconds
(``account_check_seconds``) so that one agent's stream of requests costs one query per
period instead of one each; the process that disables, re-enables or erases an account
forgets its answer at once, other identity processes within that period (far inside the
minute the issue allows; other services rely on the agents' short token life).
"""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sila_common.auth import Principal
from sila_identity.runtime import IdentityRuntime
from sila_identity.tables import agents, customers, partners

# Beyond this many remembered accounts, the memory starts again (bounded, no LRU needed).
MAX_ACCOUNTS = 100_000


class AccountChecks:
    def __init__(self, ttl_seconds: float) -> None:
        self.ttl_seconds = ttl_seconds
        self._answers: dict[str, tuple[bool, float]] = {}

    async def usable(self, factory: async_sessionmaker[AsyncSession], principal: Principal) -> bool:
        account = account_of(principal)
        if account is None:
            return True
        now = time.monotonic()
        remembered = self._answers.get(account)
        if remembered is not None and now - remembered[1] < self.ttl_seconds:
            return remembered[0]
        async with factory() as session:
            usable = await _usable(session, principal)
        if len(self._answers) >= MAX_ACCOUNTS:
            self._answers.clear()
        self._answers[account] = (usable, now)
        return usable

    def forget(self, subject: str) -> None:
        """The account changed here (disabled, enabled, erased): ask the database next time."""
        self._answers.pop(subject, None)


def account_of(principal: Principal) -> str | None:
    """The id the account is known by: the agent's or partner's id, the customer's id."""
    if principal.kind in ("agent", "partner"):
        return principal.subject
    if principal.kind == "customer":
        return principal.customer_id
    return None


async def _usable(session: AsyncSession, principal: Principal) -> bool:
    if principal.kind == "agent":
        disabled = await session.scalar(
            select(agents.c.disabled).where(agents.c.id == principal.subject)
        )
        return disabled is False
    if principal.kind == "partner":
        disabled = await session.scalar(
            select(partners.c.disabled).where(partners.c.id == principal.subject)
        )
        return disabled is False
    row = (
        await session.execute(
            select(customers.c.erased_at).where(customers.c.id == principal.customer_id)
        )
    ).one_or_none()
    return row is not None and row.erased_at is None


def forget_account(runtime: IdentityRuntime, account: str) -> None:
    """After committing a change to an account's standing: this process asks again."""
    checks = runtime.collaborators.find(AccountChecks)
    if checks is not None:
        checks.forget(account)
