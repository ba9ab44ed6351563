"""Migration 0004: a database made with the first offer codes keeps every row's meaning."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
from alembic import command

from sila_billing.service import definition
from sila_common.migrations import alembic_config, upgrade
from tests.conftest import RUN_ID, PostgresServer, create_database, drop_database


async def test_the_first_codes_are_renamed_in_every_table_and_back(
    postgres: PostgresServer,
) -> None:
    name = f"sila_test_{RUN_ID}_billing_codes_{uuid.uuid4().hex[:6]}"
    url = await create_database(name)
    dsn = url.replace("postgresql+asyncpg", "postgresql")
    try:
        await asyncio.to_thread(upgrade, definition.migrations_dir, url, "0003")
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(
                "INSERT INTO offers (code, name, technology, billing, segment, speed_mbps, "
                "volume_gb, validity_days, active, created_at) VALUES ('FIBRE_100', 'Fibre', "
                "'fibre', 'prepaid', 'residential', 100, NULL, 30, true, now()), ('PACK_MOOHTARIF',"
                " 'Pack', 'fibre', 'prepaid', 'professional', 100, NULL, 30, true, now())"
            )
            await conn.execute(
                "INSERT INTO offer_prices (offer_code, version, price_centimes, valid_from, "
                "created_by, created_at) VALUES ('FIBRE_100', 1, 240000, now(), 't', now())"
            )
            await conn.execute(
                "INSERT INTO subscriptions (id, customer_id, contract_id, offer_code, technology, "
                "billing, line_number, ends_at, suspended, idoomly_owed_centimes, "
                "idoomly_period_end, idoomly_ends_at, expiring_notice_for, expired_notice_for, "
                "created_at, updated_at) VALUES ('s1', 'c1', 'k1', 'FIBRE_100', 'fibre', "
                "'prepaid', NULL, NULL, false, 0, NULL, NULL, NULL, NULL, now(), now())"
            )
        finally:
            await conn.close()

        await asyncio.to_thread(upgrade, definition.migrations_dir, url)
        conn = await asyncpg.connect(dsn)
        try:
            codes = [r["code"] for r in await conn.fetch("SELECT code FROM offers ORDER BY code")]
            assert codes == ["IDOOM_FIBRE_100M", "PACK_MOOHTARIF"]
            assert await conn.fetchval("SELECT offer_code FROM offer_prices") == "IDOOM_FIBRE_100M"
            assert await conn.fetchval("SELECT offer_code FROM subscriptions") == "IDOOM_FIBRE_100M"
        finally:
            await conn.close()

        config = alembic_config(definition.migrations_dir, url)
        await asyncio.to_thread(command.downgrade, config, "0003")
        conn = await asyncpg.connect(dsn)
        try:
            assert await conn.fetchval("SELECT offer_code FROM subscriptions") == "FIBRE_100"
        finally:
            await conn.close()
    finally:
        await drop_database(name)
