"""The outbox's header columns and per-lane offsets (tickets 0012 and 0013, the same steps
in every service) are expand steps: the version still running during a deployment keeps
writing events and marking batches as it did, the new relay publishes both versions'
events and counts the old relay's offsets, and the steps go back."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg

from sila_common.db import make_engine
from sila_common.migrations import alembic_config, upgrade
from sila_common.relay import OutboxRelay
from sila_common.settings import PlatformSettings
from sila_tickets.service import definition
from sila_tickets.settings import TicketsSettings
from sila_tickets.tables import messaging
from tests.integration.platform.kafka_tools import read_topic

# How the version before these steps writes an event and marks a batch.
WRITE_AS_BEFORE = (
    "INSERT INTO outbox (event_id, topic, message_key, event_type, shard, envelope,"
    " created_at) VALUES ($1, $2, 'c1', 'tickets.probe.emitted', 3, $3::jsonb, now())"
)
MARK_AS_BEFORE = (
    "INSERT INTO outbox_partition_offsets (topic, partition, last_offset, updated_at)"
    " VALUES ($1, 0, $2, now()) ON CONFLICT (topic, partition) DO UPDATE SET"
    " last_offset = greatest(outbox_partition_offsets.last_offset, excluded.last_offset)"
)


def envelope(event_id: str) -> str:
    return json.dumps(
        {
            "specversion": "1.0",
            "id": event_id,
            "source": "/sila/tickets",
            "type": "tickets.probe.emitted",
            "subject": "s",
            "customerid": "c1",
            "correlationid": f"corr-{event_id}",
            "data": {"text": "عطل في الخط"},
        },
        ensure_ascii=False,
    )


def downgrade(url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(definition.migrations_dir, url), revision)


async def test_the_running_version_keeps_writing_and_marking_and_nothing_is_lost(
    scratch_database: Callable[..., Any], platform: PlatformSettings
) -> None:
    url = await scratch_database("tickets", "0011")
    dsn = url.replace("postgresql+asyncpg", "postgresql")
    topic = f"test.expand.{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(WRITE_AS_BEFORE, "before", topic, envelope("before"))
        await asyncio.to_thread(upgrade, definition.migrations_dir, url)
        # The previous version, still running: writes an event, marks a batch.
        await conn.execute(WRITE_AS_BEFORE, "during", topic, envelope("during"))
        await conn.execute(MARK_AS_BEFORE, "elsewhere", 41)
    finally:
        await conn.close()
    engine = make_engine(url)
    relay = OutboxRelay(
        engine=engine,
        tables=messaging,
        platform=platform,
        settings=TicketsSettings(database_url=url),
    )
    await relay.start()
    try:
        await relay.hold_shards()
        async with engine.connect() as conn_:
            known = await relay._known_offsets(conn_)
        assert known[("elsewhere", 0)] == 41, "the old relay's offsets still count"
        assert await relay.publish_pending() == 2
    finally:
        await relay.stop()
        await engine.dispose()
    records = {
        json.loads(record.value or b"")["id"]: record
        for record in await read_topic(platform, topic, expect=2)
    }
    for event_id in ("before", "during"):
        assert json.loads(records[event_id].value or b"") == json.loads(envelope(event_id))
        # Written without the columns: no header copies (the envelope carries them).
        assert dict(records[event_id].headers) == {"content-type": b"application/cloudevents+json"}
    # And back: the old table holds the highest offset of each partition again.
    await asyncio.to_thread(downgrade, url, "0011")
    conn = await asyncpg.connect(dsn)
    try:
        offsets = {
            (row["topic"], row["partition"]): row["last_offset"]
            for row in await conn.fetch("SELECT * FROM outbox_partition_offsets")
        }
        columns = await conn.fetchval(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'outbox'"
            " AND column_name IN ('correlationid', 'traceparent')"
        )
    finally:
        await conn.close()
    record = next(iter(records.values()))
    assert offsets[("elsewhere", 0)] == 41
    assert offsets[(topic, record.partition)] == max(r.offset for r in records.values())
    assert columns == 0
