"""E-payment against the SATIM simulator in its own process: every path, every failure, and
never a payment lost, credited twice or charged twice."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from sila_billing.flows.payments import confirm_payment, settle_overdue_payments
from sila_billing.tables import payments, recharges
from sila_common.pagination import encode_cursor
from tests.integration.billing.conftest import (
    EDAHABIA_OK,
    Customer,
    Simulator,
    add_bill,
    add_line,
    events_of,
    expire_window,
    invoice_row,
    pay_on_satim,
    sim_faults,
    subscription_row,
)
from tests.support import LiveService, bearer, eventually, problem_of


async def start(
    billing: LiveService, customer: Customer, invoice_id: str, key: str | None = None, **body: Any
) -> httpx.Response:
    headers = customer.headers | ({"Idempotency-Key": key} if key else {})
    return await billing.client.post(
        "/v1/payments",
        headers=headers,
        json={"purpose": "bill", "method": "edahabia", "invoice_id": invoice_id} | body,
    )


async def test_a_bill_paid_by_card_is_confirmed_with_satim_and_credited_once(
    billing: LiveService, satim: Simulator, customer: Customer, billing_agent: str
) -> None:
    invoice_id = await add_bill(billing, customer.id, 250_000, agent=billing_agent)
    created = await start(billing, customer, invoice_id, "k-pay-1")
    assert created.status_code == 201, created.text
    payment = created.json()
    assert payment["status"] == "pending" and payment["amount_centimes"] == 250_000
    assert payment["redirect_url"].startswith(satim.url)

    back = await pay_on_satim(satim, payment["redirect_url"])
    returned = await billing.client.get(back)
    assert returned.status_code == 303
    # The browser comes back twice (a refresh): still one credit.
    assert (await billing.client.get(back)).status_code == 303

    read = (
        await billing.client.get(f"/v1/payments/{payment['id']}", headers=customer.headers)
    ).json()
    assert read["status"] == "succeeded" and read["redirect_url"] is None
    assert read["masked_pan"] == "628058******0001"
    bill = await invoice_row(billing, invoice_id)
    assert (bill.paid_centimes, bill.state) == (250_000, "paid")
    assert len(await events_of(billing, payment["id"], "billing.payment.succeeded")) == 1
    paid = await events_of(billing, invoice_id, "billing.invoice.paid")
    assert len(paid) == 1 and paid[0]["data"]["amount_centimes"] == 250_000

    again = await start(billing, customer, invoice_id)
    assert again.status_code == 409 and problem_of(again)["type"].endswith("bill-not-payable")


async def test_the_return_url_alone_credits_nothing_and_a_forged_one_is_refused(
    billing: LiveService, satim: Simulator, customer: Customer, billing_agent: str
) -> None:
    invoice_id = await add_bill(billing, customer.id, agent=billing_agent)
    payment = (await start(billing, customer, invoice_id)).json()
    forged = await billing.client.get(f"/v1/payments/{payment['id']}/return?orderId=made-up")
    assert forged.status_code == 400
    assert problem_of(forged)["type"].endswith("payment-return-refused")
    async with billing.runtime.session_factory() as session:
        order_id = (
            await session.execute(
                select(payments.c.provider_order_id).where(payments.c.id == payment["id"])
            )
        ).scalar_one()
    # The right order id, but the customer never paid: SATIM says 0, nothing is credited.
    early = await billing.client.get(f"/v1/payments/{payment['id']}/return?orderId={order_id}")
    assert early.status_code == 303
    read = (
        await billing.client.get(f"/v1/payments/{payment['id']}", headers=customer.headers)
    ).json()
    assert read["status"] == "pending" and read["redirect_url"]
    assert (await invoice_row(billing, invoice_id)).paid_centimes == 0


@pytest.mark.parametrize(
    ("pan", "extra", "reason"),
    [
        ("6280581100000002", {}, "Insufficient funds"),
        ("4761340000000003", {}, "Card blocked"),
        ("6280581100000004", {}, "Expired card"),
        ("6280581100000005", {}, "Wrong secret code"),
        ("6280581100000001", {"cancel": "1"}, "Cancelled"),
    ],
)
async def test_a_declined_card_fails_the_payment_charges_nothing_and_frees_the_bill(
    billing: LiveService,
    satim: Simulator,
    customer: Customer,
    billing_agent: str,
    pan: str,
    extra: dict[str, str],
    reason: str,
) -> None:
    invoice_id = await add_bill(billing, customer.id, agent=billing_agent)
    payment = (await start(billing, customer, invoice_id)).json()
    back = await pay_on_satim(satim, payment["redirect_url"], pan, **extra)
    assert (await billing.client.get(back)).status_code == 303
    read = (
        await billing.client.get(f"/v1/payments/{payment['id']}", headers=customer.headers)
    ).json()
    assert read["status"] == "failed" and read["failure_reason"] == reason
    assert (await invoice_row(billing, invoice_id)).state == "issued"
    failed = await events_of(billing, payment["id"], "billing.payment.failed")
    assert len(failed) == 1 and failed[0]["data"]["amount_centimes"] == 250_000
    # The bill can be paid again at once.
    assert (await start(billing, customer, invoice_id)).status_code == 201


async def test_same_key_same_body_same_answer_other_body_409(
    billing: LiveService, satim: Simulator, customer: Customer, billing_agent: str
) -> None:
    invoice_id = await add_bill(billing, customer.id, agent=billing_agent)
    first, second = await asyncio.gather(
        start(billing, customer, invoice_id, "double-click"),
        start(billing, customer, invoice_id, "double-click"),
    )
    assert {first.status_code, second.status_code} == {201}
    assert first.json()["id"] == second.json()["id"]
    other = await start(billing, customer, invoice_id, "double-click", amount_centimes=1000)
    assert other.status_code == 409
    assert problem_of(other)["type"].endswith("idempotency-key-reused")
    async with billing.runtime.session_factory() as session:
        count = (
            await session.execute(select(func.count()).where(payments.c.invoice_id == invoice_id))
        ).scalar_one()
    assert count == 1


async def test_two_tabs_paying_one_bill_make_one_payment(
    billing: LiveService, satim: Simulator, customer: Customer, billing_agent: str
) -> None:
    invoice_id = await add_bill(billing, customer.id, agent=billing_agent)
    tab_one, tab_two = await asyncio.gather(
        start(billing, customer, invoice_id, "tab-1"), start(billing, customer, invoice_id, "tab-2")
    )
    codes = sorted([tab_one.status_code, tab_two.status_code])
    assert codes == [201, 409]
    winner, loser = (tab_one, tab_two) if tab_one.status_code == 201 else (tab_two, tab_one)
    conflict = problem_of(loser)
    assert conflict["type"].endswith("payment-in-progress")
    assert conflict["payment_id"] == winner.json()["id"]
    back = await pay_on_satim(satim, winner.json()["redirect_url"])
    await billing.client.get(back)
    assert (await invoice_row(billing, invoice_id)).paid_centimes == 250_000


async def test_satim_5xx_or_hanging_at_registration_is_a_503_and_nothing_is_kept(
    billing: LiveService, satim: Simulator, customer: Customer, billing_agent: str
) -> None:
    invoice_id = await add_bill(billing, customer.id, agent=billing_agent)
    for mode in ("error", "hang"):
        await sim_faults(satim, register={"mode": mode, "count": 1})
        answer = await start(billing, customer, invoice_id, f"retry-{mode}")
        assert answer.status_code == 503, answer.text
        assert problem_of(answer)["type"].endswith("provider-unavailable")
        async with billing.runtime.session_factory() as session:
            kept = (
                await session.execute(
                    select(func.count()).where(payments.c.invoice_id == invoice_id)
                )
            ).scalar_one()
        assert kept == 0
    # The retry with the same key goes through once SATIM answers.
    assert (await start(billing, customer, invoice_id, "retry-hang")).status_code == 201


async def test_a_confirmation_that_errs_leaves_the_payment_pending_until_satim_answers(
    billing: LiveService, satim: Simulator, customer: Customer, billing_agent: str
) -> None:
    invoice_id = await add_bill(billing, customer.id, agent=billing_agent)
    payment = (await start(billing, customer, invoice_id)).json()
    back = await pay_on_satim(satim, payment["redirect_url"])
    await sim_faults(satim, acknowledge={"mode": "error", "count": 1})
    assert (await billing.client.get(back)).status_code == 303
    assert (await invoice_row(billing, invoice_id)).paid_centimes == 0
    read = (
        await billing.client.get(f"/v1/payments/{payment['id']}", headers=customer.headers)
    ).json()
    assert read["status"] == "succeeded"
    assert (await invoice_row(billing, invoice_id)).paid_centimes == 250_000


async def test_a_late_confirmation_is_credited_when_satim_settles_it(
    billing: LiveService, satim: Simulator, customer: Customer, billing_agent: str
) -> None:
    invoice_id = await add_bill(billing, customer.id, agent=billing_agent)
    payment = (await start(billing, customer, invoice_id)).json()
    back = await pay_on_satim(satim, payment["redirect_url"], "6280581100000007")
    await billing.client.get(back)
    assert (await invoice_row(billing, invoice_id)).paid_centimes == 0

    async def credited() -> bool:
        await expire_window(billing, payment["id"])
        await settle_overdue_payments(billing.runtime)
        return bool((await invoice_row(billing, invoice_id)).paid_centimes == 250_000)

    await eventually(credited, timeout=15, what="the late payment credited")
    assert len(await events_of(billing, payment["id"], "billing.payment.succeeded")) == 1


async def test_a_crash_between_satim_success_and_the_credit_is_recovered_by_settlement(
    billing: LiveService, satim: Simulator, customer: Customer, billing_agent: str
) -> None:
    invoice_id = await add_bill(billing, customer.id, agent=billing_agent)
    payment = (await start(billing, customer, invoice_id)).json()
    await pay_on_satim(satim, payment["redirect_url"])

    async def crash(_: dict[str, Any]) -> None:
        raise RuntimeError("process killed after the credit, before the commit")

    with pytest.raises(RuntimeError):
        await confirm_payment(billing.runtime, payment["id"], before_commit=crash)
    async with billing.runtime.session_factory() as session:
        state = (
            await session.execute(select(payments.c.state).where(payments.c.id == payment["id"]))
        ).scalar_one()
    assert state == "pending"
    assert (await invoice_row(billing, invoice_id)).paid_centimes == 0
    assert await events_of(billing, payment["id"], "billing.payment.succeeded") == []

    await expire_window(billing, payment["id"])
    assert await settle_overdue_payments(billing.runtime) >= 1
    await settle_overdue_payments(billing.runtime)
    await confirm_payment(billing.runtime, payment["id"])
    assert (await invoice_row(billing, invoice_id)).paid_centimes == 250_000
    assert len(await events_of(billing, payment["id"], "billing.payment.succeeded")) == 1


async def test_an_abandoned_page_expires_after_the_window(
    billing: LiveService, satim: Simulator, customer: Customer, billing_agent: str
) -> None:
    invoice_id = await add_bill(billing, customer.id, agent=billing_agent)
    payment = (await start(billing, customer, invoice_id)).json()
    await expire_window(billing, payment["id"])
    await settle_overdue_payments(billing.runtime)
    read = (
        await billing.client.get(f"/v1/payments/{payment['id']}", headers=customer.headers)
    ).json()
    assert read["status"] == "expired"
    failed = await events_of(billing, payment["id"], "billing.payment.failed")
    assert [e["data"]["state"] for e in failed] == ["expired"]


async def test_refunds_by_billing_agents_partial_then_whole_never_above_what_was_paid(
    billing: LiveService,
    satim: Simulator,
    customer: Customer,
    billing_agent: str,
    call_centre_agent: str,
) -> None:
    invoice_id = await add_bill(billing, customer.id, 100_000, agent=billing_agent)
    payment = (await start(billing, customer, invoice_id)).json()
    await billing.client.get(await pay_on_satim(satim, payment["redirect_url"]))
    url = f"/v1/payments/{payment['id']}/refunds"
    body = {"amount_centimes": 30_000, "reason": "geste commercial"}
    assert (await billing.client.post(url, headers=customer.headers, json=body)).status_code == 403
    assert (
        await billing.client.post(url, headers=bearer(call_centre_agent), json=body)
    ).status_code == 403
    partial = await billing.client.post(url, headers=bearer(billing_agent), json=body)
    assert partial.status_code == 201, partial.text
    assert (partial.json()["status"], partial.json()["refunded_centimes"]) == ("succeeded", 30_000)
    assert (await invoice_row(billing, invoice_id)).state == "partially_paid"
    too_much = await billing.client.post(
        url, headers=bearer(billing_agent), json={"amount_centimes": 70_001, "reason": "erreur"}
    )
    assert too_much.status_code == 422
    assert problem_of(too_much)["errors"][0]["field"] == "body.amount_centimes"
    whole = await billing.client.post(
        url, headers=bearer(billing_agent), json={"amount_centimes": 70_000, "reason": "annulation"}
    )
    assert whole.json()["status"] == "refunded"
    refunded = await events_of(billing, payment["id"], "billing.payment.refunded")
    assert [e["data"]["whole"] for e in refunded] == [False, True]
    async with httpx.AsyncClient() as client:
        report = (await client.get(f"{satim.url}/_sim/report")).json()["orders"]
    order = next(o for o in report if o["orderNumber"] == payment["number"])
    assert (order["refundedAmount"], order["OrderStatus"]) == (100_000, 4)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount_centimes": 0}, "body.amount_centimes"),
        ({"amount_centimes": -5}, "body.amount_centimes"),
        ({"amount_centimes": 12.5}, "body.amount_centimes"),
        ({"amount_centimes": 10**12}, "body.amount_centimes"),
        ({"amount_centimes": 250_001}, "body.amount_centimes"),
        ({"method": "paypal"}, "body.method"),
    ],
)
async def test_bad_amounts_and_methods_are_422_naming_the_field(
    billing: LiveService,
    customer: Customer,
    billing_agent: str,
    body: dict[str, Any],
    field: str,
) -> None:
    invoice_id = await add_bill(billing, customer.id, agent=billing_agent)
    answer = await start(billing, customer, invoice_id, **body)
    assert answer.status_code == 422, answer.text
    assert field in [e["field"] for e in problem_of(answer)["errors"]]


async def test_a_customer_sees_and_pays_only_their_own(
    billing: LiveService,
    satim: Simulator,
    customer: Customer,
    identity: LiveService,
    billing_agent: str,
) -> None:
    from tests.integration.billing.conftest import customer_token

    invoice_id = await add_bill(billing, customer.id, agent=billing_agent)
    payment = (await start(billing, customer, invoice_id)).json()
    stranger = Customer("someone-else", await customer_token(identity, "someone-else"))
    assert (await start(billing, stranger, invoice_id)).status_code == 404
    seen = await billing.client.get(f"/v1/payments/{payment['id']}", headers=stranger.headers)
    assert seen.status_code == 404
    listed = await billing.client.get(
        f"/v1/payments?customer_id={customer.id}", headers=stranger.headers
    )
    assert listed.json()["items"] == []
    mine = await billing.client.get("/v1/payments?limit=1", headers=customer.headers)
    assert [p["id"] for p in mine.json()["items"]] == [payment["id"]]
    bills = await billing.client.get(
        f"/v1/invoices?customer_id={customer.id}", headers=stranger.headers
    )
    assert bills.json()["items"] == []
    assert (
        await billing.client.get(f"/v1/invoices/{invoice_id}", headers=stranger.headers)
    ).status_code == 404


@pytest.mark.parametrize("path", ["/v1/payments", "/v1/invoices"])
@pytest.mark.parametrize(
    "boundary",
    [
        ["not a date", "x"],
        [5, "x"],
        ["0001-01-01T00:00:00+14:00", "x"],
        ["2031-01-01T00:00:00Z", 7],
    ],
)
async def test_a_cursor_billing_did_not_give_out_is_a_422_naming_the_cursor(
    billing: LiveService, customer: Customer, path: str, boundary: list[Any]
) -> None:
    answer = await billing.client.get(
        path, params={"cursor": encode_cursor(boundary)}, headers=customer.headers
    )
    assert answer.status_code == 422, answer.text
    assert problem_of(answer)["errors"][0]["field"] == "query.cursor"


async def test_a_recharge_by_card_extends_the_line_from_now_once(
    billing: LiveService, satim: Simulator, customer: Customer, billing_agent: str
) -> None:
    line = await add_line(billing, billing_agent, customer.id, "IDOOM_FIBRE_100M")
    answer = await billing.client.post(
        "/v1/payments",
        headers=customer.headers,
        json={"purpose": "recharge", "method": "cib", "subscription_id": line["id"]},
    )
    assert answer.status_code == 201, answer.text
    payment = answer.json()
    assert payment["amount_centimes"] == 240_000
    back = await pay_on_satim(satim, payment["redirect_url"], "4761340000000001")
    await billing.client.get(back)
    await billing.client.get(back)
    row = await subscription_row(billing, line["id"])
    async with billing.runtime.session_factory() as session:
        credits = (
            await session.execute(
                select(func.count()).where(recharges.c.payment_id == payment["id"])
            )
        ).scalar_one()
    assert credits == 1 and row.ends_at is not None
    recharged = await events_of(billing, line["id"], "billing.subscription.recharged")
    assert len(recharged) == 1 and recharged[0]["data"]["source"] == "payment"
    assert EDAHABIA_OK  # the test cards are documented in simulators/README.md
