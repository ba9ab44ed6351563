"""Redemption: points for a bonus or a coupon, never more than the account holds.

The account row is locked for the whole redemption, so concurrent requests on one account
take turns: each sees the balance the previous one left.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.auth import Principal
from sila_common.idempotency import Created, create_once
from sila_common.problems import Conflict, NotFound, Unprocessable
from sila_loyalty.domain.ledger import EntryReason, RewardKind
from sila_loyalty.domain.redemption import OPTIONS, InsufficientPoints, check_affordable
from sila_loyalty.events import POINTS_REDEEMED, PointsRedeemed
from sila_loyalty.flows.accounts import lock_account, points_of
from sila_loyalty.flows.grants import Source, grant, write_entry
from sila_loyalty.runtime import LoyaltyParts, LoyaltyRuntime, Render
from sila_loyalty.tables import redemptions

COUPON_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def _coupon_code() -> str:
    return "AT-" + "".join(secrets.choice(COUPON_ALPHABET) for _ in range(10))


async def redeem(
    session: AsyncSession,
    runtime: LoyaltyParts,
    *,
    customer_id: str,
    option_code: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    option = OPTIONS.get(option_code)
    if option is None:
        raise Unprocessable(
            f"No redemption option {option_code!r}.",
            slug="unknown-option",
            errors=[{"field": "body.option", "message": f"one of {sorted(OPTIONS)}"}],
        )
    account = await lock_account(session, customer_id)
    if account.erased_at is not None:
        raise NotFound(f"No loyalty account for customer {customer_id}.")
    balance = await points_of(session, customer_id)
    try:
        check_affordable(balance, option)
    except InsufficientPoints as exc:
        raise Conflict(
            f"{exc.needed} points are needed; the account holds {exc.balance}.",
            slug="insufficient-points",
            title="Not enough points",
            balance=exc.balance,
            needed=exc.needed,
        ) from exc
    redemption_id = str(uuid.uuid4())
    coupon = _coupon_code() if option.kind is RewardKind.COUPON else None
    await write_entry(
        session,
        customer_id=customer_id,
        kind=RewardKind.POINTS,
        quantity=-option.points,
        label=f"Échange : {option.label}",
        source=Source(key=f"redemption:{redemption_id}", reason=EntryReason.REDEMPTION),
        occurred_at=now,
        details={"redemption_id": redemption_id, "option": option.code},
    )
    await grant(
        session,
        runtime,
        customer_id=customer_id,
        kind=option.kind,
        quantity=option.quantity,
        label=option.label,
        source=Source(key=f"redemption:{redemption_id}:reward", reason=EntryReason.REDEMPTION),
        occurred_at=now,
        speed_mbps=option.speed_mbps,
        coupon_code=coupon,
        now=now,
    )
    row = {
        "id": redemption_id,
        "customer_id": customer_id,
        "option_code": option.code,
        "points": option.points,
        "kind": option.kind.value,
        "quantity": option.quantity,
        "coupon_code": coupon,
        "created_at": now,
    }
    await session.execute(insert(redemptions).values(**row))
    await runtime.outbox.record(
        session,
        POINTS_REDEEMED,
        subject=redemption_id,
        customer_id=customer_id,
        data=PointsRedeemed(
            redemption_id=redemption_id,
            customer_id=customer_id,
            points=option.points,
            option_code=option.code,
            reward_label=option.label,
            balance_after=balance - option.points,
        ),
    )
    return {**row, "balance_after": balance - option.points, "label": option.label}


async def page_of(
    session: AsyncSession, customer_id: str, *, after: tuple[datetime, str] | None, limit: int
) -> list[Any]:
    query = select(redemptions).where(redemptions.c.customer_id == customer_id)
    if after is not None:
        at, last_id = after
        query = query.where(
            or_(
                redemptions.c.created_at < at,
                and_(redemptions.c.created_at == at, redemptions.c.id < last_id),
            )
        )
    query = query.order_by(redemptions.c.created_at.desc(), redemptions.c.id.desc())
    return list((await session.execute(query.limit(limit + 1))).all())


async def redeem_once(
    runtime: LoyaltyRuntime,
    principal: Principal,
    *,
    customer_id: str,
    option_code: str,
    key: str | None,
    body: Any,
    render: Render,
) -> Created:
    """The redemption, once per Idempotency-Key."""

    async def work(session: AsyncSession) -> tuple[int, dict[str, Any]]:
        row = await redeem(session, runtime, customer_id=customer_id, option_code=option_code)
        return 201, render(row)

    return await create_once(runtime, principal, key=key, body=body, work=work)
