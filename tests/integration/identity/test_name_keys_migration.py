"""Migration 0003 fills the name keys of the customers registered before it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import asyncpg

from sila_common.migrations import upgrade
from sila_identity.domain.search import customer_name_keys
from sila_identity.service import definition
from tests.conftest import RUN_ID, create_database, drop_database


async def test_the_migration_fills_existing_customers_name_keys_but_not_the_erased() -> None:
    name = f"sila_test_{RUN_ID}_identity_keys_{uuid.uuid4().hex[:6]}"
    url = await create_database(name)
    try:
        await asyncio.to_thread(upgrade, definition.migrations_dir, url, "0002")
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        try:
            now = datetime.now(UTC)
            for customer_id, erased_at in (("kept", None), ("erased", now)):
                await conn.execute(
                    "INSERT INTO customers (id, kind, status, first_name, last_name, "
                    "first_name_ar, phone, wilaya_code, language, version, created_at, "
                    "updated_at, erased_at) VALUES ($1, 'residential', 'active', 'Mohamed', "
                    "'Benali', 'محمد', $2, '16', 'fr', 1, $3, $3, $4)",
                    customer_id,
                    f"+2135550000{len(customer_id):02d}",
                    now,
                    erased_at,
                )
            await asyncio.to_thread(upgrade, definition.migrations_dir, url, "head")
            keys = dict(await conn.fetch("SELECT id, name_keys FROM customers"))
            indexed = await conn.fetchval(
                "SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_customers_name_keys'"
            )
        finally:
            await conn.close()
    finally:
        await drop_database(name)

    assert keys["kept"] == customer_name_keys(
        wilaya_code="16", first_name="Mohamed", last_name="Benali", first_name_ar="محمد"
    )
    assert keys["erased"] is None
    assert indexed == 1
