"""State changes of a message, each with its event in the same transaction (the outbox).

Every change after a provider call is guarded by the attempt id written before the call, so
a late answer to an attempt that was since reconciled changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean, String, and_, bindparam, case, func, null, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.db import rows_affected
from sila_common.outbox import NewEvent, Outbox
from sila_notify.directory import device_tokens, recipient_row
from sila_notify.events import (
    MESSAGE_DELIVERED,
    MESSAGE_FAILED,
    MESSAGE_SENT,
    MessageDelivered,
    MessageFailed,
    MessageSent,
)
from sila_notify.flows.delivery.wakeup import wake_after_commit
from sila_notify.flows.planning import INBOX_DESTINATION, PUSH_DESTINATION, message_row, send_time
from sila_notify.settings import NotifySettings
from sila_notify.tables import messages

REDACTED = "[one-time code, not kept]"


async def load(session: AsyncSession, message_id: str, *, lock: bool = False) -> Any:
    query = select(messages).where(messages.c.id == message_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).one_or_none()


@dataclass(frozen=True)
class Sent:
    """A provider's acceptance of one claimed message, to record."""

    row: Any
    attempt_id: str
    provider_message_id: str | None
    delivered: bool


def _sent_update() -> Any:
    """One UPDATE for a batch of sends: arrays of ids, attempts and outcomes, unnested.

    Built once: its shape never changes, so SQLAlchemy compiles it once and asyncpg prepares it
    once, whatever the batch size.
    """
    sent = (
        func.unnest(
            bindparam("ids", type_=ARRAY(String)),
            bindparam("attempt_ids", type_=ARRAY(String)),
            bindparam("provider_ids", type_=ARRAY(String)),
            bindparam("delivered", type_=ARRAY(Boolean)),
        )
        .table_valued("id", "attempt_id", "provider_message_id", "delivered")
        .render_derived(name="sent")
    )
    now = bindparam("now", type_=messages.c.sent_at.type)
    return (
        update(messages)
        .where(
            messages.c.id == sent.c.id,
            messages.c.attempt_id == sent.c.attempt_id,
            messages.c.state == "sending",
        )
        .values(
            state=case((sent.c.delivered, "delivered"), else_="sent"),
            sent_at=now,
            delivered_at=case((sent.c.delivered, now), else_=null()),
            provider_message_id=sent.c.provider_message_id,
            provider_reason=None,
            sending_since=None,
            body=case((messages.c.lane == "otp", REDACTED), else_=messages.c.body),
            sealed_body=None,
        )
        .returning(messages.c.id)
    )


SENT_UPDATE = _sent_update()
# Messages of a batch locked in id order; one array parameter, one prepared statement.
LOCK_IN_ID_ORDER = (
    select(messages.c.id)
    .where(messages.c.id == func.any(bindparam("ids", type_=ARRAY(String))))
    .order_by(messages.c.id)
    .with_for_update()
)


async def mark_sent_many(session: AsyncSession, outbox: Outbox, sends: Sequence[Sent]) -> set[str]:
    """Record a batch of sends in one statement, with one event each; returns the recorded ids.

    A send is recorded only if its message is still in the attempt it was sent under.
    """
    if not sends:
        return set()
    ids = [str(s.row.id) for s in sends]
    # Lock in id order first, as delivery reports do, so the two never deadlock (an UPDATE
    # joined to a list locks in whatever order its plan visits the rows).
    await session.execute(LOCK_IN_ID_ORDER, {"ids": ids})
    result = await session.execute(
        SENT_UPDATE,
        {
            "ids": ids,
            "attempt_ids": [s.attempt_id for s in sends],
            "provider_ids": [s.provider_message_id for s in sends],
            "delivered": [s.delivered for s in sends],
            "now": datetime.now(UTC),
        },
    )
    recorded = {str(i) for i in result.scalars()}
    await outbox.record_many(
        session, [sent_event(s.row) for s in sends if str(s.row.id) in recorded]
    )
    return recorded


