"""State changes of a message, each with its event in the same transaction (the outbox).

Every change after a provider call is guarded by the attempt id written before the call, so
a late answer to an attempt that was since reconciled changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.db import insert_for
from sila_common.outbox import Outbox
from sila_notify.directory import device_tokens, recipient_row
from sila_notify.events import (
    MESSAGE_DELIVERED,
    MESSAGE_FAILED,
    MESSAGE_SENT,
    MessageDelivered,
    MessageFailed,
    MessageSent,
)
from sila_notify.planning import INBOX_DESTINATION, PUSH_DESTINATION, message_row, send_time
from sila_notify.settings import NotifySettings
from sila_notify.sql import rows_affected
from sila_notify.tables import messages

REDACTED = "[one-time code, not kept]"


async def load(session: AsyncSession, message_id: str, *, lock: bool = False) -> Any:
    query = select(messages).where(messages.c.id == message_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).one_or_none()


async def mark_sent(
    session: AsyncSession,
    outbox: Outbox,
    row: Any,
    *,
    attempt_id: str,
    provider_message_id: str | None,
    delivered: bool,
) -> bool:
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "state": "delivered" if delivered else "sent",
        "sent_at": now,
        "provider_message_id": provider_message_id,
        "provider_reason": None,
        "sending_since": None,
    }
    if delivered:
        values["delivered_at"] = now
    if row.lane == "otp":
        values["body"] = REDACTED
    result = await session.execute(
        update(messages)
        .where(
            messages.c.id == row.id,
            messages.c.attempt_id == attempt_id,
            messages.c.state == "sending",
        )
        .values(**values)
    )
    if not rows_affected(result):
        return False
    await outbox.record(
        session,
        MESSAGE_SENT,
        subject=row.id,
        customer_id=row.customer_id,
        data=MessageSent(
            message_id=row.id,
            customer_id=row.customer_id,
            channel=row.channel,
            template=row.template,
            event_id=row.event_id,
            attempts=int(row.attempts),
        ),
    )
    return True


async def retry_later(
    session: AsyncSession, row: Any, *, attempt_id: str, reason: str, at: datetime
) -> bool:
    result = await session.execute(
        update(messages)
        .where(
            messages.c.id == row.id,
            messages.c.attempt_id == attempt_id,
            messages.c.state == "sending",
        )
        .values(state="queued", scheduled_for=at, provider_reason=reason, sending_since=None)
    )
    return bool(rows_affected(result))


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
            campaign_id=row.campaign_id,
        )
        inserted = await session.execute(
            insert_for(session)(messages)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["event_id", "channel"])
            .returning(messages.c.id)
        )
        if inserted.scalar_one_or_none() is not None:
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


async def mark_delivered(session: AsyncSession, outbox: Outbox, row: Any) -> bool:
    """A delivery report; it can overtake the sender's own record of the send."""
    now = datetime.now(UTC)
    values: dict[str, Any] = {"state": "delivered", "delivered_at": now, "sending_since": None}
    if row.state == "sending":
        values["sent_at"] = now
        if row.lane == "otp":
            values["body"] = REDACTED
    result = await session.execute(
        update(messages)
        .where(messages.c.id == row.id, messages.c.state.in_(("sending", "sent")))
        .values(**values)
    )
    if not rows_affected(result):
        return False
    if row.state == "sending":
        await outbox.record(
            session,
            MESSAGE_SENT,
            subject=row.id,
            customer_id=row.customer_id,
            data=MessageSent(
                message_id=row.id,
                customer_id=row.customer_id,
                channel=row.channel,
                template=row.template,
                event_id=row.event_id,
                attempts=int(row.attempts),
            ),
        )
    await outbox.record(
        session,
        MESSAGE_DELIVERED,
        subject=row.id,
        customer_id=row.customer_id,
        data=MessageDelivered(
            message_id=row.id,
            customer_id=row.customer_id,
            channel=row.channel,
            template=row.template,
            event_id=row.event_id,
        ),
    )
    return True
