"""The directory: identity's customers as notify needs them (how to reach them, what they allow).

Fed by identity's events; an older event never overwrites what a newer one wrote.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.db import as_utc
from sila_common.events import CloudEvent
from sila_common.identity_client import IdentityCustomer
from sila_common.outbox import forget_customer_history
from sila_notify.domain.routing import DEFAULT_CHANNEL_ORDER, newer
from sila_notify.tables import (
    consents,
    inbox_items,
    messages,
    messaging,
    push_tokens,
    recipients,
)

ERASED = "[erased]"


async def recipient_row(session: AsyncSession, customer_id: str) -> Any:
    return (
        await session.execute(select(recipients).where(recipients.c.customer_id == customer_id))
    ).one_or_none()


async def remember_customer(session: AsyncSession, event: CloudEvent) -> None:
    """identity.customer.registered / updated: contact details, language, wilaya."""
    data = event.data
    existing = await recipient_row(session, event.customerid)
    if existing is not None and (
        existing.erased or not newer(event.time, as_utc(existing.source_time))
    ):
        return
    language = str(data.get("language") or "fr")
    values = {
        "phone": data.get("phone"),
        "email": data.get("email"),
        "language": language if language in ("fr", "ar", "en") else "fr",
        "wilaya_code": data.get("wilaya_code"),
        "display_name": data.get("display_name"),
        "status": str(data.get("status") or "active"),
        "source_time": event.time,
        "updated_at": datetime.now(UTC),
    }
    if existing is None:
        await session.execute(
            pg_insert(recipients)
            .values(
                customer_id=event.customerid,
                channel_order=list(DEFAULT_CHANNEL_ORDER),
                erased=False,
                **values,
            )
            .on_conflict_do_nothing(index_elements=["customer_id"])
        )
    else:
        await session.execute(
            update(recipients).where(recipients.c.customer_id == event.customerid).values(**values)
        )


async def remember_identity_answer(session: AsyncSession, customer: IdentityCustomer) -> None:
    """What identity answered about a customer the directory lacked. No source time is kept:
    the customer's events, which follow, stay the authority; an erasure is kept as one."""
    language = customer.language if customer.language in ("fr", "ar", "en") else "fr"
    erased = customer.erased
    await session.execute(
        pg_insert(recipients)
        .values(
            customer_id=customer.id,
            phone=None if erased else customer.phone,
            email=None if erased else customer.email,
            language=language,
            wilaya_code=customer.wilaya_code,
            display_name=None if erased else customer.display_name,
            status="erased" if erased else customer.status,
            channel_order=[] if erased else list(DEFAULT_CHANNEL_ORDER),
            erased=erased,
            source_time=None,
            updated_at=datetime.now(UTC),
        )
        .on_conflict_do_nothing(index_elements=["customer_id"])
    )


async def forget_customer(session: AsyncSession, event: CloudEvent) -> None:
    """identity.customer.erased: nothing left that names or reaches them; pending sends stop."""
    customer_id = event.customerid
    now = datetime.now(UTC)
    values = {
        "phone": None,
        "email": None,
        "display_name": None,
        "status": "erased",
        "erased": True,
        "source_time": event.time,
        "updated_at": now,
    }
    stmt = pg_insert(recipients).values(
        customer_id=customer_id, language="fr", channel_order=[], **values
    )
    await session.execute(stmt.on_conflict_do_update(index_elements=["customer_id"], set_=values))
    await session.execute(delete(push_tokens).where(push_tokens.c.customer_id == customer_id))
    await session.execute(delete(consents).where(consents.c.customer_id == customer_id))
    await session.execute(delete(inbox_items).where(inbox_items.c.customer_id == customer_id))
    await session.execute(
        update(messages)
        .where(messages.c.customer_id == customer_id, messages.c.state == "queued")
        .values(state="failed", provider_reason="customer erased", failed_at=now)
    )
    await session.execute(
        update(messages)
        .where(messages.c.customer_id == customer_id)
        .values(destination=ERASED, subject=None, body=ERASED, sealed_body=None)
    )
    await forget_customer_history(session, messaging, customer_id)


async def record_consent(
    session: AsyncSession,
    *,
    customer_id: str,
    purpose: str,
    channel: str,
    granted: bool,
    captured_via: str | None,
    at: datetime,
) -> bool:
    """Store one consent decision unless a newer one is already there; True if stored."""
    existing = (
        await session.execute(
            select(consents.c.source_time).where(
                consents.c.customer_id == customer_id,
                consents.c.purpose == purpose,
                consents.c.channel == channel,
            )
        )
    ).scalar_one_or_none()
    if existing is not None and not newer(at, as_utc(existing)):
        return False
    values = {
        "granted": granted,
        "captured_via": captured_via,
        "source_time": at,
        "updated_at": datetime.now(UTC),
    }
    stmt = pg_insert(consents).values(
        customer_id=customer_id, purpose=purpose, channel=channel, **values
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["customer_id", "purpose", "channel"], set_=values
        )
    )
    return True


async def consent_changed(session: AsyncSession, event: CloudEvent) -> None:
    """identity.consent.changed."""
    data = event.data
    purpose = str(data.get("purpose", ""))
    channel = str(data.get("channel", ""))
    if purpose not in ("service", "marketing") or channel not in (
        "sms",
        "email",
        "push",
        "in_app",
        "any",
    ):
        return
    await record_consent(
        session,
        customer_id=event.customerid,
        purpose=purpose,
        channel=channel,
        granted=bool(data.get("granted")),
        captured_via=str(data.get("captured_via") or "identity")[:50],
        at=event.time,
    )


async def consents_of(session: AsyncSession, customer_id: str) -> dict[tuple[str, str], bool]:
    rows = (
        await session.execute(
            select(consents.c.purpose, consents.c.channel, consents.c.granted).where(
                consents.c.customer_id == customer_id
            )
        )
    ).all()
    return {(row.purpose, row.channel): bool(row.granted) for row in rows}


async def device_tokens(session: AsyncSession, customer_id: str) -> list[str]:
    rows = await session.execute(
        select(push_tokens.c.token)
        .where(push_tokens.c.customer_id == customer_id)
        .order_by(push_tokens.c.created_at.desc())
    )
    return [str(token) for token in rows.scalars()]
