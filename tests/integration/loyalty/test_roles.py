"""Loyalty asks the platform's role groups (docs/security.md): one customer's account,
ledger and redemptions are customer care's in their wilayas; marketing manages campaigns and
sees aggregates (counters, dry runs, draws) but no individual's records; audit re-runs
draws. Agents are made by the administrator through identity's admin API and log in with
the password grant."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from sila_loyalty.tables import ledger_entries
from tests.integration.loyalty.conftest import (
    Emit,
    account_open,
    campaign_body,
    registered_by_event,
)
from tests.integration.security_support import new_agent
from tests.support import LiveService, eventually, problem_of


async def test_marketing_manages_a_campaign_but_reads_no_ones_account(
    identity: LiveService, loyalty: LiveService, admin_token: str, emit: Emit
) -> None:
    marketing = await new_agent(identity, admin_token, ["marketing"], ["*"])
    audit = await new_agent(identity, admin_token, ["audit"], ["*"])
    technician = await new_agent(identity, admin_token, ["technician"], ["15"])
    agent_16 = await new_agent(identity, admin_token, ["agent"], ["16"])

    offer = f"roles_{uuid.uuid4().hex[:6]}"
    created = await loyalty.client.post(
        "/v1/loyalty/campaigns",
        headers=marketing.auth,
        json=campaign_body(conditions={"offers": [offer]}),
    )
    assert created.status_code == 201, created.text
    campaign = created.json()

    customer = await registered_by_event(emit, wilaya="15")
    await account_open(loyalty, customer)
    await emit(
        "billing.payment.succeeded",
        customer,
        {"payment_id": str(uuid.uuid4()), "amount_centimes": 150_000, "offer_code": offer},
    )

    async def granted() -> bool:
        async with loyalty.runtime.session_factory() as session:
            count = await session.scalar(
                select(func.count()).where(ledger_entries.c.campaign_id == campaign["id"])
            )
        return count == 1

    await eventually(granted, what="the campaign's grant")

    # The individual's records: 403 for marketing and audit, the same for an account that
    # exists and one that does not (no answer confirms a customer has an account).
    individual = [
        f"/v1/loyalty/accounts/{customer}",
        f"/v1/loyalty/accounts/{customer}/ledger",
        f"/v1/loyalty/redemptions?customer_id={customer}",
    ]
    unknown = str(uuid.uuid4())
    for path in [*individual, f"/v1/loyalty/accounts/{unknown}"]:
        for who in (marketing, audit):
            answer = await loyalty.client.get(path, headers=who.auth)
            assert answer.status_code == 403, (path, answer.text)
            assert "marketing" not in problem_of(answer)["detail"]
    # Customer care reads it in its wilayas (a technician too, as in every service); out
    # of them it is unknown.
    for path in individual:
        assert (await loyalty.client.get(path, headers=technician.auth)).status_code == 200
        assert (await loyalty.client.get(path, headers=agent_16.auth)).status_code == 404
    ledger = await loyalty.client.get(individual[1], headers=technician.auth)
    assert [e["campaign_id"] for e in ledger.json()["items"]] == [campaign["id"]]

    # Marketing still manages the campaign and sees its aggregates.
    seen = await loyalty.client.get(
        f"/v1/loyalty/campaigns/{campaign['id']}", headers=marketing.auth
    )
    assert seen.status_code == 200
    assert seen.json()["grants"] == 1
    dry = await loyalty.client.post(
        "/v1/loyalty/campaigns/dry-run",
        headers=marketing.auth,
        json=campaign_body(conditions={"offers": [offer]}),
    )
    assert dry.status_code == 200, dry.text
    assert dry.json()["customers_reached"] == 1
    paused = await loyalty.client.post(
        f"/v1/loyalty/campaigns/{campaign['id']}/status",
        headers=marketing.auth,
        json={"status": "paused"},
    )
    assert paused.status_code == 200, paused.text
    assert paused.json()["status"] == "paused"
    # A care agent does not manage campaigns.
    refused = await loyalty.client.post(
        f"/v1/loyalty/campaigns/{campaign['id']}/status",
        headers=technician.auth,
        json={"status": "active"},
    )
    assert refused.status_code == 403
