"""Delivers pending webhooks, signed the Standard Webhooks way, retried for about three days.

The ``webhook-id`` is the delivery's id: the same on every retry and on a replay, so a
partner can drop what it already processed. A subscription without a secret (a TMF621 hub
listener) gets a plain JSON POST; its body carries its own idempotent ``eventId``. After the
last scheduled retry fails the delivery is failed, the endpoint disabled and the partner told
(an event).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sila_common.aio import wait_or_timeout
from sila_common.db import as_utc, inline, rows_affected
from sila_common.destinations import check_destination
from sila_common.outbox import Outbox
from sila_common.settings import Profile
from sila_notify.domain.webhook_policy import DestinationRefused, next_retry_delay
from sila_notify.domain.webhook_signature import webhook_headers
from sila_notify.events import WEBHOOK_SUBSCRIPTION_DISABLED, WebhookSubscriptionDisabled
from sila_notify.flows.webhooks.fanout import payload_now
from sila_notify.settings import NotifySettings
from sila_notify.tables import webhook_attempts, webhook_deliveries, webhook_subscriptions

log = structlog.get_logger(__name__)

NOT_ALLOWED_ANY_MORE = "not allowed for the subscription's owner any more"


def signing_secrets(subscription: Any, now: datetime) -> list[str]:
    """The current secret, and the previous one while its overlap lasts (none: unsigned)."""
    if not subscription.secret:
        return []
    current = [str(subscription.secret)]
    expires = as_utc(subscription.previous_secret_expires_at)
    if subscription.previous_secret and expires is not None and expires > now:
        current.append(str(subscription.previous_secret))
    return current


class WebhookDeliverer:
    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        settings: NotifySettings,
        profile: Profile,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.outbox = outbox
        self.settings = settings
        self.profile = profile
        self.client = client or httpx.AsyncClient(
            timeout=settings.webhook_timeout_seconds, follow_redirects=False
        )

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                done = await self.run_once()
            except Exception as error:
                log.exception("webhooks.cycle_failed", error=type(error).__name__)
                await wait_or_timeout(stop, 1.0)
                continue
            if done == 0:
                await wait_or_timeout(stop, self.settings.dispatcher_poll_seconds)

    async def run_once(self) -> int:
        claimed = await self.claim()
        await asyncio.gather(*(self.deliver(row) for row in claimed))
        return len(claimed)

    async def claim(self) -> list[Any]:
        now = datetime.now(UTC)
        query = (
            select(webhook_deliveries.c.id)
            .where(
                webhook_deliveries.c.state == inline("pending"),
                webhook_deliveries.c.next_attempt_at <= now,
            )
            .order_by(webhook_deliveries.c.next_attempt_at)
            .limit(inline(self.settings.dispatcher_batch))
        )
        query = query.with_for_update(skip_locked=True)
        async with self.session_factory() as session, session.begin():
            ids = list((await session.execute(query)).scalars())
            if not ids:
                return []
            # A crashed deliverer's claim expires: the row becomes due again after the lease.
            lease = now + timedelta(seconds=self.settings.sending_lease_seconds)
            result = await session.execute(
                update(webhook_deliveries)
                .where(webhook_deliveries.c.id.in_(ids), webhook_deliveries.c.state == "pending")
                .values(attempts=webhook_deliveries.c.attempts + 1, next_attempt_at=lease)
                .returning(webhook_deliveries)
            )
            return list(result.all())

    async def deliver(self, row: Any) -> None:
        now = datetime.now(UTC)
        async with self.session_factory() as session:
            subscription = (
                await session.execute(
                    select(webhook_subscriptions).where(
                        webhook_subscriptions.c.id == row.subscription_id
                    )
                )
            ).one_or_none()
        if subscription is None:
            return  # removed with its deliveries (unsubscribed, or a hub listener dropped)
        if subscription.state != "active":
            await self._finish(row, state="failed", status=None, error="endpoint disabled", took=0)
            return
        payload = payload_now(subscription, dict(row.payload))
        if payload is None:
            await self._finish(row, state="failed", status=None, error=NOT_ALLOWED_ANY_MORE, took=0)
            return
        body = json.dumps(payload, separators=(",", ":")).encode()
        secrets = signing_secrets(subscription, now)
        headers = webhook_headers(secrets, row.id, int(now.timestamp()), body) if secrets else {}
        headers["content-type"] = "application/json"
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            destination = await check_destination(subscription.url, self.profile)
            pinned = destination.request_args()
            response = await self.client.post(
                pinned["url"],
                content=body,
                headers={**headers, **pinned["headers"]},
                extensions=pinned["extensions"],
            )
            status = response.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except DestinationRefused as refused:
            error = f"destination refused: {refused}"
        except httpx.HTTPError as failure:
            error = f"{type(failure).__name__}"
        took = int((time.perf_counter() - started) * 1000)
        if error is None:
            await self._finish(row, state="succeeded", status=status, error=None, took=took)
            return
        delay = next_retry_delay(
            int(row.attempts),
            self.settings.webhook_retry_schedule,
            jitter_ratio=self.settings.webhook_jitter_ratio,
        )
        if delay is None:
            await self._finish(row, state="failed", status=status, error=error, took=took)
            await self._disable(subscription, reason=f"deliveries kept failing: {error}")
            return
        async with self.session_factory() as session, session.begin():
            result = await session.execute(
                update(webhook_deliveries)
                .where(webhook_deliveries.c.id == row.id)
                .values(
                    next_attempt_at=datetime.now(UTC) + timedelta(seconds=delay),
                    last_status_code=status,
                    last_error=error,
                )
            )
            if rows_affected(result):
                await self._log_attempt(session, row.id, status, error, took)

    async def _finish(
        self, row: Any, *, state: str, status: int | None, error: str | None, took: int
    ) -> None:
        async with self.session_factory() as session, session.begin():
            result = await session.execute(
                update(webhook_deliveries)
                .where(webhook_deliveries.c.id == row.id)
                .values(
                    state=state,
                    completed_at=datetime.now(UTC),
                    last_status_code=status,
                    last_error=error,
                )
            )
            # The delivery may have been removed meanwhile (its subscription dropped).
            if rows_affected(result):
                await self._log_attempt(session, row.id, status, error, took)

    async def _log_attempt(
        self,
        session: AsyncSession,
        delivery_id: str,
        status: int | None,
        error: str | None,
        took: int,
    ) -> None:
        await session.execute(
            insert(webhook_attempts).values(
                delivery_id=delivery_id,
                attempted_at=datetime.now(UTC),
                status_code=status,
                error=error,
                duration_ms=took,
            )
        )

    async def _disable(self, subscription: Any, *, reason: str) -> None:
        async with self.session_factory() as session, session.begin():
            result = await session.execute(
                update(webhook_subscriptions)
                .where(
                    webhook_subscriptions.c.id == subscription.id,
                    webhook_subscriptions.c.state == "active",
                )
                .values(
                    state="disabled", disabled_reason=reason[:500], updated_at=datetime.now(UTC)
                )
            )
            if rows_affected(result):
                await self.outbox.record(
                    session,
                    WEBHOOK_SUBSCRIPTION_DISABLED,
                    subject=subscription.id,
                    customer_id=subscription.owner,
                    data=WebhookSubscriptionDisabled(
                        subscription_id=subscription.id,
                        owner=subscription.owner,
                        url=subscription.url,
                        reason=reason[:500],
                    ),
                    event_id=str(uuid.uuid4()),
                )
        log.warning("webhooks.endpoint_disabled", subscription_id=subscription.id)

    async def close(self) -> None:
        await self.client.aclose()
