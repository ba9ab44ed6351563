"""The in-app inbox My Idoom reads: a row per message, written at most once per message."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sila_notify.channels.base import OutgoingMessage, SendResult
from sila_notify.tables import inbox_items


class InAppChannel:
    name = "in_app"

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self.session_factory = session_factory

    async def send(self, message: OutgoingMessage) -> SendResult:
        async with self.session_factory() as session, session.begin():
            stmt = pg_insert(inbox_items).values(
                id=str(uuid.uuid4()),
                customer_id=message.customer_id,
                message_id=message.id,
                event_type=message.event_type,
                title=message.subject,
                body=message.body,
                created_at=datetime.now(UTC),
                read_at=None,
            )
            # The message id is unique: a resend after a crash finds the item already there.
            await session.execute(stmt.on_conflict_do_nothing(index_elements=["message_id"]))
        return SendResult(provider_message_id=message.id, delivered=True)

    async def close(self) -> None:
        return None