def sent_event(row: Any) -> NewEvent:
    """notify.message.sent for a message row."""
    return NewEvent(
        MESSAGE_SENT,
        row.id,
        row.customer_id,
        MessageSent(
            message_id=row.id,
            customer_id=row.customer_id,
            channel=row.channel,
            template=row.template,
            event_id=row.event_id,
            attempts=int(row.attempts),
        ),
    )


def delivered_event(row: Any) -> NewEvent:
    """notify.message.delivered for a message row."""
    return NewEvent(
        MESSAGE_DELIVERED,
        row.id,
        row.customer_id,
        MessageDelivered(
            message_id=row.id,
            customer_id=row.customer_id,
            channel=row.channel,
            template=row.template,
            event_id=row.event_id,
        ),
    )


@dataclass(frozen=True)
class Retry:
    """A temporary failure of one claimed message: queued again for ``at``."""

    message_id: str
    attempt_id: str
    reason: str
    at: datetime


def _retry_update() -> Any:
    """One UPDATE for a batch of retries (arrays unnested), built once like SENT_UPDATE."""
    retry = (
        func.unnest(
            bindparam("ids", type_=ARRAY(String)),
            bindparam("attempt_ids", type_=ARRAY(String)),
            bindparam("reasons", type_=ARRAY(String)),
            bindparam("ats", type_=ARRAY(messages.c.scheduled_for.type)),
        )
        .table_valued("id", "attempt_id", "reason", "at")
        .render_derived(name="retry")
    )
    return (
        update(messages)
        .where(
            messages.c.id == retry.c.id,
            messages.c.attempt_id == retry.c.attempt_id,
            messages.c.state == "sending",
        )
        .values(
            state="queued",
            scheduled_for=retry.c.at,
            provider_reason=retry.c.reason,
            sending_since=None,
        )
        .returning(messages.c.id)
    )


RETRY_UPDATE = _retry_update()


async def retry_many(session: AsyncSession, retries: Sequence[Retry]) -> set[str]:
    """Queue a batch of temporarily failed messages again, each only if still in its attempt;
    returns the ids queued. Locks in id order first, as sends and delivery reports do."""
    if not retries:
        return set()
    ids = [r.message_id for r in retries]
    await session.execute(LOCK_IN_ID_ORDER, {"ids": ids})
    result = await session.execute(
        RETRY_UPDATE,
        {
            "ids": ids,
            "attempt_ids": [r.attempt_id for r in retries],
            "reasons": [r.reason[:1000] for r in retries],
            "ats": [r.at for r in retries],
        },
    )
    return {str(i) for i in result.scalars()}


async def fail(
    session: AsyncSession,
    outbox: Outbox,
    settings: NotifySettings,
    row: Any,
    *,
    reason: str,
    from_states: tuple[str, ...],
    attempt_id: str | None = None,
) -> str | None:
    """Mark the message failed and queue the next allowed channel; returns that channel."""
    now = datetime.now(UTC)
    condition = [messages.c.id == row.id, messages.c.state.in_(from_states)]
    if attempt_id is not None:
        condition.append(messages.c.attempt_id == attempt_id)
    values: dict[str, Any] = {
        "state": "failed",
        "failed_at": now,
        "provider_reason": reason[:1000],
        "sending_since": None,
    }
    if row.lane == "otp":
        values["body"] = REDACTED
        values["sealed_body"] = None
    result = await session.execute(update(messages).where(*condition).values(**values))
    if not rows_affected(result):
        return None
    next_channel = await fail_over(session, settings, row, now)
    await outbox.record(
        session,
        MESSAGE_FAILED,
        subject=row.id,
        customer_id=row.customer_id,
        data=MessageFailed(
            message_id=row.id,
            customer_id=row.customer_id,
            channel=row.channel,
            template=row.template,
            event_id=row.event_id,
            reason=reason[:500],
            failover_channel=next_channel,
        ),
    )
    return next_channel


