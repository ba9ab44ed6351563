"""The background job: ends speed boosts on time, expires points past their date, gives
back reservations of grants that failed for good, and, once a day (Algiers), celebrates
tenure anniversaries (campaigns on ``loyalty.tenure.anniversary``).

Both passes look for everything already due, so a pass after a restart or a downtime
catches up; rows are claimed with ``FOR UPDATE SKIP LOCKED`` and each effect is written
once (a boost's ``ended_at``, an expiry's source key), so several instances may run.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy import extract, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.aio import wait_or_timeout
from sila_common.events import CloudEvent
from sila_loyalty.domain.ledger import ALGIERS, EntryReason, PointLot, RewardKind, expiring_now
from sila_loyalty.domain.tenure import ANNIVERSARY, anniversary_event_id, due_anniversary
from sila_loyalty.events import BOOST_ENDED, POINTS_EXPIRED, BoostEnded, PointsExpired
from sila_loyalty.flows import engine
from sila_loyalty.flows.accounts import lock_account, points_of
from sila_loyalty.flows.engine import release_orphan_reservations
from sila_loyalty.flows.grants import Source, write_entry
from sila_loyalty.runtime import LoyaltyParts, LoyaltyRuntime
from sila_loyalty.tables import accounts, boosts, ledger_entries, recorded_events

log = structlog.get_logger(__name__)


@dataclass
class PassResult:
    boosts_ended: int = 0
    points_expired: int = 0
    reservations_released: int = 0
    anniversaries: int = 0
    released: int = 0


async def end_boosts(runtime: LoyaltyRuntime, now: datetime, *, batch_size: int = 200) -> int:
    ended = 0
    while True:
        async with runtime.session_factory() as session, session.begin():
            rows = (
                await session.execute(
                    select(boosts)
                    .where(boosts.c.ended_at.is_(None), boosts.c.ends_at <= now)
                    .order_by(boosts.c.ends_at)
                    .limit(batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for row in rows:
                ends_at = row.ends_at or now
                await session.execute(
                    update(boosts).where(boosts.c.id == row.id).values(ended_at=ends_at)
                )
                await runtime.outbox.record(
                    session,
                    BOOST_ENDED,
                    subject=row.id,
                    customer_id=row.customer_id,
                    data=BoostEnded(
                        boost_id=row.id,
                        entry_id=row.entry_id,
                        customer_id=row.customer_id,
                        speed_mbps=row.speed_mbps,
                        ended_at=ends_at,
                    ),
                )
        ended += len(rows)
        if len(rows) < batch_size:
            return ended


async def expire_points(runtime: LoyaltyRuntime, now: datetime, *, batch_size: int = 200) -> int:
    """Withdraw what is left of every lot past its expiry, account by account."""
    expired = 0
    while True:
        async with runtime.session_factory() as session:
            due = list(
                await session.scalars(
                    select(ledger_entries.c.customer_id)
                    .join(accounts, accounts.c.customer_id == ledger_entries.c.customer_id)
                    .where(
                        ledger_entries.c.kind == RewardKind.POINTS.value,
                        ledger_entries.c.quantity > 0,
                        ledger_entries.c.expires_at <= now,
                        or_(
                            accounts.c.points_expired_through.is_(None),
                            ledger_entries.c.expires_at > accounts.c.points_expired_through,
                        ),
                    )
                    .distinct()
                    .limit(batch_size)
                )
            )
        for customer_id in due:
            async with runtime.session_factory() as session, session.begin():
                expired += await _expire_account(session, runtime, customer_id, now)
        if len(due) < batch_size:
            return expired


async def _expire_account(
    session: AsyncSession, runtime: LoyaltyParts, customer_id: str, now: datetime
) -> int:
    await lock_account(session, customer_id)
    entries = (
        await session.execute(
            select(ledger_entries).where(
                ledger_entries.c.customer_id == customer_id,
                ledger_entries.c.kind == RewardKind.POINTS.value,
            )
        )
    ).all()
    lots = [
        PointLot(e.entry_id, int(e.quantity), e.expires_at or now)
        for e in entries
        if e.quantity > 0 and e.expires_at is not None
    ]
    spent = -sum(int(e.quantity) for e in entries if e.reason == EntryReason.REDEMPTION.value)
    already = {
        str((e.details or {}).get("lot")): -int(e.quantity)
        for e in entries
        if e.reason == EntryReason.EXPIRY.value
    }
    total = 0
    balance = await points_of(session, customer_id)
    for lot_id, points in sorted(expiring_now(lots, spent, already, now).items()):
        entry = await write_entry(
            session,
            customer_id=customer_id,
            kind=RewardKind.POINTS,
            quantity=-points,
            label=f"{points} points expirés",
            source=Source(key=f"expiry:{lot_id}", reason=EntryReason.EXPIRY),
            occurred_at=now,
            details={"lot": lot_id},
        )
        if entry is None:
            continue
        balance -= points
        total += points
        await runtime.outbox.record(
            session,
            POINTS_EXPIRED,
            subject=entry["entry_id"],
            customer_id=customer_id,
            data=PointsExpired(
                customer_id=customer_id,
                points=points,
                earned_entry_id=lot_id,
                balance_after=balance,
            ),
        )
    await session.execute(
        update(accounts)
        .where(accounts.c.customer_id == customer_id)
        .values(points_expired_through=now)
    )
    return total


async def celebrate_anniversaries(
    runtime: LoyaltyRuntime, now: datetime, *, batch_size: int = 200
) -> int:
    """Every customer whose tenure anniversary has come this year (Algiers) and is not yet
    celebrated: the anniversary goes through the rule engine as an event of its own,
    ``tenure:<customer>:<year>``, once per customer per year (the account's
    ``tenure_celebrated_year``, the recorded event and the grants' keys all say so)."""
    today = now.astimezone(ALGIERS).date()
    local = func.timezone("Africa/Algiers", accounts.c.registered_at)
    a = accounts.c
    celebrated = 0
    after = ""
    while True:
        async with runtime.session_factory() as session:
            rows = (
                await session.execute(
                    select(a.customer_id)
                    .where(
                        a.registered_at.is_not(None),
                        a.erased_at.is_(None),
                        a.customer_id > after,
                        extract("year", local) < today.year,
                        or_(
                            a.tenure_celebrated_year.is_(None),
                            a.tenure_celebrated_year < today.year,
                        ),
                        extract("month", local) * 100 + extract("day", local)
                        <= today.month * 100 + today.day,
                    )
                    .order_by(a.customer_id)
                    .limit(batch_size)
                )
            ).all()
        for row in rows:
            async with runtime.session_factory() as session, session.begin():
                celebrated += await _celebrate(session, runtime, row.customer_id, now)
        if len(rows) < batch_size:
            return celebrated
        after = rows[-1].customer_id


async def _celebrate(
    session: AsyncSession, runtime: LoyaltyRuntime, customer_id: str, now: datetime
) -> int:
    account = await lock_account(session, customer_id)
    registered_at = account.registered_at
    if registered_at is None or account.erased_at is not None:
        return 0
    due = due_anniversary(registered_at, account.tenure_celebrated_year, now)
    if due is None:
        return 0
    year, instant = due
    event = CloudEvent(
        id=anniversary_event_id(customer_id, year),
        source="/sila/loyalty",
        type=ANNIVERSARY,
        time=instant,
        subject=customer_id,
        dataschema=f"https://schemas.sila.algerietelecom.dz/events/{ANNIVERSARY}.v1.json",
        customerid=customer_id,
        data={
            "customer_id": customer_id,
            "years": year - registered_at.astimezone(ALGIERS).year,
        },
    )
    await engine.observe(session, runtime, event)
    await session.execute(
        update(accounts)
        .where(accounts.c.customer_id == customer_id)
        .values(tenure_celebrated_year=year)
    )
    return 1


async def release_stranded(runtime: LoyaltyRuntime, *, batch_size: int = 200) -> int:
    """Events still waiting for a registration that has already been read (written before
    migration 0004, when nothing ever released them): decided now, customer by customer."""
    released = 0
    async with runtime.session_factory() as session:
        stranded = list(
            await session.scalars(
                select(recorded_events.c.customer_id)
                .join(accounts, accounts.c.customer_id == recorded_events.c.customer_id)
                .where(
                    recorded_events.c.facts.is_(None),
                    accounts.c.registered_at.is_not(None),
                    accounts.c.erased_at.is_(None),
                )
                .distinct()
                .limit(batch_size)
            )
        )
    for customer_id in stranded:
        async with runtime.session_factory() as session, session.begin():
            account = await lock_account(session, customer_id)
            if account.registered_at is not None:
                released += await engine.release_waiting(session, runtime, customer_id)
    return released


async def run_pass(
    runtime: LoyaltyRuntime, now: datetime | None = None, *, anniversaries: bool = True
) -> PassResult:
    now = now or datetime.now(UTC)
    batch = runtime.settings.jobs_batch_size
    return PassResult(
        boosts_ended=await end_boosts(runtime, now, batch_size=batch),
        points_expired=await expire_points(runtime, now, batch_size=batch),
        reservations_released=await release_orphan_reservations(runtime, now),
        released=await release_stranded(runtime, batch_size=batch),
        anniversaries=(
            await celebrate_anniversaries(runtime, now, batch_size=batch) if anniversaries else 0
        ),
    )


async def run_jobs(runtime: LoyaltyRuntime, stop: asyncio.Event) -> None:
    """Run passes every ``jobs_interval_seconds`` until ``stop`` is set."""
    interval = runtime.settings.jobs_interval_seconds
    log.info("loyalty.jobs_started", interval=interval)
    # Anniversaries once a day (Algiers), at the first pass of the day: at start-up, then
    # at the first pass after midnight.
    celebrated_on = None
    while not stop.is_set():
        try:
            now = datetime.now(UTC)
            today = now.astimezone(ALGIERS).date()
            result = await run_pass(runtime, now, anniversaries=today != celebrated_on)
            celebrated_on = today
            if (
                result.boosts_ended
                or result.points_expired
                or result.reservations_released
                or result.anniversaries
                or result.released
            ):
                log.info(
                    "loyalty.jobs_pass",
                    boosts_ended=result.boosts_ended,
                    points_expired=result.points_expired,
                    reservations_released=result.reservations_released,
                    anniversaries=result.anniversaries,
                    released=result.released,
                )
        except Exception as exc:  # a failed pass is retried at the next tick
            log.warning("loyalty.jobs_pass_failed", error=f"{type(exc).__name__}: {exc}")
        await wait_or_timeout(stop, interval)


__all__ = [
    "PassResult",
    "celebrate_anniversaries",
    "end_boosts",
    "expire_points",
    "run_jobs",
    "run_pass",
]
