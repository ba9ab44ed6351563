"""What billing's answers look like, and who may do what (the role x endpoint matrix is in
docs/billing.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Table, select

from sila_billing.flows.common import Caller
from sila_billing.flows.customers import wilaya_of
from sila_billing.runtime import BillingRuntime
from sila_common.auth import Principal
from sila_common.identity_client import IdentityUnavailable
from sila_common.pagination import KeysetPage
from sila_common.problems import Forbidden, NotFound
from sila_common.roles import CUSTOMER_CARE, FRONT_OFFICE, Role

BILLING_ROLE = Role.BILLING
# Agents who may read a customer's billing (the call centre answers "did my payment go?"):
# customer care, as one customer's records in every service (docs/security.md).
READ_ROLES = CUSTOMER_CARE
# Agents who act on a customer's line for them (Idoomly, a recharge by voucher): the front
# office and billing.
ACT_ROLES = (*FRONT_OFFICE, Role.BILLING)


def caller_of(principal: Principal) -> Caller:
    return Caller.of(principal)


def ensure_reader(principal: Principal) -> None:
    if principal.kind == "customer":
        return
    if principal.kind == "agent" and principal.has_role(*READ_ROLES):
        return
    raise Forbidden("This needs a customer token or an agent role.")


def ensure_billing_agent(principal: Principal) -> None:
    if principal.kind != "agent" or not principal.has_role(BILLING_ROLE):
        raise Forbidden("This needs the billing role.")


def scoped_to_wilayas(principal: Principal) -> bool:
    """An agent who serves some wilayas only (not every one: "*")."""
    return principal.kind == "agent" and "*" not in principal.wilayas


async def ensure_customer_in_scope(
    runtime: BillingRuntime,
    principal: Principal,
    customer_id: str,
    not_found: str = "No such customer.",
) -> None:
    """An agent scoped to some wilayas acts on the customers of those wilayas only. Outside
    them the agent learns nothing, not even that the customer exists: the same 404 as an
    unknown customer (docs/security.md). A customer billing's directory lacks is asked of
    identity (and the answer kept); a customer only ever reaches their own (checked by the
    caller); agents with every wilaya and services are not limited.

    Identity unreachable while the directory lacks the customer: for a scoped agent the
    same 404 (a 503 there, beside the 404 of a customer the directory places elsewhere,
    would tell that the customer exists in another wilaya); they may try again later."""
    if not scoped_to_wilayas(principal):
        return
    try:
        known, wilaya = await wilaya_of(runtime, customer_id)
    except IdentityUnavailable:
        raise NotFound(not_found) from None
    if not known or not principal.serves_wilaya(wilaya):
        raise NotFound(not_found)


def ensure_national_billing_agent(principal: Principal) -> None:
    """Work over every customer at once (the bill run, reconciliation with the providers'
    national reports, whose differences may name no customer): billing agents of every
    wilaya only; an agent scoped to some wilayas is refused (403: never opened to them)."""
    ensure_billing_agent(principal)
    if scoped_to_wilayas(principal):
        raise Forbidden("This needs the billing role over every wilaya.")


def customer_scope(principal: Principal, customer_id: str | None) -> str | None:
    """The customer a list is about: a customer only ever sees their own."""
    ensure_reader(principal)
    if principal.kind == "customer":
        return principal.customer_id
    return customer_id


class PaymentRead(BaseModel):
    id: str
    number: str
    customer_id: str
    purpose: str
    method: str
    status: str
    amount_centimes: int
    refunded_centimes: int
    invoice_id: str | None
    subscription_id: str | None
    redirect_url: str | None
    masked_pan: str | None
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime


def payment_view(row: dict[str, Any]) -> PaymentRead:
    return PaymentRead(
        id=row["id"],
        number=row["number"],
        customer_id=row["customer_id"],
        purpose=row["purpose"],
        method=row["method"],
        status=row["state"],
        amount_centimes=row["amount_centimes"],
        refunded_centimes=row["refunded_centimes"],
        invoice_id=row["invoice_id"],
        subscription_id=row["subscription_id"],
        redirect_url=row["redirect_url"] if row["state"] == "pending" else None,
        masked_pan=row["masked_pan"],
        failure_reason=row["failure_reason"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class PaymentPage(KeysetPage[PaymentRead]):
    pass


class SubscriptionRead(BaseModel):
    id: str
    customer_id: str
    contract_id: str
    offer_code: str
    technology: str
    billing: str
    line_number: str | None
    state: str
    ends_at: datetime | None
    idoomly_ends_at: datetime | None
    idoomly_owed_centimes: int


class InvoiceRead(BaseModel):
    id: str
    number: str
    customer_id: str
    subscription_id: str
    period: str
    amount_centimes: int
    paid_centimes: int
    outstanding_centimes: int
    status: str
    issued_at: datetime
    due_at: datetime
    pdf_url: str


class InvoicePage(KeysetPage[InvoiceRead]):
    pass


async def owner_of(runtime: BillingRuntime, table: Table, row_id: str) -> str | None:
    """The customer a subscription, bill or payment is of (None: no such row)."""
    async with runtime.session_factory() as session:
        owner = (
            await session.execute(select(table.c.customer_id).where(table.c.id == row_id))
        ).scalar_one_or_none()
    return None if owner is None else str(owner)


async def ensure_row_in_scope(
    runtime: BillingRuntime, principal: Principal, table: Table, row_id: str, not_found: str
) -> None:
    """A subscription, bill or payment of a customer outside a scoped agent's wilayas: the
    same 404 as an unknown one (an unknown one is left to the use case's own 404)."""
    if not scoped_to_wilayas(principal):
        return
    owner = await owner_of(runtime, table, row_id)
    if owner is not None:
        await ensure_customer_in_scope(runtime, principal, owner, not_found)
