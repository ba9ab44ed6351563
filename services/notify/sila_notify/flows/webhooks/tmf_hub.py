"""TMF621 hub listeners: kept from tickets' events, and fed TMF trouble-ticket events.

A listener is a ``webhook_subscriptions`` row of kind ``tmf621`` (no secret, so unsigned), and
each TMF event for it a ``webhook_deliveries`` row whose ``event_id`` is the TMF ``eventId``:
the partner webhooks' deliverer sends them, with the same retries, log, disabling and
destination check. The unique (subscription, event id) makes a redelivered event queue nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.events import CloudEvent
from sila_notify.domain.tmf_hub import (
    HUB_EVENT_TYPES,
    HUB_SUBSCRIPTION_CHANGED,
    TICKET_OPENED,
    TICKET_STATUS_CHANGED,
    hears,
    tmf_events,
)
from sila_notify.flows.webhooks.fanout import PendingDelivery, queue_deliveries
from sila_notify.settings import NotifySettings
from sila_notify.tables import webhook_attempts, webhook_deliveries, webhook_subscriptions

KIND = "tmf621"


def listener_owner(partner_id: str, reach: str) -> str:
    """The owner as the webhook API names it: an ``all`` listener is an administrator's."""
    return f"{'agent' if reach == 'all' else 'partner'}:{partner_id}"[:150]


async def listener_changed(session: AsyncSession, event: CloudEvent) -> None:
    """``tickets.hub_subscription.changed``: keep the listener, or drop it with its deliveries.

    One subscription's events are keyed by its partner, so they arrive in order.
    """
    data = event.data
    subscription_id = str(data["subscription_id"])
    if not data.get("active"):
        await drop_listener(session, subscription_id)
        return
    partner_id = str(data["partner_id"])
    reach = "all" if data.get("reach") == "all" else "own"
    wanted = [t for t in data.get("event_types") or [] if t in HUB_EVENT_TYPES]
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "kind": KIND,
        "owner": listener_owner(partner_id, reach),
        "partner_id": partner_id[:150],
        "reach": reach,
        "url": str(data["callback"]),
        "event_types": wanted or list(HUB_EVENT_TYPES),
        "description": "TMF621 hub listener",
        "state": "active",
        "disabled_reason": None,
        "updated_at": now,
    }
    await session.execute(
        pg_insert(webhook_subscriptions)
        .values(
            id=subscription_id,
            secret=None,
            previous_secret=None,
            previous_secret_expires_at=None,
            created_at=now,
            **values,
        )
        .on_conflict_do_update(index_elements=["id"], set_=values)
    )


async def drop_listener(session: AsyncSession, subscription_id: str) -> None:
    kind = (
        await session.execute(
            select(webhook_subscriptions.c.kind).where(
                webhook_subscriptions.c.id == subscription_id
            )
        )
    ).scalar_one_or_none()
    if kind != KIND:
        return
    deliveries = select(webhook_deliveries.c.id).where(
        webhook_deliveries.c.subscription_id == subscription_id
    )
    await session.execute(
        delete(webhook_attempts).where(webhook_attempts.c.delivery_id.in_(deliveries))
    )
    await session.execute(
        delete(webhook_deliveries).where(webhook_deliveries.c.subscription_id == subscription_id)
    )
    await session.execute(
        delete(webhook_subscriptions).where(webhook_subscriptions.c.id == subscription_id)
    )


async def ticket_changed(
    session: AsyncSession, event: CloudEvent, settings: NotifySettings
) -> None:
    """A ticket opened or moved: one pending delivery per listener and TMF event it wants."""
    events = tmf_events(
        event_type=event.type,
        event_id=event.id,
        time=event.time,
        data=event.data,
        public_base_url=settings.tmf_public_base_url,
    )
    if not events:
        return
    listeners = (
        await session.execute(
            select(
                webhook_subscriptions.c.id,
                webhook_subscriptions.c.event_types,
                webhook_subscriptions.c.partner_id,
                webhook_subscriptions.c.reach,
            ).where(webhook_subscriptions.c.kind == KIND, webhook_subscriptions.c.state == "active")
        )
    ).all()
    ticket_partner = event.data.get("partner_id")
    deliveries = [
        PendingDelivery(listener.id, tmf.event_id, tmf.event_type, tmf.body)
        for listener in listeners
        for tmf in events
        if hears(
            reach=listener.reach,
            listener_partner_id=listener.partner_id,
            wanted=listener.event_types or [],
            ticket_partner_id=None if ticket_partner is None else str(ticket_partner),
            tmf_type=tmf.event_type,
        )
    ]
    await queue_deliveries(session, deliveries)


async def on_event(session: AsyncSession, event: CloudEvent, settings: NotifySettings) -> None:
    """What the hub needs from any event on the partner consumer (most need nothing)."""
    if event.type == HUB_SUBSCRIPTION_CHANGED:
        await listener_changed(session, event)
    elif event.type in (TICKET_OPENED, TICKET_STATUS_CHANGED):
        await ticket_changed(session, event, settings)
