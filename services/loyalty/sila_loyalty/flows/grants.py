"""Writing the ledger: one entry per source key, once, with its event (and its boost)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.outbox import NewEvent
from sila_loyalty.domain.ledger import EntryReason, RewardKind, points_expiry
from sila_loyalty.events import REWARD_GRANTED, RewardGranted
from sila_loyalty.runtime import LoyaltyParts
from sila_loyalty.tables import boosts, ledger_entries


@dataclass(frozen=True)
class Source:
    """Where an entry comes from: a key that makes it happen once, and what it names."""

    key: str
    reason: EntryReason
    event_id: str | None = None
    campaign_id: str | None = None
    agent_id: str | None = None


async def write_entry(
    session: AsyncSession,
    *,
    customer_id: str,
    kind: RewardKind,
    quantity: int,
    label: str,
    source: Source,
    occurred_at: datetime,
    expires_at: datetime | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Append an entry; None when its source key was already used (nothing written)."""
    row: dict[str, Any] = {
        "entry_id": str(uuid.uuid4()),
        "customer_id": customer_id,
        "kind": kind.value,
        "quantity": quantity,
        "reason": source.reason.value,
        "source_key": source.key,
        "event_id": source.event_id,
        "campaign_id": source.campaign_id,
        "agent_id": source.agent_id,
        "label": label[:200],
        "details": details,
        "expires_at": expires_at,
        "occurred_at": occurred_at,
        "recorded_at": datetime.now(UTC),
    }
    stmt = (
        pg_insert(ledger_entries)
        .values(**row)
        .on_conflict_do_nothing(index_elements=["source_key"])
        .returning(ledger_entries.c.id)
    )
    entry_id = (await session.execute(stmt)).scalar_one_or_none()
    if entry_id is None:
        return None
    row["id"] = entry_id
    return row


async def grant(
    session: AsyncSession,
    runtime: LoyaltyParts,
    *,
    customer_id: str,
    kind: RewardKind,
    quantity: int,
    label: str,
    source: Source,
    occurred_at: datetime,
    speed_mbps: int | None = None,
    coupon_code: str | None = None,
    ticket: dict[str, str | None] | None = None,
    now: datetime | None = None,
) -> dict[str, Any] | None:
    """Grant a reward once per source: the entry, a boost's window, ``loyalty.reward.granted``."""
    now = now or datetime.now(UTC)
    expires_at = points_expiry(occurred_at) if kind is RewardKind.POINTS else None
    details: dict[str, Any] = {}
    if speed_mbps is not None:
        details["speed_mbps"] = speed_mbps
    if coupon_code is not None:
        details["coupon_code"] = coupon_code
    if ticket:
        details.update({k: v for k, v in ticket.items() if v})
    entry = await write_entry(
        session,
        customer_id=customer_id,
        kind=kind,
        quantity=quantity,
        label=label,
        source=source,
        occurred_at=occurred_at,
        expires_at=expires_at,
        details=details or None,
    )
    if entry is None:
        return None
    starts_at = ends_at = None
    if kind is RewardKind.SPEED_BOOST:
        # A boost runs from the moment it is granted for its number of hours.
        starts_at, ends_at = now, now + timedelta(hours=quantity)
        await session.execute(
            insert(boosts).values(
                id=str(uuid.uuid4()),
                customer_id=customer_id,
                entry_id=entry["entry_id"],
                speed_mbps=speed_mbps or 0,
                starts_at=starts_at,
                ends_at=ends_at,
                ended_at=None,
            )
        )
    await runtime.outbox.record(
        session,
        REWARD_GRANTED,
        subject=entry["entry_id"],
        customer_id=customer_id,
        data=RewardGranted(
            entry_id=entry["entry_id"],
            customer_id=customer_id,
            kind=kind.value,
            quantity=quantity,
            reward_label=label,
            reason=source.reason.value,
            campaign_id=source.campaign_id,
            source_event_id=source.event_id,
            agent_id=source.agent_id,
            speed_mbps=speed_mbps,
            starts_at=starts_at,
            ends_at=ends_at,
            expires_at=expires_at,
            coupon_code=coupon_code,
            ticket_id=(ticket or {}).get("ticket_id"),
            ticket_number=(ticket or {}).get("ticket_number"),
        ),
    )
    return entry


