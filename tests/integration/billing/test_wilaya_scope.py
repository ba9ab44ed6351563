"""An agent scoped to some wilayas reads and acts on the bills, payments and lines of those
wilayas' customers only: outside them, the same 404 as an unknown customer or row
(docs/security.md). Customers registered at identity; billing learns their wilaya from
identity's events, or asks identity when it has not heard of one yet. Agents created through
identity's admin API, tokens through the password grant."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import delete, select

from sila_billing.tables import customers
from sila_common.auth import JwksKeySource
from sila_common.settings import PlatformSettings, ServiceSettings
from tests.integration.billing.conftest import (
    Customer,
    Simulator,
    add_bill,
    customer_token,
    invoice_row,
    pay_on_satim,
    subscription_row,
)
from tests.support import (
    LiveService,
    bearer,
    eventually,
    live_service,
    problem_of,
    random_mobile,
)

PASSWORD = "scoped billing agent pass phrase"


async def register(identity: LiveService, token: str, wilaya: str) -> Customer:
    created = await identity.client.post(
        "/v1/customers",
        headers=bearer(token),
        json={
            "first_name": "Karim",
            "last_name": "Bensalem",
            "phone": random_mobile(),
            "wilaya_code": wilaya,
            "language": "fr",
            "channel": "agency",
        },
    )
    assert created.status_code == 201, created.text
    customer_id = str(created.json()["id"])
    return Customer(customer_id, await customer_token(identity, customer_id))


async def agent_of(identity: LiveService, admin: str, roles: list[str], wilayas: list[str]) -> str:
    username = f"scoped.{uuid.uuid4().hex[:8]}"
    created = await identity.client.post(
        "/v1/admin/identity/agents",
        headers=bearer(admin),
        json={
            "username": username,
            "display_name": "Agent de wilaya",
            "password": PASSWORD,
            "roles": roles,
            "wilayas": wilayas,
        },
    )
    assert created.status_code == 201, created.text
    login = await identity.client.post(
        "/v1/oauth/token",
        data={"grant_type": "password", "username": username, "password": PASSWORD},
    )
    assert login.status_code == 200, login.text
    token: str = login.json()["access_token"]
    return token


@dataclass
class Books:
    """One customer's line, bill and card payment (succeeded)."""

    customer: Customer
    subscription_id: str
    invoice_id: str
    payment_id: str


async def books_of(billing: LiveService, satim: Simulator, customer: Customer, agent: str) -> Books:
    invoice_id = await add_bill(billing, customer.id, 100_000, agent=agent)
    created = await billing.client.post(
        "/v1/payments",
        headers=customer.headers,
        json={"purpose": "bill", "method": "cib", "invoice_id": invoice_id},
    )
    assert created.status_code == 201, created.text
    payment = created.json()
    assert (
        await billing.client.get(await pay_on_satim(satim, payment["redirect_url"]))
    ).status_code == 303
    invoice = await invoice_row(billing, invoice_id)
    return Books(customer, str(invoice.subscription_id), invoice_id, str(payment["id"]))


async def directory_entry(billing: LiveService, customer_id: str) -> Any:
    async with billing.runtime.session_factory() as session:
        query = select(customers).where(customers.c.customer_id == customer_id)
        return (await session.execute(query)).one_or_none()


def reads(books: Books) -> list[tuple[str, dict[str, str]]]:
    """Every read of a customer's billing an agent can make: (path, query)."""
    customer = {"customer_id": books.customer.id}
    return [
        ("/v1/subscriptions", customer),
        ("/v1/payments", customer),
        ("/v1/invoices", customer),
        (f"/v1/subscriptions/{books.subscription_id}", {}),
        (f"/v1/payments/{books.payment_id}", {}),
        (f"/v1/invoices/{books.invoice_id}", {}),
        (f"/v1/invoices/{books.invoice_id}/pdf", {}),
    ]


