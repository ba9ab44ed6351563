"""Voucher batches over HTTP (billing agents): the codes are shown once, at creation."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Response, status
from pydantic import BaseModel, Field

from sila_billing.api.deps import RuntimeDep
from sila_billing.api.views import ensure_billing_agent
from sila_billing.flows import vouchers
from sila_common.auth import CurrentPrincipal

router = APIRouter(prefix="/v1/voucher-batches", tags=["vouchers"])


class BatchCreate(BaseModel):
    offer_code: str = Field(min_length=1, max_length=40)
    quantity: int = Field(ge=1, le=vouchers.MAX_BATCH)


class BatchState(BaseModel):
    state: Literal["active", "suspended", "cancelled"]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="A batch of voucher codes (answered once, in clear; Idempotency-Key required "
    "to retry safely)",
)
async def create_batch(
    body: BatchCreate,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    response: Response,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Any:
    ensure_billing_agent(principal)
    batch = await vouchers.issue_batch(
        runtime, body.offer_code, body.quantity, f"agent:{principal.subject}"
    )
    response.status_code = status.HTTP_201_CREATED
    return batch


@router.post("/{batch_id}/state", status_code=204, summary="Suspend, reactivate or cancel")
async def set_state(
    batch_id: str, body: BatchState, runtime: RuntimeDep, principal: CurrentPrincipal
) -> Response:
    ensure_billing_agent(principal)
    await vouchers.change_batch_state(runtime, batch_id, body.state)
    return Response(status_code=204)
