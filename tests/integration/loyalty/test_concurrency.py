"""Two engines at once: a customer's registration (read from identity's topic by one engine)
and payments (read from billing's by another) in concurrent transactions on the real
database, interleaved by waiting on PostgreSQL's lock queue, never deadlock; campaign
budgets stay exact and grants happen once, also after a rolled-back transaction.

The engines are the consumer's batch path (``handlers.handle_many``, what a fetch of
records runs in one transaction) driven directly, so the test decides who waits for whom.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.events import CloudEvent
from sila_loyalty import handlers
from sila_loyalty.flows.engine import release_orphan_reservations
from sila_loyalty.tables import accounts, campaign_reservations, campaigns, ledger_entries
from tests.integration.loyalty.conftest import Staff, create_campaign
from tests.support import LiveService, eventually, random_mobile


def event(event_type: str, customer_id: str, data: dict[str, Any], at: datetime) -> CloudEvent:
    service = event_type.split(".", 1)[0]
    return CloudEvent(
        id=str(uuid.uuid4()),
        source=f"/sila/{service}",
        type=event_type,
        time=at,
        subject=customer_id,
        dataschema=f"https://schemas.sila.algerietelecom.dz/events/{event_type}.v1.json",
        customerid=customer_id,
        data={"customer_id": customer_id, **data},
    )


def registration(customer_id: str, at: datetime) -> CloudEvent:
    return event(
        "identity.customer.registered",
        customer_id,
        {"wilaya_code": "15", "language": "fr", "phone": random_mobile(), "status": "active"},
        at,
    )


def payment(customer_id: str, offer: str, at: datetime) -> CloudEvent:
    return event(
        "billing.payment.succeeded",
        customer_id,
        {"payment_id": str(uuid.uuid4()), "amount_centimes": 250_000, "offer_code": offer},
        at,
    )


async def apply(loyalty: LiveService, *events: CloudEvent) -> None:
    """A batch, as the consumer applies a fetch: one transaction, committed."""
    async with loyalty.runtime.session_factory() as session, session.begin():
        await handlers.handle_many(session, list(events), loyalty.runtime.handler_context())


@asynccontextmanager
async def transaction(loyalty: LiveService) -> AsyncIterator[tuple[AsyncSession, int]]:
    async with loyalty.runtime.session_factory() as session, session.begin():
        pid = int(await session.scalar(text("SELECT pg_backend_pid()")) or 0)
        yield session, pid


async def engine_batch(
    loyalty: LiveService, started: asyncio.Queue[int], *events: CloudEvent
) -> None:
    async with transaction(loyalty) as (session, pid):
        await started.put(pid)
        await handlers.handle_many(session, list(events), loyalty.runtime.handler_context())


async def waiting_on_locks(loyalty: LiveService, pids: set[int]) -> bool:
    async with loyalty.runtime.session_factory() as session:
        waiting = set(
            await session.scalars(
                text("SELECT pid FROM pg_locks WHERE NOT granted AND pid = ANY(:pids)"),
                {"pids": list(pids)},
            )
        )
    return waiting == pids


async def campaign_row(loyalty: LiveService, campaign_id: str) -> Any:
    async with loyalty.runtime.session_factory() as session:
        return (await session.execute(select(campaigns).where(campaigns.c.id == campaign_id))).one()


async def entries_of(loyalty: LiveService, campaign_id: str) -> list[Any]:
    async with loyalty.runtime.session_factory() as session:
        return list(
            (
                await session.execute(
                    select(ledger_entries).where(ledger_entries.c.campaign_id == campaign_id)
                )
            ).all()
        )


async def reservations_of(loyalty: LiveService, campaign_id: str) -> int:
    async with loyalty.runtime.session_factory() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(campaign_reservations)
                .where(campaign_reservations.c.campaign_id == campaign_id)
            )
            or 0
        )


async def test_a_registration_and_payments_in_two_engines_at_once_never_deadlock(
    loyalty: LiveService, staff: Staff
) -> None:
    offer = f"fibre_{uuid.uuid4().hex[:6]}"
    campaign = await create_campaign(
        loyalty,
        staff,
        conditions={"offers": [offer]},
        reward={"kind": "points", "quantity": 100, "unit_cost_centimes": 1_000},
        caps={"budget_centimes": 2_000},  # two of the three payments
    )
    now = datetime.now(UTC)
    alice, bouzid = str(uuid.uuid4()), str(uuid.uuid4())
    await apply(loyalty, registration(alice, now - timedelta(minutes=5)))
    # Bouzid's first payment is read before his registration: it waits for it.
    early = payment(bouzid, offer, now - timedelta(minutes=3))
    await apply(loyalty, early)
    assert await entries_of(loyalty, campaign["id"]) == []

    started: asyncio.Queue[int] = asyncio.Queue()
    async with transaction(loyalty) as (blocker, blocker_pid):
        # Someone (a redemption) holds Bouzid's account: both engines queue behind it.
        await blocker.execute(
            select(accounts.c.customer_id).where(accounts.c.customer_id == bouzid).with_for_update()
        )
        # Engine 1 (identity's partition) reads Bouzid's registration, which releases his
        # waiting payment; it queues first.
        identity_side = asyncio.create_task(
            engine_batch(loyalty, started, registration(bouzid, now - timedelta(minutes=2)))
        )
        first = await started.get()
        await eventually(
            lambda: waiting_on_locks(loyalty, {first}), what="engine 1 waiting for the account"
        )
        # Engine 2 (billing's partition) reads Alice's payment, then Bouzid's second one.
        billing_side = asyncio.create_task(
            engine_batch(
                loyalty,
                started,
                payment(alice, offer, now - timedelta(minutes=1)),
                payment(bouzid, offer, now),
            )
        )
        second = await started.get()
        await eventually(
            lambda: waiting_on_locks(loyalty, {first, second}), what="both engines waiting"
        )
        assert blocker_pid not in {first, second}
    # The blocker is gone: engine 1 takes Bouzid's account and reserves the campaign's
    # budget for his early payment while engine 2 has already seen Alice's payment.
    # Before the fix, engine 2 held the campaign's row from Alice's payment and waited for
    # Bouzid's account; engine 1 held that account and waited for the campaign: deadlock.
    await asyncio.wait_for(asyncio.gather(identity_side, billing_side), timeout=30)

    entries = await entries_of(loyalty, campaign["id"])
    assert len(entries) == 2
    assert early.id in {e.event_id for e in entries}
    stored = await campaign_row(loyalty, campaign["id"])
    assert (stored.spent_centimes, stored.grants) == (2_000, 2)
    assert await reservations_of(loyalty, campaign["id"]) == 0

    # The same events again (a replay): nothing more is granted or reserved.
    async with loyalty.runtime.session_factory() as session, session.begin():
        for again in (early, payment(bouzid, offer, now)):
            await handlers.handle(session, again, loyalty.runtime.handler_context())
    assert len(await entries_of(loyalty, campaign["id"])) == 2
    assert (await campaign_row(loyalty, campaign["id"])).spent_centimes == 2_000


async def test_two_engines_meeting_the_same_customers_in_opposite_orders_never_deadlock(
    loyalty: LiveService,
) -> None:
    now = datetime.now(UTC)
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    for customer in (first, second):
        await apply(loyalty, registration(customer, now - timedelta(minutes=5)))

    def moved(customer: str) -> CloudEvent:
        return event(
            "identity.customer.updated",
            customer,
            {"wilaya_code": "16", "language": "ar", "phone": random_mobile()},
            now,
        )

    started: asyncio.Queue[int] = asyncio.Queue()
    async with transaction(loyalty) as (blocker, _):
        await blocker.execute(
            select(accounts.c.customer_id).where(accounts.c.customer_id == second).with_for_update()
        )
        # Identity's partition: the second customer's change, then the first's.
        identity_side = asyncio.create_task(
            engine_batch(loyalty, started, moved(second), moved(first))
        )
        one = await started.get()
        await eventually(lambda: waiting_on_locks(loyalty, {one}), what="engine 1 waiting")
        # Billing's partition: the first customer's payment, then the second's.
        billing_side = asyncio.create_task(
            engine_batch(
                loyalty,
                started,
                payment(first, "none", now),
                payment(second, "none", now),
            )
        )
        two = await started.get()
        await eventually(lambda: waiting_on_locks(loyalty, {one, two}), what="both waiting")
    # Handled in their order, engine 1 would hold the second customer and want the first,
    # which engine 2 holds while it waits for the second: deadlock. Both lock up front, in
    # customer id order.
    await asyncio.wait_for(asyncio.gather(identity_side, billing_side), timeout=30)
    async with loyalty.runtime.session_factory() as session:
        rows = (
            await session.execute(
                select(accounts.c.customer_id, accounts.c.wilaya_code, accounts.c.language).where(
                    accounts.c.customer_id.in_([first, second])
                )
            )
        ).all()
    assert sorted(tuple(r)[1:] for r in rows) == [("16", "ar"), ("16", "ar")]


async def test_a_rolled_back_grant_keeps_its_reservation_for_the_retry_and_an_orphan_is_given_back(
    loyalty: LiveService, staff: Staff
) -> None:
    offer = f"adsl_{uuid.uuid4().hex[:6]}"
    campaign = await create_campaign(
        loyalty,
        staff,
        conditions={"offers": [offer]},
        reward={"kind": "bonus_hours", "quantity": 2, "unit_cost_centimes": 5_000},
        caps={"budget_centimes": 10_000},
    )
    now = datetime.now(UTC)
    customer, other = str(uuid.uuid4()), str(uuid.uuid4())
    await apply(loyalty, registration(customer, now - timedelta(hours=1)))
    await apply(loyalty, registration(other, now - timedelta(hours=1)))
    paid = payment(customer, offer, now)

    class Crash(Exception):
        pass

    try:
        async with loyalty.runtime.session_factory() as session, session.begin():
            await handlers.handle_many(session, [paid], loyalty.runtime.handler_context())
            raise Crash  # the process dies before the commit
    except Crash:
        pass
    assert await entries_of(loyalty, campaign["id"]) == []
    assert await reservations_of(loyalty, campaign["id"]) == 1
    assert (await campaign_row(loyalty, campaign["id"])).spent_centimes == 5_000

    # The consumer retries the event: the reservation is used, not taken again.
    await apply(loyalty, paid)
    assert len(await entries_of(loyalty, campaign["id"])) == 1
    assert await reservations_of(loyalty, campaign["id"]) == 0
    assert (await campaign_row(loyalty, campaign["id"])).spent_centimes == 5_000

    # An event that fails for good (dead-lettered) leaves a reservation without a grant:
    # the jobs give it back once it is older than any transaction lives.
    lost = payment(other, offer, now)
    try:
        async with loyalty.runtime.session_factory() as session, session.begin():
            await handlers.handle_many(session, [lost], loyalty.runtime.handler_context())
            raise Crash
    except Crash:
        pass
    assert (await campaign_row(loyalty, campaign["id"])).spent_centimes == 10_000
    assert await release_orphan_reservations(loyalty.runtime, now) == 0  # too recent
    assert await release_orphan_reservations(loyalty.runtime, now + timedelta(hours=2)) >= 1
    stored = await campaign_row(loyalty, campaign["id"])
    assert (stored.spent_centimes, stored.grants) == (5_000, 1)
    # Its budget serves the event when it is replayed from the DLQ.
    await apply(loyalty, lost)
    assert len(await entries_of(loyalty, campaign["id"])) == 2
    assert (await campaign_row(loyalty, campaign["id"])).spent_centimes == 10_000
