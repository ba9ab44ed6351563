"""The rule engine: every event a campaign may follow is recorded with the facts the rules
see, the customer's tier and referral are brought up to date, and each active campaign of
that trigger grants what it promises, once, within its caps.

Decisions are made on the facts recorded the first time an event was seen, so a replay of
the history decides exactly as before and writes nothing new (each grant's source key is
already in the ledger).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import String, any_, bindparam, delete, func, null, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.events import CloudEvent
from sila_common.outbox import NewEvent
from sila_loyalty.domain.campaigns import (
    Campaign,
    CampaignIndex,
    CapState,
    Facts,
    cap_refusal,
    grant_key,
    granted_label,
    granted_quantity,
    refusal,
)
from sila_loyalty.domain.ledger import EntryReason, tenure_days
from sila_loyalty.domain.tiers import Tier, is_upgrade, tier_for
from sila_loyalty.events import TIER_CHANGED, TierChanged
from sila_loyalty.flows import referrals
from sila_loyalty.flows.accounts import lock_account, lock_accounts
from sila_loyalty.flows.campaigns import campaign_of
from sila_loyalty.flows.grants import Grant, Source, grant_many, write_grants
from sila_loyalty.runtime import LoyaltyParts, LoyaltyRuntime
from sila_loyalty.tables import (
    accounts,
    campaign_reservations,
    campaigns,
    ledger_entries,
    recorded_events,
)
from sila_loyalty.tables import referrals as referrals_table

PAYMENT = "billing.payment.succeeded"
SPEND_TYPES = (PAYMENT,)
SPEND_WINDOW = timedelta(days=365)
# A reservation this old without its ledger entry belongs to an event that failed for good.
ORPHAN_AFTER = timedelta(hours=1)


def _amount(data: dict[str, Any]) -> int | None:
    value = data.get("amount_centimes")
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _subject(event: CloudEvent) -> str:
    return str(event.data.get("ticket_id") or event.subject)


REGISTERED = "identity.customer.registered"


def _keys(keys: list[str]) -> Any:
    """A list of keys as one array parameter (``= ANY(:keys)``): a batch may hold more
    keys than a statement may have parameters."""
    return bindparam("keys", keys, type_=ARRAY(String()))


async def observe(session: AsyncSession, runtime: LoyaltyParts, event: CloudEvent) -> Facts | None:
    """Record the event and its facts (once), update the tier and referral, run campaigns.

    An event of a customer whose registration has not been read yet (it comes on another
    topic and may arrive later) waits, recorded, until the registration releases it.
    """
    customer_id = event.customerid
    account = await lock_account(session, customer_id)
    stored = (
        await session.execute(
            select(recorded_events.c.facts).where(recorded_events.c.event_id == event.id)
        )
    ).one_or_none()
    if stored is not None:
        if stored.facts is None:
            return None  # still waiting for the registration
        facts = Facts.from_json(stored.facts)
    elif account.registered_at is None and event.type != REGISTERED:
        await session.execute(
            pg_insert(recorded_events)
            .values(
                event_id=event.id,
                customer_id=customer_id,
                event_type=event.type,
                occurred_at=event.time,
                amount_centimes=None,
                # SQL NULL, not JSON null: ``release_waiting`` looks for ``facts IS NULL``.
                facts=null(),
                pending_event=event.model_dump(mode="json"),
            )
            .on_conflict_do_nothing(index_elements=["event_id"])
        )
        return None
    else:
        facts = await _record(session, runtime, event, account)
        if event.type == PAYMENT and facts.first_time:
            await referrals.convert(session, runtime, customer_id, at=event.time)
    await run_campaigns(session, runtime, facts)
    return facts


async def release_waiting(session: AsyncSession, runtime: LoyaltyParts, customer_id: str) -> int:
    """Decide, in the order they happened, the events that waited for this registration."""
    rows = (
        await session.execute(
            select(recorded_events.c.pending_event)
            .where(
                recorded_events.c.customer_id == customer_id,
                recorded_events.c.facts.is_(None),
            )
            .order_by(recorded_events.c.occurred_at)
        )
    ).all()
    waiting = [CloudEvent.model_validate(row.pending_event) for row in rows]
    if not waiting:
        return 0
    await session.execute(
        delete(recorded_events).where(
            recorded_events.c.event_id.in_([event.id for event in waiting])
        )
    )
    for event in waiting:
        await observe(session, runtime, event)
    return len(waiting)


@dataclass
class _Run:
    """What a run of events (part of a consumer's batch) has decided, before it is written."""

    decided: list[tuple[Facts, list[NewEvent]]] = field(default_factory=list)
    recorded: list[dict[str, Any]] = field(default_factory=list)
    waiting: list[dict[str, Any]] = field(default_factory=list)
    tiers: dict[str, tuple[str, datetime]] = field(default_factory=dict)


async def observe_many(
    session: AsyncSession, runtime: LoyaltyParts, events: list[CloudEvent]
) -> None:
    """``observe`` for a run of a batch's events (none a registration), deciding exactly as
    ``observe`` one by one would, in their order, with a few statements for the whole run
    instead of some twenty per event: the accounts, the recorded events, the first times,
    the 365-day spends and the invited referrals read at once; facts and tiers decided in
    memory; the campaigns' candidates checked against the ledger and the per-customer caps
    at once and reserved by one short transaction (``reserve_budgets``); the recorded
    events, ledger entries, boosts, outbox rows and tiers written by multi-row statements.

    A first payment of a customer with an invited referral converts it (``referrals.convert``,
    which grants and runs campaigns of its own): what precedes it is written first, it goes
    through ``observe``, and the events after it make a new run.
    """
    start = 0
    while start < len(events):
        start += await _observe_run(session, runtime, events[start:])


async def _observe_run(
    session: AsyncSession, runtime: LoyaltyParts, events: list[CloudEvent]
) -> int:
    """Decide and write ``events`` up to the first that converts a referral (that one through
    ``observe``); returns how many were handled."""
    rc = recorded_events.c
    customers = sorted({event.customerid for event in events})
    # Already locked by the batch (``handlers.handle_many``): this reads them, or locks them
    # in id order for a caller that did not.
    account_rows = await lock_accounts(session, customers)
    stored: dict[str, Any] = {
        row.event_id: row.facts
        for row in (
            await session.execute(
                select(rc.event_id, rc.facts).where(
                    rc.event_id == any_(_keys([event.id for event in events]))
                )
            )
        ).all()
    }
    fresh = [event for event in events if event.id not in stored]
    earliest: dict[tuple[str, str], datetime] = {}
    spends: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
    invited: set[str] = set()
    if fresh:
        fresh_customers = sorted({event.customerid for event in fresh})
        earliest = {
            (row.customer_id, row.event_type): row.first
            for row in (
                await session.execute(
                    select(rc.customer_id, rc.event_type, func.min(rc.occurred_at).label("first"))
                    .where(
                        rc.customer_id.in_(fresh_customers),
                        rc.event_type.in_({event.type for event in fresh}),
                    )
                    .group_by(rc.customer_id, rc.event_type)
                )
            ).all()
        }
        first_at = min(event.time for event in fresh)
        last_at = max(event.time for event in fresh)
        for row in (
            await session.execute(
                select(rc.customer_id, rc.occurred_at, rc.amount_centimes).where(
                    rc.customer_id.in_(fresh_customers),
                    rc.event_type.in_(SPEND_TYPES),
                    rc.occurred_at > first_at - SPEND_WINDOW,
                    rc.occurred_at <= last_at,
                    rc.amount_centimes.is_not(None),
                )
            )
        ).all():
            spends[row.customer_id].append((row.occurred_at, int(row.amount_centimes)))
        if any(event.type == PAYMENT for event in fresh):
            invited = set(
                await session.scalars(
                    select(referrals_table.c.referee_id).where(
                        referrals_table.c.referee_id.in_(fresh_customers),
                        referrals_table.c.status == "invited",
                    )
                )
            )
    state = {customer: dict(row._mapping) for customer, row in account_rows.items()}
    run = _Run()
    handled = len(events)
    converting: CloudEvent | None = None
    for index, event in enumerate(events):
        customer_id = event.customerid
        account = state[customer_id]
        if event.id in stored:
            if stored[event.id] is None:
                continue  # still waiting for the registration
            run.decided.append((Facts.from_json(stored[event.id]), []))
            continue
        pair = (customer_id, event.type)
        if account["registered_at"] is None and event.type != REGISTERED:
            run.waiting.append(
                {
                    "event_id": event.id,
                    "customer_id": customer_id,
                    "event_type": event.type,
                    "occurred_at": event.time,
                    "amount_centimes": None,
                    "pending_event": event.model_dump(mode="json"),
                }
            )
            stored[event.id] = None
            earliest[pair] = min(earliest.get(pair, event.time), event.time)
            continue
        facts, tier_change = _decide(event, account, earliest.get(pair), spends[customer_id])
        if event.type == PAYMENT and facts.first_time and customer_id in invited:
            handled, converting = index, event
            break
        amount = _amount(event.data)
        told: list[NewEvent] = []
        if tier_change is not None:
            tier, previous = tier_change
            account["tier"], account["tier_evaluated_at"] = tier.value, event.time
            run.tiers[customer_id] = (tier.value, event.time)
            if tier is not previous:
                told.append(
                    NewEvent(
                        TIER_CHANGED,
                        customer_id,
                        customer_id,
                        TierChanged(
                            customer_id=customer_id,
                            tier=tier.value,
                            previous_tier=previous.value,
                            upgrade=is_upgrade(previous, tier),
                        ),
                    )
                )
        spend = amount if event.type in SPEND_TYPES else None
        if spend is not None:
            spends[customer_id].append((event.time, spend))
        run.recorded.append(
            {
                "event_id": event.id,
                "customer_id": customer_id,
                "event_type": event.type,
                "occurred_at": event.time,
                "amount_centimes": spend,
                "facts": facts.as_json(),
            }
        )
        stored[event.id] = run.recorded[-1]["facts"]
        earliest[pair] = min(earliest.get(pair, event.time), event.time)
        run.decided.append((facts, told))
    await _write_run(session, runtime, run)
    if converting is not None:
        await observe(session, runtime, converting)
        return handled + 1
    return handled


def _decide(
    event: CloudEvent,
    account: dict[str, Any],
    earliest: datetime | None,
    spends: list[tuple[datetime, int]],
) -> tuple[Facts, tuple[Tier, Tier] | None]:
    """The facts ``_record`` would record for this event, and the tier it would set (with
    the one before), from the account's state and the customer's recorded spends."""
    data = event.data
    at = event.time
    amount = _amount(data)
    offers = set(account["offers"] or [])
    if data.get("offer_code"):
        offers.add(str(data["offer_code"]))
    current = Tier(account["tier"])
    evaluated = account["tier_evaluated_at"]
    change: tuple[Tier, Tier] | None = None
    tier = current
    if evaluated is None or at >= evaluated:
        spend = sum(value for when, value in spends if at - SPEND_WINDOW < when <= at)
        tier = tier_for(tenure_days(account["registered_at"], at), spend + (amount or 0))
        change = (tier, current)
    facts = Facts(
        event_id=event.id,
        event_type=event.type,
        customer_id=event.customerid,
        occurred_at=at,
        subject=_subject(event),
        wilaya_code=account["wilaya_code"] or data.get("wilaya_code"),
        offers=frozenset(offers),
        tier=tier,
        tenure_days=tenure_days(account["registered_at"], at),
        amount_centimes=amount,
        first_time=earliest is None or earliest >= at,
        level=data.get("level") if isinstance(data.get("level"), str) else None,
        ticket_number=str(data["number"])
        if event.type.startswith("tickets.") and data.get("number")
        else None,
    )
    return facts, change


async def _write_run(session: AsyncSession, runtime: LoyaltyParts, run: _Run) -> None:
    """The run's campaigns decided and everything it decided written, a few statements in
    all; the outbox rows in the order ``observe`` one by one would have recorded them."""
    if run.recorded:
        await session.execute(
            pg_insert(recorded_events)
            .values(pending_event=null())
            .on_conflict_do_nothing(index_elements=["event_id"]),
            run.recorded,
        )
    if run.waiting:
        await session.execute(
            pg_insert(recorded_events)
            # SQL NULL, not JSON null: ``release_waiting`` looks for ``facts IS NULL``.
            .values(facts=null())
            .on_conflict_do_nothing(index_elements=["event_id"]),
            run.waiting,
        )
    if run.tiers:
        await session.execute(
            update(accounts)
            .where(accounts.c.customer_id == bindparam("customer"))
            .values(tier=bindparam("new_tier"), tier_evaluated_at=bindparam("evaluated")),
            [
                {"customer": customer, "new_tier": tier, "evaluated": at}
                for customer, (tier, at) in sorted(run.tiers.items())
            ],
        )
    granted = await _grant_run(session, [facts for facts, _ in run.decided])
    told: list[NewEvent] = []
    for index, (_, tier_events) in enumerate(run.decided):
        told += tier_events
        told += granted.get(index, [])
    await runtime.outbox.record_many(session, told)


async def _grant_run(session: AsyncSession, decided: list[Facts]) -> dict[int, list[NewEvent]]:
    """``run_campaigns`` for each of these facts in their order, at once: the grants'
    ``loyalty.reward.granted`` by the index of their facts (to be recorded by the caller)."""
    candidates: list[tuple[int, Campaign, str]] = []
    indexes: dict[str, CampaignIndex] = session.info.setdefault("loyalty.campaign_index", {})
    for index, facts in enumerate(decided):
        if facts.event_type not in indexes:
            await active_campaigns(session, facts.event_type, facts.occurred_at)
            cached = session.info["loyalty.campaigns"][facts.event_type]
            indexes[facts.event_type] = CampaignIndex(cached)
        # ``refusal`` checks the period too: the same campaigns as ``active_campaigns``.
        for campaign in indexes[facts.event_type].rewarding(facts):
            candidates.append((index, campaign, grant_key(campaign, facts)))
    if not candidates:
        return {}
    lc = ledger_entries.c
    seen = set(
        await session.scalars(
            select(lc.source_key).where(lc.source_key == any_(_keys([k for *_, k in candidates])))
        )
    )
    capped = sorted({c.campaign_id for _, c, _ in candidates if c.caps.per_customer is not None})
    used: dict[tuple[str, str], int] = {}
    if capped:
        rows = await session.execute(
            select(lc.campaign_id, lc.customer_id, func.count().label("used"))
            .where(
                lc.campaign_id.in_(capped),
                lc.customer_id.in_({decided[index].customer_id for index, _, _ in candidates}),
            )
            .group_by(lc.campaign_id, lc.customer_id)
        )
        used = {(row.campaign_id, row.customer_id): int(row.used) for row in rows.all()}
    # In order, as one by one: a key granted once (a breached ticket's) is not granted
    # again, and a per-customer cap counts the grants of the events before. A grant refused
    # its reservation below counted here too: every later grant of its campaign in this
    # run is refused as well (a budget or stock that did not fit stays short, a paused
    # campaign stays paused), so none was kept from a grant it would have had.
    kept: list[tuple[int, Campaign, str]] = []
    for index, campaign, key in candidates:
        if key in seen:
            continue
        customer_id = decided[index].customer_id
        slot = (campaign.campaign_id, customer_id)
        if (
            cap_refusal(
                campaign, CapState(per_customer={customer_id: used.get(slot, 0)}), customer_id
            )
            == "per_customer"
        ):
            continue
        seen.add(key)
        used[slot] = used.get(slot, 0) + 1
        kept.append((index, campaign, key))
    if not kept:
        return {}
    reserved = await reserve_budgets(session, [(campaign, key) for _, campaign, key in kept])
    wanted: list[tuple[int, Grant]] = []
    for index, campaign, key in kept:
        if key not in reserved:
            continue
        facts = decided[index]
        reward = campaign.reward
        quantity = granted_quantity(reward, facts.tier)
        wanted.append(
            (
                index,
                Grant(
                    customer_id=facts.customer_id,
                    kind=reward.kind,
                    quantity=quantity,
                    label=granted_label(reward, quantity),
                    source=Source(
                        key=key,
                        reason=EntryReason.CAMPAIGN,
                        event_id=facts.event_id,
                        campaign_id=campaign.campaign_id,
                    ),
                    occurred_at=facts.occurred_at,
                    speed_mbps=reward.speed_mbps,
                    ticket={"ticket_id": facts.subject, "ticket_number": facts.ticket_number}
                    if facts.event_type == "tickets.ticket.escalated"
                    else None,
                ),
            )
        )
    written, events = await write_grants(session, [grant for _, grant in wanted])
    if written:
        await session.execute(
            delete(campaign_reservations).where(
                campaign_reservations.c.source_key == any_(_keys(written))
            )
        )
    told: dict[int, list[NewEvent]] = defaultdict(list)
    for (index, _), told_event in zip(wanted, events, strict=True):
        if told_event is not None:
            told[index].append(told_event)
    return told


async def _record(
    session: AsyncSession, runtime: LoyaltyParts, event: CloudEvent, account: Any
) -> Facts:
    customer_id = event.customerid
    data = event.data
    earlier = await session.scalar(
        select(func.count())
        .select_from(recorded_events)
        .where(
            recorded_events.c.customer_id == customer_id,
            recorded_events.c.event_type == event.type,
            recorded_events.c.occurred_at < event.time,
        )
    )
    amount = _amount(data)
    offers = set(account.offers or [])
    if data.get("offer_code"):
        offers.add(str(data["offer_code"]))
    tier = await _update_tier(session, runtime, account, event.time, amount)
    facts = Facts(
        event_id=event.id,
        event_type=event.type,
        customer_id=customer_id,
        occurred_at=event.time,
        subject=_subject(event),
        wilaya_code=account.wilaya_code or data.get("wilaya_code"),
        offers=frozenset(offers),
        tier=tier,
        tenure_days=tenure_days(account.registered_at, event.time),
        amount_centimes=amount,
        first_time=not earlier,
        level=data.get("level") if isinstance(data.get("level"), str) else None,
        ticket_number=str(data["number"])
        if event.type.startswith("tickets.") and data.get("number")
        else None,
    )
    await session.execute(
        pg_insert(recorded_events)
        .values(
            event_id=event.id,
            customer_id=customer_id,
            event_type=event.type,
            occurred_at=event.time,
            amount_centimes=amount if event.type in SPEND_TYPES else None,
            facts=facts.as_json(),
            pending_event=null(),
        )
        .on_conflict_do_nothing(index_elements=["event_id"])
    )
    return facts


async def _update_tier(
    session: AsyncSession, runtime: LoyaltyParts, account: Any, at: datetime, amount: int | None
) -> Tier:
    """The tier as of ``at`` (this event's spend included); an older event never lowers it."""
    current = Tier(account.tier)
    evaluated = account.tier_evaluated_at
    if evaluated is not None and at < evaluated:
        return current
    spend = await session.scalar(
        select(func.coalesce(func.sum(recorded_events.c.amount_centimes), 0)).where(
            recorded_events.c.customer_id == account.customer_id,
            recorded_events.c.event_type.in_(SPEND_TYPES),
            recorded_events.c.occurred_at > at - SPEND_WINDOW,
            recorded_events.c.occurred_at <= at,
        )
    )
    spend = int(spend or 0) + (amount or 0)
    tier = tier_for(tenure_days(account.registered_at, at), spend)
    await session.execute(
        update(accounts)
        .where(accounts.c.customer_id == account.customer_id)
        .values(tier=tier.value, tier_evaluated_at=at)
    )
    if tier is not current:
        await runtime.outbox.record(
            session,
            TIER_CHANGED,
            subject=account.customer_id,
            customer_id=account.customer_id,
            data=TierChanged(
                customer_id=account.customer_id,
                tier=tier.value,
                previous_tier=current.value,
                upgrade=is_upgrade(current, tier),
            ),
        )
    return tier


async def active_campaigns(session: AsyncSession, trigger: str, at: datetime) -> list[Campaign]:
    """The campaigns of this trigger active at ``at``, in id order. Read once per trigger
    and transaction (a batch of events): a campaign paused meanwhile cannot grant anyway,
    its reservation checks the status."""
    cache: dict[str, list[Campaign]] = session.info.setdefault("loyalty.campaigns", {})
    if trigger not in cache:
        rows = await session.execute(
            select(campaigns)
            .where(campaigns.c.trigger == trigger, campaigns.c.status == "active")
            # In id order, so a dry run and a replay meet them in the same order.
            .order_by(campaigns.c.id)
        )
        cache[trigger] = [campaign_of(row) for row in rows.all()]
    return [c for c in cache[trigger] if c.period.starts_at <= at < c.period.ends_at]


async def run_campaigns(session: AsyncSession, runtime: LoyaltyParts, facts: Facts) -> int:
    """Grant what each active campaign of this trigger promises for these facts; returns how
    many grants were made. The caller holds the customer's account lock."""
    candidates = [
        (campaign, grant_key(campaign, facts))
        for campaign in await active_campaigns(session, facts.event_type, facts.occurred_at)
        if refusal(campaign, facts) is None
    ]
    if not candidates:
        return 0
    done = set(
        await session.scalars(
            select(ledger_entries.c.source_key).where(
                ledger_entries.c.source_key.in_([key for _, key in candidates])
            )
        )
    )
    candidates = [(c, key) for c, key in candidates if key not in done]
    capped = [c.campaign_id for c, _ in candidates if c.caps.per_customer is not None]
    if capped:
        used: dict[str, int] = dict(
            (
                await session.execute(
                    select(ledger_entries.c.campaign_id, func.count())
                    .where(
                        ledger_entries.c.campaign_id.in_(capped),
                        ledger_entries.c.customer_id == facts.customer_id,
                    )
                    .group_by(ledger_entries.c.campaign_id)
                )
            ).all()
        )
        candidates = [
            (c, key)
            for c, key in candidates
            if cap_refusal(
                c,
                CapState(per_customer={facts.customer_id: int(used.get(c.campaign_id, 0))}),
                facts.customer_id,
            )
            != "per_customer"
        ]
    if not candidates:
        return 0
    reserved = await reserve_budgets(session, candidates)
    ticket = (
        {"ticket_id": facts.subject, "ticket_number": facts.ticket_number}
        if facts.event_type == "tickets.ticket.escalated"
        else None
    )
    wanted: list[Grant] = []
    for campaign, key in candidates:
        if key not in reserved:
            continue
        reward = campaign.reward
        quantity = granted_quantity(reward, facts.tier)
        wanted.append(
            Grant(
                customer_id=facts.customer_id,
                kind=reward.kind,
                quantity=quantity,
                label=granted_label(reward, quantity),
                source=Source(
                    key=key,
                    reason=EntryReason.CAMPAIGN,
                    event_id=facts.event_id,
                    campaign_id=campaign.campaign_id,
                ),
                occurred_at=facts.occurred_at,
                speed_mbps=reward.speed_mbps,
                ticket=ticket,
            )
        )
    granted = await grant_many(session, runtime, wanted)
    if granted:
        # The entries now stand for their reservations (a rollback keeps the reservations
        # for the retry).
        await session.execute(
            delete(campaign_reservations).where(
                campaign_reservations.c.source_key == any_(_keys(granted))
            )
        )
    return len(granted)


async def reserve_budgets(
    grants_session: AsyncSession, wanted: list[tuple[Campaign, str]]
) -> set[str]:
    """Reserve each grant's cost and stock (campaign, grant key) in a short transaction of
    its own, committed at once; returns the keys reserved.

    The grant's own transaction holds customers' accounts (and, in a batch, several of
    them); taking campaigns' rows there too made two engines meet in opposite orders (a
    registration read on identity's topic, a payment on billing's) and deadlock. Here only
    campaign rows are locked, in id order, by one statement; what fits in their budget and
    stock is then taken, so concurrent grants, across partitions and processes, stay within
    them; the reservation row, keyed like the ledger entry, makes a retry of a
    rolled-back grant use the same reservation instead of taking a second one.

    The commit does not wait for the disk (``synchronous_commit = off``): the grant's own
    commit, later in the WAL, waits for it and everything before it, so a grant that
    survives a crash has its reservation; a reservation lost in a crash had no grant yet,
    and the retry takes it again.
    """
    c = campaigns.c
    r = campaign_reservations.c
    reserved: set[str] = set()
    # Another connection of the same engine as the grant's transaction.
    async with AsyncSession(grants_session.bind) as session, session.begin():
        await session.execute(text("SET LOCAL synchronous_commit = off"))
        reserved.update(
            await session.scalars(
                select(r.source_key).where(r.source_key == any_(_keys([key for _, key in wanted])))
            )
        )
        todo = [(campaign, key) for campaign, key in wanted if key not in reserved]
        if not todo:
            return reserved
        # The campaigns' rows, locked in id order by one statement.
        state = {
            row.id: row
            for row in (
                await session.execute(
                    select(c.id, c.budget_centimes, c.spent_centimes, c.stock, c.stock_used)
                    .where(
                        c.id.in_({campaign.campaign_id for campaign, _ in todo}),
                        c.status == "active",
                    )
                    .order_by(c.id)
                    .with_for_update()
                )
            ).all()
        }
        spent = {campaign_id: int(row.spent_centimes) for campaign_id, row in state.items()}
        used = {campaign_id: int(row.stock_used) for campaign_id, row in state.items()}
        taken: dict[str, tuple[int, int]] = {}
        rows: list[dict[str, Any]] = []
        now = datetime.now(UTC)
        for campaign, key in todo:
            row = state.get(campaign.campaign_id)
            if row is None:
                continue  # paused or ended meanwhile
            cost = campaign.reward.unit_cost_centimes
            cid = campaign.campaign_id
            if row.budget_centimes is not None and spent[cid] + cost > row.budget_centimes:
                continue
            if row.stock is not None and used[cid] + 1 > row.stock:
                continue
            spent[cid] += cost
            used[cid] += 1
            grants, cost_sum = taken.get(cid, (0, 0))
            taken[cid] = (grants + 1, cost_sum + cost)
            reserved.add(key)
            rows.append(
                {"source_key": key, "campaign_id": cid, "cost_centimes": cost, "reserved_at": now}
            )
        if taken:
            await session.execute(
                update(campaigns)
                .where(c.id == bindparam("campaign"))
                .values(
                    spent_centimes=c.spent_centimes + bindparam("cost"),
                    stock_used=c.stock_used + bindparam("count"),
                    grants=c.grants + bindparam("count"),
                ),
                [
                    {"campaign": cid, "count": count, "cost": cost}
                    for cid, (count, cost) in sorted(taken.items())
                ],
            )
            await session.execute(
                pg_insert(campaign_reservations).on_conflict_do_nothing(
                    index_elements=["source_key"]
                ),
                rows,
            )
    return reserved


async def release_orphan_reservations(
    runtime: LoyaltyRuntime, now: datetime, *, older_than: timedelta = ORPHAN_AFTER
) -> int:
    """Give back what reservations without a grant took (their event went to the DLQ):
    only reservations older than any grant transaction lives, so none is in flight."""
    released = 0
    r = campaign_reservations.c
    async with runtime.session_factory() as session, session.begin():
        rows = (
            await session.execute(
                select(campaign_reservations)
                .where(
                    r.reserved_at < now - older_than,
                    ~select(ledger_entries.c.id)
                    .where(ledger_entries.c.source_key == r.source_key)
                    .exists(),
                )
                .order_by(r.campaign_id)
                .limit(500)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for row in rows:
            c = campaigns.c
            await session.execute(
                update(campaigns)
                .where(c.id == row.campaign_id)
                .values(
                    spent_centimes=c.spent_centimes - row.cost_centimes,
                    stock_used=c.stock_used - 1,
                    grants=c.grants - 1,
                )
            )
            await session.execute(
                delete(campaign_reservations).where(r.source_key == row.source_key)
            )
            released += 1
    return released
