"""What notify consumes: identity's directory events, and every event that may speak.

Two consumer groups: ``notify.messages`` (directory and customer messages) and
``notify.webhooks`` (partner fan-out and TMF621 hub listeners), so a slow partner table
never delays an OTP.
Both only write rows; the dispatcher and the webhook deliverer do the sending.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.consumer import ANY_TYPE
from sila_common.events import SERVICES, CloudEvent, topic_for
from sila_common.geography_overlay import GEOGRAPHY_CHANGED
from sila_common.service import ConsumerSpec
from sila_notify import directory
from sila_notify.flows.geography import named_places, remember_map_change
from sila_notify.flows.parking import park, release_parked
from sila_notify.flows.planning import (
    RecipientUnknown,
    defer_otp_inserts,
    flush_deferred,
    plan_event,
)
from sila_notify.flows.webhooks import tmf_hub
from sila_notify.flows.webhooks.fanout import PARTNER_CHANGED, fan_out, partner_changed
from sila_notify.runtime import NotifyContext
from sila_notify.settings import NotifySettings
from sila_notify.template_store import cache_for_batch

DIRECTORY_HANDLERS = {
    "identity.customer.registered": directory.remember_customer,
    "identity.customer.updated": directory.remember_customer,
    "identity.customer.erased": directory.forget_customer,
    "identity.consent.changed": directory.consent_changed,
}


async def on_event(session: AsyncSession, event: CloudEvent, context: NotifyContext) -> None:
    cache_for_batch(session)
    defer_otp_inserts(session)
    directory_handler = DIRECTORY_HANDLERS.get(event.type)
    if directory_handler is not None:
        # An erasure fails what is queued: the codes kept for this batch are queued first.
        await flush_deferred(session)
        await directory_handler(session, event)
    if event.type == GEOGRAPHY_CHANGED:
        # An admin's edit of the map: laid over the shipped reference; it speaks to nobody.
        await remember_map_change(session, event, context)
        return
    event = await named_places(session, event, context)
    try:
        await plan_event(session, context.settings, event)
    except RecipientUnknown:
        await park(session, event, context.clock())
        return
    if event.type in CUSTOMER_KNOWN:
        await release_parked(
            session,
            context.settings,
            event.customerid,
            prepare=lambda parked: named_places(session, parked, context),
        )


CUSTOMER_KNOWN = ("identity.customer.registered", "identity.customer.updated")

MESSAGES = ConsumerSpec[NotifySettings](
    name="notify.messages",
    topics=[topic_for(s) for s in ("identity", "tickets", "billing", "loyalty")],
    handlers={ANY_TYPE: on_event},
)


async def to_partners(session: AsyncSession, event: CloudEvent, context: NotifyContext) -> None:
    """Partner webhooks (CloudEvents as they are) and TMF621 hub listeners (TMF events)."""
    cache_for_batch(session)
    if event.type == PARTNER_CHANGED:
        await partner_changed(session, event)
    await fan_out(session, event)
    await tmf_hub.on_event(session, event, context.settings)


WEBHOOKS = ConsumerSpec[NotifySettings](
    name="notify.webhooks",
    topics=[topic_for(s) for s in SERVICES],
    handlers={ANY_TYPE: to_partners},
)