async def test_an_agent_of_wilaya_16_learns_nothing_of_a_wilaya_15_customer_s_billing(
    identity: LiveService,
    billing: LiveService,
    satim: Simulator,
    admin_token: str,
    billing_agent: str,
) -> None:
    in_15 = await books_of(
        billing, satim, await register(identity, admin_token, "15"), billing_agent
    )
    in_16 = await books_of(
        billing, satim, await register(identity, admin_token, "16"), billing_agent
    )
    scoped = bearer(await agent_of(identity, admin_token, ["billing", "agent"], ["16"]))
    national = bearer(billing_agent)

    for path, query in reads(in_16):
        answer = await billing.client.get(path, headers=scoped, params=query)
        assert answer.status_code == 200, (path, answer.text)
    for path, query in reads(in_15):
        answer = await billing.client.get(path, headers=scoped, params=query)
        assert answer.status_code == 404, (path, answer.text)
        assert problem_of(answer)["status"] == 404
    # The same answer as for a customer, line, bill or payment that does not exist.
    nobody = Books(Customer(str(uuid.uuid4()), ""), *(str(uuid.uuid4()) for _ in range(3)))
    for (path, query), (unknown_path, unknown_query) in zip(
        reads(in_15), reads(nobody), strict=True
    ):
        theirs = await billing.client.get(path, headers=scoped, params=query)
        unknown = await billing.client.get(unknown_path, headers=scoped, params=unknown_query)
        assert unknown.status_code == 404, unknown_path
        assert problem_of(theirs)["detail"] == problem_of(unknown)["detail"], path

    # The whole payments list holds wilaya 16's only.
    listed = await billing.client.get("/v1/payments", headers=scoped, params={"limit": 200})
    ids = {p["id"] for p in listed.json()["items"]}
    assert in_16.payment_id in ids and in_15.payment_id not in ids

    # Writes: a refund and a suspension of wilaya 15's are refused as unknown, nothing done.
    refund = {"amount_centimes": 10_000, "reason": "geste commercial"}
    refused = await billing.client.post(
        f"/v1/payments/{in_15.payment_id}/refunds", headers=scoped, json=refund
    )
    assert refused.status_code == 404 and problem_of(refused)["detail"] == "No such payment."
    suspension = {"reason": "Ligne en contentieux"}
    refused = await billing.client.post(
        f"/v1/subscriptions/{in_15.subscription_id}/suspension", headers=scoped, json=suspension
    )
    assert refused.status_code == 404
    refused = await billing.client.post(
        "/v1/subscriptions",
        headers=scoped,
        json={
            "customer_id": in_15.customer.id,
            "contract_id": str(uuid.uuid4()),
            "offer_code": "IDOOM_FIBRE_100M",
        },
    )
    assert refused.status_code == 404
    # Idoomly and a voucher recharge of wilaya 15's line: as for a line that does not exist.
    for line in (in_15.subscription_id, str(uuid.uuid4())):
        idoomly = await billing.client.post(f"/v1/subscriptions/{line}/idoomly", headers=scoped)
        recharge = await billing.client.post(
            "/v1/recharges",
            headers=scoped,
            json={"subscription_id": line, "code": "1234567890123456"},
        )
        assert (idoomly.status_code, recharge.status_code) == (404, 404), line
        assert problem_of(idoomly)["detail"] == problem_of(recharge)["detail"]
        assert problem_of(idoomly)["detail"] == "No such subscription for this customer."
    payment_15 = await billing.client.get(f"/v1/payments/{in_15.payment_id}", headers=national)
    assert payment_15.json()["refunded_centimes"] == 0
    assert not (await subscription_row(billing, in_15.subscription_id)).suspended
    lines_15 = await billing.client.get(
        "/v1/subscriptions", headers=national, params={"customer_id": in_15.customer.id}
    )
    assert len(lines_15.json()) == 1

    # The same writes on wilaya 16's are done.
    done = await billing.client.post(
        f"/v1/payments/{in_16.payment_id}/refunds", headers=scoped, json=refund
    )
    assert done.status_code == 201, done.text
    assert done.json()["refunded_centimes"] == 10_000
    done = await billing.client.post(
        f"/v1/subscriptions/{in_16.subscription_id}/suspension", headers=scoped, json=suspension
    )
    assert done.status_code == 200 and done.json()["state"] == "suspended"

    # Work over every wilaya at once is not theirs: the bill run, reconciliation.
    for method, path in (
        ("GET", "/v1/reconciliation/issues"),
        ("POST", "/v1/reconciliation/runs"),
        ("POST", f"/v1/reconciliation/issues/{uuid.uuid4()}/resolution"),
    ):
        answer = await billing.client.request(method, path, headers=scoped)
        assert answer.status_code == 403 and problem_of(answer)["status"] == 403, path
    answer = await billing.client.post("/v1/bill-runs", headers=scoped, json={"period": "2020-01"})
    assert answer.status_code == 403, answer.text
    answer = await billing.client.get("/v1/reconciliation/issues", headers=national)
    assert answer.status_code == 200

    # A national billing agent sees both.
    for books in (in_15, in_16):
        for path, query in reads(books):
            answer = await billing.client.get(path, headers=national, params=query)
            assert answer.status_code == 200, (path, answer.text)
    subs = await billing.client.get(
        "/v1/subscriptions", headers=national, params={"customer_id": in_15.customer.id}
    )
    assert [s["id"] for s in subs.json()] == [in_15.subscription_id]


