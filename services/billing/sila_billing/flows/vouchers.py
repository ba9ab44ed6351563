"""Voucher batches and recharge by code: one use per code, wrong codes rate limited."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sila_billing.domain.vouchers import code_hash, new_code, serial
from sila_billing.flows.catalogue import current_price, offer_row
from sila_billing.flows.common import utcnow
from sila_billing.flows.recharge import apply_recharge, recharge_quote, subscription_for
from sila_billing.runtime import BillingRuntime
from sila_billing.tables import recharge_failures, voucher_batches, vouchers
from sila_common.db import rows_affected
from sila_common.problems import Conflict, NotFound, TooManyRequests, Unprocessable

MAX_BATCH = 10_000


async def create_batch(
    session: AsyncSession, runtime: BillingRuntime, offer_code: str, quantity: int, by: str
) -> dict[str, Any]:
    """Answers the batch with its codes in clear, this once; only their hashes are kept."""
    await offer_row(session, offer_code)
    price = await current_price(session, offer_code, utcnow())
    number = (
        await session.execute(select(func.coalesce(func.max(voucher_batches.c.number), 0)))
    ).scalar_one() + 1
    batch_id = str(uuid.uuid4())
    pepper = runtime.settings.voucher_pepper.get_secret_value()
    await session.execute(
        insert(voucher_batches).values(
            id=batch_id,
            number=number,
            offer_code=offer_code,
            price_version=price.version,
            quantity=quantity,
            state="active",
            created_by=by,
            created_at=utcnow(),
        )
    )
    cards = [(serial(number, i + 1), new_code()) for i in range(quantity)]
    await session.execute(
        insert(vouchers),
        [
            {
                "id": str(uuid.uuid4()),
                "batch_id": batch_id,
                "serial": s,
                "code_hash": code_hash(code, pepper),
                "used_at": None,
                "used_by_subscription": None,
            }
            for s, code in cards
        ],
    )
    return {
        "id": batch_id,
        "number": number,
        "offer_code": offer_code,
        "price_version": price.version,
        "quantity": quantity,
        "state": "active",
        "cards": [{"serial": s, "code": code} for s, code in cards],
    }


async def set_batch_state(session: AsyncSession, batch_id: str, state: str) -> None:
    result = await session.execute(
        update(voucher_batches).where(voucher_batches.c.id == batch_id).values(state=state)
    )
    if rows_affected(result) == 0:
        raise Conflict("No such batch.", slug="not-found", status=404)


async def check_rate(
    factory: async_sessionmaker[AsyncSession],
    runtime: BillingRuntime,
    customer_id: str,
    subscription_id: str,
) -> None:
    settings = runtime.settings
    since = utcnow() - timedelta(seconds=settings.voucher_failure_window_seconds)
    async with factory() as session:
        by_customer = (
            await session.execute(
                select(func.count()).where(
                    recharge_failures.c.customer_id == customer_id,
                    recharge_failures.c.at > since,
                )
            )
        ).scalar_one()
        by_line = (
            await session.execute(
                select(func.count()).where(
                    recharge_failures.c.subscription_id == subscription_id,
                    recharge_failures.c.at > since,
                )
            )
        ).scalar_one()
    if max(by_customer, by_line) >= settings.voucher_failures_allowed:
        raise TooManyRequests(
            "Too many wrong codes; try again later.",
            slug="voucher-attempts-exceeded",
            headers={"Retry-After": str(int(settings.voucher_failure_window_seconds))},
        )


async def record_failure(
    factory: async_sessionmaker[AsyncSession], customer_id: str, subscription_id: str
) -> None:
    async with factory() as session, session.begin():
        await session.execute(
            insert(recharge_failures).values(
                customer_id=customer_id, subscription_id=subscription_id, at=utcnow()
            )
        )


class WrongCode(Exception):
    pass


async def redeem(
    session: AsyncSession,
    runtime: BillingRuntime,
    *,
    subscription_id: str,
    customer_id: str | None,
    code: str,
) -> dict[str, Any]:
    """Uses the code once (a conditional update: of two at the same instant, one wins)."""
    now = utcnow()
    quote = await recharge_quote(session, subscription_id, customer_id, now)
    pepper = runtime.settings.voucher_pepper.get_secret_value()
    used = (
        await session.execute(
            update(vouchers)
            .where(
                vouchers.c.code_hash == code_hash(code, pepper),
                vouchers.c.used_at.is_(None),
                vouchers.c.batch_id.in_(
                    select(voucher_batches.c.id).where(voucher_batches.c.state == "active")
                ),
            )
            .values(used_at=now, used_by_subscription=subscription_id)
            .returning(vouchers.c.id, vouchers.c.batch_id, vouchers.c.serial)
        )
    ).one_or_none()
    if used is None:
        raise WrongCode()
    batch = (
        await session.execute(select(voucher_batches).where(voucher_batches.c.id == used.batch_id))
    ).one()
    price = await current_price(session, batch.offer_code, now)
    if batch.offer_code != quote.offer_code:
        raise Unprocessable(
            f"This card is for {batch.offer_code}, not this subscription's offer.",
            errors=[{"field": "body.code", "message": "card of another offer", "type": "value"}],
        )
    recharge = await apply_recharge(
        session,
        runtime,
        subscription_id=subscription_id,
        source="voucher",
        offer_code=batch.offer_code,
        price_version=batch.price_version,
        amount_centimes=price.price_centimes,
        # A card pays the offer; an Idoomly debt stays owed until a paid recharge.
        idoomly_centimes=0,
        voucher_id=used.id,
    )
    return recharge | {"serial": used.serial}


async def issue_batch(
    runtime: BillingRuntime, offer_code: str, quantity: int, by: str
) -> dict[str, Any]:
    """``create_batch`` in its own transaction. Never under an Idempotency-Key: a stored
    answer would keep the codes, and codes never rest in the database."""
    async with runtime.session_factory() as session, session.begin():
        return await create_batch(session, runtime, offer_code, quantity, by)


async def change_batch_state(runtime: BillingRuntime, batch_id: str, state: str) -> None:
    """``set_batch_state`` in its own transaction."""
    async with runtime.session_factory() as session, session.begin():
        await set_batch_state(session, batch_id, state)


async def recharge_with_code(
    runtime: BillingRuntime,
    *,
    subscription_id: str,
    owner: str | None,
    code: str,
) -> dict[str, Any]:
    """Recharge by voucher code: the line's rate of wrong codes checked first, a wrong code
    counted (in its own transaction) and answered 404."""
    async with runtime.session_factory() as session:
        line = await subscription_for(session, subscription_id, owner)
    await check_rate(runtime.session_factory, runtime, line.customer_id, subscription_id)
    try:
        async with runtime.session_factory() as session, session.begin():
            return await redeem(
                session,
                runtime,
                subscription_id=subscription_id,
                customer_id=owner,
                code=code,
            )
    except WrongCode:
        await record_failure(runtime.session_factory, line.customer_id, line.id)
        raise NotFound("No unused card has this code.", slug="voucher-not-found") from None
