"""Every event a partner subscribed to becomes a pending delivery (once per subscription)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.db import insert_for
from sila_common.events import CloudEvent
from sila_notify.domain.webhook_policy import NEVER_DELIVERED, type_matches
from sila_notify.tables import webhook_deliveries, webhook_subscriptions
from sila_notify.template_store import session_cache


async def fan_out(session: AsyncSession, event: CloudEvent) -> None:
    if event.type in NEVER_DELIVERED:
        return
    subscriptions = [
        sub for sub in await _active(session) if type_matches(sub.event_types, event.type)
    ]
    if not subscriptions:
        return
    now = datetime.now(UTC)
    rows = [
        {
            "id": str(uuid.uuid4()),
            "subscription_id": sub.id,
            "event_id": event.id,
            "event_type": event.type,
            "payload": event.model_dump(mode="json"),
            "state": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "last_status_code": None,
            "last_error": None,
            "created_at": now,
            "completed_at": None,
        }
        for sub in subscriptions
    ]
    if rows:
        await session.execute(
            insert_for(session)(webhook_deliveries)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["subscription_id", "event_id"])
        )


async def _active(session: AsyncSession) -> list[Any]:
    """Active partner subscriptions, read once per consumer batch (see cache_for_batch)."""
    cache = session_cache(session)
    if cache is not None and "subscriptions" in cache:
        found: list[Any] = cache["subscriptions"]
        return found
    subscriptions = list(
        (
            await session.execute(
                select(webhook_subscriptions.c.id, webhook_subscriptions.c.event_types).where(
                    webhook_subscriptions.c.state == "active",
                    # TMF621 hub listeners get TMF events instead (webhooks/tmf_hub.py).
                    webhook_subscriptions.c.kind == "webhook",
                )
            )
        ).all()
    )
    if cache is not None:
        cache["subscriptions"] = subscriptions
    return subscriptions
