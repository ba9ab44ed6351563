"""The My Idoom inbox: an item marked read (once; reading again changes nothing)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from sila_common.db import as_utc
from sila_common.problems import NotFound
from sila_notify.flows.preferences import Scope
from sila_notify.runtime import NotifyRuntime
from sila_notify.tables import inbox_items


async def mark_read(runtime: NotifyRuntime, item_id: str, *, scope: Scope) -> tuple[Any, datetime]:
    """The item (of a customer the caller may act for) and when it was first read."""
    async with runtime.session_factory() as session, session.begin():
        row = (
            await session.execute(select(inbox_items).where(inbox_items.c.id == item_id))
        ).one_or_none()
        if row is None:
            raise NotFound(f"No inbox item {item_id}.")
        try:
            await scope(session, row.customer_id)
        except NotFound as hidden:
            raise NotFound(f"No inbox item {item_id}.") from hidden
        read_at = as_utc(row.read_at) or datetime.now(UTC)
        if row.read_at is None:
            await session.execute(
                update(inbox_items).where(inbox_items.c.id == item_id).values(read_at=read_at)
            )
    return row, read_at
