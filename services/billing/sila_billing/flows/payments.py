"""E-payment: start one with the provider, confirm it server-side, credit it once, refund it.

A payment is credited in the same transaction that moves it to ``succeeded``, under a row
lock, after the provider said so on a server-to-server call; the return URL only tells us
*when* to ask. A crash anywhere leaves it pending, and the settlement job asks again.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sila_billing.domain import bills
from sila_billing.domain.money import AmountError, check_amount
from sila_billing.domain.payments import (
    OPEN,
    Method,
    PaymentState,
    Purpose,
    RefundError,
    after_refund,
    mask_pan,
)
from sila_billing.domain.providers import Confirmation, Outcome
from sila_billing.events import (
    INVOICE_PAID,
    PAYMENT_FAILED,
    PAYMENT_REFUNDED,
    PAYMENT_SUCCEEDED,
    InvoicePaid,
    PaymentFailed,
    PaymentRefunded,
    PaymentSucceeded,
)
from sila_billing.flows.common import (
    Caller,
    Render,
    as_dict,
    order_number,
    utcnow,
)
from sila_billing.flows.recharge import credit_recharge, recharge_quote
from sila_billing.gateways import ProviderRefused, ProviderUnavailable, gateways_of
from sila_billing.runtime import BillingRuntime
from sila_billing.tables import invoices, payments, refunds
from sila_common.auth import Principal
from sila_common.idempotency import Created, create_once
from sila_common.problems import Conflict, NotFound, Problem, ServiceUnavailable, Unprocessable

log = structlog.get_logger(__name__)

# Called after the credit, before the commit: the tests' stand-in for a crash there.
BeforeCommit = Callable[[dict[str, Any]], Awaitable[None]]


class ProviderRefusal(Problem):
    status, slug, title = 502, "provider-refused", "The payment provider refused"


@dataclass(frozen=True)
class NewPayment:
    customer_id: str
    purpose: Purpose
    method: Method
    invoice_id: str | None = None
    subscription_id: str | None = None
    amount_centimes: int | None = None
    language: str = "fr"


def _field_error(field: str, message: str) -> Unprocessable:
    return Unprocessable.at(field, message, kind="value")


async def start_payment(
    session: AsyncSession, runtime: BillingRuntime, new: NewPayment, caller: Caller
) -> dict[str, Any]:
    """Registers the payment with its provider; answers the row, pending, with redirect_url."""
    settings = runtime.settings
    now = utcnow()
    offer_code: str | None = None
    price_version: int | None = None
    idoomly_centimes = 0
    if new.purpose is Purpose.BILL:
        if new.invoice_id is None:
            raise _field_error("body.invoice_id", "A bill payment names the bill.")
        invoice = (
            await session.execute(
                select(invoices).where(invoices.c.id == new.invoice_id).with_for_update()
            )
        ).one_or_none()
        if invoice is None or invoice.customer_id != new.customer_id:
            raise NotFound("No such bill for this customer.")
        if bills.BillState(invoice.state) not in bills.PAYABLE:
            raise Conflict(f"This bill is {invoice.state}.", slug="bill-not-payable")
        left = bills.outstanding(invoice.amount_centimes, invoice.paid_centimes)
        amount = new.amount_centimes if new.amount_centimes is not None else left
        if amount > left:
            raise _field_error(
                "body.amount_centimes", f"At most the {left} centimes still owed may be paid."
            )
        target = {"invoice_id": invoice.id, "subscription_id": None}
    else:
        if new.subscription_id is None:
            raise _field_error("body.subscription_id", "A recharge names the subscription.")
        quote = await recharge_quote(session, new.subscription_id, new.customer_id, now)
        amount = quote.amount_centimes
        if new.amount_centimes is not None and new.amount_centimes != amount:
            raise _field_error(
                "body.amount_centimes",
                f"A recharge of this offer costs {amount} centimes.",
            )
        offer_code, price_version = quote.offer_code, quote.price_version
        idoomly_centimes = quote.idoomly_centimes
        target = {"invoice_id": None, "subscription_id": new.subscription_id}
    try:
        check_amount(amount)
    except AmountError as exc:
        raise _field_error("body.amount_centimes", str(exc)) from exc

    payment_id = str(uuid.uuid4())
    row: dict[str, Any] = {
        "id": payment_id,
        "number": order_number(),
        "customer_id": new.customer_id,
        "purpose": new.purpose.value,
        **target,
        "offer_code": offer_code,
        "price_version": price_version,
        "idoomly_centimes": idoomly_centimes,
        "amount_centimes": amount,
        "refunded_centimes": 0,
        "method": new.method.value,
        "state": PaymentState.CREATED.value,
        "provider_order_id": None,
        "redirect_url": None,
        "masked_pan": None,
        "failure_reason": None,
        "language": new.language,
        "created_by": caller.label,
        "created_at": now,
        "updated_at": now,
        "expires_at": now + timedelta(seconds=settings.payment_window_seconds),
        "credited_at": None,
    }
    try:
        async with session.begin_nested():
            await session.execute(insert(payments).values(**row))
    except IntegrityError as exc:
        open_one = (
            await session.execute(
                select(payments.c.id, payments.c.redirect_url).where(
                    payments.c.state.in_([s.value for s in OPEN]),
                    (payments.c.invoice_id == target["invoice_id"])
                    if target["invoice_id"]
                    else (payments.c.subscription_id == target["subscription_id"]),
                )
            )
        ).one_or_none()
        raise Conflict(
            "A payment of this is already under way; finish or wait for it.",
            slug="payment-in-progress",
            payment_id=open_one.id if open_one else None,
            redirect_url=open_one.redirect_url if open_one else None,
        ) from exc

    provider = gateways_of(runtime).for_method(new.method.value)
    return_url = f"{settings.public_base_url.rstrip('/')}/v1/payments/{payment_id}/return"
    try:
        registration = await provider.register(
            order_number=row["number"],
            amount=amount,
            return_url=return_url,
            language=new.language,
            payment_id=payment_id,
        )
    except ProviderUnavailable as exc:
        log.warning("payment provider unavailable", method=new.method.value, error=str(exc))
        raise ServiceUnavailable(
            "The payment provider does not answer; nothing was charged. Try again shortly.",
            slug="provider-unavailable",
            headers={"Retry-After": "30"},
        ) from exc
    except ProviderRefused as exc:
        raise ProviderRefusal(f"The provider refused the payment: {exc}") from exc
    row |= {
        "state": PaymentState.PENDING.value,
        "provider_order_id": registration.order_id,
        "redirect_url": registration.redirect_url,
    }
    await session.execute(
        update(payments)
        .where(payments.c.id == payment_id)
        .values(
            state=row["state"],
            provider_order_id=row["provider_order_id"],
            redirect_url=row["redirect_url"],
        )
    )
    return row


async def load_payment(session: AsyncSession, payment_id: str, caller: Caller) -> dict[str, Any]:
    row = (await session.execute(select(payments).where(payments.c.id == payment_id))).one_or_none()
    if row is None or not caller.may_see(row.customer_id):
        raise NotFound("No such payment.")
    return as_dict(row)


async def confirm_payment(
    runtime: BillingRuntime,
    payment_id: str,
    *,
    before_commit: BeforeCommit | None = None,
    settle_expired: bool = False,
) -> dict[str, Any]:
    """Asks the provider what became of an open payment and applies it, once.

    ``settle_expired``: a payment still waiting past its window becomes ``expired``.
    """
    async with runtime.session_factory() as session:
        row = (
            await session.execute(select(payments).where(payments.c.id == payment_id))
        ).one_or_none()
    if row is None:
        raise NotFound("No such payment.")
    if PaymentState(row.state) not in OPEN or row.provider_order_id is None:
        return as_dict(row)
    provider = gateways_of(runtime).for_method(row.method)
    try:
        confirmation = await provider.confirm(row.provider_order_id)
    except ProviderUnavailable as exc:
        log.warning("confirmation postponed: provider unavailable", payment_id=payment_id)
        confirmation = Confirmation(Outcome.UNKNOWN, reason=str(exc))
    async with runtime.session_factory() as session, session.begin():
        locked = (
            await session.execute(
                select(payments).where(payments.c.id == payment_id).with_for_update()
            )
        ).one()
        current = as_dict(locked)
        if PaymentState(locked.state) not in OPEN:
            return current  # another confirmation applied it first
        applied = await _apply(session, runtime, current, confirmation, settle_expired)
        if before_commit is not None and applied["state"] != current["state"]:
            await before_commit(applied)
        return applied


async def _apply(
    session: AsyncSession,
    runtime: BillingRuntime,
    row: dict[str, Any],
    confirmation: Confirmation,
    settle_expired: bool,
) -> dict[str, Any]:
    now = utcnow()
    outcome = confirmation.outcome
    if outcome is Outcome.PAID:
        if (
            confirmation.amount_centimes is not None
            and confirmation.amount_centimes != row["amount_centimes"]
        ):
            log.error(
                "provider amount differs; left for reconciliation",
                payment_id=row["id"],
                provider_amount=confirmation.amount_centimes,
            )
            return row
        return await _succeed(session, runtime, row, confirmation)
    if outcome in (Outcome.DECLINED, Outcome.REVERSED):
        return await _fail(session, runtime, row, PaymentState.FAILED, confirmation.reason)
    if outcome is Outcome.WAITING and settle_expired and row["expires_at"] <= now:
        return await _fail(session, runtime, row, PaymentState.EXPIRED, "abandoned")
    return row


async def _succeed(
    session: AsyncSession, runtime: BillingRuntime, row: dict[str, Any], confirmation: Confirmation
) -> dict[str, Any]:
    now = utcnow()
    changes = {
        "state": PaymentState.SUCCEEDED.value,
        "masked_pan": mask_pan(confirmation.masked_pan)
        if row["method"] != "khlass"
        else (confirmation.masked_pan),
        "updated_at": now,
        "credited_at": now,
        "redirect_url": None,
    }
    await session.execute(update(payments).where(payments.c.id == row["id"]).values(**changes))
    row = row | changes
    if row["purpose"] == Purpose.BILL.value:
        await _credit_bill(session, runtime, row)
    else:
        await credit_recharge(session, runtime, row)
    await runtime.outbox.record(
        session,
        PAYMENT_SUCCEEDED,
        subject=row["id"],
        customer_id=row["customer_id"],
        data=PaymentSucceeded(
            payment_id=row["id"],
            customer_id=row["customer_id"],
            purpose=row["purpose"],
            method=row["method"],
            amount_centimes=row["amount_centimes"],
            invoice_id=row["invoice_id"],
            subscription_id=row["subscription_id"],
        ),
    )
    return row


async def _credit_bill(session: AsyncSession, runtime: BillingRuntime, row: dict[str, Any]) -> None:
    invoice = (
        await session.execute(
            select(invoices).where(invoices.c.id == row["invoice_id"]).with_for_update()
        )
    ).one()
    paid = invoice.paid_centimes + row["amount_centimes"]
    state = bills.state_after_payment(invoice.amount_centimes, paid, invoice.due_at, utcnow())
    await session.execute(
        update(invoices)
        .where(invoices.c.id == invoice.id)
        .values(paid_centimes=paid, state=state.value)
    )
    if state is bills.BillState.PAID:
        await runtime.outbox.record(
            session,
            INVOICE_PAID,
            subject=invoice.id,
            customer_id=invoice.customer_id,
            data=InvoicePaid(
                invoice_id=invoice.id,
                number=invoice.number,
                customer_id=invoice.customer_id,
                amount_centimes=invoice.amount_centimes,
            ),
        )


async def _fail(
    session: AsyncSession,
    runtime: BillingRuntime,
    row: dict[str, Any],
    state: PaymentState,
    reason: str | None,
) -> dict[str, Any]:
    changes = {
        "state": state.value,
        "failure_reason": (reason or state.value)[:200],
        "updated_at": utcnow(),
        "redirect_url": None,
    }
    await session.execute(update(payments).where(payments.c.id == row["id"]).values(**changes))
    row = row | changes
    await runtime.outbox.record(
        session,
        PAYMENT_FAILED,
        subject=row["id"],
        customer_id=row["customer_id"],
        data=PaymentFailed(
            payment_id=row["id"],
            customer_id=row["customer_id"],
            purpose=row["purpose"],
            method=row["method"],
            amount_centimes=row["amount_centimes"],
            state=state.value,
            reason=changes["failure_reason"],
        ),
    )
    return row


async def refund_payment(
    session: AsyncSession,
    runtime: BillingRuntime,
    payment_id: str,
    amount: int,
    reason: str,
    caller: Caller,
) -> dict[str, Any]:
    """Refunds part or all of a succeeded payment, never above what was paid."""
    row = (
        await session.execute(select(payments).where(payments.c.id == payment_id).with_for_update())
    ).one_or_none()
    if row is None:
        raise NotFound("No such payment.")
    try:
        state = after_refund(
            PaymentState(row.state), row.amount_centimes, row.refunded_centimes, amount
        )
    except RefundError as exc:
        raise Unprocessable.at("body.amount_centimes", str(exc), kind="value") from exc
    provider = gateways_of(runtime).for_method(row.method)
    try:
        await provider.refund(row.provider_order_id, amount)
    except ProviderUnavailable as exc:
        raise ServiceUnavailable(
            "The provider does not answer; nothing was refunded. Try again shortly.",
            slug="provider-unavailable",
        ) from exc
    except ProviderRefused as exc:
        raise ProviderRefusal(f"The provider refused the refund: {exc}") from exc
    now = utcnow()
    refunded = row.refunded_centimes + amount
    await session.execute(
        update(payments)
        .where(payments.c.id == payment_id)
        .values(refunded_centimes=refunded, state=state.value, updated_at=now)
    )
    await session.execute(
        insert(refunds).values(
            id=str(uuid.uuid4()),
            payment_id=payment_id,
            amount_centimes=amount,
            reason=reason,
            created_by=caller.label,
            created_at=now,
        )
    )
    if row.invoice_id is not None:
        invoice = (
            await session.execute(
                select(invoices).where(invoices.c.id == row.invoice_id).with_for_update()
            )
        ).one()
        paid = max(0, invoice.paid_centimes - amount)
        await session.execute(
            update(invoices)
            .where(invoices.c.id == invoice.id)
            .values(
                paid_centimes=paid,
                state=bills.state_after_payment(
                    invoice.amount_centimes, paid, invoice.due_at, now
                ).value,
            )
        )
    await runtime.outbox.record(
        session,
        PAYMENT_REFUNDED,
        subject=payment_id,
        customer_id=row.customer_id,
        data=PaymentRefunded(
            payment_id=payment_id,
            customer_id=row.customer_id,
            amount_centimes=amount,
            refunded_total_centimes=refunded,
            whole=state is PaymentState.REFUNDED,
        ),
    )
    return as_dict(row) | {"refunded_centimes": refunded, "state": state.value}


async def open_payments_due(runtime: BillingRuntime, limit: int) -> list[str]:
    """Pending payments past their window, oldest first."""
    async with runtime.session_factory() as session:
        rows = (
            await session.execute(
                select(payments.c.id)
                .where(
                    payments.c.state.in_([s.value for s in OPEN]),
                    payments.c.expires_at <= utcnow(),
                )
                .order_by(payments.c.expires_at)
                .limit(limit)
            )
        ).all()
    return [r.id for r in rows]


async def settle_overdue_payments(runtime: BillingRuntime, limit: int = 200) -> int:
    """Asks the provider about every payment left pending past its window; answers how many
    were settled (succeeded, failed or expired)."""
    settled = 0
    for payment_id in await open_payments_due(runtime, limit):
        row = await confirm_payment(runtime, payment_id, settle_expired=True)
        if PaymentState(row["state"]) not in OPEN:
            settled += 1
    return settled


async def start_payment_once(
    runtime: BillingRuntime,
    principal: Principal,
    new: NewPayment,
    *,
    key: str | None,
    body: Any,
    render: Render,
) -> Created:
    """Starts the payment once per Idempotency-Key; answers 201 with the rendered payment."""
    caller = Caller.of(principal)

    async def work(session: AsyncSession) -> tuple[int, dict[str, Any]]:
        row = await start_payment(session, runtime, new, caller)
        return 201, render(row)

    try:
        return await create_once(runtime, principal, key=key, body=body, work=work)
    except Conflict as conflict:
        # A double click with one key: the twin waited on the bill's lock, then met the
        # payment the first made. The first's answer is stored by now: replay it.
        if key is None or conflict.slug != "payment-in-progress":
            raise
        return await create_once(runtime, principal, key=key, body=body, work=work)


async def refund_once(
    runtime: BillingRuntime,
    principal: Principal,
    payment_id: str,
    amount: int,
    reason: str,
    *,
    key: str | None,
    body: Any,
    render: Render,
) -> Created:
    """Refunds once per Idempotency-Key; answers 201 with the rendered payment."""

    async def work(session: AsyncSession) -> tuple[int, dict[str, Any]]:
        row = await refund_payment(
            session, runtime, payment_id, amount, reason, Caller.of(principal)
        )
        return 201, render(row)

    return await create_once(runtime, principal, key=key, body=body, work=work)
