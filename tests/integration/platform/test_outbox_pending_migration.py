"""The migration to pending entries (tickets 0011, the same step in every service) while
the running version is still writing events: none committed meanwhile is left without its
entry (it would never go out)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy import make_url

from sila_common.migrations import upgrade
from sila_tickets.service import definition
from tests.support import eventually


async def test_an_event_written_while_the_migration_runs_is_carried_over(
    scratch_database: Callable[..., Any],
) -> None:
    url = await scratch_database("tickets", "0010")
    dsn = url.replace("postgresql+asyncpg", "postgresql")
    name = make_url(url).database
    writer = await asyncpg.connect(dsn)
    onlooker = await asyncpg.connect(dsn)
    try:
        # The running (older) version has written an event, not yet committed.
        await writer.execute("BEGIN")
        await writer.execute(
            "INSERT INTO outbox (event_id, topic, message_key, event_type, shard,"
            " envelope, created_at) VALUES ('in-flight', 'sila.tickets', 'c1',"
            " 'tickets.ticket.opened', 3, $1::jsonb, now())",
            json.dumps({"id": "in-flight"}),
        )
        migrating = asyncio.create_task(
            asyncio.to_thread(upgrade, definition.migrations_dir, url, "0011")
        )

        async def migration_waits() -> bool:
            return bool(
                await onlooker.fetchval(
                    "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = $1"
                    " AND wait_event_type = 'Lock'",
                    name,
                )
            )

        await eventually(migration_waits, what="the migration waiting for the writer")
        await writer.execute("COMMIT")
        await migrating
        carried = await onlooker.fetchval(
            "SELECT count(*) FROM outbox_pending p JOIN outbox o ON o.id = p.id"
            " WHERE o.event_id = 'in-flight'"
        )
    finally:
        await writer.close()
        await onlooker.close()
    assert carried == 1
