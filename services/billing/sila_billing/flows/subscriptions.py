"""Subscriptions: one per contract, suspended by agents, Idoomly on an expired line."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from sila_billing.domain import idoomly
from sila_billing.domain.offers import Technology
from sila_billing.events import (
    IDOOMLY_GRANTED,
    SUBSCRIPTION_SUSPENDED,
    IdoomlyGranted,
    SubscriptionSuspended,
)
from sila_billing.flows.catalogue import current_price, offer_row
from sila_billing.flows.common import aware, utcnow
from sila_billing.flows.recharge import subscription_for
from sila_billing.tables import subscriptions
from sila_common.problems import Conflict
from sila_common.service import Runtime


async def subscribe(
    session: AsyncSession,
    *,
    customer_id: str,
    contract_id: str,
    offer_code: str,
    line_number: str | None,
) -> dict[str, Any]:
    """The contract's subscription, made once (a second call answers the same one)."""
    offer = await offer_row(session, offer_code)
    now = utcnow()
    await session.execute(
        pg_insert(subscriptions)
        .values(
            id=str(uuid.uuid4()),
            customer_id=customer_id,
            contract_id=contract_id,
            offer_code=offer.code,
            technology=offer.technology,
            billing=offer.billing,
            line_number=line_number,
            ends_at=None,
            suspended=False,
            idoomly_owed_centimes=0,
            idoomly_period_end=None,
            idoomly_ends_at=None,
            expiring_notice_for=None,
            expired_notice_for=None,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["contract_id"])
    )
    row = (
        await session.execute(
            select(subscriptions).where(subscriptions.c.contract_id == contract_id)
        )
    ).one()
    if row.customer_id != customer_id:
        raise Conflict("This contract belongs to another customer.", slug="contract-taken")
    return dict(row._mapping)


async def suspend(
    session: AsyncSession, runtime: Runtime, subscription_id: str, reason: str
) -> dict[str, Any]:
    row = await subscription_for(session, subscription_id, None, lock=True)
    if row.suspended:
        return dict(row._mapping)
    await session.execute(
        update(subscriptions)
        .where(subscriptions.c.id == subscription_id)
        .values(suspended=True, updated_at=utcnow())
    )
    await runtime.outbox.record(
        session,
        SUBSCRIPTION_SUSPENDED,
        subject=subscription_id,
        customer_id=row.customer_id,
        data=SubscriptionSuspended(
            subscription_id=subscription_id,
            customer_id=row.customer_id,
            offer_code=row.offer_code,
            reason=reason,
        ),
    )
    return dict(row._mapping) | {"suspended": True}


async def grant_idoomly(
    session: AsyncSession,
    runtime: Runtime,
    subscription_id: str,
    customer_id: str | None,
    moment: datetime | None = None,
) -> dict[str, Any]:
    """36 hours at once; the offer's price is owed and added to the next recharge."""
    now = moment or utcnow()
    row = await subscription_for(session, subscription_id, customer_id, lock=True)
    try:
        grant = idoomly.grant(
            technology=Technology(row.technology),
            ends_at=aware(row.ends_at) if row.ends_at else None,
            suspended=row.suspended,
            last_grant_period_end=aware(row.idoomly_period_end) if row.idoomly_period_end else None,
            moment=now,
        )
    except idoomly.IdoomlyRefused as refused:
        raise Conflict(refused.detail, slug=refused.reason.value) from refused
    price = await current_price(session, row.offer_code, now)
    await session.execute(
        update(subscriptions)
        .where(subscriptions.c.id == subscription_id)
        .values(
            idoomly_period_end=grant.period_end,
            idoomly_ends_at=grant.ends_at,
            idoomly_owed_centimes=row.idoomly_owed_centimes + price.price_centimes,
            updated_at=now,
        )
    )
    await runtime.outbox.record(
        session,
        IDOOMLY_GRANTED,
        subject=subscription_id,
        customer_id=row.customer_id,
        data=IdoomlyGranted(
            subscription_id=subscription_id,
            customer_id=row.customer_id,
            offer_code=row.offer_code,
            expires_at=grant.ends_at,
            price_centimes=price.price_centimes,
        ),
    )
    refreshed = await subscription_for(session, subscription_id, None)
    return dict(refreshed._mapping)
