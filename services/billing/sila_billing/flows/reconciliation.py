"""Reconciliation: each provider's transaction report against Sila's payments.

Safe cases are repaired here: a payment still open that the provider reports paid is
confirmed (asked again, credited once). Everything else (paid at the provider but failed or
unknown here, amounts or refunds that differ, credited here but not paid there) becomes an
open issue a billing agent resolves.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from sila_billing.domain.payments import OPEN, PaymentState
from sila_billing.flows.common import utcnow
from sila_billing.flows.payments import confirm_payment
from sila_billing.gateways import ProviderUnavailable, ReportLine, gateways_of
from sila_billing.runtime import BillingRuntime
from sila_billing.tables import payments, reconciliation_issues
from sila_common.db import rows_affected
from sila_common.problems import NotFound

log = structlog.get_logger(__name__)


@dataclass
class Summary:
    compared: int = 0
    repaired: int = 0
    issues: int = 0


async def _flag(
    session: AsyncSession,
    provider: str,
    line: ReportLine,
    payment_id: str | None,
    kind: str,
    detail: str,
) -> bool:
    result = await session.execute(
        pg_insert(reconciliation_issues)
        .values(
            id=str(uuid.uuid4()),
            provider=provider,
            provider_order_id=line.order_id,
            payment_id=payment_id,
            kind=kind,
            detail=detail,
            status="open",
            created_at=utcnow(),
            resolved_at=None,
        )
        .on_conflict_do_nothing(index_elements=["provider", "provider_order_id", "kind"])
    )
    return rows_affected(result) > 0


async def reconcile(runtime: BillingRuntime) -> Summary:
    summary = Summary()
    gateways = gateways_of(runtime)
    for name, provider in (("satim", gateways.satim), ("khlass", gateways.khlass)):
        try:
            report = await provider.report()
        except ProviderUnavailable:
            log.warning("provider report unavailable; reconciliation postponed", provider=name)
            continue
        for line in report:
            summary.compared += 1
            async with runtime.session_factory() as session:
                row = (
                    await session.execute(
                        select(payments).where(payments.c.provider_order_id == line.order_id)
                    )
                ).one_or_none()
            if row is not None and PaymentState(row.state) in OPEN and line.paid:
                confirmed = await confirm_payment(runtime, row.id)
                if confirmed["state"] == PaymentState.SUCCEEDED.value:
                    summary.repaired += 1
                    continue
            async with runtime.session_factory() as session, session.begin():
                flagged = await _compare(session, name, line, row)
            summary.issues += flagged
    return summary


async def _compare(session: AsyncSession, provider: str, line: ReportLine, row: Any) -> int:
    if row is None:
        if not line.paid:
            return 0
        return int(
            await _flag(
                session,
                provider,
                line,
                None,
                "paid_unknown_order",
                f"Order {line.order_number} paid {line.amount_centimes} at the provider; "
                "no payment here.",
            )
        )
    state = PaymentState(row.state)
    credited = state in (PaymentState.SUCCEEDED, PaymentState.REFUNDED)
    flagged = 0
    if line.paid and not credited:
        flagged += await _flag(
            session,
            provider,
            line,
            row.id,
            "paid_not_credited",
            f"Paid {line.amount_centimes} at the provider; payment is {state.value} here.",
        )
    if credited and not line.paid:
        flagged += await _flag(
            session,
            provider,
            line,
            row.id,
            "credited_not_paid",
            "Credited here; the provider reports it unpaid.",
        )
    if credited and line.paid and line.amount_centimes != row.amount_centimes:
        flagged += await _flag(
            session,
            provider,
            line,
            row.id,
            "amount_mismatch",
            f"Provider {line.amount_centimes}, Sila {row.amount_centimes}.",
        )
    if credited and line.refunded_centimes != row.refunded_centimes:
        flagged += await _flag(
            session,
            provider,
            line,
            row.id,
            "refund_mismatch",
            f"Provider refunded {line.refunded_centimes}, Sila {row.refunded_centimes}.",
        )
    return flagged


async def list_issues(session: AsyncSession, status: str) -> list[dict[str, Any]]:
    rows = (
        await session.execute(
            select(reconciliation_issues)
            .where(reconciliation_issues.c.status == status)
            .order_by(reconciliation_issues.c.created_at, reconciliation_issues.c.id)
            .limit(500)
        )
    ).all()
    return [dict(r._mapping) for r in rows]


async def resolve_issue(session: AsyncSession, issue_id: str) -> None:
    result = await session.execute(
        update(reconciliation_issues)
        .where(reconciliation_issues.c.id == issue_id)
        .values(status="resolved", resolved_at=utcnow())
    )
    if not rows_affected(result):
        raise NotFound("No such issue.")


async def resolve(runtime: BillingRuntime, issue_id: str) -> None:
    """``resolve_issue`` in its own transaction."""
    async with runtime.session_factory() as session, session.begin():
        await resolve_issue(session, issue_id)
