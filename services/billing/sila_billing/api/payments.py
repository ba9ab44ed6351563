"""E-payment over HTTP: start, read (confirming with the provider while pending), the return
from the provider's page, refunds."""

from __future__ import annotations

from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Header, Query, Response, status
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select

from sila_billing.api.deps import RuntimeDep
from sila_billing.api.views import (
    BILLING_ROLE,
    PaymentPage,
    PaymentRead,
    caller_of,
    customer_scope,
    ensure_billing_agent,
    ensure_customer_in_scope,
    ensure_reader,
    ensure_row_in_scope,
    payment_view,
    scoped_to_wilayas,
)
from sila_billing.domain.money import MAX_AMOUNT_CENTIMES
from sila_billing.domain.payments import Method, PaymentState, Purpose
from sila_billing.flows import payments as flow
from sila_billing.tables import customers, payments
from sila_common.auth import CurrentPrincipal
from sila_common.db import newest_first
from sila_common.inputs import decode_time_cursor
from sila_common.pagination import next_time_cursor
from sila_common.problems import Forbidden, NotFound, Problem

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/v1/payments", tags=["payments"])

# The same answers as the use cases' for an unknown payment or bill.
NO_PAYMENT = "No such payment."
NO_BILL = "No such bill for this customer."


class PaymentCreate(BaseModel):
    purpose: Purpose
    method: Method
    invoice_id: str | None = Field(default=None, max_length=36)
    subscription_id: str | None = Field(default=None, max_length=36)
    amount_centimes: int | None = Field(
        default=None,
        gt=0,
        le=MAX_AMOUNT_CENTIMES,
        strict=True,
        description="Bills: what to pay (default: all that is owed). Recharges: the offer's "
        "price plus any Idoomly owed (given only to check it).",
    )
    customer_id: str | None = Field(
        default=None, max_length=36, description="Agents only: the customer paying."
    )
    language: str = Field(default="fr", pattern=r"^(fr|ar|en)$")

    @model_validator(mode="after")
    def names_its_target(self) -> PaymentCreate:
        if self.purpose is Purpose.BILL and not self.invoice_id:
            raise ValueError("a bill payment names invoice_id")
        if self.purpose is Purpose.RECHARGE and not self.subscription_id:
            raise ValueError("a recharge names subscription_id")
        return self


def _rendered(row: dict[str, Any]) -> dict[str, Any]:
    return payment_view(row).model_dump(mode="json")


