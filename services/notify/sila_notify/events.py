"""The events notify publishes on ``sila.notify`` (they reach the customer's timeline)."""

from __future__ import annotations

from pydantic import BaseModel

from sila_common.events import declare_event


class MessageSent(BaseModel):
    message_id: str
    customer_id: str
    channel: str
    template: str
    event_id: str
    attempts: int


class MessageDelivered(BaseModel):
    message_id: str
    customer_id: str
    channel: str
    template: str
    event_id: str


class MessageFailed(BaseModel):
    message_id: str
    customer_id: str
    channel: str
    template: str
    event_id: str
    reason: str
    # The channel tried next, when the customer allows another one.
    failover_channel: str | None = None


class WebhookSubscriptionDisabled(BaseModel):
    subscription_id: str
    owner: str
    url: str
    reason: str


MESSAGE_SENT = declare_event(
    "notify.message.sent",
    MessageSent,
    "A message left Sila for the customer (the provider accepted it).",
)
MESSAGE_DELIVERED = declare_event(
    "notify.message.delivered",
    MessageDelivered,
    "The provider confirmed the message reached the customer (SMS delivery report, inbox).",
)
MESSAGE_FAILED = declare_event(
    "notify.message.failed",
    MessageFailed,
    "A message could not be delivered on its channel; carries the provider's reason.",
)
WEBHOOK_SUBSCRIPTION_DISABLED = declare_event(
    "notify.webhook_subscription.disabled",
    WebhookSubscriptionDisabled,
    "A partner's webhook endpoint kept failing for days and was disabled; the partner is told.",
)
