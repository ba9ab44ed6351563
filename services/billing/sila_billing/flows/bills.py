"""The bill run: the period's bills of postpaid lines, idempotent per line and period,
resumable after a crash (keyset progress committed with each batch); overdue reminders."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from sila_billing.domain import bills
from sila_billing.domain.offers import Billing
from sila_billing.events import (
    INVOICE_ISSUED,
    INVOICE_OVERDUE,
    InvoiceIssued,
    InvoiceOverdue,
)
from sila_billing.flows.common import utcnow
from sila_billing.runtime import BillingRuntime
from sila_billing.tables import bill_runs, invoices, offer_prices, subscriptions
from sila_common.outbox import NewEvent
from sila_common.problems import Unprocessable

Progress = Callable[[int], None]


async def start_run(runtime: BillingRuntime, period: str, by: str) -> dict[str, Any]:
    """The period's run (made once; a second start answers the same run, to resume it)."""
    try:
        bills.parse_period(period)
    except ValueError as exc:
        raise Unprocessable(
            "A period is YYYY-MM.",
            errors=[{"field": "body.period", "message": str(exc), "type": "value"}],
        ) from exc
    async with runtime.session_factory() as session, session.begin():
        await session.execute(
            pg_insert(bill_runs)
            .values(
                id=str(uuid.uuid4()),
                period=period,
                status="running",
                after_subscription_id=None,
                issued=0,
                started_by=by,
                started_at=utcnow(),
                finished_at=None,
            )
            .on_conflict_do_nothing(index_elements=["period"])
        )
        row = (await session.execute(select(bill_runs).where(bill_runs.c.period == period))).one()
    return dict(row._mapping)


async def count_lines(runtime: BillingRuntime) -> int:
    async with runtime.session_factory() as session:
        return int(
            (
                await session.execute(
                    select(func.count()).where(subscriptions.c.billing == Billing.POSTPAID.value)
                )
            ).scalar_one()
        )


async def _prices(session: AsyncSession, moment: datetime) -> dict[str, tuple[int, int]]:
    """Each offer's price version in force at the period's start."""
    rows = (
        await session.execute(
            select(offer_prices)
            .where(offer_prices.c.valid_from <= moment)
            .order_by(offer_prices.c.offer_code, offer_prices.c.valid_from)
        )
    ).all()
    return {r.offer_code: (r.version, r.price_centimes) for r in rows}


async def run_batch(runtime: BillingRuntime, run_id: str, batch_size: int) -> int:
    """Bills the next ``batch_size`` lines; answers how many lines it looked at (0: done)."""
    async with runtime.session_factory() as session, session.begin():
        run = (
            await session.execute(
                select(bill_runs).where(bill_runs.c.id == run_id).with_for_update()
            )
        ).one()
        if run.status == "finished":
            return 0
        first_day = bills.parse_period(run.period)
        period_start = datetime.combine(first_day, datetime.min.time(), bills.ALGIERS)
        prices = await _prices(session, period_start)
        query = (
            select(subscriptions.c.id, subscriptions.c.customer_id, subscriptions.c.offer_code)
            .where(subscriptions.c.billing == Billing.POSTPAID.value)
            .order_by(subscriptions.c.id)
            .limit(batch_size)
        )
        if run.after_subscription_id is not None:
            query = query.where(subscriptions.c.id > run.after_subscription_id)
        lines = (await session.execute(query)).all()
        if not lines:
            await session.execute(
                update(bill_runs)
                .where(bill_runs.c.id == run_id)
                .values(status="finished", finished_at=utcnow())
            )
            return 0
        now = utcnow()
        due = bills.due_at(now.astimezone(bills.ALGIERS).date())
        rows = []
        sequence = run.issued
        for line in lines:
            version, price = prices.get(line.offer_code, (0, 0))
            if price <= 0:
                continue
            sequence += 1
            rows.append(
                {
                    "id": str(uuid.uuid4()),
                    "number": bills.bill_number(run.period, sequence),
                    "customer_id": line.customer_id,
                    "subscription_id": line.id,
                    "period": run.period,
                    "offer_code": line.offer_code,
                    "price_version": version,
                    "amount_centimes": price,
                    "paid_centimes": 0,
                    "state": bills.BillState.ISSUED.value,
                    "issued_at": now,
                    "due_at": due,
                    "overdue_notified_at": None,
                    "bill_run_id": run_id,
                }
            )
        issued = []
        if rows:
            # A line already billed for the period (a run before a crash) is skipped.
            # Executemany form: one cached statement, batched by SQLAlchemy's insertmanyvalues
            # (a literal multi-row VALUES would be compiled anew for every batch).
            result = await session.execute(
                pg_insert(invoices)
                .on_conflict_do_nothing(index_elements=["subscription_id", "period"])
                .returning(invoices.c.id),
                rows,
            )
            kept = {r.id for r in result.all()}
            issued = [r for r in rows if r["id"] in kept]
        await runtime.outbox.record_many(
            session,
            [
                NewEvent(
                    INVOICE_ISSUED,
                    r["id"],
                    r["customer_id"],
                    InvoiceIssued(
                        invoice_id=r["id"],
                        number=r["number"],
                        customer_id=r["customer_id"],
                        subscription_id=r["subscription_id"],
                        period=r["period"],
                        amount_centimes=r["amount_centimes"],
                        due_at=r["due_at"],
                    ),
                )
                for r in issued
            ],
        )
        await session.execute(
            update(bill_runs)
            .where(bill_runs.c.id == run_id)
            .values(after_subscription_id=lines[-1].id, issued=sequence)
        )
        return len(lines)


async def run_to_end(
    runtime: BillingRuntime, run_id: str, batch_size: int, progress: Progress | None = None
) -> dict[str, Any]:
    while (done := await run_batch(runtime, run_id, batch_size)) > 0:
        if progress is not None:
            progress(done)
    async with runtime.session_factory() as session:
        row = (await session.execute(select(bill_runs).where(bill_runs.c.id == run_id))).one()
    return dict(row._mapping)


async def mark_overdue(runtime: BillingRuntime, limit: int) -> int:
    """Bills past their due date: state overdue and one reminder each."""
    now = utcnow()
    async with runtime.session_factory() as session, session.begin():
        rows = (
            await session.execute(
                select(invoices)
                .where(
                    invoices.c.state.in_(
                        [bills.BillState.ISSUED.value, bills.BillState.PARTIALLY_PAID.value]
                    ),
                    invoices.c.due_at < now,
                )
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for row in rows:
            await session.execute(
                update(invoices)
                .where(invoices.c.id == row.id)
                .values(state=bills.BillState.OVERDUE.value, overdue_notified_at=now)
            )
            await runtime.outbox.record(
                session,
                INVOICE_OVERDUE,
                subject=row.id,
                customer_id=row.customer_id,
                data=InvoiceOverdue(
                    invoice_id=row.id,
                    number=row.number,
                    customer_id=row.customer_id,
                    amount_centimes=row.amount_centimes,
                    outstanding_centimes=bills.outstanding(row.amount_centimes, row.paid_centimes),
                    due_at=row.due_at,
                ),
            )
    return len(rows)
