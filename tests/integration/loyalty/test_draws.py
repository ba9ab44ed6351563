"""Draws over the API, with agents made by the administrator through identity's admin API
(password grant): marketing holds a draw among the campaign's customers, audit re-runs it
and gets the same winners. (The OTP-logged customer's journey through notify is
tests/integration/notify/test_loyalty_told.py.)
"""

from __future__ import annotations

import hashlib
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


def winners_of(seed: str, entrants: list[str], count: int) -> list[str]:
    """The rule docs/loyalty.md states, written again: lowest SHA-256(seed:entrant) wins."""
    ranked = sorted(
        set(entrants), key=lambda e: (hashlib.sha256(f"{seed}:{e}".encode()).hexdigest(), e)
    )
    return ranked[:count]


async def test_marketing_holds_a_draw_and_audit_reruns_it_with_the_same_winners(
    identity: LiveService, loyalty: LiveService, admin_token: str, emit: Emit
) -> None:
    marketing = await new_agent(identity, admin_token, ["marketing"], ["*"])
    audit = await new_agent(identity, admin_token, ["audit"], ["*"])
    agent = await new_agent(identity, admin_token, ["agent"], ["15"])
    offer = f"draw_{uuid.uuid4().hex[:6]}"
    created = await loyalty.client.post(
        "/v1/loyalty/campaigns",
        headers=marketing.auth,
        json=campaign_body(name="Aïd: un modem à gagner", conditions={"offers": [offer]}),
    )
    assert created.status_code == 201, created.text
    campaign = created.json()
    empty = await loyalty.client.post(
        f"/v1/loyalty/campaigns/{campaign['id']}/draws",
        headers=marketing.auth,
        json={"winners": 1, "prize_label": "un modem Wi-Fi", "prize_item": "modem"},
    )
    assert problem_of(empty)["type"].endswith("/no-entrants")

    customers = [await registered_by_event(emit) for _ in range(4)]
    for customer in customers:
        await account_open(loyalty, customer)
        await emit(
            "billing.payment.succeeded",
            customer,
            {"payment_id": str(uuid.uuid4()), "amount_centimes": 150_000, "offer_code": offer},
        )

    async def rewarded() -> bool:
        async with loyalty.runtime.session_factory() as session:
            granted = await session.scalar(
                select(func.count()).where(ledger_entries.c.campaign_id == campaign["id"])
            )
        return granted == 4

    await eventually(rewarded, what="four entrants")

    prize = {"winners": 2, "prize_label": "un modem Wi-Fi", "prize_item": "modem"}
    path = f"/v1/loyalty/campaigns/{campaign['id']}/draws"
    assert (await loyalty.client.post(path, headers=agent.auth, json=prize)).status_code == 403
    assert (await loyalty.client.post(path, headers=audit.auth, json=prize)).status_code == 403
    key = {"Idempotency-Key": str(uuid.uuid4())}
    held = await loyalty.client.post(path, headers=marketing.auth | key, json=prize)
    assert held.status_code == 201, held.text
    draw = held.json()
    again = await loyalty.client.post(path, headers=marketing.auth | key, json=prize)
    assert again.json()["id"] == draw["id"]
    assert again.headers.get("Idempotent-Replayed") == "true"

    assert sorted(draw["entrants"]) == sorted(customers)
    assert draw["winners"] == winners_of(draw["seed"], draw["entrants"], 2)
    async with loyalty.runtime.session_factory() as session:
        gifts = list(
            (
                await session.execute(
                    select(ledger_entries.c.customer_id, ledger_entries.c.kind).where(
                        ledger_entries.c.source_key.like(f"draw:{draw['id']}:%")
                    )
                )
            ).all()
        )
    assert sorted(gifts) == sorted((winner, "gift") for winner in draw["winners"])

    read = await loyalty.client.get(f"/v1/loyalty/draws/{draw['id']}", headers=audit.auth)
    assert read.status_code == 200
    assert read.json()["seed"] == draw["seed"]
    verify = f"/v1/loyalty/draws/{draw['id']}/verification"
    checked = await loyalty.client.post(verify, headers=audit.auth)
    assert checked.status_code == 200, checked.text
    assert checked.json()["identical"] is True
    assert checked.json()["rerun_winners"] == draw["winners"]
    assert (await loyalty.client.post(verify, headers=marketing.auth)).status_code == 403
    assert (
        await loyalty.client.get(f"/v1/loyalty/draws/{draw['id']}", headers=agent.auth)
    ).status_code == 403
