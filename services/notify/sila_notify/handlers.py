"""What notify consumes: identity's directory events, and every event that may speak.

Two consumer groups: ``notify.messages`` (directory and customer messages) and
``notify.webhooks`` (partner fan-out and TMF621 hub listeners), so a slow partner table
never delays an OTP.
Both only write rows; the dispatcher and the webhook deliverer do the sending.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.consumer import ANY_TYPE
from sila_common.events import SERVICES, CloudEvent, topic_for
from sila_common.service import ConsumerSpec
from sila_notify import directory
from sila_notify.context import current_settings
from sila_notify.planning import (
    RecipientUnknown,
    defer_otp_inserts,
    flush_deferred,
    plan_event,
)
from sila_notify.tables import parked_events
from sila_notify.template_store import cache_for_batch
from sila_notify.webhooks import tmf_hub
from sila_notify.webhooks.fanout import PARTNER_CHANGED, fan_out, partner_changed

DIRECTORY_HANDLERS = {
    "identity.customer.registered": directory.remember_customer,
    "identity.customer.updated": directory.remember_customer,
    "identity.customer.erased": directory.forget_customer,
    "identity.consent.changed": directory.consent_changed,
}


async def on_event(session: AsyncSession, event: CloudEvent) -> None:
    cache_for_batch(session)
    defer_otp_inserts(session)
    directory_handler = DIRECTORY_HANDLERS.get(event.type)
    if directory_handler is not None:
        # An erasure fails what is queued: the codes kept for this batch are queued first.
        await flush_deferred(session)
        await directory_handler(session, event)
    try:
        await plan_event(session, current_settings(), event)
    except RecipientUnknown:
        await park(session, event)
        return
    if event.type in CUSTOMER_KNOWN:
        await release_parked(session, event.customerid)


async def park(session: AsyncSession, event: CloudEvent) -> None:
    await session.execute(
        pg_insert(parked_events)
        .values(
            event_id=event.id,
            customer_id=event.customerid,
            envelope=event.model_dump(mode="json"),
            parked_at=datetime.now(UTC),
        )
        .on_conflict_do_nothing(index_elements=["event_id"])
    )


async def release_parked(session: AsyncSession, customer_id: str) -> None:
    """Plan what waited for this customer, in the order it happened."""
    rows = (
        await session.execute(
            select(parked_events.c.envelope).where(parked_events.c.customer_id == customer_id)
        )
    ).all()
    waiting = sorted((CloudEvent.model_validate(row.envelope) for row in rows), key=_when)
    for parked in waiting:
        await plan_event(session, current_settings(), parked)
    if waiting:
        await session.execute(
            delete(parked_events).where(parked_events.c.customer_id == customer_id)
        )


def _when(event: CloudEvent) -> datetime:
    return event.time


CUSTOMER_KNOWN = ("identity.customer.registered", "identity.customer.updated")

MESSAGES = ConsumerSpec(
    name="notify.messages",
    topics=[topic_for(s) for s in ("identity", "tickets", "billing", "loyalty")],
    handlers={ANY_TYPE: on_event},
)


async def to_partners(session: AsyncSession, event: CloudEvent) -> None:
    """Partner webhooks (CloudEvents as they are) and TMF621 hub listeners (TMF events)."""
    cache_for_batch(session)
    if event.type == PARTNER_CHANGED:
        await partner_changed(session, event)
    await fan_out(session, event)
    await tmf_hub.on_event(session, event)


WEBHOOKS = ConsumerSpec(
    name="notify.webhooks",
    topics=[topic_for(s) for s in SERVICES],
    handlers={ANY_TYPE: to_partners},
)
