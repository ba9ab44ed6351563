"""Subscriptions over HTTP: a customer's own, one per contract, suspension, Idoomly, vouchers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response, status
from pydantic import BaseModel, Field
from sqlalchemy import select

from sila_billing.api.deps import RuntimeDep
from sila_billing.api.views import (
    ACT_ROLES,
    SubscriptionRead,
    customer_scope,
    ensure_billing_agent,
    ensure_customer_in_scope,
    ensure_reader,
    ensure_row_in_scope,
)
from sila_billing.domain.subscriptions import state_at
from sila_billing.flows import subscriptions as flow
from sila_billing.flows import vouchers
from sila_billing.flows.common import utcnow
from sila_billing.flows.recharge import subscription_for
from sila_billing.tables import subscriptions
from sila_common.auth import CurrentPrincipal, Principal
from sila_common.problems import Forbidden, Unprocessable

router = APIRouter(tags=["subscriptions"])

# The same answer as flows.recharge.subscription_for's for an unknown line.
NO_SUBSCRIPTION = "No such subscription for this customer."


def subscription_view(row: Any, notice_days: int = 3) -> SubscriptionRead:
    from datetime import timedelta

    ends_at = row.ends_at
    idoomly_ends = row.idoomly_ends_at
    state = state_at(
        ends_at, utcnow(), suspended=row.suspended, notice=timedelta(days=notice_days)
    ).value
    if row.billing == "prepaid" and ends_at is None and not row.suspended:
        state = "expired"  # never recharged yet
    return SubscriptionRead(
        id=row.id,
        customer_id=row.customer_id,
        contract_id=row.contract_id,
        offer_code=row.offer_code,
        technology=row.technology,
        billing=row.billing,
        line_number=row.line_number,
        state=state,
        ends_at=ends_at,
        idoomly_ends_at=idoomly_ends if idoomly_ends and idoomly_ends > utcnow() else None,
        idoomly_owed_centimes=row.idoomly_owed_centimes,
    )


class SubscriptionCreate(BaseModel):
    customer_id: str = Field(min_length=1, max_length=36)
    contract_id: str = Field(min_length=1, max_length=36)
    offer_code: str = Field(min_length=1, max_length=40)
    line_number: str | None = Field(default=None, max_length=20)


class Suspension(BaseModel):
    reason: str = Field(min_length=3, max_length=300)


class RechargeCreate(BaseModel):
    subscription_id: str = Field(min_length=1, max_length=36)
    code: str = Field(min_length=12, max_length=40, pattern=r"^[0-9 \-]+$")


class RechargeRead(BaseModel):
    id: str
    subscription_id: str
    source: str
    offer_code: str
    amount_centimes: int
    starts_at: datetime
    ends_at: datetime
    serial: str | None = None


def _may_act_on(principal: Principal) -> str | None:
    """The customer whose line it must be (None: an agent acting for any customer)."""
    if principal.kind == "customer":
        return principal.customer_id
    if principal.kind == "agent" and principal.has_role(*ACT_ROLES):
        return None
    raise Forbidden("This needs a customer token or an agent role.")


@router.get(
    "/v1/subscriptions", response_model=list[SubscriptionRead], summary="A customer's lines"
)
async def list_subscriptions(
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    customer_id: Annotated[str | None, Query(max_length=36)] = None,
) -> Any:
    scoped = customer_scope(principal, customer_id)
    if scoped is None:
        raise Unprocessable(
            "Name the customer.",
            errors=[{"field": "query.customer_id", "message": "required", "type": "missing"}],
        )
    if principal.kind == "customer" and customer_id not in (None, scoped):
        return []
    await ensure_customer_in_scope(runtime, principal, scoped)
    async with runtime.session_factory() as session:
        rows = (
            await session.execute(
                select(subscriptions)
                .where(subscriptions.c.customer_id == scoped)
                .order_by(subscriptions.c.created_at, subscriptions.c.id)
                .limit(200)
            )
        ).all()
    days = runtime.settings.expiring_notice_days
    return [subscription_view(r, days) for r in rows]


@router.get("/v1/subscriptions/{subscription_id}", response_model=SubscriptionRead)
async def get_subscription(
    subscription_id: str, runtime: RuntimeDep, principal: CurrentPrincipal
) -> Any:
    ensure_reader(principal)
    owner = principal.customer_id if principal.kind == "customer" else None
    async with runtime.session_factory() as session:
        row = await subscription_for(session, subscription_id, owner)
    await ensure_customer_in_scope(runtime, principal, row.customer_id, NO_SUBSCRIPTION)
    return subscription_view(row, runtime.settings.expiring_notice_days)


@router.post(
    "/v1/subscriptions",
    status_code=status.HTTP_201_CREATED,
    response_model=SubscriptionRead,
    summary="The subscription of a contract (billing agents; one per contract)",
)
async def create_subscription(
    body: SubscriptionCreate, runtime: RuntimeDep, principal: CurrentPrincipal
) -> Any:
    ensure_billing_agent(principal)
    await ensure_customer_in_scope(runtime, principal, body.customer_id)
    fresh = await flow.subscribe_contract(
        runtime,
        customer_id=body.customer_id,
        contract_id=body.contract_id,
        offer_code=body.offer_code,
        line_number=body.line_number,
    )
    return subscription_view(fresh)


@router.post(
    "/v1/subscriptions/{subscription_id}/suspension",
    response_model=SubscriptionRead,
    summary="Suspend a subscription (billing agents)",
)
async def suspend(
    subscription_id: str, body: Suspension, runtime: RuntimeDep, principal: CurrentPrincipal
) -> Any:
    ensure_billing_agent(principal)
    await ensure_row_in_scope(runtime, principal, subscriptions, subscription_id, NO_SUBSCRIPTION)
    row = await flow.suspend_line(runtime, subscription_id, body.reason)
    return subscription_view(row)


@router.post(
    "/v1/subscriptions/{subscription_id}/idoomly",
    response_model=SubscriptionRead,
    summary="Idoomly: 36 hours at once on an expired ADSL or Fibre line (idempotent per period)",
)
async def idoomly(
    subscription_id: str,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    response: Response,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Any:
    owner = _may_act_on(principal)
    await ensure_row_in_scope(runtime, principal, subscriptions, subscription_id, NO_SUBSCRIPTION)
    granted = await flow.grant_idoomly_once(
        runtime,
        principal,
        subscription_id,
        owner,
        key=idempotency_key,
        render=lambda row: subscription_view(row).model_dump(mode="json"),
    )
    response.status_code = granted.status
    return granted.body


@router.post(
    "/v1/recharges",
    status_code=status.HTTP_201_CREATED,
    response_model=RechargeRead,
    summary="Recharge a line with a voucher code (app, portal, agency)",
)
async def recharge_by_code(
    body: RechargeCreate, runtime: RuntimeDep, principal: CurrentPrincipal
) -> Any:
    owner = _may_act_on(principal)
    await ensure_row_in_scope(
        runtime, principal, subscriptions, body.subscription_id, NO_SUBSCRIPTION
    )
    return await vouchers.recharge_with_code(
        runtime, subscription_id=body.subscription_id, owner=owner, code=body.code
    )
