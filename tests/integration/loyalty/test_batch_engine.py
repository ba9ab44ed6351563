"""The rule engine's batch path decides exactly as one event at a time.

The same events, on two fresh databases seeded alike: one takes them as the consumer's
batch path does (``handlers.handle_many``, every run of trigger events decided at once by
``engine.observe_many``, identity's events between the runs), the other one by one, each
in a transaction of its own (the consumer's per-record path). The batch mixes what makes
the rules stateful: registrations before and after their customers' payments (one waits,
then is released), tiers crossed by spends inside the batch, a per-customer cap, a budget
and a stock running out, a first payment converting a referral mid-run, a ticket breached
twice (rewarded once), a payment read after a newer one, a replay of the whole batch.
Ledger, recorded facts, accounts, campaign counters and the outbox (in order) end identical.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from sila_common.events import CloudEvent
from sila_common.runtime import open_runtime
from sila_common.settings import PlatformSettings
from sila_loyalty import handlers
from sila_loyalty.domain.campaigns import Campaign, Caps, Conditions, Reward, default_label
from sila_loyalty.domain.ledger import RewardKind
from sila_loyalty.domain.periods import Period
from sila_loyalty.domain.tiers import Tier
from sila_loyalty.flows.campaigns import create_campaign
from sila_loyalty.runtime import LoyaltyRuntime
from sila_loyalty.service import definition
from sila_loyalty.settings import LoyaltySettings
from sila_loyalty.tables import (
    accounts,
    campaign_reservations,
    campaigns,
    ledger_entries,
    messaging,
    recorded_events,
    referrals,
)

NOW = datetime.now(UTC).replace(microsecond=0)
PAYMENT = "billing.payment.succeeded"


def _reward(kind: RewardKind, quantity: int, **extra: Any) -> Reward:
    reward = Reward(kind=kind, quantity=quantity, label="", unit_cost_centimes=100, **extra)
    return Reward(**{**reward.__dict__, "label": default_label(reward)})


def _campaigns() -> list[Campaign]:
    period = Period(NOW - timedelta(days=1), NOW + timedelta(days=1))

    def make(name: str, trigger: str, reward: Reward, **kw: Any) -> Campaign:
        return Campaign(
            campaign_id="", name=name, trigger=trigger, period=period, reward=reward, **kw
        )

    return [
        make("every payment, twice each", PAYMENT, _reward(RewardKind.POINTS, 100),
             caps=Caps(per_customer=2)),
        make("big payments, small budget", PAYMENT, _reward(RewardKind.BONUS_HOURS, 5),
             conditions=Conditions(min_amount_centimes=1_000_000),
             caps=Caps(budget_centimes=300)),
        make("first payment, four coupons", PAYMENT, _reward(RewardKind.COUPON, 20_000),
             conditions=Conditions(first_time=True), caps=Caps(stock=4)),
        make("gold payers", PAYMENT, _reward(RewardKind.POINTS, 1_000),
             conditions=Conditions(tiers=frozenset({Tier.GOLD}))),
        make("breach", "tickets.ticket.escalated",
             _reward(RewardKind.SPEED_BOOST, 24, speed_mbps=20)),
        make("survey in Algiers", "tickets.survey.answered", _reward(RewardKind.POINTS, 50),
             conditions=Conditions(wilayas=frozenset({"16"}))),
        make("recharge", "billing.subscription.recharged", _reward(RewardKind.POINTS, 10)),
        make("signed", "identity.contract.signed", _reward(RewardKind.POINTS, 30),
             conditions=Conditions(offers=frozenset({"fibre_1g"}))),
    ]  # fmt: skip


class Events:
    """Events of the scenario, one second apart, as the other services publish them."""

    def __init__(self) -> None:
        self.at = NOW - timedelta(hours=1)

    def __call__(self, type_: str, customer: str, *, late: bool = False, **data: Any) -> CloudEvent:
        """``late``: stamped a minute before the one before (read after events newer)."""
        self.at += timedelta(seconds=1)
        return CloudEvent(
            id=str(uuid.uuid4()),
            source=f"/sila/{type_.split('.')[0]}",
            type=type_,
            time=self.at - timedelta(minutes=1) if late else self.at,
            subject=str(data.get("ticket_id") or customer),
            dataschema=f"https://schemas.sila.algerietelecom.dz/events/{type_}.v1.json",
            customerid=customer,
            data={"customer_id": customer, **data},
        )


async def _apply_batch(runtime: LoyaltyRuntime, events: list[CloudEvent]) -> None:
    async with runtime.session_factory() as session, session.begin():
        await handlers.handle_many(session, events, runtime.handler_context())


async def _apply_one_by_one(runtime: LoyaltyRuntime, events: list[CloudEvent]) -> None:
    for event in events:
        async with runtime.session_factory() as session, session.begin():
            await handlers.handle(session, event, runtime.handler_context())


async def _state(runtime: LoyaltyRuntime) -> dict[str, Any]:
    outbox = messaging.outbox
    async with runtime.session_factory() as session:

        async def rows(query: Any) -> list[tuple[Any, ...]]:
            return [tuple(row) for row in (await session.execute(query)).all()]

        le = ledger_entries.c
        published = []
        for row in (
            await session.execute(
                select(outbox.c.event_type, outbox.c.message_key, outbox.c.envelope).order_by(
                    outbox.c.id
                )
            )
        ).all():
            data = dict(row.envelope["data"])
            # Made afresh in each database: entries' ids, boosts' clock, referral codes.
            for varying in ("entry_id", "starts_at", "ends_at", "referral_code"):
                data.pop(varying, None)
            published.append((row.event_type, row.message_key, data))
        return {
            "ledger": await rows(
                select(
                    le.source_key, le.customer_id, le.kind, le.quantity, le.reason,
                    le.event_id, le.campaign_id, le.label, le.details, le.expires_at,
                    le.occurred_at,
                ).order_by(le.source_key)
            ),
            "recorded": await rows(
                select(
                    recorded_events.c.event_id,
                    recorded_events.c.customer_id,
                    recorded_events.c.event_type,
                    recorded_events.c.occurred_at,
                    recorded_events.c.amount_centimes,
                    recorded_events.c.facts,
                    recorded_events.c.facts.is_(None),
                ).order_by(recorded_events.c.event_id)
            ),
            "accounts": await rows(
                select(
                    accounts.c.customer_id, accounts.c.tier, accounts.c.tier_evaluated_at,
                    accounts.c.registered_at, accounts.c.wilaya_code, accounts.c.offers,
                ).order_by(accounts.c.customer_id)
            ),
            "counters": await rows(
                select(
                    campaigns.c.id, campaigns.c.spent_centimes, campaigns.c.stock_used,
                    campaigns.c.grants,
                ).order_by(campaigns.c.id)
            ),
            "referrals": await rows(
                select(referrals.c.id, referrals.c.referee_id, referrals.c.status)
            ),
            "reservations": await session.scalar(
                select(func.count()).select_from(campaign_reservations)
            ),
            "outbox": published,
        }  # fmt: skip


@pytest.fixture
async def pair(
    scratch_database: Callable[[str], Any], platform: PlatformSettings
) -> AsyncIterator[tuple[LoyaltyRuntime, LoyaltyRuntime]]:
    """Two loyalty runtimes on fresh databases holding the same campaigns (same ids)."""
    async with AsyncExitStack() as stack:
        runtimes = []
        for _ in range(2):
            url = await scratch_database("loyalty")
            settings = LoyaltySettings(database_url=url)
            runtimes.append(
                await stack.enter_async_context(
                    open_runtime(definition, platform=platform, settings=settings)
                )
            )
        batch, single = runtimes
        async with batch.session_factory() as session, session.begin():
            for campaign in _campaigns():
                await create_campaign(session, campaign, created_by="test")
        async with batch.session_factory() as session:
            stored = [dict(row._mapping) for row in (await session.execute(select(campaigns)))]
        async with single.session_factory() as session, session.begin():
            await session.execute(insert(campaigns), stored)
        yield batch, single


async def test_a_batch_decides_as_one_event_at_a_time(
    pair: tuple[LoyaltyRuntime, LoyaltyRuntime],
) -> None:
    batch, single = pair
    ev = Events()
    c1, c2, c3, c5, c6 = (str(uuid.uuid4()) for _ in range(5))

    def registered(customer: str, wilaya: str) -> CloudEvent:
        return ev("identity.customer.registered", customer, wilaya_code=wilaya, language="fr")

    first = [registered(c1, "16"), registered(c2, "31"), registered(c3, "16"),
             registered(c5, "16")]  # fmt: skip
    # c5 was referred by c1 (the same referral in both databases).
    referral_id = str(uuid.uuid4())

    def pay(customer: str, amount: int, *, late: bool = False) -> CloudEvent:
        return ev(
            PAYMENT, customer, late=late, amount_centimes=amount, payment_id=str(uuid.uuid4())
        )

    def breach(customer: str, ticket: str, level: str = "breached") -> CloudEvent:
        return ev("tickets.ticket.escalated", customer, ticket_id=ticket, number="TT-1",
                  level=level)  # fmt: skip

    t1, t2 = str(uuid.uuid4()), str(uuid.uuid4())
    second = [
        pay(c1, 3_000_000),  # silver
        pay(c2, 500_000),
        pay(c1, 3_000_000),  # gold: "gold payers" from here
        pay(c6, 100_000),  # before c6's registration: waits
        breach(c2, t1),
        breach(c2, t1),  # the same ticket: once
        breach(c3, t2, level="warning"),  # not a breach
        ev("tickets.survey.answered", c3, score=5),
        pay(c5, 1_500_000),  # c5's first payment: converts the referral mid-run
        pay(c5, 1_500_000),
        ev("billing.subscription.recharged", c3, amount_centimes=20_000),
        registered(c6, "31"),  # releases c6's payment
        ev("identity.contract.signed", c2, offer_code="fibre_1g"),
        pay(c2, 1_200_000),
        pay(c2, 1_200_000),
        pay(c2, 1_200_000),  # past c2's cap of two on "every payment"
        pay(c3, 1_200_000),  # the small budget is spent by now
        pay(c3, 1_000_000, late=True),  # older than c3's payment: a first time, no tier
        pay(c1, 1_200_000),
    ]
    await _apply_batch(batch, first)
    await _apply_one_by_one(single, first)
    for runtime in (batch, single):
        async with runtime.session_factory() as session, session.begin():
            await session.execute(
                insert(referrals).values(
                    id=referral_id, referrer_id=c1, referee_id=c5, referee_phone=None,
                    via="code", status="invited", created_at=NOW - timedelta(days=2),
                    converted_at=None,
                )
            )  # fmt: skip
    await _apply_batch(batch, second)
    await _apply_one_by_one(single, second)

    decided = await _state(batch)
    assert decided == await _state(single)
    # The scenario reached what it is about (else equality proves little).
    ledger = {(row[0].split(":")[0], row[1], row[2]) for row in decided["ledger"]}
    assert ("referral", c1, "points") in ledger and ("referral", c5, "points") in ledger
    grants = {row[0]: row[3] for row in decided["counters"]}
    async with batch.session_factory() as session:
        names = dict((await session.execute(select(campaigns.c.name, campaigns.c.id))).all())
    assert grants[names["big payments, small budget"]] == 3  # the budget ran out
    assert grants[names["first payment, four coupons"]] == 4  # the stock ran out
    assert grants[names["breach"]] == 1  # once per ticket
    assert grants[names["gold payers"]] >= 1  # a tier crossed inside the batch
    every = [row for row in decided["ledger"] if row[6] == names["every payment, twice each"]]
    assert sum(1 for row in every if row[1] == c2) == 2  # the per-customer cap
    assert any(row[1] == c6 for row in every)  # the waiting payment, released
    assert decided["reservations"] == 0
    assert any(e[0] == "loyalty.tier.changed" for e in decided["outbox"])

    # A replay of both batches writes nothing, on either path.
    await _apply_batch(batch, first + second)
    await _apply_one_by_one(single, first + second)
    assert await _state(batch) == decided
    assert await _state(single) == decided
