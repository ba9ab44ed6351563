"""Goodwill and corrections by a supervisor: an entry that names the agent who made it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.auth import Principal
from sila_common.idempotency import Created, create_once
from sila_common.problems import Conflict
from sila_loyalty.domain.ledger import EntryReason, RewardKind
from sila_loyalty.flows.accounts import balances_of, find_account, lock_account
from sila_loyalty.flows.grants import Source, grant, write_entry
from sila_loyalty.runtime import LoyaltyParts, LoyaltyRuntime, Render
from sila_loyalty.tables import ledger_entries


async def adjust(
    session: AsyncSession,
    runtime: LoyaltyParts,
    *,
    customer_id: str,
    kind: RewardKind,
    quantity: int,
    label: str,
    agent_id: str,
    speed_mbps: int | None = None,
) -> dict[str, Any]:
    """A positive quantity is a grant (with its event); a negative one a correction, which
    never takes a balance below zero."""
    now = datetime.now(UTC)
    await lock_account(session, customer_id)
    source = Source(
        key=f"adjustment:{uuid.uuid4()}", reason=EntryReason.ADJUSTMENT, agent_id=agent_id
    )
    if quantity > 0:
        entry = await grant(
            session,
            runtime,
            customer_id=customer_id,
            kind=kind,
            quantity=quantity,
            label=label,
            source=source,
            occurred_at=now,
            speed_mbps=speed_mbps,
        )
    else:
        balance = (await balances_of(session, customer_id))[kind.value]
        if balance + quantity < 0:
            raise Conflict(
                f"The {kind.value} balance is {balance}; it cannot go below zero.",
                slug="balance-below-zero",
                balance=balance,
            )
        entry = await write_entry(
            session,
            customer_id=customer_id,
            kind=kind,
            quantity=quantity,
            label=label,
            source=source,
            occurred_at=now,
        )
    assert entry is not None
    return entry


async def adjust_once(
    runtime: LoyaltyRuntime,
    principal: Principal,
    *,
    customer_id: str,
    kind: RewardKind,
    quantity: int,
    label: str,
    speed_mbps: int | None,
    key: str | None,
    body: Any,
    authorise: Callable[[Any], None],
    render: Render,
) -> Created:
    """A supervisor's adjustment, once per Idempotency-Key; ``authorise`` is given the
    account (may this caller act on it), ``render`` the ledger row written."""

    async def work(session: AsyncSession) -> tuple[int, dict[str, Any]]:
        authorise(await find_account(session, customer_id))
        entry = await adjust(
            session,
            runtime,
            customer_id=customer_id,
            kind=kind,
            quantity=quantity,
            label=label,
            agent_id=principal.subject,
            speed_mbps=speed_mbps,
        )
        row = (
            await session.execute(
                select(ledger_entries).where(ledger_entries.c.entry_id == entry["entry_id"])
            )
        ).one()
        return 201, render(row)

    return await create_once(runtime, principal, key=key, body=body, work=work)
