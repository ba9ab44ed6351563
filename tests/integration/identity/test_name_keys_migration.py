"""Migrations 0003 and 0004 fill the name keys of the customers registered before them."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import asyncpg

from sila_common.migrations import upgrade
from sila_identity.domain.search import customer_name_keys
from sila_identity.service import definition
from tests.conftest import RUN_ID, PostgresServer, create_database, drop_database


async def test_the_migration_fills_existing_customers_name_keys_but_not_the_erased(
    postgres: PostgresServer,
) -> None:
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


async def test_the_pair_keys_migration_re_indexes_customers_keyed_without_pairs(
    postgres: PostgresServer,
) -> None:
    name = f"sila_test_{RUN_ID}_identity_pairs_{uuid.uuid4().hex[:6]}"
    url = await create_database(name)
    try:
        await asyncio.to_thread(upgrade, definition.migrations_dir, url, "0003")
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        try:
            now = datetime.now(UTC)
            await conn.execute(
                "INSERT INTO customers (id, kind, status, first_name, last_name, phone, "
                "wilaya_code, language, version, created_at, updated_at, name_keys) VALUES "
                "('old', 'residential', 'active', 'Karim', 'Haddad', '+213555000001', '31', "
                "'fr', 1, $1, $1, ARRAY['=karim', '=haddad', '31=karim', '31=haddad'])",
                now,
            )
            await asyncio.to_thread(upgrade, definition.migrations_dir, url, "head")
            keys = await conn.fetchval("SELECT name_keys FROM customers WHERE id = 'old'")
        finally:
            await conn.close()
    finally:
        await drop_database(name)

    assert keys == customer_name_keys(wilaya_code="31", first_name="Karim", last_name="Haddad")
    assert "&=haddad&=karim" in keys
