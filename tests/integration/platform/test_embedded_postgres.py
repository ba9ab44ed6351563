"""The embedded PostgreSQL that ``make run`` (and ``make test`` without a server) starts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from sila_common.migrations import upgrade
from sila_identity.service import definition
from sila_local.postgres import EmbeddedPostgres
from sila_local.processes import free_port, port_open
from tests.conftest import configured_postgres


async def test_the_embedded_server_starts_keeps_its_data_and_has_identitys_extensions(
    tmp_path: Path,
) -> None:
    server = EmbeddedPostgres(tmp_path / "data", free_port(), log_path=tmp_path / "pg.log")
    await server.start()
    try:
        await server.ensure_databases(["sila_identity"])
        url = server.url("sila_identity")
        await asyncio.to_thread(upgrade, definition.migrations_dir, url)
        conn = await asyncpg.connect(url.replace("+asyncpg", ""))
        try:
            await conn.execute("CREATE EXTENSION unaccent; CREATE EXTENSION fuzzystrmatch")
            assert await conn.fetchval("SELECT unaccent('Aït Saïd')") == "Ait Said"
            assert await conn.fetchval("SELECT similarity('Benali', 'Benaly')") > 0.3
            assert await conn.fetchval("SELECT lower('ÉLODIE')") == "élodie"
            assert await conn.fetchval("SHOW server_encoding") == "UTF8"
        finally:
            await conn.close()
    finally:
        await server.stop()
    assert not port_open("127.0.0.1", server.port)

    # A second start finds the data where the first left it (make run's var/postgres).
    await server.start()
    try:
        await server.ensure_databases(["sila_identity"])
        conn = await asyncpg.connect(server.url("sila_identity").replace("+asyncpg", ""))
        try:
            assert await conn.fetchval("SELECT count(*) FROM wilayas") >= 58
        finally:
            await conn.close()
    finally:
        await server.stop()


def test_the_suite_uses_a_configured_server_or_falls_back_to_the_embedded_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SILA_TEST_PG_DSN", "embedded")
    assert configured_postgres() is None
    monkeypatch.setenv("SILA_TEST_PG_DSN", "postgresql://ci@db.example:6543/postgres")
    assert configured_postgres() == "postgresql://ci@db.example:6543/postgres"
    monkeypatch.delenv("SILA_TEST_PG_DSN")
    monkeypatch.setenv("SILA_TEST_PG_HOST", "10.0.0.7")
    assert configured_postgres() == "postgresql://postgres@10.0.0.7:5432/postgres"


async def test_arabic_names_have_trigrams_as_on_the_production_server(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "data", free_port(), durable=False)
    await server.start()
    try:
        conn = await asyncpg.connect(server.admin_dsn)
        try:
            await conn.execute("CREATE EXTENSION pg_trgm")
            assert await conn.fetchval("SELECT similarity('محمد بوزيد', 'محمد')") > 0.3
            assert await conn.fetchval("SELECT upper('ç')") == "Ç"
        finally:
            await conn.close()
    finally:
        await server.stop()
