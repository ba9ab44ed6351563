"""The migration that keeps envelopes as written (tickets 0012, the same step in every
service): events written before it go out after it with their envelope and their header
copies; the version still running during the deployment can still write; and it goes back."""

from __future__ import annotations

import asyncio
import json
import uuid

import asyncpg

from sila_common.db import make_engine
from sila_common.migrations import upgrade
from sila_common.relay import OutboxRelay
from sila_common.settings import PlatformSettings
from sila_tickets.service import definition
from sila_tickets.settings import TicketsSettings
from sila_tickets.tables import messaging
from tests.conftest import RUN_ID, PostgresServer, create_database, drop_database
from tests.integration.platform.kafka_tools import read_topic

# Each event's correlation id, as the version before wrote it.
WRITTEN = {"traced": "corr-1", "untraced": None, "during": "corr-2"}
TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def old_row(topic: str, event_id: str, correlation: str | None) -> list[object]:
    envelope = {
        "specversion": "1.0",
        "id": event_id,
        "source": "/sila/tickets",
        "type": "tickets.probe.emitted",
        "subject": "s",
        "customerid": "c1",
        "correlationid": correlation,
        "traceparent": TRACE if correlation else None,
        "data": {"text": "عطل في الخط"},
    }
    return [event_id, topic, json.dumps(envelope, ensure_ascii=False)]


INSERT_AS_BEFORE = (
    "INSERT INTO outbox (event_id, topic, message_key, event_type, shard, envelope,"
    " created_at) VALUES ($1, $2, 'c1', 'tickets.probe.emitted', 3, $3::jsonb, now())"
)


async def test_events_written_before_and_during_the_deployment_go_out_whole(
    postgres: PostgresServer, platform: PlatformSettings
) -> None:
    name = f"sila_test_{RUN_ID}_tickets_envelope_{uuid.uuid4().hex[:6]}"
    url = await create_database(name)
    dsn = url.replace("postgresql+asyncpg", "postgresql")
    topic = f"test.envelope.{uuid.uuid4().hex[:8]}"
    try:
        await asyncio.to_thread(upgrade, definition.migrations_dir, url, "0011")
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(INSERT_AS_BEFORE, *old_row(topic, "traced", WRITTEN["traced"]))
            await conn.execute(INSERT_AS_BEFORE, *old_row(topic, "untraced", None))
            await asyncio.to_thread(upgrade, definition.migrations_dir, url, "0012")
            # The older version, still running, writes as it did.
            await conn.execute(INSERT_AS_BEFORE, *old_row(topic, "during", WRITTEN["during"]))
            await asyncio.to_thread(upgrade, definition.migrations_dir, url)  # what follows
            columns = {
                row["event_id"]: (row["correlationid"], row["traceparent"])
                for row in await conn.fetch(
                    "SELECT event_id, correlationid, traceparent FROM outbox"
                )
            }
        finally:
            await conn.close()
        assert columns == {
            "traced": ("corr-1", TRACE),
            "untraced": (None, None),
            "during": (None, None),  # its envelope carries them; no header copies
        }
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
            assert await relay.publish_pending() == 3
        finally:
            await relay.stop()
            await engine.dispose()
        records = {
            json.loads(record.value or b"")["id"]: record
            for record in await read_topic(platform, topic, expect=3)
        }
        assert set(records) == {"traced", "untraced", "during"}
        for event_id, correlation in WRITTEN.items():
            written = json.loads(str(old_row(topic, event_id, correlation)[2]))
            assert json.loads(records[event_id].value or b"") == written, "the envelope, whole"
        assert dict(records["traced"].headers) == {
            "content-type": b"application/cloudevents+json",
            "correlationid": b"corr-1",
            "traceparent": TRACE.encode(),
        }
        assert dict(records["untraced"].headers) == {
            "content-type": b"application/cloudevents+json"
        }
        # And back: the envelopes are jsonb again, whole.
        await asyncio.to_thread(upgrade_down, url)
        conn = await asyncpg.connect(dsn)
        try:
            kind = await conn.fetchval(
                "SELECT data_type FROM information_schema.columns"
                " WHERE table_name = 'outbox' AND column_name = 'envelope'"
            )
            traced = json.loads(
                await conn.fetchval("SELECT envelope::text FROM outbox WHERE event_id = 'traced'")
            )
        finally:
            await conn.close()
        assert kind == "jsonb"
        assert traced["correlationid"] == "corr-1"
        assert traced["data"] == {"text": "عطل في الخط"}
    finally:
        await drop_database(name)


def upgrade_down(url: str) -> None:
    from alembic import command

    from sila_common.migrations import alembic_config

    command.downgrade(alembic_config(definition.migrations_dir, url), "0011")
