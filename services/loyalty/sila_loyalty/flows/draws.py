"""Draws among a campaign's eligible customers: seed and entrants recorded, winners rewarded."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.auth import Principal
from sila_common.idempotency import Created, create_once
from sila_common.problems import NotFound, Unprocessable
from sila_loyalty.domain.draws import draw, new_seed
from sila_loyalty.domain.ledger import EntryReason, RewardKind
from sila_loyalty.flows.accounts import lock_accounts
from sila_loyalty.flows.campaigns import load_campaign
from sila_loyalty.flows.grants import Source, grant
from sila_loyalty.runtime import LoyaltyParts, LoyaltyRuntime, Render
from sila_loyalty.tables import draws, ledger_entries


async def entrants_of(session: AsyncSession, campaign_id: str) -> list[str]:
    """The customers the campaign rewarded: those eligible for its draw."""
    rows = await session.scalars(
        select(ledger_entries.c.customer_id)
        .where(
            ledger_entries.c.campaign_id == campaign_id,
            ledger_entries.c.reason == EntryReason.CAMPAIGN.value,
        )
        .distinct()
    )
    return sorted(str(r) for r in rows)


async def hold_draw(
    session: AsyncSession,
    runtime: LoyaltyParts,
    *,
    campaign_id: str,
    winners: int,
    prize_label: str,
    prize_item: str,
    drawn_by: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    await load_campaign(session, campaign_id)
    # One draw of a campaign at a time. Not the campaign's row lock: the engine reserves
    # budgets on that row while it holds accounts, and this transaction locks accounts.
    await session.execute(
        select(func.pg_advisory_xact_lock(func.hashtextextended(f"loyalty.draw:{campaign_id}", 0)))
    )
    entrants = await entrants_of(session, campaign_id)
    if not entrants:
        raise Unprocessable(
            "The campaign has no eligible customer yet.",
            slug="no-entrants",
            errors=[{"field": "path.campaign_id", "message": "no eligible customer"}],
        )
    seed = new_seed()
    chosen = draw(seed, entrants, winners)
    draw_id = str(uuid.uuid4())
    row = {
        "id": draw_id,
        "campaign_id": campaign_id,
        "seed": seed,
        "entrants": entrants,
        "winners_count": winners,
        "winners": chosen,
        "prize": {"label": prize_label, "item": prize_item},
        "drawn_by": drawn_by,
        "drawn_at": now,
    }
    await session.execute(insert(draws).values(**row))
    # The winners' accounts in customer id order, as the engine's batches lock them.
    await lock_accounts(session, chosen)
    for customer_id in chosen:
        await grant(
            session,
            runtime,
            customer_id=customer_id,
            kind=RewardKind.GIFT,
            quantity=1,
            label=prize_label,
            source=Source(
                key=f"draw:{draw_id}:{customer_id}",
                reason=EntryReason.DRAW,
                campaign_id=campaign_id,
                agent_id=drawn_by,
            ),
            occurred_at=now,
        )
    return row


async def load_draw(session: AsyncSession, draw_id: str) -> Any:
    row = (await session.execute(select(draws).where(draws.c.id == draw_id))).one_or_none()
    if row is None:
        raise NotFound(f"No draw {draw_id}.")
    return row


def rerun(row: Any) -> list[str]:
    """The winners the recorded seed and entrants give, computed again."""
    return draw(str(row.seed), list(row.entrants), int(row.winners_count))


async def hold_draw_once(
    runtime: LoyaltyRuntime,
    principal: Principal,
    *,
    campaign_id: str,
    winners: int,
    prize_label: str,
    prize_item: str,
    key: str | None,
    body: Any,
    render: Render,
) -> Created:
    """The draw, once per Idempotency-Key."""

    async def work(session: AsyncSession) -> tuple[int, dict[str, Any]]:
        row = await hold_draw(
            session,
            runtime,
            campaign_id=campaign_id,
            winners=winners,
            prize_label=prize_label,
            prize_item=prize_item,
            drawn_by=f"{principal.kind}:{principal.subject}",
        )
        return 201, render(row)

    return await create_once(runtime, principal, key=key, body=body, work=work)