@dataclass(frozen=True)
class Grant:
    """One reward to grant, for ``grant_many``."""

    customer_id: str
    kind: RewardKind
    quantity: int
    label: str
    source: Source
    occurred_at: datetime
    speed_mbps: int | None = None
    ticket: dict[str, str | None] | None = None


async def grant_many(
    session: AsyncSession,
    runtime: LoyaltyParts,
    grants: list[Grant],
    *,
    now: datetime | None = None,
) -> list[str]:
    """``grant`` for several rewards at once (an event's campaigns): one insert for their
    entries, one for their boosts, one for their events. Returns the source keys written
    (a key already used writes nothing)."""
    written, events = await write_grants(session, grants, now=now)
    await runtime.outbox.record_many(session, [e for e in events if e is not None])
    return written


async def write_grants(
    session: AsyncSession, grants: list[Grant], *, now: datetime | None = None
) -> tuple[list[str], list[NewEvent | None]]:
    """The entries (one multi-row insert) and boosts of ``grants``, without their events:
    returns the source keys written and, for each grant in its order, the
    ``loyalty.reward.granted`` to record (None when its key was already used), so a batch
    records them in the order of what triggered them."""
    if not grants:
        return [], []
    now = now or datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for item in grants:
        details: dict[str, Any] = {}
        if item.speed_mbps is not None:
            details["speed_mbps"] = item.speed_mbps
        if item.ticket:
            details.update({k: v for k, v in item.ticket.items() if v})
        rows.append(
            {
                "entry_id": str(uuid.uuid4()),
                "customer_id": item.customer_id,
                "kind": item.kind.value,
                "quantity": item.quantity,
                "reason": item.source.reason.value,
                "source_key": item.source.key,
                "event_id": item.source.event_id,
                "campaign_id": item.source.campaign_id,
                "agent_id": item.source.agent_id,
                "label": item.label[:200],
                "details": details or None,
                "expires_at": points_expiry(item.occurred_at)
                if item.kind is RewardKind.POINTS
                else None,
                "occurred_at": item.occurred_at,
                "recorded_at": now,
            }
        )
    # executemany: SQLAlchemy sends the rows as multi-row INSERTs of up to 1,000 rows.
    written = set(
        await session.scalars(
            pg_insert(ledger_entries)
            .on_conflict_do_nothing(index_elements=["source_key"])
            .returning(ledger_entries.c.source_key),
            rows,
        )
    )
    boost_rows: list[dict[str, Any]] = []
    events: list[NewEvent | None] = []
    for item, row in zip(grants, rows, strict=True):
        if item.source.key not in written:
            events.append(None)
            continue
        starts_at = ends_at = None
        if item.kind is RewardKind.SPEED_BOOST:
            starts_at, ends_at = now, now + timedelta(hours=item.quantity)
            boost_rows.append(
                {
                    "id": str(uuid.uuid4()),
                    "customer_id": item.customer_id,
                    "entry_id": row["entry_id"],
                    "speed_mbps": item.speed_mbps or 0,
                    "starts_at": starts_at,
                    "ends_at": ends_at,
                    "ended_at": None,
                }
            )
        events.append(
            NewEvent(
                REWARD_GRANTED,
                row["entry_id"],
                item.customer_id,
                RewardGranted(
                    entry_id=row["entry_id"],
                    customer_id=item.customer_id,
                    kind=item.kind.value,
                    quantity=item.quantity,
                    reward_label=row["label"],
                    reason=item.source.reason.value,
                    campaign_id=item.source.campaign_id,
                    source_event_id=item.source.event_id,
                    agent_id=item.source.agent_id,
                    speed_mbps=item.speed_mbps,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    expires_at=row["expires_at"],
                    ticket_id=(item.ticket or {}).get("ticket_id"),
                    ticket_number=(item.ticket or {}).get("ticket_number"),
                ),
            )
        )
    if boost_rows:
        await session.execute(insert(boosts), boost_rows)
    return [item.source.key for item in grants if item.source.key in written], events
