"""Redemptions over HTTP: a customer spends their own points on a bonus or a coupon."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response, status
from pydantic import BaseModel, Field

from sila_common.auth import CurrentPrincipal
from sila_common.pagination import KeysetPage, decode_cursor, encode_cursor
from sila_common.problems import Forbidden, Unprocessable
from sila_loyalty.api.deps import RuntimeDep, ensure_may_read, ensure_reader
from sila_loyalty.domain.redemption import OPTIONS
from sila_loyalty.flows import redemptions as flows
from sila_loyalty.flows.accounts import find_account

router = APIRouter(prefix="/v1/loyalty", tags=["redemptions"])


class OptionRead(BaseModel):
    code: str
    points: int
    kind: str
    quantity: int
    label: str
    speed_mbps: int | None


class RedemptionCreate(BaseModel):
    customer_id: str = Field(min_length=1, max_length=36)
    option: str = Field(min_length=1, max_length=30, examples=sorted(OPTIONS))


class RedemptionRead(BaseModel):
    id: str
    customer_id: str
    option_code: str
    points: int
    kind: str
    quantity: int
    coupon_code: str | None
    created_at: datetime


class RedemptionDone(RedemptionRead):
    balance_after: int
    label: str


class RedemptionPage(KeysetPage[RedemptionRead]):
    pass


@router.get("/redemption-options", response_model=list[OptionRead], summary="What points buy")
async def list_options(principal: CurrentPrincipal) -> list[OptionRead]:
    return [
        OptionRead(
            code=o.code,
            points=o.points,
            kind=o.kind.value,
            quantity=o.quantity,
            label=o.label,
            speed_mbps=o.speed_mbps,
        )
        for o in OPTIONS.values()
    ]


@router.post(
    "/redemptions",
    status_code=status.HTTP_201_CREATED,
    response_model=RedemptionDone,
    summary="Spend your own points (never overdraws; idempotent with Idempotency-Key)",
)
async def redeem(
    body: RedemptionCreate,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    response: Response,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Any:
    if principal.kind != "customer":
        raise Forbidden("Only customers redeem their own points.")
    if principal.customer_id != body.customer_id:
        # Another customer's account does not exist as far as this caller knows.
        raise Forbidden("A customer redeems only from their own account.")

    redeemed = await flows.redeem_once(
        runtime,
        principal,
        customer_id=body.customer_id,
        option_code=body.option,
        key=idempotency_key,
        body=body.model_dump(mode="json"),
        render=lambda row: RedemptionDone(**row).model_dump(mode="json"),
    )
    response.status_code = redeemed.status
    if redeemed.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return redeemed.body


@router.get("/redemptions", response_model=RedemptionPage, summary="A customer's redemptions")
async def list_redemptions(
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    customer_id: Annotated[str | None, Query(max_length=36)] = None,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> RedemptionPage:
    ensure_reader(principal)
    if principal.kind == "customer":
        customer_id = customer_id or principal.customer_id
    if customer_id is None:
        raise Unprocessable(
            "Name the customer.",
            errors=[{"field": "query.customer_id", "message": "required for agents"}],
        )
    after = None
    if cursor is not None:
        at_raw, last_id = decode_cursor(cursor, size=2)
        try:
            after = (datetime.fromisoformat(str(at_raw)), str(last_id))
        except ValueError as exc:
            raise Unprocessable("The cursor is not one this API gave out.") from exc
    async with runtime.session_factory() as session:
        account = await find_account(session, customer_id)
        ensure_may_read(principal, account)
        rows = await flows.page_of(session, customer_id, after=after, limit=limit)
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = encode_cursor([last.created_at.isoformat(), last.id])
    return RedemptionPage(
        items=[RedemptionRead(**dict(r._mapping)) for r in page], next_cursor=next_cursor
    )
