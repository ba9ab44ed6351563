"""A replay of the whole event history: a second rule engine, with no memory of what it has
read (a new consumer group, an empty inbox), reads identity's, tickets' and billing's topics
from offset 0 against the same database. The ledger, the campaigns' counters, the accounts
and what loyalty publishes end identical: nothing is granted, reserved or told twice."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy import func, select

from sila_common.consumer import EventConsumer
from sila_common.settings import PlatformSettings
from sila_loyalty.handlers import ENGINE
from sila_loyalty.tables import (
    accounts,
    campaign_reservations,
    campaigns,
    ledger_entries,
    messaging,
    recorded_events,
)
from tests.integration.loyalty.conftest import (
    Emit,
    Staff,
    account_open,
    create_campaign,
    customer_headers,
    points,
    registered_by_event,
)
from tests.support import LiveService, eventually, random_mobile


async def snapshot(
    loyalty: LiveService, customers: list[str], campaign_ids: list[str]
) -> dict[str, Any]:
    """What loyalty holds about this test's customers and campaigns (other tests share the
    database, and their events may still be arriving while this one compares)."""
    outbox = messaging.outbox
    async with loyalty.runtime.session_factory() as session:
        ledger = (
            await session.execute(
                select(
                    ledger_entries.c.source_key,
                    ledger_entries.c.customer_id,
                    ledger_entries.c.kind,
                    ledger_entries.c.quantity,
                    ledger_entries.c.event_id,
                    ledger_entries.c.campaign_id,
                )
                .where(ledger_entries.c.customer_id.in_(customers))
                .order_by(ledger_entries.c.source_key)
            )
        ).all()
        counters = (
            await session.execute(
                select(
                    campaigns.c.id,
                    campaigns.c.spent_centimes,
                    campaigns.c.stock_used,
                    campaigns.c.grants,
                )
                .where(campaigns.c.id.in_(campaign_ids))
                .order_by(campaigns.c.id)
            )
        ).all()
        states = (
            await session.execute(
                select(
                    accounts.c.customer_id,
                    accounts.c.tier,
                    accounts.c.registered_at,
                    accounts.c.wilaya_code,
                    accounts.c.offers,
                )
                .where(accounts.c.customer_id.in_(customers))
                .order_by(accounts.c.customer_id)
            )
        ).all()
        published = (
            await session.execute(
                select(outbox.c.event_type, func.count())
                .where(outbox.c.message_key.in_(customers))
                .group_by(outbox.c.event_type)
                .order_by(outbox.c.event_type)
            )
        ).all()
        recorded = await session.scalar(
            select(func.count()).where(recorded_events.c.customer_id.in_(customers))
        )
        reserved = await session.scalar(
            select(func.count()).where(campaign_reservations.c.campaign_id.in_(campaign_ids))
        )
    return {
        "ledger": [tuple(r) for r in ledger],
        "campaigns": [tuple(r) for r in counters],
        "accounts": [tuple(r) for r in states],
        "published": [tuple(r) for r in published],
        "recorded": recorded,
        "reserved": reserved,
    }


async def inbox_of(loyalty: LiveService, consumer: str) -> set[str]:
    inbox = messaging.inbox
    async with loyalty.runtime.session_factory() as session:
        return set(
            await session.scalars(select(inbox.c.event_id).where(inbox.c.consumer == consumer))
        )


async def test_replaying_the_whole_history_from_offset_zero_leaves_the_ledger_identical(
    identity: LiveService,
    loyalty: LiveService,
    staff: Staff,
    emit: Emit,
    platform: PlatformSettings,
) -> None:
    # A history with every kind of decision: grants, a per-customer cap, a budget that runs
    # out, a payment read before its registration, a referral converted.
    offer = f"replay_{uuid.uuid4().hex[:6]}"
    budget = await create_campaign(
        loyalty,
        staff,
        conditions={"offers": [offer]},
        reward={"kind": "bonus_hours", "quantity": 3, "unit_cost_centimes": 10_000},
        caps={"budget_centimes": 40_000, "per_customer": 2},
    )
    uncapped = await create_campaign(
        loyalty,
        staff,
        conditions={"offers": [offer]},
        reward={"kind": "points", "quantity": 10, "unit_cost_centimes": 100},
    )
    customers = [await registered_by_event(emit) for _ in range(3)]
    late = str(uuid.uuid4())  # pays before identity's registration is read
    referrer = customers[0]
    for customer in customers:
        await account_open(loyalty, customer)
    referee_phone = random_mobile()
    invited = await loyalty.client.post(
        "/v1/loyalty/referrals",
        headers=await customer_headers(identity, referrer),
        json={"referee_phone": referee_phone},
    )
    assert invited.status_code == 201, invited.text
    referee = await registered_by_event(emit, phone=referee_phone)

    def paid(customer: str) -> dict[str, Any]:
        return {"payment_id": str(uuid.uuid4()), "amount_centimes": 180_000, "offer_code": offer}

    await emit("billing.payment.succeeded", late, paid(late))
    await asyncio.gather(
        *(emit("billing.payment.succeeded", c, paid(c)) for c in [*customers, referee] * 2)
    )
    await emit(
        "identity.customer.registered",
        late,
        {"kind": "residential", "status": "active", "wilaya_code": "16", "phone": random_mobile()},
    )

    async def settled() -> bool:
        # The ledger (what committed), not the campaigns' counters (reserved just before).
        async with loyalty.runtime.session_factory() as session:
            counts: dict[str, int] = dict(
                (
                    await session.execute(
                        select(ledger_entries.c.campaign_id, func.count())
                        .where(ledger_entries.c.campaign_id.in_([budget["id"], uncapped["id"]]))
                        .group_by(ledger_entries.c.campaign_id)
                    )
                ).all()
            )
            released = await session.scalar(
                select(func.count()).where(
                    recorded_events.c.customer_id == late,
                    recorded_events.c.event_type == "billing.payment.succeeded",
                    recorded_events.c.facts.is_not(None),
                )
            )
        return (
            counts == {budget["id"]: 4, uncapped["id"]: 9}
            and released == 1
            and await points(loyalty, referrer) >= 500
        )

    await eventually(settled, timeout=30, what="the history decided")
    mine, theirs = [*customers, referee, late], [budget["id"], uncapped["id"]]
    before = await snapshot(loyalty, mine, theirs)
    history = await inbox_of(loyalty, ENGINE.name)
    assert before["reserved"] == 0
    assert any(row[0].startswith("referral:") for row in before["ledger"])
    assert len([row for row in before["ledger"] if row[5] == budget["id"]]) == 4
    assert len([row for row in before["ledger"] if row[5] == uncapped["id"]]) == 9

    # The replay: the same handlers, a consumer group that starts from offset 0.
    name = f"loyalty.engine.replay-{uuid.uuid4().hex[:6]}"
    replay = EventConsumer(
        name=name,
        topics=list(ENGINE.topics),
        handlers=ENGINE.handlers,
        session_factory=loyalty.runtime.session_factory,
        tables=messaging,
        context=loyalty.runtime.handler_context(),
    )
    stop = asyncio.Event()
    running = asyncio.create_task(replay.run(stop))
    try:

        async def replayed() -> bool:
            return await inbox_of(loyalty, name) >= history

        await eventually(replayed, timeout=60, what="the whole history replayed")
    finally:
        stop.set()
        await running

    # It applied everything the engine had (nothing dead-lettered or skipped) and changed
    # nothing.
    assert history <= await inbox_of(loyalty, name)
    after = await snapshot(loyalty, mine, theirs)
    assert after == before
