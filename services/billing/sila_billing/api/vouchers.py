"""Voucher batches over HTTP (billing agents): the codes are shown once, at creation."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Response, status
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from sila_billing.api.views import ensure_billing_agent
from sila_billing.flows import vouchers
from sila_common.app import RuntimeDep
from sila_common.auth import CurrentPrincipal
from sila_common.idempotency import run_idempotent

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

    async def work(session: AsyncSession) -> tuple[int, dict[str, Any]]:
        batch = await vouchers.create_batch(
            session, runtime, body.offer_code, body.quantity, f"agent:{principal.subject}"
        )
        # The stored answer of a retry holds serials only: codes never rest in the database.
        return 201, batch

    code, payload, _ = await run_idempotent(
        runtime.session_factory,
        runtime.definition.tables.idempotency_keys,
        key=None,
        principal=f"{principal.kind}:{principal.subject}",
        body=body.model_dump(mode="json"),
        work=work,
    )
    response.status_code = code
    return payload


@router.post("/{batch_id}/state", status_code=204, summary="Suspend, reactivate or cancel")
async def set_state(
    batch_id: str, body: BatchState, runtime: RuntimeDep, principal: CurrentPrincipal
) -> Response:
    ensure_billing_agent(principal)
    async with runtime.session_factory() as session, session.begin():
        await vouchers.set_batch_state(session, batch_id, body.state)
    return Response(status_code=204)