async def fail_over(
    session: AsyncSession, settings: NotifySettings, row: Any, now: datetime
) -> str | None:
    """Queue the same message on the next channel the customer allows, if any is left."""
    remaining = list(row.failover or [])
    recipient_fields = await _contact(session, row.customer_id)
    while remaining:
        channel = str(remaining.pop(0))
        destination = recipient_fields.get(channel)
        if not destination:
            continue
        when = await send_time(
            session,
            settings,
            customer_id=row.customer_id,
            lane=row.lane,
            urgent=bool(row.urgent),
            now=now,
        )
        values = await message_row(
            session,
            event_id=row.event_id,
            event_type=row.event_type,
            variant=row.variant,
            customer_id=row.customer_id,
            channel=channel,
            destination=destination,
            language=row.language,
            lane=row.lane,
            urgent=bool(row.urgent),
            data=row.render_data or {},
            failover=remaining,
            scheduled_for=when,
            now=now,
            sealer=settings.sealer(),
            campaign_id=row.campaign_id,
        )
        inserted = await session.execute(
            pg_insert(messages)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["event_id", "channel"])
            .returning(messages.c.id)
        )
        if inserted.scalar_one_or_none() is not None:
            wake_after_commit(session, str(row.lane))
            return channel
    return None


async def _contact(session: AsyncSession, customer_id: str) -> dict[str, str]:
    recipient = await recipient_row(session, customer_id)
    if recipient is None or recipient.erased:
        return {}
    contact = {"in_app": INBOX_DESTINATION}
    if recipient.phone:
        contact["sms"] = recipient.phone
    if recipient.email:
        contact["email"] = recipient.email
    if await device_tokens(session, customer_id):
        contact["push"] = PUSH_DESTINATION
    return contact


def _delivered_update() -> Any:
    """Delivery reports for a batch of messages; one array parameter, so built and prepared
    once whatever the batch size (an expanded ``IN`` list is a new statement per size)."""
    now = bindparam("now", type_=messages.c.delivered_at.type)
    was_sending = messages.c.state == "sending"
    return (
        update(messages)
        .where(
            messages.c.id == func.any(bindparam("ids", type_=ARRAY(String))),
            messages.c.state.in_(("sending", "sent")),
        )
        .values(
            state="delivered",
            delivered_at=now,
            sending_since=None,
            sent_at=case((was_sending, now), else_=messages.c.sent_at),
            body=case(
                (and_(was_sending, messages.c.lane == "otp"), REDACTED), else_=messages.c.body
            ),
            sealed_body=None,
        )
        .returning(messages.c.id)
    )


DELIVERED_UPDATE = _delivered_update()


async def mark_delivered_many(session: AsyncSession, outbox: Outbox, rows: Sequence[Any]) -> None:
    """Delivery reports for locked rows, one UPDATE for all; each can overtake the sender's record.

    The rows must be locked by the caller (their ``state`` is the one the update sees).
    """
    if not rows:
        return
    if len(rows) == 1:
        for row in rows:
            await mark_delivered(session, outbox, row)
        return
    result = await session.execute(
        DELIVERED_UPDATE, {"ids": [str(r.id) for r in rows], "now": datetime.now(UTC)}
    )
    recorded = {str(i) for i in result.scalars()}
    events: list[NewEvent] = []
    for row in rows:
        if str(row.id) not in recorded:
            continue
        if row.state == "sending":
            events.append(sent_event(row))
        events.append(delivered_event(row))
    await outbox.record_many(session, events)


async def mark_delivered(session: AsyncSession, outbox: Outbox, row: Any) -> bool:
    """A delivery report; it can overtake the sender's own record of the send."""
    now = datetime.now(UTC)
    values: dict[str, Any] = {"state": "delivered", "delivered_at": now, "sending_since": None}
    if row.state == "sending":
        values["sent_at"] = now
        if row.lane == "otp":
            values["body"] = REDACTED
        values["sealed_body"] = None
    result = await session.execute(
        update(messages)
        .where(messages.c.id == row.id, messages.c.state.in_(("sending", "sent")))
        .values(**values)
    )
    if not rows_affected(result):
        return False
    first = [sent_event(row)] if row.state == "sending" else []
    await outbox.record_many(session, [*first, delivered_event(row)])
    return True