class RefundCreate(BaseModel):
    amount_centimes: int = Field(gt=0, le=MAX_AMOUNT_CENTIMES, strict=True)
    reason: str = Field(min_length=3, max_length=500)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=PaymentRead,
    summary="Start a payment of a bill or a recharge (idempotent with Idempotency-Key)",
)
async def start_payment(
    body: PaymentCreate,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    response: Response,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Any:
    if principal.kind == "customer":
        if body.customer_id not in (None, principal.customer_id):
            raise NotFound("No such bill for this customer.")
        customer_id = principal.customer_id
    elif principal.kind == "agent" and principal.has_role(BILLING_ROLE):
        if body.customer_id is None:
            raise Forbidden("An agent names the customer paying (customer_id).")
        customer_id = body.customer_id
        await ensure_customer_in_scope(runtime, principal, customer_id, NO_BILL)
    else:
        raise Forbidden("Payments are made by the customer (or a billing agent for them).")
    assert customer_id is not None
    new = flow.NewPayment(
        customer_id=customer_id,
        purpose=body.purpose,
        method=body.method,
        invoice_id=body.invoice_id,
        subscription_id=body.subscription_id,
        amount_centimes=body.amount_centimes,
        language=body.language,
    )

    started = await flow.start_payment_once(
        runtime,
        principal,
        new,
        key=idempotency_key,
        body=body.model_dump(mode="json"),
        render=_rendered,
    )
    return started.render(response, location=f"/v1/payments/{started.body['id']}")


@router.get("", response_model=PaymentPage, summary="Payments, newest first")
async def list_payments(
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    customer_id: Annotated[str | None, Query(max_length=36)] = None,
    status_: Annotated[PaymentState | None, Query(alias="status")] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PaymentPage:
    scoped = customer_scope(principal, customer_id)
    if principal.kind == "customer" and customer_id not in (None, principal.customer_id):
        return PaymentPage(items=[], next_cursor=None)
    query = select(payments)
    if scoped is not None:
        await ensure_customer_in_scope(runtime, principal, scoped)
        query = query.where(payments.c.customer_id == scoped)
    elif scoped_to_wilayas(principal):
        # Every payment an agent scoped to some wilayas may see: their customers' only.
        query = query.where(
            payments.c.customer_id.in_(
                select(customers.c.customer_id).where(
                    customers.c.wilaya_code.in_(sorted(principal.wilayas))
                )
            )
        )
    if status_ is not None:
        query = query.where(payments.c.state == status_.value)
    after = decode_time_cursor(cursor) if cursor else None
    query = newest_first(query, payments.c.created_at, payments.c.id, after=after, limit=limit)
    async with runtime.session_factory() as session:
        rows = (await session.execute(query)).all()
    return PaymentPage(
        items=[payment_view(dict(r._mapping)) for r in rows[:limit]],
        next_cursor=next_time_cursor(rows, limit, "created_at"),
    )


@router.get(
    "/{payment_id}",
    response_model=PaymentRead,
    summary="One payment; while pending, its state is first confirmed with the provider",
)
async def get_payment(payment_id: str, runtime: RuntimeDep, principal: CurrentPrincipal) -> Any:
    ensure_reader(principal)
    caller = caller_of(principal)
    async with runtime.session_factory() as session:
        row = await flow.load_payment(session, payment_id, caller)
    await ensure_customer_in_scope(runtime, principal, row["customer_id"], NO_PAYMENT)
    if row["state"] == PaymentState.PENDING.value:
        row = await flow.confirm_payment(runtime, payment_id)
    return payment_view(row)


@router.get(
    "/{payment_id}/return",
    summary="Where the provider sends the customer back; the result is asked of the provider",
    response_class=RedirectResponse,
    status_code=303,
    responses={303: {"description": "to the portal's payment page"}},
)
async def payment_return(
    payment_id: str,
    runtime: RuntimeDep,
    order_id: Annotated[str | None, Query(alias="orderId", max_length=64)] = None,
    khlass_id: Annotated[str | None, Query(alias="payment_id", max_length=64)] = None,
) -> RedirectResponse:
    # No token: this is the customer's browser coming back. Nothing in the URL is trusted:
    # it only has to name the order we registered, then the provider is asked.
    async with runtime.session_factory() as session:
        row = (
            await session.execute(select(payments).where(payments.c.id == payment_id))
        ).one_or_none()
    claimed = order_id or khlass_id
    if row is None or claimed != row.provider_order_id:
        log.warning(
            "forged or mismatched payment return refused",
            payment_id=payment_id,
            claimed_order=claimed,
        )
        raise Problem(
            "This return does not match a payment.", status=400, slug="payment-return-refused"
        )
    await flow.confirm_payment(runtime, payment_id)
    target = runtime.settings.portal_payment_url.format(payment_id=payment_id)
    return RedirectResponse(target, status_code=303)


@router.post(
    "/{payment_id}/refunds",
    status_code=status.HTTP_201_CREATED,
    response_model=PaymentRead,
    summary="Refund part or all of a payment (billing agents; idempotent with Idempotency-Key)",
)
async def refund(
    payment_id: str,
    body: RefundCreate,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    response: Response,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Any:
    ensure_billing_agent(principal)
    await ensure_row_in_scope(runtime, principal, payments, payment_id, NO_PAYMENT)
    refunded = await flow.refund_once(
        runtime,
        principal,
        payment_id,
        body.amount_centimes,
        body.reason,
        key=idempotency_key,
        body={"payment_id": payment_id, **body.model_dump(mode="json")},
        render=_rendered,
    )
    return refunded.render(response, location=f"/v1/payments/{payment_id}")
