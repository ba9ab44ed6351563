"""Goodwill and corrections by a supervisor: an entry that names the agent who made it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.problems import Conflict
from sila_common.service import Runtime
from sila_loyalty.domain.ledger import EntryReason, RewardKind
from sila_loyalty.flows.accounts import balances_of, lock_account
from sila_loyalty.flows.grants import Source, grant, write_entry


async def adjust(
    session: AsyncSession,
    runtime: Runtime,
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
