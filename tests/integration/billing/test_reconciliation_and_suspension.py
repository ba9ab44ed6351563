"""Reconciliation's cases with SATIM's settlement file, the agent's resolution, and suspension.

Each difference is made as it happens in life, against the SATIM simulator over HTTP: an order
paid at SATIM that Sila never registered, a page paid after Sila expired the payment, a
refund made from SATIM's back office, a capture of another amount, a chargeback after the
credit. Reconciliation lists each once for a billing agent and repairs none of them (only a
payment still open that SATIM reports paid is safe to credit, tested beside the bill run).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import update

from sila_billing.flows.payments import settle_overdue_payments
from sila_billing.flows.subscriptions import subscription_notices
from sila_billing.tables import subscriptions
from tests.integration.billing.conftest import (
    EDAHABIA_OK,
    Customer,
    Simulator,
    add_bill,
    add_line,
    events_of,
    expire_window,
    pay_on_satim,
    subscription_row,
)
from tests.support import LiveService, bearer, problem_of

SATIM_MERCHANT = {"userName": "sila", "password": "sila-secret"}


async def satim_rest(satim: Simulator, operation: str, **params: Any) -> dict[str, Any]:
    """A call to SATIM's REST API from outside Sila (another shop, the back office)."""
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"{satim.url}/payment/rest/{operation}", data=SATIM_MERCHANT | params
        )
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    return body


async def sim(satim: Simulator, path: str, **body: Any) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        answer = await client.post(f"{satim.url}/_sim/{path}", json=body)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def reconcile(billing: LiveService, agent: str) -> dict[str, Any]:
    answer = await billing.client.post("/v1/reconciliation/runs", headers=bearer(agent))
    assert answer.status_code == 200, answer.text
    summary: dict[str, Any] = answer.json()
    return summary


async def open_issues(billing: LiveService, agent: str, order_id: str) -> list[dict[str, Any]]:
    answer = await billing.client.get("/v1/reconciliation/issues", headers=bearer(agent))
    assert answer.status_code == 200, answer.text
    return [i for i in answer.json() if i["provider_order_id"] == order_id]


async def paid_bill(
    billing: LiveService, satim: Simulator, customer: Customer, agent: str, **extra: Any
) -> dict[str, Any]:
    """A bill paid by card, confirmed and credited; ``extra`` goes to SATIM's page."""
    invoice_id = await add_bill(billing, customer.id, 250_000, agent=agent)
    created = await billing.client.post(
        "/v1/payments",
        headers=customer.headers,
        json={"purpose": "bill", "method": "cib", "invoice_id": invoice_id},
    )
    assert created.status_code == 201, created.text
    payment: dict[str, Any] = created.json()
    back = await pay_on_satim(satim, payment["redirect_url"], **extra)
    assert (await billing.client.get(back)).status_code == 303
    read = await billing.client.get(f"/v1/payments/{payment['id']}", headers=customer.headers)
    assert read.json()["status"] == "succeeded"
    return payment | {"order_id": order_of(payment)}


def order_of(payment: dict[str, Any]) -> str:
    return str(payment["redirect_url"].split("mdOrder=", 1)[1].split("&", 1)[0])


async def test_an_order_paid_at_satim_that_sila_never_made_is_listed_once(
    billing: LiveService, satim: Simulator, billing_agent: str
) -> None:
    registered = await satim_rest(
        satim,
        "register.do",
        orderNumber=f"X{uuid.uuid4().hex[:12]}",
        amount="180000",
        currency="012",
        returnUrl="https://elsewhere.example/back",
    )
    order_id = registered["orderId"]
    await sim(satim, "pay", orderId=order_id, pan=EDAHABIA_OK, expiry="1230", cvv2="123")
    await reconcile(billing, billing_agent)
    await reconcile(billing, billing_agent)
    issues = await open_issues(billing, billing_agent, order_id)
    assert [(i["kind"], i["payment_id"], i["provider"]) for i in issues] == [
        ("paid_unknown_order", None, "satim")
    ]
    assert "180000" in issues[0]["detail"]


