"""The background jobs, run by a loyalty process of their own: a speed boost ends on time
also when the process was down at its end; points expire on their date; a customer's tenure
anniversary is celebrated once a year by the daily job (Algiers time)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import insert, null, select, update

from sila_common.events import CloudEvent
from sila_common.settings import PlatformSettings, ServiceSettings
from sila_loyalty.domain.ledger import ALGIERS
from sila_loyalty.flows.jobs import celebrate_anniversaries, run_pass
from sila_loyalty.tables import accounts, boosts, recorded_events
from tests.integration.loyalty.conftest import (
    Emit,
    Staff,
    account_open,
    create_campaign,
    jobs_process,
    ledger_of,
    outbox_events,
    points,
    registered_by_event,
)
from tests.support import LiveService, eventually, random_mobile


async def boost_of(loyalty: LiveService, customer_id: str) -> Any:
    async with loyalty.runtime.session_factory() as session:
        return (
            await session.execute(select(boosts).where(boosts.c.customer_id == customer_id))
        ).one_or_none()


async def test_a_speed_boost_ends_on_time_even_when_no_process_ran_at_its_end(
    loyalty: LiveService,
    staff: Staff,
    emit: Emit,
    platform: PlatformSettings,
    settings_for: Callable[..., ServiceSettings],
) -> None:
    offer = f"boost_{uuid.uuid4().hex[:6]}"
    await create_campaign(
        loyalty,
        staff,
        conditions={"offers": [offer]},
        reward={"kind": "speed_boost", "quantity": 1, "speed_mbps": 100},
    )
    customer = await registered_by_event(emit)
    await account_open(loyalty, customer)
    await emit(
        "billing.payment.succeeded",
        customer,
        {"payment_id": str(uuid.uuid4()), "amount_centimes": 150_000, "offer_code": offer},
    )
    boost = await eventually(lambda: boost_of(loyalty, customer), what="the boost granted")
    assert boost.speed_mbps == 100
    assert boost.ends_at - boost.starts_at == timedelta(hours=1)
    [granted] = await outbox_events(loyalty, customer, "loyalty.reward.granted")
    assert granted["data"]["ends_at"] is not None

    # As if it had been granted an hour ago: it ends in three seconds.
    ends_at = datetime.now(UTC) + timedelta(seconds=3)
    async with loyalty.runtime.session_factory() as session, session.begin():
        await session.execute(
            update(boosts)
            .where(boosts.c.id == boost.id)
            .values(starts_at=ends_at - timedelta(hours=1), ends_at=ends_at)
        )
    # A process runs the jobs, then goes down before the end...
    async with jobs_process(loyalty, settings_for, platform):
        assert (await boost_of(loyalty, customer)).ended_at is None

    async def past_the_end() -> bool:
        return datetime.now(UTC) > ends_at + timedelta(milliseconds=200)

    await eventually(past_the_end, what="the boost's end passed")
    # ... nobody ended it meanwhile ...
    assert (await boost_of(loyalty, customer)).ended_at is None
    assert await outbox_events(loyalty, customer, "loyalty.boost.ended") == []

    # ... and the process that starts again ends it, dated when it was due.
    async with jobs_process(loyalty, settings_for, platform):

        async def ended() -> Any:
            row = await boost_of(loyalty, customer)
            return row if row.ended_at is not None else None

        row = await eventually(ended, what="the boost ended after the restart")
    assert row.ended_at == ends_at
    [event] = await outbox_events(loyalty, customer, "loyalty.boost.ended")
    assert event["data"]["boost_id"] == boost.id
    assert datetime.fromisoformat(event["data"]["ended_at"]) == ends_at
    assert event["data"]["speed_mbps"] == 100


async def test_points_expire_at_midnight_algiers_on_their_date_once(
    loyalty: LiveService,
    staff: Staff,
    emit: Emit,
    platform: PlatformSettings,
    settings_for: Callable[..., ServiceSettings],
) -> None:
    offer = f"expiry_{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    campaign = await create_campaign(
        loyalty,
        staff,
        conditions={"offers": [offer]},
        period={
            "starts_at": (now - timedelta(days=3 * 365)).isoformat(),
            "ends_at": (now + timedelta(days=30)).isoformat(),
        },
        reward={"kind": "points", "quantity": 100, "unit_cost_centimes": 500},
    )
    customer = await registered_by_event(emit)
    await account_open(loyalty, customer)
    for earned in (now - timedelta(days=450), now):  # fifteen months ago, and today
        await emit(
            "billing.payment.succeeded",
            customer,
            {"payment_id": str(uuid.uuid4()), "amount_centimes": 100_000, "offer_code": offer},
            time=earned,
        )

    async def both_lots() -> list[Any]:
        entries = [e for e in await ledger_of(loyalty, customer) if e.campaign_id == campaign["id"]]
        return entries if len(entries) == 2 else []

    old, recent = sorted(await eventually(both_lots, what="two lots"), key=lambda e: e.expires_at)
    local = old.expires_at.astimezone(ALGIERS)
    assert (local.day, local.time()) == (1, time(0, 0))
    assert old.expires_at < now < recent.expires_at
    assert await points(loyalty, customer) == 200

    async with jobs_process(loyalty, settings_for, platform):

        async def expired() -> bool:
            return await points(loyalty, customer) == 100

        await eventually(expired, what="the old lot expired")
    [event] = await outbox_events(loyalty, customer, "loyalty.points.expired")
    assert event["data"]["points"] == 100
    assert event["data"]["earned_entry_id"] == old.entry_id
    assert event["data"]["balance_after"] == 100
    # Another pass later the same day withdraws nothing more.
    before = len(await ledger_of(loyalty, customer))
    await run_pass(loyalty.runtime)
    assert len(await ledger_of(loyalty, customer)) == before
    assert len(await outbox_events(loyalty, customer, "loyalty.points.expired")) == 1


def years_ago(day: datetime, years: int) -> datetime:
    local = day.astimezone(ALGIERS).date()
    if (local.month, local.day) == (2, 29):
        years = 4
    return datetime.combine(local.replace(year=local.year - years), time(0, 0, 1), ALGIERS)


async def register_at(emit: Emit, at: datetime) -> str:
    customer = str(uuid.uuid4())
    await emit(
        "identity.customer.registered",
        customer,
        {"kind": "residential", "wilaya_code": "15", "language": "fr", "phone": random_mobile()},
        time=at,
    )
    return customer


async def test_a_tenure_anniversary_is_celebrated_by_the_daily_job_once_a_year(
    loyalty: LiveService,
    staff: Staff,
    emit: Emit,
    platform: PlatformSettings,
    settings_for: Callable[..., ServiceSettings],
) -> None:
    campaign = await create_campaign(
        loyalty,
        staff,
        name="Merci pour vos années",
        trigger="loyalty.tenure.anniversary",
        conditions={"min_tenure_days": 365},
        reward={"kind": "bonus_hours", "quantity": 24, "unit_cost_centimes": 2_000},
    )
    now = datetime.now(UTC)
    # Registered three years ago today (Algiers), and three years ago tomorrow.
    today = await register_at(emit, years_ago(now, 3))
    tomorrow = await register_at(emit, years_ago(now + timedelta(days=1), 3))
    for customer in (today, tomorrow):
        await account_open(loyalty, customer)

    async with jobs_process(loyalty, settings_for, platform):

        async def celebrated() -> list[Any]:
            return [e for e in await ledger_of(loyalty, today) if e.campaign_id == campaign["id"]]

        [entry] = await eventually(celebrated, what="the anniversary celebrated")
    year = now.astimezone(ALGIERS).year
    assert entry.source_key == f"campaign:{campaign['id']}:tenure:{today}:{year}"
    assert entry.quantity == 24
    assert [e for e in await ledger_of(loyalty, tomorrow) if e.campaign_id == campaign["id"]] == []
    # Three years of tenure: the anniversary brought the customer up to silver.
    [changed] = await outbox_events(loyalty, today, "loyalty.tier.changed")
    assert (changed["data"]["previous_tier"], changed["data"]["tier"]) == ("bronze", "silver")
    async with loyalty.runtime.session_factory() as session:
        account = (
            await session.execute(select(accounts).where(accounts.c.customer_id == today))
        ).one()
    assert (account.tier, account.tenure_celebrated_year) == ("silver", year)

    # The job again the same day: nothing more. Next year: once more.
    await celebrate_anniversaries(loyalty.runtime, now + timedelta(hours=1))
    assert len(await ledger_of(loyalty, today)) == 1
    await celebrate_anniversaries(loyalty.runtime, now + timedelta(days=365))
    keys = sorted(e.source_key for e in await ledger_of(loyalty, today))
    assert keys == [
        f"campaign:{campaign['id']}:tenure:{today}:{year}",
        f"campaign:{campaign['id']}:tenure:{today}:{year + 1}",
    ]
    assert len(await outbox_events(loyalty, today, "loyalty.reward.granted")) == 2


async def test_an_event_stranded_waiting_for_a_registration_already_read_is_decided_by_the_jobs(
    loyalty: LiveService, staff: Staff, emit: Emit
) -> None:
    offer = f"stranded_{uuid.uuid4().hex[:6]}"
    campaign = await create_campaign(loyalty, staff, conditions={"offers": [offer]})
    customer = await registered_by_event(emit)
    await account_open(loyalty, customer)
    # What the engine left before migration 0004: a payment read before the registration,
    # never released by it.
    paid = CloudEvent(
        id=str(uuid.uuid4()),
        source="/sila/billing",
        type="billing.payment.succeeded",
        time=datetime.now(UTC) - timedelta(minutes=10),
        subject=customer,
        dataschema="https://schemas.sila.algerietelecom.dz/events/billing.payment.succeeded.v1.json",
        customerid=customer,
        data={"customer_id": customer, "amount_centimes": 150_000, "offer_code": offer},
    )
    async with loyalty.runtime.session_factory() as session, session.begin():
        await session.execute(
            insert(recorded_events).values(
                event_id=paid.id,
                customer_id=customer,
                event_type=paid.type,
                occurred_at=paid.time,
                amount_centimes=None,
                facts=null(),
                pending_event=paid.model_dump(mode="json"),
            )
        )
    assert await ledger_of(loyalty, customer) == []

    result = await run_pass(loyalty.runtime)
    assert result.released >= 1
    [entry] = await ledger_of(loyalty, customer)
    assert (entry.campaign_id, entry.event_id) == (campaign["id"], paid.id)
    async with loyalty.runtime.session_factory() as session:
        facts = await session.scalar(
            select(recorded_events.c.facts).where(recorded_events.c.event_id == paid.id)
        )
    assert facts is not None and facts["amount_centimes"] == 150_000
    assert (await run_pass(loyalty.runtime)).released == 0
