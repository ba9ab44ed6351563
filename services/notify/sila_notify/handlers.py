"""What notify consumes: identity's directory events, and every event that may speak.

Two consumer groups: ``notify.messages`` (directory and customer messages) and
``notify.webhooks`` (partner fan-out), so a slow partner table never delays an OTP.
Both only write rows; the dispatcher and the webhook deliverer do the sending.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.consumer import ANY_TYPE
from sila_common.events import SERVICES, CloudEvent, topic_for
from sila_common.service import ConsumerSpec
from sila_notify import directory
from sila_notify.context import current_settings
from sila_notify.planning import plan_event
from sila_notify.webhooks.fanout import fan_out

DIRECTORY_HANDLERS = {
    "identity.customer.registered": directory.remember_customer,
    "identity.customer.updated": directory.remember_customer,
    "identity.customer.erased": directory.forget_customer,
    "identity.consent.changed": directory.consent_changed,
}


async def on_event(session: AsyncSession, event: CloudEvent) -> None:
    directory_handler = DIRECTORY_HANDLERS.get(event.type)
    if directory_handler is not None:
        await directory_handler(session, event)
    await plan_event(session, current_settings(), event)


MESSAGES = ConsumerSpec(
    name="notify.messages",
    topics=[topic_for(s) for s in ("identity", "tickets", "billing", "loyalty")],
    handlers={ANY_TYPE: on_event},
)

WEBHOOKS = ConsumerSpec(
    name="notify.webhooks",
    topics=[topic_for(s) for s in SERVICES],
    handlers={ANY_TYPE: fan_out},
)