async def test_a_page_paid_after_sila_expired_the_payment_is_flagged_not_credited(
    billing: LiveService, satim: Simulator, customer: Customer, billing_agent: str
) -> None:
    line = await add_line(billing, billing_agent, customer.id, "IDOOM_ADSL_10M")
    created = await billing.client.post(
        "/v1/payments",
        headers=customer.headers,
        json={"purpose": "recharge", "method": "edahabia", "subscription_id": line["id"]},
    )
    payment = created.json()
    # The window passes with the page untouched: settlement asks SATIM, the payment expires.
    await expire_window(billing, payment["id"])
    assert await settle_overdue_payments(billing.runtime, 1000) >= 1
    read = await billing.client.get(f"/v1/payments/{payment['id']}", headers=customer.headers)
    assert read.json()["status"] == "expired"
    # The customer had kept the page open and pays now: SATIM takes the money.
    await pay_on_satim(satim, payment["redirect_url"])

    summary = await reconcile(billing, billing_agent)
    assert summary["issues"] >= 1
    issues = await open_issues(billing, billing_agent, order_of(payment))
    assert [(i["kind"], i["payment_id"]) for i in issues] == [("paid_not_credited", payment["id"])]
    # Not a safe case: nothing credited until an agent decides.
    assert (await subscription_row(billing, line["id"])).ends_at is None
    read = await billing.client.get(f"/v1/payments/{payment['id']}", headers=customer.headers)
    assert read.json()["status"] == "expired"
    assert await events_of(billing, payment["id"], "billing.payment.succeeded") == []


async def test_refund_capture_and_chargeback_differences_are_listed_then_resolved_by_an_agent(
    billing: LiveService,
    satim: Simulator,
    customer: Customer,
    billing_agent: str,
    call_centre_agent: str,
) -> None:
    # A refund made from SATIM's back office, not through Sila.
    refunded = await paid_bill(billing, satim, customer, billing_agent)
    answer = await satim_rest(satim, "refund.do", orderId=refunded["order_id"], amount="50000")
    assert answer["errorCode"] == "0"
    # The acquirer captured another amount than the one authorised.
    captured = await paid_bill(billing, satim, customer, billing_agent, deposit="240000")
    # The bank reversed the payment after Sila credited the bill.
    reversed_ = await paid_bill(billing, satim, customer, billing_agent)
    await sim(satim, "reverse", orderId=reversed_["order_id"])

    await reconcile(billing, billing_agent)
    await reconcile(billing, billing_agent)  # a second run lists nothing twice
    kinds = {
        name: [
            (i["kind"], i["payment_id"])
            for i in await open_issues(billing, billing_agent, p["order_id"])
        ]
        for name, p in (("refunded", refunded), ("captured", captured), ("reversed", reversed_))
    }
    assert kinds == {
        "refunded": [("refund_mismatch", refunded["id"])],
        "captured": [("amount_mismatch", captured["id"])],
        "reversed": [("credited_not_paid", reversed_["id"])],
    }
    issue = (await open_issues(billing, billing_agent, refunded["order_id"]))[0]
    assert "50000" in issue["detail"]

    # Only billing agents see and resolve them.
    for token in (customer.token, call_centre_agent):
        assert (
            await billing.client.get("/v1/reconciliation/issues", headers=bearer(token))
        ).status_code == 403
        assert (
            await billing.client.post("/v1/reconciliation/runs", headers=bearer(token))
        ).status_code == 403
        assert (
            await billing.client.post(
                f"/v1/reconciliation/issues/{issue['id']}/resolution", headers=bearer(token)
            )
        ).status_code == 403
    assert (await billing.client.get("/v1/reconciliation/issues")).status_code == 401

    resolved = await billing.client.post(
        f"/v1/reconciliation/issues/{issue['id']}/resolution", headers=bearer(billing_agent)
    )
    assert resolved.status_code == 204
    assert await open_issues(billing, billing_agent, refunded["order_id"]) == []
    listed = await billing.client.get(
        "/v1/reconciliation/issues", params={"status": "resolved"}, headers=bearer(billing_agent)
    )
    assert [i["id"] for i in listed.json() if i["id"] == issue["id"]] == [issue["id"]]
    # A resolved difference is not raised again by the next run.
    await reconcile(billing, billing_agent)
    assert await open_issues(billing, billing_agent, refunded["order_id"]) == []
    missing = await billing.client.post(
        f"/v1/reconciliation/issues/{uuid.uuid4()}/resolution", headers=bearer(billing_agent)
    )
    assert missing.status_code == 404 and problem_of(missing)["status"] == 404
    bad_status = await billing.client.get(
        "/v1/reconciliation/issues", params={"status": "lost"}, headers=bearer(billing_agent)
    )
    assert bad_status.status_code == 422 and problem_of(bad_status)


