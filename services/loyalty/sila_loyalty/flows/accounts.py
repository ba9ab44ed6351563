"""Accounts: opened from identity's registration, kept in step with the customer's changes,
scrubbed at erasure; read with balances derived from the ledger."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.outbox import forget_customer_history
from sila_common.problems import NotFound
from sila_loyalty.domain.ledger import RewardKind
from sila_loyalty.domain.referrals import new_code
from sila_loyalty.domain.tiers import Tier
from sila_loyalty.events import ACCOUNT_OPENED, AccountOpened
from sila_loyalty.runtime import LoyaltyParts
from sila_loyalty.tables import accounts, ledger_entries, messaging, referrals


async def lock_account(session: AsyncSession, customer_id: str) -> Any:
    """The customer's account, locked for this transaction (created empty if not yet known,
    when another service's event arrives before identity's registration)."""
    query = select(accounts).where(accounts.c.customer_id == customer_id).with_for_update()
    found = (await session.execute(query)).one_or_none()
    if found is not None:
        return found
    await session.execute(
        pg_insert(accounts)
        .values(
            customer_id=customer_id,
            referral_code=new_code(),
            opened_at=datetime.now(UTC),
            tier=Tier.BRONZE.value,
            offers=[],
        )
        .on_conflict_do_nothing(index_elements=["customer_id"])
    )
    return (await session.execute(query)).one()


async def lock_accounts(session: AsyncSession, customer_ids: Iterable[str]) -> dict[str, Any]:
    """Lock several accounts at once, in customer id order (created empty when unknown);
    returns their rows by customer id.

    A batch of events locks every account it will touch up front and in one order, so two
    engines reading different topics (identity's, billing's) with the same customers never
    hold each other's accounts crosswise.
    """
    ordered = sorted(set(customer_ids))
    if not ordered:
        return {}
    # Referral codes are made only for the accounts missing (not for the batch's every
    # customer, most of them known), then all are locked in id order as before.
    known = set(
        await session.scalars(
            select(accounts.c.customer_id).where(accounts.c.customer_id.in_(ordered))
        )
    )
    now = datetime.now(UTC)
    missing = [customer_id for customer_id in ordered if customer_id not in known]
    if missing:
        await session.execute(
            pg_insert(accounts).on_conflict_do_nothing(index_elements=["customer_id"]),
            [
                {
                    "customer_id": customer_id,
                    "referral_code": new_code(),
                    "opened_at": now,
                    "tier": Tier.BRONZE.value,
                    "offers": [],
                }
                for customer_id in missing
            ],
        )
    rows = await session.execute(
        select(accounts)
        .where(accounts.c.customer_id.in_(ordered))
        .order_by(accounts.c.customer_id)
        .with_for_update()
    )
    return {row.customer_id: row for row in rows.all()}


async def find_account(session: AsyncSession, customer_id: str) -> Any:
    row = (
        await session.execute(select(accounts).where(accounts.c.customer_id == customer_id))
    ).one_or_none()
    if row is None or row.erased_at is not None:
        raise NotFound(f"No loyalty account for customer {customer_id}.")
    return row


async def remember_customer(
    session: AsyncSession,
    runtime: LoyaltyParts,
    *,
    customer_id: str,
    data: dict[str, Any],
    at: datetime,
) -> bool:
    """Fill the account from identity's state of the customer; True when newly registered."""
    account = await lock_account(session, customer_id)
    if account.erased_at is not None:
        return False
    first = account.registered_at is None
    changes: dict[str, Any] = {
        "wilaya_code": str(data.get("wilaya_code") or account.wilaya_code or "")[:2] or None,
        "phone": (str(data["phone"])[:20] if data.get("phone") else account.phone),
        "language": str(data.get("language") or account.language or "fr")[:5],
    }
    if first:
        changes["registered_at"] = at
    await session.execute(
        update(accounts).where(accounts.c.customer_id == customer_id).values(**changes)
    )
    if first:
        await runtime.outbox.record(
            session,
            ACCOUNT_OPENED,
            subject=customer_id,
            customer_id=customer_id,
            data=AccountOpened(
                customer_id=customer_id, tier=account.tier, referral_code=account.referral_code
            ),
        )
    return first


async def remember_offer(session: AsyncSession, customer_id: str, offer_code: str) -> None:
    account = await lock_account(session, customer_id)
    offers = sorted(set(account.offers or []) | {offer_code[:50]})
    await session.execute(
        update(accounts).where(accounts.c.customer_id == customer_id).values(offers=offers)
    )


async def erase_customer(session: AsyncSession, customer_id: str) -> None:
    """Law 18-07: the phone goes; the ledger keeps its amounts (accounting), no personal data."""
    await lock_account(session, customer_id)
    await session.execute(
        update(accounts)
        .where(accounts.c.customer_id == customer_id)
        .values(phone=None, erased_at=datetime.now(UTC))
    )
    await session.execute(
        update(referrals).where(referrals.c.referrer_id == customer_id).values(referee_phone=None)
    )
    await session.execute(
        update(referrals).where(referrals.c.referee_id == customer_id).values(referee_phone=None)
    )
    await forget_customer_history(session, messaging, customer_id)


async def balances_of(session: AsyncSession, customer_id: str) -> dict[str, int]:
    rows = await session.execute(
        select(ledger_entries.c.kind, func.coalesce(func.sum(ledger_entries.c.quantity), 0))
        .where(ledger_entries.c.customer_id == customer_id)
        .group_by(ledger_entries.c.kind)
    )
    totals = {kind.value: 0 for kind in RewardKind}
    for kind, total in rows.all():
        totals[str(kind)] = int(total)
    return totals


async def points_of(session: AsyncSession, customer_id: str) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(ledger_entries.c.quantity), 0)).where(
            ledger_entries.c.customer_id == customer_id,
            ledger_entries.c.kind == RewardKind.POINTS.value,
        )
    )
    return int(total or 0)
