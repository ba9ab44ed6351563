"""Subscriptions: one per contract, suspended by agents, Idoomly on an expired line."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from sila_billing.domain import idoomly
from sila_billing.domain.offers import Technology
from sila_billing.events import (
    IDOOMLY_GRANTED,
    SUBSCRIPTION_EXPIRED,
    SUBSCRIPTION_EXPIRING,
    SUBSCRIPTION_SUSPENDED,
    IdoomlyGranted,
    SubscriptionExpired,
    SubscriptionExpiring,
    SubscriptionSuspended,
)
from sila_billing.flows.catalogue import current_price, offer_row
from sila_billing.flows.common import Render, utcnow
from sila_billing.flows.recharge import subscription_for
from sila_billing.runtime import BillingRuntime
from sila_billing.tables import subscriptions
from sila_common.auth import Principal
from sila_common.idempotency import Created, create_once
from sila_common.problems import Conflict


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
    session: AsyncSession, runtime: BillingRuntime, subscription_id: str, reason: str
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
    runtime: BillingRuntime,
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
            ends_at=row.ends_at,
            suspended=row.suspended,
            last_grant_period_end=row.idoomly_period_end,
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


async def subscribe_contract(
    runtime: BillingRuntime,
    *,
    customer_id: str,
    contract_id: str,
    offer_code: str,
    line_number: str | None,
) -> Any:
    """``subscribe`` in its own transaction; answers the subscription's row."""
    async with runtime.session_factory() as session, session.begin():
        row = await subscribe(
            session,
            customer_id=customer_id,
            contract_id=contract_id,
            offer_code=offer_code,
            line_number=line_number,
        )
        return await subscription_for(session, row["id"], None)


async def suspend_line(runtime: BillingRuntime, subscription_id: str, reason: str) -> Any:
    """``suspend`` in its own transaction; answers the subscription's row."""
    async with runtime.session_factory() as session, session.begin():
        await suspend(session, runtime, subscription_id, reason)
        return await subscription_for(session, subscription_id, None)


async def grant_idoomly_once(
    runtime: BillingRuntime,
    principal: Principal,
    subscription_id: str,
    owner: str | None,
    *,
    key: str | None,
    render: Render,
) -> Created:
    """Idoomly once per Idempotency-Key; answers 200 with the rendered subscription."""

    async def work(session: AsyncSession) -> tuple[int, dict[str, Any]]:
        await grant_idoomly(session, runtime, subscription_id, owner)
        row = await subscription_for(session, subscription_id, None)
        return 200, render(row)

    return await create_once(
        runtime, principal, key=key, body={"idoomly": subscription_id}, work=work
    )


async def subscription_notices(runtime: BillingRuntime, limit: int) -> int:
    """One expiring notice and one expired notice per period end, claimed with SKIP LOCKED."""
    settings = runtime.settings
    now = utcnow()
    horizon = now + timedelta(days=settings.expiring_notice_days)
    sent = 0
    async with runtime.session_factory() as session, session.begin():
        rows = (
            await session.execute(
                select(subscriptions)
                .where(
                    subscriptions.c.billing == "prepaid",
                    subscriptions.c.ends_at.is_not(None),
                    subscriptions.c.ends_at <= horizon,
                    subscriptions.c.suspended.is_(False),
                    or_(
                        subscriptions.c.expired_notice_for.is_(None),
                        subscriptions.c.expired_notice_for != subscriptions.c.ends_at,
                    ),
                )
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for row in rows:
            ends_at = row.ends_at
            if ends_at <= now:
                await session.execute(
                    update(subscriptions)
                    .where(subscriptions.c.id == row.id)
                    .values(expired_notice_for=row.ends_at, expiring_notice_for=row.ends_at)
                )
                await runtime.outbox.record(
                    session,
                    SUBSCRIPTION_EXPIRED,
                    subject=row.id,
                    customer_id=row.customer_id,
                    data=SubscriptionExpired(
                        subscription_id=row.id,
                        customer_id=row.customer_id,
                        offer_code=row.offer_code,
                        expired_at=ends_at,
                    ),
                )
                sent += 1
            elif row.expiring_notice_for is None or row.expiring_notice_for != ends_at:
                await session.execute(
                    update(subscriptions)
                    .where(subscriptions.c.id == row.id)
                    .values(expiring_notice_for=row.ends_at)
                )
                await runtime.outbox.record(
                    session,
                    SUBSCRIPTION_EXPIRING,
                    subject=row.id,
                    customer_id=row.customer_id,
                    data=SubscriptionExpiring(
                        subscription_id=row.id,
                        customer_id=row.customer_id,
                        offer_code=row.offer_code,
                        expires_at=ends_at,
                    ),
                )
                sent += 1
    return sent
