"""Every event a partner subscribed to becomes a pending delivery (once per subscription)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.events import CloudEvent
from sila_notify.domain.webhook_policy import NEVER_DELIVERED, Audience, type_matches, view_for
from sila_notify.tables import webhook_deliveries, webhook_subscriptions
from sila_notify.template_store import session_cache


async def fan_out(session: AsyncSession, event: CloudEvent) -> None:
    """A delivery per subscription that asked for the type *and* whose owner may receive it,
    carrying only what that owner may see (domain/webhook_policy.py)."""
    if event.type in NEVER_DELIVERED:
        return
    views = []
    for sub in await _active(session):
        if not type_matches(sub.event_types, event.type):
            continue
        view = view_for(audience_of(sub), event.type, event.data)
        if view is not None:
            views.append((sub, view))
    if not views:
        return
    envelope = event.model_dump(mode="json")
    await queue_deliveries(
        session,
        [
            PendingDelivery(sub.id, event.id, event.type, {**envelope, "data": view})
            for sub, view in views
        ],
    )


@dataclass(frozen=True, slots=True)
class PendingDelivery:
    subscription_id: str
    event_id: str
    event_type: str
    payload: dict[str, Any]


async def queue_deliveries(session: AsyncSession, deliveries: list[PendingDelivery]) -> None:
    """Records each delivery as pending, due now; one already recorded for the same
    subscription and event is left as it is (a redelivered event queues nothing twice)."""
    if not deliveries:
        return
    now = datetime.now(UTC)
    rows = [
        {
            "id": str(uuid.uuid4()),
            "subscription_id": delivery.subscription_id,
            "event_id": delivery.event_id,
            "event_type": delivery.event_type,
            "payload": delivery.payload,
            "state": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "last_status_code": None,
            "last_error": None,
            "created_at": now,
            "completed_at": None,
        }
        for delivery in deliveries
    ]
    await session.execute(
        pg_insert(webhook_deliveries)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["subscription_id", "event_id"])
    )


def audience_of(subscription: Any) -> Audience:
    return Audience(owner=subscription.owner, scopes=frozenset(subscription.owner_scopes or ()))


def payload_now(subscription: Any, payload: dict[str, Any]) -> dict[str, Any] | None:
    """What a stored delivery may carry when it is sent (or replayed): the owner's scopes are
    judged again, so a delivery recorded before a scope was removed (or before the rule
    existed) is not sent. TMF621 listeners' bodies are built for them already."""
    if subscription.kind != "webhook":
        return payload
    data = payload.get("data")
    view = view_for(
        audience_of(subscription), str(payload.get("type")), data if isinstance(data, dict) else {}
    )
    return None if view is None else {**payload, "data": view}


async def _active(session: AsyncSession) -> list[Any]:
    """Active partner subscriptions, read once per consumer batch (see cache_for_batch)."""
    cache = session_cache(session)
    if cache is not None and "subscriptions" in cache:
        found: list[Any] = cache["subscriptions"]
        return found
    subscriptions = list(
        (
            await session.execute(
                select(
                    webhook_subscriptions.c.id,
                    webhook_subscriptions.c.event_types,
                    webhook_subscriptions.c.owner,
                    webhook_subscriptions.c.owner_scopes,
                ).where(
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


PARTNER_CHANGED = "identity.partner.changed"


async def partner_changed(session: AsyncSession, event: CloudEvent) -> None:
    """An administrator changed a partner's scopes or disabled it: its subscriptions shrink
    to what it still holds (nothing when disabled), and its TMF621 listeners stop when it may
    no longer read trouble tickets. Scopes never grow here: a partner widens a subscription
    by saving it with a token carrying them. Idempotent (an intersection)."""
    partner = str(event.data.get("partner_id") or "")
    held = set() if event.data.get("disabled") else {str(s) for s in event.data.get("scopes", [])}
    owner = f"partner:{partner}"[:150]
    rows = (
        await session.execute(
            select(
                webhook_subscriptions.c.id,
                webhook_subscriptions.c.kind,
                webhook_subscriptions.c.owner_scopes,
            ).where(
                or_(
                    webhook_subscriptions.c.owner == owner,
                    webhook_subscriptions.c.partner_id == partner,
                )
            )
        )
    ).all()
    now = datetime.now(UTC)
    for row in rows:
        if row.kind == "webhook":
            kept = sorted(set(row.owner_scopes or ()) & held)
            if kept != sorted(row.owner_scopes or ()):
                await session.execute(
                    update(webhook_subscriptions)
                    .where(webhook_subscriptions.c.id == row.id)
                    .values(owner_scopes=kept, updated_at=now)
                )
        elif "tmf621:read" not in held:
            await session.execute(
                update(webhook_subscriptions)
                .where(
                    webhook_subscriptions.c.id == row.id, webhook_subscriptions.c.state == "active"
                )
                .values(
                    state="disabled",
                    disabled_reason="the partner may no longer read trouble tickets",
                    updated_at=now,
                )
            )
    cache = session_cache(session)
    if cache is not None:
        cache.pop("subscriptions", None)
