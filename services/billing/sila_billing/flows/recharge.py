"""Recharging a prepaid line: its cost, and one credit per payment or voucher."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sila_billing.domain.offers import Billing
from sila_billing.domain.subscriptions import extend
from sila_billing.events import SUBSCRIPTION_RECHARGED, SubscriptionRecharged
from sila_billing.flows.catalogue import current_price, offer_row
from sila_billing.flows.common import utcnow
from sila_billing.runtime import BillingRuntime
from sila_billing.tables import recharges, subscriptions
from sila_common.problems import Conflict, NotFound


@dataclass(frozen=True)
class Quote:
    offer_code: str
    price_version: int
    price_centimes: int
    idoomly_centimes: int

    @property
    def amount_centimes(self) -> int:
        return self.price_centimes + self.idoomly_centimes


async def subscription_for(
    session: AsyncSession, subscription_id: str, customer_id: str | None, *, lock: bool = False
) -> Any:
    query = select(subscriptions).where(subscriptions.c.id == subscription_id)
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).one_or_none()
    if row is None or (customer_id is not None and row.customer_id != customer_id):
        raise NotFound("No such subscription for this customer.")
    return row


async def recharge_quote(
    session: AsyncSession, subscription_id: str, customer_id: str | None, moment: datetime
) -> Quote:
    row = await subscription_for(session, subscription_id, customer_id)
    if row.billing != Billing.PREPAID.value:
        raise Conflict("A postpaid line is billed, not recharged.", slug="not-prepaid")
    if row.suspended:
        raise Conflict("This subscription is suspended.", slug="subscription-suspended")
    price = await current_price(session, row.offer_code, moment)
    return Quote(row.offer_code, price.version, price.price_centimes, row.idoomly_owed_centimes)


async def apply_recharge(
    session: AsyncSession,
    runtime: BillingRuntime,
    *,
    subscription_id: str,
    source: str,
    offer_code: str,
    price_version: int,
    amount_centimes: int,
    idoomly_centimes: int,
    payment_id: str | None = None,
    voucher_id: str | None = None,
) -> dict[str, Any]:
    """Extends the subscription by the offer's validity from the later of now and its end."""
    now = utcnow()
    sub = await subscription_for(session, subscription_id, None, lock=True)
    offer = await offer_row(session, offer_code)
    ends_at = sub.ends_at
    # Idoomly's 36 hours are a loan: the recharge starts from the expiry, not their end.
    period = extend(ends_at, now, timedelta(days=offer.validity_days or 30))
    row = {
        "id": str(uuid.uuid4()),
        "subscription_id": subscription_id,
        "customer_id": sub.customer_id,
        "source": source,
        "payment_id": payment_id,
        "voucher_id": voucher_id,
        "offer_code": offer_code,
        "price_version": price_version,
        "amount_centimes": amount_centimes,
        "starts_at": period.starts_at,
        "ends_at": period.ends_at,
        "created_at": now,
    }
    await session.execute(insert(recharges).values(**row))
    await session.execute(
        update(subscriptions)
        .where(subscriptions.c.id == subscription_id)
        .values(
            ends_at=period.ends_at,
            offer_code=offer_code,
            idoomly_owed_centimes=max(0, sub.idoomly_owed_centimes - idoomly_centimes),
            idoomly_ends_at=None,
            updated_at=now,
        )
    )
    await runtime.outbox.record(
        session,
        SUBSCRIPTION_RECHARGED,
        subject=subscription_id,
        customer_id=sub.customer_id,
        data=SubscriptionRecharged(
            subscription_id=subscription_id,
            customer_id=sub.customer_id,
            offer_code=offer_code,
            source=source,
            amount_centimes=amount_centimes,
            expires_at=period.ends_at,
        ),
    )
    return row


async def credit_recharge(
    session: AsyncSession, runtime: BillingRuntime, payment: dict[str, Any]
) -> None:
    await apply_recharge(
        session,
        runtime,
        subscription_id=payment["subscription_id"],
        source="payment",
        offer_code=payment["offer_code"],
        price_version=payment["price_version"],
        amount_centimes=payment["amount_centimes"],
        idoomly_centimes=payment["idoomly_centimes"],
        payment_id=payment["id"],
    )
