"""Billing's periodic work, next to the relay: settle pending payments past their window,
subscription notices (expiring, expired), overdue bills, reconciliation with the providers."""

from __future__ import annotations

import asyncio

import structlog

from sila_billing.flows import bills, reconciliation
from sila_billing.flows.payments import settle_overdue_payments
from sila_billing.flows.subscriptions import subscription_notices
from sila_billing.runtime import BillingRuntime

log = structlog.get_logger(__name__)


async def run_once(runtime: BillingRuntime) -> None:
    limit = runtime.settings.jobs_batch_size
    await settle_overdue_payments(runtime, limit)
    await subscription_notices(runtime, limit)
    await bills.mark_overdue(runtime, limit)
    await reconciliation.reconcile(runtime)


async def run_jobs(runtime: BillingRuntime, stop: asyncio.Event) -> None:
    interval = runtime.settings.jobs_interval_seconds
    while not stop.is_set():
        try:
            await run_once(runtime)
        except Exception:  # a job that fails is retried at the next tick
            log.exception("billing jobs failed; retrying at the next tick")
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            pass
