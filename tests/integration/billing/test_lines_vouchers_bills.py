"""Khlass, vouchers, Idoomly, the bill run and reconciliation, on the real database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import func, select, update

from sila_billing.flows import bills, reconciliation
from sila_billing.flows.subscriptions import grant_idoomly
from sila_billing.tables import invoices, subscriptions
from tests.integration.billing.conftest import (
    Customer,
    Simulator,
    add_line,
    events_of,
    pay_on_satim,
    subscription_row,
)
from tests.support import LiveService, bearer, eventually, problem_of

ALGIERS = ZoneInfo("Africa/Algiers")


async def khlass_recharge(billing: LiveService, customer: Customer, line_id: str) -> dict:  # type: ignore[type-arg]
    answer = await billing.client.post(
        "/v1/payments",
        headers=customer.headers,
        json={"purpose": "recharge", "method": "khlass", "subscription_id": line_id},
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def khlass_pay(khlass: Simulator, payment_url: str, **body: object) -> str:
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"{khlass.url}/_sim/pay", json={"payment_id": payment_url.rsplit("/", 1)[1]} | body
        )
    redirect: str = answer.json().get("redirect", "")
    return redirect.split("http://billing", 1)[-1]


async def test_a_khlass_recharge_confirmed_by_code_extends_the_line(
    billing: LiveService, khlass: Simulator, customer: Customer, billing_agent: str
) -> None:
    line = await add_line(billing, billing_agent, customer.id, "IDOOM_ADSL_20M")
    payment = await khlass_recharge(billing, customer, line["id"])
    back = await khlass_pay(khlass, payment["redirect_url"], account="0000000001", key="01")
    assert (await billing.client.get(back)).status_code == 303
    read = (
        await billing.client.get(f"/v1/payments/{payment['id']}", headers=customer.headers)
    ).json()
    assert read["status"] == "succeeded" and read["masked_pan"] == "******0001"
    row = await subscription_row(billing, line["id"])
    assert row.ends_at is not None


async def test_khlass_failures_wrong_code_funds_blocked_and_a_code_that_times_out(
    billing: LiveService, khlass: Simulator, customer: Customer, billing_agent: str
) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"account": "0000000001", "key": "01", "codes": ["1", "2", "3"]}, "wrong_code"),
        ({"account": "0000000002", "key": "02"}, "insufficient_funds"),
        ({"account": "0000000003", "key": "03"}, "account_blocked"),
        ({"account": "0000000001", "key": "99"}, "wrong_account_or_key"),
    ]
    for body, reason in cases:
        line = await add_line(billing, billing_agent, customer.id, "IDOOM_ADSL_10M")
        payment = await khlass_recharge(billing, customer, line["id"])
        await khlass_pay(khlass, payment["redirect_url"], **body)
        read = (
            await billing.client.get(f"/v1/payments/{payment['id']}", headers=customer.headers)
        ).json()
        assert (read["status"], read["failure_reason"]) == ("failed", reason)
    line = await add_line(billing, billing_agent, customer.id, "IDOOM_ADSL_10M")
    payment = await khlass_recharge(billing, customer, line["id"])
    await khlass_pay(
        khlass, payment["redirect_url"], account="0000000001", key="01", stop_before_code=True
    )

    async def timed_out() -> bool:
        read = await billing.client.get(f"/v1/payments/{payment['id']}", headers=customer.headers)
        return bool(read.json()["failure_reason"] == "code_expired")

    await eventually(timed_out, timeout=15, what="the one-time code expired")
    assert (await subscription_row(billing, line["id"])).ends_at is None


async def test_a_voucher_used_twice_at_once_is_credited_once_and_wrong_codes_are_limited(
    billing: LiveService, customer: Customer, billing_agent: str
) -> None:
    batch = await billing.client.post(
        "/v1/voucher-batches",
        headers=bearer(billing_agent),
        json={"offer_code": "IDOOM_FIBRE_100M", "quantity": 3},
    )
    assert batch.status_code == 201, batch.text
    cards = batch.json()["cards"]
    assert len({c["code"] for c in cards}) == 3 and all(len(c["code"]) == 16 for c in cards)
    line = await add_line(billing, billing_agent, customer.id, "IDOOM_FIBRE_100M")
    body = {"subscription_id": line["id"], "code": cards[0]["code"]}
    first, second = await asyncio.gather(
        billing.client.post("/v1/recharges", headers=customer.headers, json=body),
        billing.client.post("/v1/recharges", headers=customer.headers, json=body),
    )
    assert sorted([first.status_code, second.status_code]) == [201, 404]
    assert len(await events_of(billing, line["id"], "billing.subscription.recharged")) == 1
    for attempt in range(4):
        wrong = await billing.client.post(
            "/v1/recharges",
            headers=customer.headers,
            json={"subscription_id": line["id"], "code": f"99999999999999{attempt:02d}"},
        )
        assert wrong.status_code == 404
    # The losing twin counted as one wrong code; with four more the limit (5) is reached.
    limited = await billing.client.post(
        "/v1/recharges",
        headers=customer.headers,
        json={"subscription_id": line["id"], "code": cards[1]["code"]},
    )
    assert limited.status_code == 429
    assert problem_of(limited)["type"].endswith("voucher-attempts-exceeded")


async def test_idoomly_on_an_expired_fibre_line_on_a_friday_night_once_per_period(
    billing: LiveService, customer: Customer, billing_agent: str
) -> None:
    line = await add_line(billing, billing_agent, customer.id, "IDOOM_FIBRE_100M")
    ended = datetime(2026, 11, 6, 20, 0, tzinfo=ALGIERS)  # a Friday evening
    async with billing.runtime.session_factory() as session, session.begin():
        await session.execute(
            update(subscriptions).where(subscriptions.c.id == line["id"]).values(ends_at=ended)
        )
    night = datetime(2026, 11, 6, 23, 30, tzinfo=ALGIERS)
    async with billing.runtime.session_factory() as session, session.begin():
        granted = await grant_idoomly(
            session, billing.runtime, line["id"], customer.id, moment=night
        )
    assert granted["idoomly_owed_centimes"] == 240_000
    assert granted["idoomly_ends_at"] is not None
    events = await events_of(billing, line["id"], "billing.idoomly.granted")
    assert len(events) == 1
    again = await billing.client.post(
        f"/v1/subscriptions/{line['id']}/idoomly", headers=customer.headers
    )
    assert again.status_code == 409
    assert problem_of(again)["type"].endswith("idoomly-already-used")
    # The next recharge costs the offer plus the Idoomly owed.
    recharge = await billing.client.post(
        "/v1/payments",
        headers=customer.headers,
        json={"purpose": "recharge", "method": "edahabia", "subscription_id": line["id"]},
    )
    assert recharge.json()["amount_centimes"] == 480_000


async def test_the_bill_run_is_idempotent_per_line_and_period_and_resumes_after_a_crash(
    billing: LiveService, customer: Customer, billing_agent: str
) -> None:
    lines = [await add_line(billing, billing_agent, customer.id, "IDOOM_FIXE") for _ in range(3)]
    run = await bills.start_run(billing.runtime, "2031-01", "test")
    # One batch, then "the crash": the run is started again and goes to the end.
    assert await bills.run_batch(billing.runtime, run["id"], 1) == 1
    again = await bills.start_run(billing.runtime, "2031-01", "test")
    assert again["id"] == run["id"]
    answer = await billing.client.post(
        "/v1/bill-runs", headers=bearer(billing_agent), json={"period": "2031-01"}
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["status"] == "finished"
    assert (
        await billing.client.post(
            "/v1/bill-runs", headers=bearer(billing_agent), json={"period": "2031-01"}
        )
    ).status_code == 201
    async with billing.runtime.session_factory() as session:
        per_line = (
            await session.execute(
                select(invoices.c.subscription_id, func.count())
                .where(invoices.c.period == "2031-01")
                .group_by(invoices.c.subscription_id)
            )
        ).all()
    counts: dict[str, int] = {row[0]: row[1] for row in per_line}
    assert all(counts[line["id"]] == 1 for line in lines)
    assert max(counts.values()) == 1
    listed = await billing.client.get("/v1/invoices?limit=2", headers=customer.headers)
    page = listed.json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    assert page["items"][0]["amount_centimes"] == 100_000
    rest = await billing.client.get(
        f"/v1/invoices?limit=2&cursor={page['next_cursor']}", headers=customer.headers
    )
    assert len(rest.json()["items"]) == 1
    issued = await events_of(billing, page["items"][0]["id"], "billing.invoice.issued")
    assert issued[0]["data"]["amount_centimes"] == 100_000 and issued[0]["data"]["due_at"]
    # Overdue: past its due date, one reminder.
    async with billing.runtime.session_factory() as session, session.begin():
        await session.execute(
            update(invoices)
            .where(invoices.c.id == page["items"][0]["id"])
            .values(due_at=datetime.now(UTC) - timedelta(days=1))
        )
    assert await bills.mark_overdue(billing.runtime, 1000) >= 1
    await bills.mark_overdue(billing.runtime, 1000)
    overdue = await events_of(billing, page["items"][0]["id"], "billing.invoice.overdue")
    assert len(overdue) == 1


async def test_reconciliation_credits_a_payment_paid_at_satim_but_left_pending(
    billing: LiveService, satim: Simulator, customer: Customer, billing_agent: str
) -> None:
    line = await add_line(billing, billing_agent, customer.id, "IDOOM_FIBRE_100M")
    payment = (
        await billing.client.post(
            "/v1/payments",
            headers=customer.headers,
            json={"purpose": "recharge", "method": "edahabia", "subscription_id": line["id"]},
        )
    ).json()
    await pay_on_satim(satim, payment["redirect_url"])  # the customer never comes back
    summary = await reconciliation.reconcile(billing.runtime)
    assert summary.repaired >= 1
    assert (await subscription_row(billing, line["id"])).ends_at is not None
    again = await billing.client.post("/v1/reconciliation/runs", headers=bearer(billing_agent))
    assert again.status_code == 200 and again.json()["repaired"] == 0
    listed = await billing.client.get("/v1/reconciliation/issues", headers=bearer(billing_agent))
    assert listed.status_code == 200
    assert all(i["payment_id"] != payment["id"] for i in listed.json())


async def test_the_bill_run_cli_bills_a_new_period_with_its_progress_bar(
    billing: LiveService, customer: Customer, billing_agent: str
) -> None:
    from sila_billing.billrun import run

    line = await add_line(billing, billing_agent, customer.id, "IDOOM_FIXE_PRO")
    issued = await run("2031-02", 500, settings=billing.runtime.settings)
    assert issued >= 1
    assert await run("2031-02", 500, settings=billing.runtime.settings) == issued
    async with billing.runtime.session_factory() as session:
        mine = (
            await session.execute(
                select(invoices.c.amount_centimes).where(
                    invoices.c.subscription_id == line["id"], invoices.c.period == "2031-02"
                )
            )
        ).all()
    assert [r.amount_centimes for r in mine] == [250_000]
