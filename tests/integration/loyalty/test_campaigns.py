"""Campaigns as data: faults named by field, the engine granting on events once and within
caps (budget and stock holding under concurrency), and the dry run over recorded events."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from sila_loyalty.tables import campaigns, ledger_entries
from tests.integration.loyalty.conftest import (
    Emit,
    Staff,
    account_open,
    campaign_body,
    create_campaign,
    ledger_of,
    registered_by_event,
)
from tests.support import LiveService, bearer, eventually, problem_of


async def faults(loyalty: LiveService, staff: Staff, **changes: Any) -> set[str]:
    answer = await loyalty.client.post(
        "/v1/loyalty/campaigns", headers=bearer(staff.marketing), json=campaign_body(**changes)
    )
    assert answer.status_code == 422, answer.text
    return {error["field"] for error in problem_of(answer)["errors"]}


async def test_bad_rules_are_refused_naming_each_faulty_field(
    loyalty: LiveService, staff: Staff
) -> None:
    now = datetime.now(UTC)
    assert await faults(loyalty, staff, trigger="billing.nothing.happened") == {"body.trigger"}
    backwards = {"starts_at": now.isoformat(), "ends_at": (now - timedelta(days=1)).isoformat()}
    assert await faults(loyalty, staff, period=backwards) == {"body.period.ends_at"}
    assert await faults(loyalty, staff, caps={"stock": -1, "per_customer": -2}) == {
        "body.caps.stock",
        "body.caps.per_customer",
    }
    assert await faults(loyalty, staff, reward={"kind": "speed_boost", "quantity": 24}) == {
        "body.reward.speed_mbps"
    }
    assert await faults(
        loyalty, staff, reward={"kind": "gift", "quantity": 1, "item": "modem"}
    ) == {"body.caps.stock"}
    assert await faults(loyalty, staff, period={"season": "ramadan"}) == {"body.period.year"}
    assert await faults(loyalty, staff, conditions={"wilayas": ["Tizi"]}) == {
        "body.conditions.wilayas"
    }
    assert await faults(loyalty, staff, reward={"kind": "cash", "quantity": 1}) == {
        "body.reward.kind"
    }
    nothing = await loyalty.client.get(
        "/v1/loyalty/campaigns", headers=bearer(staff.marketing), params={"status": "paused"}
    )
    assert all(c["name"] != "Test campaign" for c in nothing.json()["items"])


async def test_a_ramadan_campaign_takes_its_dates_from_the_calendar_in_algiers_time(
    loyalty: LiveService, staff: Staff
) -> None:
    created = await create_campaign(
        loyalty, staff, name="Ramadan 2027", period={"season": "ramadan", "year": 2027}
    )
    assert created["starts_at"].startswith("2027-02-07T23:00:00")
    assert created["ends_at"].startswith("2027-03-08T23:00:00")
    assert created["season"] == {"season": "ramadan", "year": 2027}
    assert created["reward"]["label"] == "100 points fidélité"
    agent = await loyalty.client.post(
        "/v1/loyalty/campaigns", headers=bearer(staff.agent_15), json=campaign_body()
    )
    assert agent.status_code == 403
    read = await loyalty.client.get(
        f"/v1/loyalty/campaigns/{created['id']}", headers=bearer(staff.audit)
    )
    assert read.status_code == 200
    assert read.json()["trigger"] == "billing.payment.succeeded"


async def pay(emit: Emit, customer_id: str, offer: str, amount: int = 250_000) -> Any:
    return await emit(
        "billing.payment.succeeded",
        customer_id,
        {"payment_id": str(uuid.uuid4()), "amount_centimes": amount, "offer_code": offer},
    )


async def test_a_campaign_rewards_matching_payments_once_each_and_per_customer_cap_holds(
    loyalty: LiveService, staff: Staff, emit: Emit
) -> None:
    offer = f"fibre_{uuid.uuid4().hex[:6]}"
    campaign = await create_campaign(
        loyalty,
        staff,
        conditions={"offers": [offer], "wilayas": ["15"], "min_amount_centimes": 200_000},
        caps={"per_customer": 2},
    )
    tizi = await registered_by_event(emit, wilaya="15")
    algiers = await registered_by_event(emit, wilaya="16")
    await account_open(loyalty, tizi)
    await account_open(loyalty, algiers)
    first = await pay(emit, tizi, offer)
    await pay(emit, tizi, offer, amount=100_000)  # below the minimum
    await pay(emit, algiers, offer)  # another wilaya
    await emit(  # the same payment delivered twice
        "billing.payment.succeeded", tizi, first.data, event_id=first.id, time=first.time
    )
    await pay(emit, tizi, offer)
    await pay(emit, tizi, offer)  # over the per-customer cap

    async def settled() -> Any:
        read = await loyalty.client.get(
            f"/v1/loyalty/campaigns/{campaign['id']}", headers=bearer(staff.marketing)
        )
        entries = await ledger_of(loyalty, tizi)
        return entries if read.json()["grants"] == 2 and len(entries) == 2 else None

    entries = await eventually(settled, what="two grants")
    assert {e.event_id for e in entries} >= {first.id}
    assert all(e.campaign_id == campaign["id"] and e.quantity == 100 for e in entries)
    assert await ledger_of(loyalty, algiers) == []


async def test_a_campaign_that_runs_out_of_budget_mid_stream_stops_exactly_at_its_budget(
    loyalty: LiveService, staff: Staff, emit: Emit
) -> None:
    offer = f"adsl_{uuid.uuid4().hex[:6]}"
    campaign = await create_campaign(
        loyalty,
        staff,
        conditions={"offers": [offer]},
        reward={"kind": "bonus_hours", "quantity": 5, "unit_cost_centimes": 30_000},
        caps={"budget_centimes": 150_000},  # five rewards' worth
    )
    gifts = await create_campaign(
        loyalty,
        staff,
        conditions={"offers": [offer]},
        reward={"kind": "gift", "quantity": 1, "item": "wifi_repeater", "label": "un répéteur"},
        caps={"stock": 3},
    )
    customers = [await registered_by_event(emit) for _ in range(12)]
    for customer in customers:
        await account_open(loyalty, customer)
    # Twelve customers pay at once, spread over the topic's partitions.
    await asyncio.gather(*(pay(emit, c, offer) for c in customers))

    async def counted() -> tuple[int, int, int, int]:
        async with loyalty.runtime.session_factory() as session:
            hours = await session.scalar(
                select(func.count()).where(ledger_entries.c.campaign_id == campaign["id"])
            )
            gifts_given = await session.scalar(
                select(func.count()).where(ledger_entries.c.campaign_id == gifts["id"])
            )
            stored = (
                await session.execute(select(campaigns).where(campaigns.c.id == campaign["id"]))
            ).one()
            entries = await session.scalar(
                select(func.count()).where(ledger_entries.c.customer_id.in_(customers))
            )
        return int(hours or 0), int(gifts_given or 0), int(stored.spent_centimes), int(entries or 0)

    async def used_up() -> tuple[int, int, int, int] | None:
        # A budget is reserved before its grant is written: waits for both.
        state = await counted()
        return state if state[:3] == (5, 3, 150_000) else None

    await eventually(used_up, timeout=30, what="budget and stock used up, their grants written")
    # Nothing past the budget and the stock, and nothing else for these customers.
    assert await counted() == (5, 3, 150_000, 8)
    read = await loyalty.client.get(
        f"/v1/loyalty/campaigns/{campaign['id']}", headers=bearer(staff.marketing)
    )
    assert read.json()["spent_centimes"] == 150_000
    assert read.json()["grants"] == 5


async def test_the_dry_run_says_how_many_customers_a_campaign_would_have_reached_and_its_cost(
    loyalty: LiveService, staff: Staff, emit: Emit
) -> None:
    offer = f"vdsl_{uuid.uuid4().hex[:6]}"
    trace = await create_campaign(loyalty, staff, conditions={"offers": [offer]})
    customers = [await registered_by_event(emit) for _ in range(4)]
    for customer in customers:
        await account_open(loyalty, customer)
    for customer in customers:
        await pay(emit, customer, offer, amount=300_000)
    await pay(emit, customers[0], offer, amount=300_000)

    async def recorded() -> bool:
        # The ledger, not the campaign's counter: budgets are reserved (and counted) in a
        # short transaction of their own, just before the grant and its event commit.
        async with loyalty.runtime.session_factory() as session:
            granted = await session.scalar(
                select(func.count()).where(ledger_entries.c.campaign_id == trace["id"])
            )
        return granted == 5

    await eventually(recorded, what="the payments recorded")
    body = campaign_body(
        conditions={"offers": [offer], "min_amount_centimes": 250_000},
        reward={"kind": "coupon", "quantity": 20_000, "unit_cost_centimes": 20_000},
        caps={"per_customer": 1},
    )
    answer = await loyalty.client.post(
        "/v1/loyalty/campaigns/dry-run", headers=bearer(staff.marketing), json=body
    )
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["customers_reached"] == 4, result
    assert result["grants"] == 4
    assert result["cost_centimes"] == 80_000
    # Other tests' payments are refused for their offer; this one's repeat by the cap.
    assert result["refused"]["per_customer"] == 1
    # Nothing was written by the dry run.
    assert len(await ledger_of(loyalty, customers[0])) == 2
    bad = await loyalty.client.post(
        "/v1/loyalty/campaigns/dry-run",
        headers=bearer(staff.marketing),
        json=body | {"caps": {"budget_centimes": -5}},
    )
    assert problem_of(bad)["errors"][0]["field"] == "body.caps.budget_centimes"
