"""Bills over HTTP: a customer's own, paged; the bill run for billing agents."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field
from sqlalchemy import select

from sila_billing import documents
from sila_billing.api.deps import RuntimeDep
from sila_billing.api.views import (
    InvoicePage,
    InvoiceRead,
    customer_scope,
    ensure_customer_in_scope,
    ensure_national_billing_agent,
    ensure_reader,
)
from sila_billing.domain import bills as rules
from sila_billing.flows import bills
from sila_billing.tables import invoices
from sila_common.auth import CurrentPrincipal
from sila_common.db import newest_first
from sila_common.inputs import decode_time_cursor
from sila_common.pagination import next_time_cursor
from sila_common.problems import NotFound, Unprocessable

router = APIRouter(tags=["invoices"])

NO_BILL = "No such bill."


def invoice_view(row: Any) -> InvoiceRead:
    return InvoiceRead(
        id=row.id,
        number=row.number,
        customer_id=row.customer_id,
        subscription_id=row.subscription_id,
        period=row.period,
        amount_centimes=row.amount_centimes,
        paid_centimes=row.paid_centimes,
        outstanding_centimes=rules.outstanding(row.amount_centimes, row.paid_centimes),
        status=row.state,
        issued_at=row.issued_at,
        due_at=row.due_at,
        pdf_url=f"/v1/invoices/{row.id}/pdf",
    )


class BillRunCreate(BaseModel):
    period: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")


class BillRunRead(BaseModel):
    id: str
    period: str
    status: str
    issued: int
    started_at: datetime
    finished_at: datetime | None


@router.get("/v1/invoices", response_model=InvoicePage, summary="Bills, newest first")
async def list_invoices(
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    customer_id: Annotated[str | None, Query(max_length=36)] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> InvoicePage:
    scoped = customer_scope(principal, customer_id)
    if principal.kind == "customer" and customer_id not in (None, scoped):
        return InvoicePage(items=[], next_cursor=None)
    if scoped is None:
        raise Unprocessable(
            "Name the customer.",
            errors=[{"field": "query.customer_id", "message": "required", "type": "missing"}],
        )
    await ensure_customer_in_scope(runtime, principal, scoped)
    query = newest_first(
        select(invoices).where(invoices.c.customer_id == scoped),
        invoices.c.issued_at,
        invoices.c.id,
        after=decode_time_cursor(cursor) if cursor else None,
        limit=limit,
    )
    async with runtime.session_factory() as session:
        rows = (await session.execute(query)).all()
    return InvoicePage(
        items=[invoice_view(r) for r in rows[:limit]],
        next_cursor=next_time_cursor(rows, limit, "issued_at"),
    )


@router.get("/v1/invoices/{invoice_id}", response_model=InvoiceRead)
async def get_invoice(invoice_id: str, runtime: RuntimeDep, principal: CurrentPrincipal) -> Any:
    ensure_reader(principal)
    async with runtime.session_factory() as session:
        row = (
            await session.execute(select(invoices).where(invoices.c.id == invoice_id))
        ).one_or_none()
    if row is None or (principal.kind == "customer" and row.customer_id != principal.customer_id):
        raise NotFound(NO_BILL)
    await ensure_customer_in_scope(runtime, principal, row.customer_id, NO_BILL)
    return invoice_view(row)


@router.get(
    "/v1/invoices/{invoice_id}/pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
    summary="The bill as a PDF, in French or Arabic",
)
async def invoice_pdf(
    invoice_id: str,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    language: Annotated[Literal["fr", "ar"], Query()] = "fr",
) -> Response:
    ensure_reader(principal)
    async with runtime.session_factory() as session:
        row = (
            await session.execute(select(invoices).where(invoices.c.id == invoice_id))
        ).one_or_none()
    if row is None or (principal.kind == "customer" and row.customer_id != principal.customer_id):
        raise NotFound(NO_BILL)
    await ensure_customer_in_scope(runtime, principal, row.customer_id, NO_BILL)
    content = await asyncio.to_thread(documents.invoice_pdf, row, language)
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{row.number}-{language}.pdf"'},
    )


@router.post(
    "/v1/bill-runs",
    status_code=status.HTTP_201_CREATED,
    response_model=BillRunRead,
    summary="Run (or resume) the period's bill run to its end (billing agents)",
)
async def bill_run(body: BillRunCreate, runtime: RuntimeDep, principal: CurrentPrincipal) -> Any:
    ensure_national_billing_agent(principal)
    run = await bills.start_run(runtime, body.period, f"agent:{principal.subject}")
    return await bills.run_to_end(runtime, run["id"], runtime.settings.bill_run_batch_size)
