"""Redemptions over HTTP: a customer spends their own points on a bonus or a coupon."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response, status
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.app import RuntimeDep
from sila_common.auth import CurrentPrincipal
from sila_common.idempotency import run_idempotent
from sila_common.pagination import decode_cursor, encode_cursor
from sila_common.problems import Forbidden, Unprocessable
from sila_loyalty.api.deps import caller_label, ensure_may_read
from sila_loyalty.domain.redemption import OPTIONS
from sila_loyalty.flows import redemptions as flows
from sila_loyalty.flows.accounts import find_account
from sila_loyalty.flows.common import aware

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


class RedemptionPage(BaseModel):
    items: list[RedemptionRead]
    next_cursor: str | None


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

    async def work(session: AsyncSession) -> tuple[int, dict[str, Any]]:
        row = await flows.redeem(
            session, runtime, customer_id=body.customer_id, option_code=body.option
        )
        return status.HTTP_201_CREATED, RedemptionDone(**row).model_dump(mode="json")

    code, payload, replayed = await run_idempotent(
        runtime.session_factory,
        runtime.definition.tables.idempotency_keys,
        key=idempotency_key,
        principal=caller_label(principal),
        body=body.model_dump(mode="json"),
        work=work,
    )
    response.status_code = code
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return payload


@router.get("/redemptions", response_model=RedemptionPage, summary="A customer's redemptions")
async def list_redemptions(
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    customer_id: Annotated[str | None, Query(max_length=36)] = None,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> RedemptionPage:
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
        next_cursor = encode_cursor(
            [(aware(last.created_at) or last.created_at).isoformat(), last.id]
        )
    return RedemptionPage(
        items=[RedemptionRead(**dict(r._mapping)) for r in page], next_cursor=next_cursor
    )
