"""The events billing publishes on ``sila.billing`` (all keyed by customer id)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from sila_common.events import declare_event


class InvoiceIssued(BaseModel):
    invoice_id: str
    number: str
    customer_id: str
    subscription_id: str
    period: str
    amount_centimes: int
    due_at: datetime


class InvoiceOverdue(BaseModel):
    invoice_id: str
    number: str
    customer_id: str
    amount_centimes: int
    outstanding_centimes: int
    due_at: datetime


class InvoicePaid(BaseModel):
    invoice_id: str
    number: str
    customer_id: str
    amount_centimes: int


class PaymentSucceeded(BaseModel):
    payment_id: str
    customer_id: str
    purpose: str
    method: str
    amount_centimes: int
    invoice_id: str | None
    subscription_id: str | None


class PaymentFailed(BaseModel):
    payment_id: str
    customer_id: str
    purpose: str
    method: str
    amount_centimes: int
    # failed (declined, abandoned) or expired
    state: str
    reason: str | None


class PaymentRefunded(BaseModel):
    payment_id: str
    customer_id: str
    amount_centimes: int
    refunded_total_centimes: int
    whole: bool


class SubscriptionRecharged(BaseModel):
    subscription_id: str
    customer_id: str
    offer_code: str
    source: str
    amount_centimes: int
    expires_at: datetime


class SubscriptionExpiring(BaseModel):
    subscription_id: str
    customer_id: str
    offer_code: str
    expires_at: datetime


class SubscriptionExpired(BaseModel):
    subscription_id: str
    customer_id: str
    offer_code: str
    expired_at: datetime


class SubscriptionSuspended(BaseModel):
    subscription_id: str
    customer_id: str
    offer_code: str
    reason: str


class IdoomlyGranted(BaseModel):
    subscription_id: str
    customer_id: str
    offer_code: str
    expires_at: datetime
    price_centimes: int


INVOICE_ISSUED = declare_event(
    "billing.invoice.issued",
    InvoiceIssued,
    "A bill was issued for a postpaid line and period (amount and due date: the free bill SMS).",
)
INVOICE_OVERDUE = declare_event(
    "billing.invoice.overdue",
    InvoiceOverdue,
    "A bill passed its due date unpaid (the reminder).",
)
INVOICE_PAID = declare_event("billing.invoice.paid", InvoicePaid, "A bill was paid in full.")
PAYMENT_SUCCEEDED = declare_event(
    "billing.payment.succeeded",
    PaymentSucceeded,
    "An e-payment was confirmed with the provider and credited.",
)
PAYMENT_FAILED = declare_event(
    "billing.payment.failed",
    PaymentFailed,
    "An e-payment was declined, abandoned or expired; nothing was charged.",
)
PAYMENT_REFUNDED = declare_event(
    "billing.payment.refunded",
    PaymentRefunded,
    "A billing agent refunded part or all of a payment.",
)
SUBSCRIPTION_RECHARGED = declare_event(
    "billing.subscription.recharged",
    SubscriptionRecharged,
    "A prepaid subscription was recharged (payment, voucher or agency) until a new end.",
)
SUBSCRIPTION_EXPIRING = declare_event(
    "billing.subscription.expiring",
    SubscriptionExpiring,
    "A prepaid subscription ends within the notice period.",
)
SUBSCRIPTION_EXPIRED = declare_event(
    "billing.subscription.expired",
    SubscriptionExpired,
    "A prepaid subscription reached its end without a recharge.",
)
SUBSCRIPTION_SUSPENDED = declare_event(
    "billing.subscription.suspended",
    SubscriptionSuspended,
    "A billing agent suspended a subscription.",
)
IDOOMLY_GRANTED = declare_event(
    "billing.idoomly.granted",
    IdoomlyGranted,
    "An expired ADSL or Fibre subscription was reactivated for 36 hours (Idoomly).",
)