async def test_billing_learns_customers_wilayas_from_identity_s_events_and_asks_when_it_lacks_one(
    identity: LiveService,
    billing: LiveService,
    satim: Simulator,
    admin_token: str,
    billing_agent: str,
) -> None:
    customer = await register(identity, admin_token, "16")

    async def heard() -> bool:
        row = await directory_entry(billing, customer.id)
        return row is not None and row.source_time is not None

    await eventually(heard, timeout=20, what="identity.customer.registered consumed by billing")
    assert (await directory_entry(billing, customer.id)).wilaya_code == "16"

    # Moved to wilaya 15 at identity: the agent of 16 no longer sees the customer's lines.
    books = await books_of(billing, satim, customer, billing_agent)
    scoped = bearer(await agent_of(identity, admin_token, ["agent"], ["16"]))
    query = {"customer_id": customer.id}
    assert (
        await billing.client.get("/v1/invoices", headers=scoped, params=query)
    ).status_code == 200
    moved = await identity.client.patch(
        f"/v1/customers/{customer.id}", headers=bearer(admin_token), json={"wilaya_code": "15"}
    )
    assert moved.status_code == 200, moved.text

    async def updated() -> bool:
        row = await directory_entry(billing, customer.id)
        return row is not None and row.wilaya_code == "15"

    await eventually(updated, timeout=20, what="identity.customer.updated consumed by billing")
    answer = await billing.client.get(f"/v1/invoices/{books.invoice_id}", headers=scoped)
    assert answer.status_code == 404

    # A customer billing has not heard of (its event not consumed yet): identity is asked,
    # and its answer kept.
    async with billing.runtime.session_factory() as session, session.begin():
        await session.execute(delete(customers).where(customers.c.customer_id == customer.id))
    of_15 = bearer(await agent_of(identity, admin_token, ["agent"], ["15"]))
    answer = await billing.client.get("/v1/invoices", headers=of_15, params=query)
    assert answer.status_code == 200 and [i["id"] for i in answer.json()["items"]] == [
        books.invoice_id
    ]
    kept = await directory_entry(billing, customer.id)
    assert kept is not None and kept.wilaya_code == "15" and kept.source_time is None


async def test_customer_care_reads_a_customer_s_billing_and_marketing_does_not(
    identity: LiveService,
    billing: LiveService,
    satim: Simulator,
    admin_token: str,
    billing_agent: str,
) -> None:
    """The same roles read one customer's records in every service (sila_common.roles):
    a technician of the wilaya answers "did my payment go?", marketing never sees a person."""
    books = await books_of(
        billing, satim, await register(identity, admin_token, "16"), billing_agent
    )
    technician = bearer(await agent_of(identity, admin_token, ["technician"], ["16"]))
    marketing = bearer(await agent_of(identity, admin_token, ["marketing"], ["16"]))
    for path, query in reads(books):
        read = await billing.client.get(path, headers=technician, params=query)
        assert read.status_code == 200, (path, read.text)
        refused = await billing.client.get(path, headers=marketing, params=query)
        assert refused.status_code == 403, (path, refused.text)
    # Reading is not acting: a technician cannot refund.
    refund = await billing.client.post(
        f"/v1/payments/{books.payment_id}/refunds",
        headers=technician,
        json={"amount_centimes": 1_000, "reason": "geste commercial"},
    )
    assert refund.status_code == 403


async def test_identity_away_a_scoped_agent_gets_the_404_of_a_customer_of_another_wilaya(
    identity: LiveService,
    billing: LiveService,
    platform: PlatformSettings,
    settings_for: Callable[..., ServiceSettings],
    admin_token: str,
) -> None:
    """Identity unreachable: a customer billing's directory lacks is answered as one outside
    the agent's wilayas (404, the same detail), not 503, which beside that 404 would tell the
    agent that the customer exists, in another wilaya."""
    from sila_billing.service import definition

    elsewhere = await register(identity, admin_token, "15")

    async def heard() -> bool:
        return await directory_entry(billing, elsewhere.id) is not None

    await eventually(heard, timeout=20, what="identity.customer.registered consumed by billing")
    scoped = bearer(await agent_of(identity, admin_token, ["billing", "agent"], ["16"]))
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{closed.getsockname()[1]}"
    settings = settings_for("billing", identity_url=nowhere, public_base_url="http://billing")
    jwks_client = httpx.AsyncClient(transport=httpx.ASGITransport(app=identity.app))
    keys = JwksKeySource("http://identity/.well-known/jwks.json", client=jwks_client)
    try:
        async with live_service(
            definition, platform=platform, settings=settings, key_source=keys, with_workers=False
        ) as cut_off:
            unknown = str(uuid.uuid4())
            for customer_id in (elsewhere.id, unknown):
                answer = await cut_off.client.get(
                    "/v1/invoices", headers=scoped, params={"customer_id": customer_id}
                )
                assert answer.status_code == 404, (customer_id, answer.text)
            theirs = await cut_off.client.get(
                "/v1/invoices", headers=scoped, params={"customer_id": elsewhere.id}
            )
            nobody = await cut_off.client.get(
                "/v1/invoices", headers=scoped, params={"customer_id": unknown}
            )
            assert problem_of(theirs)["detail"] == problem_of(nobody)["detail"]
            # An agent of every wilaya is not limited by wilaya: nothing to ask identity.
            national = bearer(await agent_of(identity, admin_token, ["billing"], ["*"]))
            listed = await cut_off.client.get(
                "/v1/invoices", headers=national, params={"customer_id": unknown}
            )
            assert listed.status_code == 200, listed.text
            assert listed.json()["items"] == []
    finally:
        await jwks_client.aclose()
    assert await directory_entry(billing, unknown) is None
