"""Migration 0007: the one-time codes an older identity left in clear in its outbox are gone."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Mapping

import asyncpg

from sila_common.migrations import upgrade
from sila_identity.service import definition
from tests.conftest import RUN_ID, PostgresServer, create_database, drop_database


def envelope(event_type: str, data: Mapping[str, object]) -> str:
    return json.dumps(
        {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "/sila/identity",
            "type": event_type,
            "time": "2026-11-30T10:00:00+00:00",
            "subject": "c1",
            "datacontenttype": "application/json",
            "customerid": "c1",
            "data": data,
        }
    )


async def test_clear_codes_are_removed_from_the_outbox_and_other_events_kept(
    postgres: PostgresServer,
) -> None:
    name = f"sila_test_{RUN_ID}_identity_otp_{uuid.uuid4().hex[:6]}"
    url = await create_database(name)
    dsn = url.replace("postgresql+asyncpg", "postgresql")
    old_otp = {
        "customer_id": "c1",
        "phone": "+213661234567",
        "code": "864213",
        "expires_at": "2026-11-30T10:05:00+00:00",
        "language": "fr",
    }
    registered = {"customer_id": "c1", "phone": "+213661234567", "code": "keep-me"}
    try:
        await asyncio.to_thread(upgrade, definition.migrations_dir, url, "0006")
        conn = await asyncpg.connect(dsn)
        try:
            for n, (event_type, data, published) in enumerate(
                (
                    ("identity.otp.requested", old_otp, True),
                    ("identity.otp.requested", old_otp, False),
                    ("identity.customer.registered", registered, True),
                )
            ):
                await conn.execute(
                    "INSERT INTO outbox (event_id, topic, message_key, event_type, shard, "
                    "envelope, created_at, published_at) VALUES ($1, 'sila.identity', 'c1', $2,"
                    " 0, $3::jsonb, now(), CASE WHEN $4 THEN now() END)",
                    f"e{n}",
                    event_type,
                    envelope(event_type, data),
                    published,
                )
        finally:
            await conn.close()

        await asyncio.to_thread(upgrade, definition.migrations_dir, url)
        conn = await asyncpg.connect(dsn)
        try:
            rows = {
                r["event_id"]: json.loads(r["envelope"])
                for r in await conn.fetch("SELECT event_id, envelope FROM outbox")
            }
        finally:
            await conn.close()
        for otp in (rows["e0"], rows["e1"]):
            assert "864213" not in json.dumps(otp)
            assert otp["data"] == {k: v for k, v in old_otp.items() if k != "code"}
        # Only the code of the code events: another event's member of that name is untouched.
        assert rows["e2"]["data"] == registered
    finally:
        await drop_database(name)