async def test_a_suspended_line_cannot_be_recharged_nor_use_idoomly_and_gets_no_notice(
    billing: LiveService, customer: Customer, billing_agent: str, call_centre_agent: str
) -> None:
    line = await add_line(billing, billing_agent, customer.id, "IDOOM_FIBRE_100M")
    path = f"/v1/subscriptions/{line['id']}/suspension"
    body = {"reason": "Ligne en contentieux"}
    for token in (customer.token, call_centre_agent):
        assert (
            await billing.client.post(path, headers=bearer(token), json=body)
        ).status_code == 403
    assert (await billing.client.post(path, json=body)).status_code == 401
    short = await billing.client.post(path, headers=bearer(billing_agent), json={"reason": "x"})
    assert short.status_code == 422 and problem_of(short)
    unknown = await billing.client.post(
        f"/v1/subscriptions/{uuid.uuid4()}/suspension", headers=bearer(billing_agent), json=body
    )
    assert unknown.status_code == 404 and problem_of(unknown)

    suspended = await billing.client.post(path, headers=bearer(billing_agent), json=body)
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["state"] == "suspended"
    again = await billing.client.post(path, headers=bearer(billing_agent), json=body)
    assert again.status_code == 200 and again.json()["state"] == "suspended"
    events = await events_of(billing, line["id"], "billing.subscription.suspended")
    assert len(events) == 1
    assert events[0]["data"]["reason"] == "Ligne en contentieux"
    assert events[0]["data"]["customer_id"] == customer.id
    mine = await billing.client.get(f"/v1/subscriptions/{line['id']}", headers=customer.headers)
    assert mine.json()["state"] == "suspended"

    payment = await billing.client.post(
        "/v1/payments",
        headers=customer.headers,
        json={"purpose": "recharge", "method": "edahabia", "subscription_id": line["id"]},
    )
    assert payment.status_code == 409
    assert problem_of(payment)["type"].endswith("subscription-suspended")

    # Its end passed: still no Idoomly, and no expiring nor expired notice for a suspended line.
    async with billing.runtime.session_factory() as session, session.begin():
        await session.execute(
            update(subscriptions)
            .where(subscriptions.c.id == line["id"])
            .values(ends_at=datetime.now(UTC) + timedelta(days=1))
        )
    await subscription_notices(billing.runtime, 10_000)
    assert await events_of(billing, line["id"], "billing.subscription.expiring") == []
    async with billing.runtime.session_factory() as session, session.begin():
        await session.execute(
            update(subscriptions)
            .where(subscriptions.c.id == line["id"])
            .values(ends_at=datetime.now(UTC) - timedelta(hours=1))
        )
    await subscription_notices(billing.runtime, 10_000)
    assert await events_of(billing, line["id"], "billing.subscription.expired") == []
    idoomly = await billing.client.post(
        f"/v1/subscriptions/{line['id']}/idoomly", headers=customer.headers
    )
    assert idoomly.status_code == 409
    assert problem_of(idoomly)["type"].endswith("idoomly-suspended")


async def test_a_report_that_fails_postpones_that_provider_only_and_khlass_is_repaired(
    billing: LiveService,
    satim: Simulator,
    khlass: Simulator,
    customer: Customer,
    billing_agent: str,
) -> None:
    # Khlass: the customer confirmed with the code but never came back to Sila.
    line = await add_line(billing, billing_agent, customer.id, "IDOOM_ADSL_20M")
    created = await billing.client.post(
        "/v1/payments",
        headers=customer.headers,
        json={"purpose": "recharge", "method": "khlass", "subscription_id": line["id"]},
    )
    assert created.status_code == 201, created.text
    payment = created.json()
    async with httpx.AsyncClient() as client:
        paid = await client.post(
            f"{khlass.url}/_sim/pay",
            json={
                "payment_id": payment["redirect_url"].rsplit("/", 1)[1],
                "account": "0000000001",
                "key": "01",
            },
        )
    assert paid.json()["status"] == "paid"
    # SATIM: an order paid there that Sila never made; SATIM's report fails this time.
    registered = await satim_rest(
        satim,
        "register.do",
        orderNumber=f"Y{uuid.uuid4().hex[:12]}",
        amount="99000",
        currency="012",
        returnUrl="https://elsewhere.example/back",
    )
    await sim(satim, "pay", orderId=registered["orderId"], pan=EDAHABIA_OK, expiry="1230")
    await sim(satim, "faults", report={"mode": "error", "count": 1})

    first = await reconcile(billing, billing_agent)
    assert first["repaired"] >= 1
    read = await billing.client.get(f"/v1/payments/{payment['id']}", headers=customer.headers)
    assert read.json()["status"] == "succeeded"
    assert (await subscription_row(billing, line["id"])).ends_at is not None
    assert len(await events_of(billing, payment["id"], "billing.payment.succeeded")) == 1
    assert await open_issues(billing, billing_agent, registered["orderId"]) == []

    # The next run reads SATIM's report again; Khlass's repaired payment is not credited twice.
    await reconcile(billing, billing_agent)
    issues = await open_issues(billing, billing_agent, registered["orderId"])
    assert [i["kind"] for i in issues] == ["paid_unknown_order"]
    assert len(await events_of(billing, payment["id"], "billing.payment.succeeded")) == 1
