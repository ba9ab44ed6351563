"""Campaigns: created by marketing agents, stored as data, read back as domain rules."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.auth import Principal
from sila_common.idempotency import Created, create_once
from sila_common.problems import NotFound
from sila_loyalty.domain.campaigns import (
    Campaign,
    Caps,
    Conditions,
    DryRun,
    Facts,
    Reward,
    dry_run,
    validated,
)
from sila_loyalty.domain.ledger import RewardKind
from sila_loyalty.domain.periods import Period
from sila_loyalty.domain.tiers import Tier
from sila_loyalty.runtime import LoyaltyRuntime, Render
from sila_loyalty.tables import campaigns, recorded_events


def campaign_of(row: Any) -> Campaign:
    """The domain rules of a stored campaign."""
    c = row.conditions or {}
    r = row.reward
    return Campaign(
        campaign_id=row.id,
        name=row.name,
        trigger=row.trigger,
        period=Period(row.starts_at, row.ends_at),
        reward=Reward(
            kind=RewardKind(r["kind"]),
            quantity=int(r["quantity"]),
            label=str(r["label"]),
            unit_cost_centimes=int(r.get("unit_cost_centimes") or 0),
            speed_mbps=r.get("speed_mbps"),
            item=r.get("item"),
        ),
        conditions=Conditions(
            offers=_set(c.get("offers")),
            wilayas=_set(c.get("wilayas")),
            tiers=frozenset(Tier(t) for t in c["tiers"]) if c.get("tiers") is not None else None,
            min_tenure_days=c.get("min_tenure_days"),
            min_amount_centimes=c.get("min_amount_centimes"),
            first_time=c.get("first_time"),
        ),
        caps=Caps(
            per_customer=row.per_customer,
            budget_centimes=row.budget_centimes,
            stock=row.stock,
        ),
    )


def _set(values: Sequence[str] | None) -> frozenset[str] | None:
    return frozenset(values) if values is not None else None


def conditions_json(conditions: Conditions) -> dict[str, Any]:
    return {
        "offers": sorted(conditions.offers) if conditions.offers is not None else None,
        "wilayas": sorted(conditions.wilayas) if conditions.wilayas is not None else None,
        "tiers": sorted(t.value for t in conditions.tiers)
        if conditions.tiers is not None
        else None,
        "min_tenure_days": conditions.min_tenure_days,
        "min_amount_centimes": conditions.min_amount_centimes,
        "first_time": conditions.first_time,
    }


def reward_json(reward: Reward) -> dict[str, Any]:
    return {
        "kind": reward.kind.value,
        "quantity": reward.quantity,
        "label": reward.label,
        "unit_cost_centimes": reward.unit_cost_centimes,
        "speed_mbps": reward.speed_mbps,
        "item": reward.item,
    }


async def create_campaign(
    session: AsyncSession,
    campaign: Campaign,
    *,
    created_by: str,
    season: dict[str, Any] | None = None,
) -> Any:
    """Store a campaign whose rules hold (``InvalidCampaign`` names each faulty field)."""
    validated(campaign)
    campaign_id = str(uuid.uuid4())
    await session.execute(
        insert(campaigns).values(
            id=campaign_id,
            name=campaign.name,
            trigger=campaign.trigger,
            starts_at=campaign.period.starts_at,
            ends_at=campaign.period.ends_at,
            season=season,
            conditions=conditions_json(campaign.conditions),
            reward=reward_json(campaign.reward),
            per_customer=campaign.caps.per_customer,
            budget_centimes=campaign.caps.budget_centimes,
            stock=campaign.caps.stock,
            spent_centimes=0,
            stock_used=0,
            grants=0,
            status="active",
            created_by=created_by,
            created_at=datetime.now(UTC),
        )
    )
    return await load_campaign(session, campaign_id)


async def load_campaign(session: AsyncSession, campaign_id: str, *, lock: bool = False) -> Any:
    query = select(campaigns).where(campaigns.c.id == campaign_id)
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).one_or_none()
    if row is None:
        raise NotFound(f"No campaign {campaign_id}.")
    return row


async def set_status(session: AsyncSession, campaign_id: str, status: str) -> Any:
    await load_campaign(session, campaign_id, lock=True)
    await session.execute(
        update(campaigns).where(campaigns.c.id == campaign_id).values(status=status)
    )
    return await load_campaign(session, campaign_id)


async def simulate(session: AsyncSession, campaign: Campaign) -> DryRun:
    """What the campaign would have done over the recorded events of its trigger and period."""
    validated(campaign)
    rows = await session.execute(
        select(recorded_events.c.facts).where(
            recorded_events.c.event_type == campaign.trigger,
            recorded_events.c.occurred_at >= campaign.period.starts_at,
            recorded_events.c.occurred_at < campaign.period.ends_at,
        )
    )
    # An event still waiting for its customer's registration has no facts yet: not judged.
    judged = [Facts.from_json(facts) for (facts,) in rows.all() if facts is not None]
    return dry_run(campaign, judged)


async def create_campaign_once(
    runtime: LoyaltyRuntime,
    principal: Principal,
    campaign: Campaign,
    *,
    season: dict[str, Any] | None,
    key: str | None,
    body: Any,
    render: Render,
) -> Created:
    """Stores the campaign once per Idempotency-Key (``InvalidCampaign`` if its rules fail)."""

    async def work(session: AsyncSession) -> tuple[int, dict[str, Any]]:
        row = await create_campaign(
            session, campaign, created_by=f"{principal.kind}:{principal.subject}", season=season
        )
        return 201, render(row)

    return await create_once(runtime, principal, key=key, body=body, work=work)


async def change_status(runtime: LoyaltyRuntime, campaign_id: str, status: str) -> Any:
    """``set_status`` in its own transaction."""
    async with runtime.session_factory() as session, session.begin():
        return await set_status(session, campaign_id, status)
