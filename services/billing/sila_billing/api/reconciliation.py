"""Reconciliation over HTTP (billing agents of every wilaya): run it now, list and resolve
what it found."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from sila_billing.api.deps import RuntimeDep
from sila_billing.api.views import ensure_national_billing_agent
from sila_billing.flows import reconciliation
from sila_common.auth import CurrentPrincipal

router = APIRouter(prefix="/v1/reconciliation", tags=["reconciliation"])


class IssueRead(BaseModel):
    id: str
    provider: str
    provider_order_id: str
    payment_id: str | None
    kind: str
    detail: str
    status: str
    created_at: datetime


@router.post("/runs", summary="Compare the providers' reports with Sila's payments now")
async def run(runtime: RuntimeDep, principal: CurrentPrincipal) -> dict[str, Any]:
    ensure_national_billing_agent(principal)
    return asdict(await reconciliation.reconcile(runtime))


@router.get("/issues", response_model=list[IssueRead], summary="What needs an agent")
async def issues(
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    status: Annotated[Literal["open", "resolved"], Query()] = "open",
) -> Any:
    ensure_national_billing_agent(principal)
    async with runtime.session_factory() as session:
        return await reconciliation.list_issues(session, status)


@router.post("/issues/{issue_id}/resolution", status_code=204, summary="Mark an issue resolved")
async def resolve(issue_id: str, runtime: RuntimeDep, principal: CurrentPrincipal) -> Response:
    ensure_national_billing_agent(principal)
    await reconciliation.resolve(runtime, issue_id)
    return Response(status_code=204)
