"""Accounts: opened from identity's registration, read by their customer and by agents in
scope, and a supervisor's entries that name who made them."""

from __future__ import annotations

from tests.integration.loyalty.conftest import (
    Staff,
    account_open,
    customer_headers,
    outbox_events,
    register,
)
from tests.support import LiveService, bearer, problem_of


async def test_a_registered_customer_gets_an_account_they_alone_read_with_agents_in_scope(
    identity: LiveService, loyalty: LiveService, staff: Staff
) -> None:
    customer_id = await register(identity, staff)
    other_id = await register(identity, staff)
    account = await account_open(loyalty, customer_id)
    assert account.wilaya_code == "15"
    [opened] = await outbox_events(loyalty, customer_id, "loyalty.account.opened")
    assert opened["data"]["referral_code"] == account.referral_code

    own = await loyalty.client.get(
        f"/v1/loyalty/accounts/{customer_id}", headers=await customer_headers(identity, customer_id)
    )
    assert own.status_code == 200, own.text
    body = own.json()
    assert body["tier"] == "bronze"
    assert body["balances"] == {
        "points": 0,
        "bonus_hours": 0,
        "speed_boost": 0,
        "coupon": 0,
        "gift": 0,
    }
    assert body["privileges"]["points_percent"] == 100

    others = await loyalty.client.get(
        f"/v1/loyalty/accounts/{customer_id}", headers=await customer_headers(identity, other_id)
    )
    assert others.status_code == 404
    problem_of(others)
    in_scope = await loyalty.client.get(
        f"/v1/loyalty/accounts/{customer_id}", headers=bearer(staff.agent_15)
    )
    assert in_scope.status_code == 200
    out_of_scope = await loyalty.client.get(
        f"/v1/loyalty/accounts/{customer_id}", headers=bearer(staff.agent_16)
    )
    # Out of the agent's wilayas reads as unknown: no 403 confirming the account exists
    # (docs/security.md, rule 3), the same answer as for no such customer below.
    assert out_of_scope.status_code == 404
    assert problem_of(out_of_scope)["detail"] == f"No loyalty account for customer {customer_id}."
    anonymous = await loyalty.client.get(f"/v1/loyalty/accounts/{customer_id}")
    assert anonymous.status_code == 401
    unknown = await loyalty.client.get(
        "/v1/loyalty/accounts/no-such-customer", headers=bearer(staff.agent_15)
    )
    assert unknown.status_code == 404


async def test_a_supervisors_grant_names_the_agent_happens_once_per_key_and_pages(
    identity: LiveService, loyalty: LiveService, staff: Staff
) -> None:
    customer_id = await register(identity, staff)
    await account_open(loyalty, customer_id)
    url = f"/v1/loyalty/accounts/{customer_id}/adjustments"
    headers = bearer(staff.supervisor_15) | {"Idempotency-Key": f"goodwill-{customer_id}"}
    body = {"kind": "points", "quantity": 300, "label": "Geste commercial"}
    first = await loyalty.client.post(url, headers=headers, json=body)
    assert first.status_code == 201, first.text
    again = await loyalty.client.post(url, headers=headers, json=body)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["entry_id"] == first.json()["entry_id"]
    changed = await loyalty.client.post(url, headers=headers, json=body | {"quantity": 301})
    assert changed.status_code == 409
    assert first.json()["agent_id"] == staff.supervisor_15_id
    assert first.json()["reason"] == "adjustment"

    for quantity in (-100, 50):
        answer = await loyalty.client.post(
            url,
            headers=bearer(staff.supervisor_15),
            json={"kind": "points", "quantity": quantity, "label": "Correction"},
        )
        assert answer.status_code == 201, answer.text
    overdraw = await loyalty.client.post(
        url,
        headers=bearer(staff.supervisor_15),
        json={"kind": "points", "quantity": -1000, "label": "Correction"},
    )
    assert overdraw.status_code == 409
    assert problem_of(overdraw)["balance"] == 250
    agent = await loyalty.client.post(url, headers=bearer(staff.agent_15), json=body)
    assert agent.status_code == 403
    zero = await loyalty.client.post(
        url, headers=bearer(staff.supervisor_15), json=body | {"quantity": 0}
    )
    assert problem_of(zero)["errors"][0]["field"] == "body.quantity"

    own = await customer_headers(identity, customer_id)
    page = await loyalty.client.get(
        f"/v1/loyalty/accounts/{customer_id}/ledger", headers=own, params={"limit": 2}
    )
    assert page.status_code == 200, page.text
    first_page = page.json()
    assert [e["quantity"] for e in first_page["items"]] == [50, -100]
    rest = await loyalty.client.get(
        f"/v1/loyalty/accounts/{customer_id}/ledger",
        headers=own,
        params={"limit": 2, "cursor": first_page["next_cursor"]},
    )
    assert [e["quantity"] for e in rest.json()["items"]] == [300]
    assert rest.json()["next_cursor"] is None
    balance = await loyalty.client.get(f"/v1/loyalty/accounts/{customer_id}", headers=own)
    assert balance.json()["balances"]["points"] == 250
    granted = await outbox_events(loyalty, customer_id, "loyalty.reward.granted")
    # Grants speak (an event each); a correction downwards is an entry only.
    assert [(e["data"]["quantity"], e["data"]["reward_label"]) for e in granted] == [
        (300, "Geste commercial"),
        (50, "Correction"),
    ]
