"""Billing's periodic work, next to the relay: settle pending payments past their window,
subscription notices (expiring, expired), overdue bills, reconciliation with the providers."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import structlog
from sqlalchemy import or_, select, update

from sila_billing.events import (
    SUBSCRIPTION_EXPIRED,
    SUBSCRIPTION_EXPIRING,
    SubscriptionExpired,
    SubscriptionExpiring,
)
from sila_billing.flows import bills, reconciliation
from sila_billing.flows.common import aware, settings_of, utcnow
from sila_billing.flows.payments import settle_overdue_payments
from sila_billing.tables import subscriptions
from sila_common.service import Runtime

log = structlog.get_logger(__name__)


async def subscription_notices(runtime: Runtime, limit: int) -> int:
    """One expiring notice and one expired notice per period end, claimed with SKIP LOCKED."""
    settings = settings_of(runtime)
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
            ends_at = aware(row.ends_at)
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
            elif row.expiring_notice_for is None or aware(row.expiring_notice_for) != ends_at:
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


async def run_once(runtime: Runtime) -> None:
    limit = settings_of(runtime).jobs_batch_size
    await settle_overdue_payments(runtime, limit)
    await subscription_notices(runtime, limit)
    await bills.mark_overdue(runtime, limit)
    await reconciliation.reconcile(runtime)


async def run_jobs(runtime: Runtime, stop: asyncio.Event) -> None:
    interval = settings_of(runtime).jobs_interval_seconds
    while not stop.is_set():
        try:
            await run_once(runtime)
        except Exception:  # a job that fails is retried at the next tick
            log.exception("billing jobs failed; retrying at the next tick")
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            pass
