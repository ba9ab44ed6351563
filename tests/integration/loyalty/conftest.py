"""Loyalty running in-process against PostgreSQL and the broker, beside identity and tickets.

- ``loyalty``: the service with its relay and its rule engine consumer.
- ``emit``: puts another service's event on the broker, as that service's relay would
  (billing's events, before billing publishes them itself).
- ``staff``: agents made through identity and logged in with the password grant.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select

from sila_common.auth import JwksKeySource
from sila_common.events import CloudEvent
from sila_common.runtime import open_runtime, run_workers
from sila_common.settings import PlatformSettings, ServiceSettings
from sila_identity.auth.keys import KeyStore
from sila_identity.auth.tokens import issue_access_token
from sila_loyalty.runtime import LoyaltyRuntime
from sila_loyalty.settings import LoyaltySettings
from sila_loyalty.tables import accounts, ledger_entries, messaging
from tests.conftest import RUN_ID, create_agent, token_for
from tests.support import LiveService, bearer, eventually, live_service, random_mobile

PASSWORD = "a long enough test password"
Emit = Callable[..., Awaitable[CloudEvent]]


@pytest.fixture(scope="session")
async def loyalty(
    platform: PlatformSettings,
    settings_for: Callable[..., ServiceSettings],
    identity: LiveService,
) -> AsyncIterator[LiveService]:
    from sila_loyalty.service import definition

    jwks_client = httpx.AsyncClient(transport=httpx.ASGITransport(app=identity.app))
    keys = JwksKeySource("http://identity/.well-known/jwks.json", client=jwks_client)
    # Its background jobs pass once at start-up, then hourly: the tests that need them run
    # a process of their own (``jobs_process``), started and stopped when they say.
    settings = settings_for("loyalty", jobs_interval_seconds=3600.0)
    async with live_service(
        definition, platform=platform, settings=settings, key_source=keys
    ) as service:
        yield service
    await jwks_client.aclose()


@asynccontextmanager
async def jobs_process(
    loyalty: LiveService, settings_for: Callable[..., ServiceSettings], platform: PlatformSettings
) -> AsyncIterator[LoyaltyRuntime]:
    """Another loyalty process running its relay and background jobs (a pass every 0.1 s)
    until the block ends, as ``python -m sila_loyalty relay`` would."""
    from sila_loyalty.service import definition

    settings = settings_for("loyalty", jobs_interval_seconds=0.1)
    assert isinstance(settings, LoyaltySettings)
    stop = asyncio.Event()
    async with open_runtime(definition, platform=platform, settings=settings) as runtime:
        workers = asyncio.create_task(run_workers(runtime, stop, consumers=False))
        try:
            yield runtime
        finally:
            stop.set()
            await workers


@pytest.fixture(scope="session")
async def emit(platform: PlatformSettings) -> AsyncIterator[Emit]:
    producer = AIOKafkaProducer(bootstrap_servers=platform.kafka_bootstrap, acks="all")
    await producer.start()

    async def send(
        event_type: str,
        customer_id: str,
        data: dict[str, Any],
        *,
        subject: str | None = None,
        event_id: str | None = None,
        time: datetime | None = None,
    ) -> CloudEvent:
        service = event_type.split(".", 1)[0]
        event = CloudEvent(
            id=event_id or str(uuid.uuid4()),
            source=f"/sila/{service}",
            type=event_type,
            time=time or datetime.now(UTC),
            subject=subject or customer_id,
            dataschema=f"https://schemas.sila.algerietelecom.dz/events/{event_type}.v1.json",
            customerid=customer_id,
            data={"customer_id": customer_id, **data},
        )
        await producer.send_and_wait(
            f"sila.{service}", value=event.to_bytes(), key=customer_id.encode()
        )
        return event

    yield send
    await producer.stop()


@dataclass(frozen=True)
class Staff:
    marketing: str
    audit: str
    agent_15: str
    agent_16: str
    supervisor_15: str
    supervisor_15_id: str


@pytest.fixture(scope="session")
async def staff(identity: LiveService) -> Staff:
    async def agent(name: str, roles: list[str], wilayas: list[str]) -> tuple[str, str]:
        username = f"loyalty-{name}-{RUN_ID}"
        agent_id = await create_agent(identity, username, PASSWORD, roles, wilayas)
        return await token_for(identity, username, PASSWORD), agent_id

    supervisor, supervisor_id = await agent("supervisor15", ["supervisor"], ["15"])
    return Staff(
        marketing=(await agent("marketing", ["marketing"], ["*"]))[0],
        audit=(await agent("audit", ["audit"], ["*"]))[0],
        agent_15=(await agent("agent15", ["agent"], ["15"]))[0],
        agent_16=(await agent("agent16", ["agent"], ["16"]))[0],
        supervisor_15=supervisor,
        supervisor_15_id=supervisor_id,
    )


async def customer_headers(identity: LiveService, customer_id: str) -> dict[str, str]:
    keys = identity.runtime.collaborators.get(KeyStore)
    token = await issue_access_token(
        keys,
        identity.runtime.platform,
        subject=customer_id,
        kind="customer",
        ttl_seconds=900,
        extra={"customer_id": customer_id},
    )
    return bearer(token)


async def register(
    identity: LiveService, staff: Staff, *, wilaya: str = "15", phone: str | None = None
) -> str:
    """A customer registered through identity's API (its event opens the loyalty account)."""
    answer = await identity.client.post(
        "/v1/customers",
        headers=bearer(staff.agent_15 if wilaya == "15" else staff.agent_16),
        json={
            "first_name": "Karim",
            "last_name": "Aït Saïd",
            "phone": phone or random_mobile(),
            "wilaya_code": wilaya,
            "language": "fr",
            "channel": "agency",
        },
    )
    assert answer.status_code == 201, answer.text
    customer_id: str = answer.json()["id"]
    return customer_id


async def registered_by_event(emit: Emit, *, wilaya: str = "15", phone: str | None = None) -> str:
    """A customer announced on identity's topic (faster than the API, for bulk)."""
    customer_id = str(uuid.uuid4())
    await emit(
        "identity.customer.registered",
        customer_id,
        {
            "kind": "residential",
            "status": "active",
            "wilaya_code": wilaya,
            "language": "fr",
            "display_name": "Client Test",
            "phone": phone or random_mobile(),
        },
    )
    return customer_id


async def account_open(loyalty: LiveService, customer_id: str) -> Any:
    async def probe() -> Any:
        async with loyalty.runtime.session_factory() as session:
            return (
                await session.execute(
                    select(accounts).where(
                        accounts.c.customer_id == customer_id,
                        accounts.c.registered_at.is_not(None),
                    )
                )
            ).one_or_none()

    return await eventually(probe, what="the loyalty account opened")


async def ledger_of(loyalty: LiveService, customer_id: str) -> list[Any]:
    async with loyalty.runtime.session_factory() as session:
        return list(
            (
                await session.execute(
                    select(ledger_entries)
                    .where(ledger_entries.c.customer_id == customer_id)
                    .order_by(ledger_entries.c.id)
                )
            ).all()
        )


async def points(loyalty: LiveService, customer_id: str) -> int:
    async with loyalty.runtime.session_factory() as session:
        total = await session.scalar(
            select(func.coalesce(func.sum(ledger_entries.c.quantity), 0)).where(
                ledger_entries.c.customer_id == customer_id, ledger_entries.c.kind == "points"
            )
        )
    return int(total or 0)


async def outbox_events(loyalty: LiveService, customer_id: str, event_type: str) -> list[Any]:
    outbox = messaging.outbox
    async with loyalty.runtime.session_factory() as session:
        rows = await session.execute(
            select(outbox.c.envelope)
            .where(outbox.c.message_key == customer_id, outbox.c.event_type == event_type)
            .order_by(outbox.c.id)
        )
        return [dict(envelope) for (envelope,) in rows]


async def create_campaign(loyalty: LiveService, staff: Staff, **body: Any) -> dict[str, Any]:
    answer = await loyalty.client.post(
        "/v1/loyalty/campaigns", headers=bearer(staff.marketing), json=campaign_body(**body)
    )
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def campaign_body(**changes: Any) -> dict[str, Any]:
    """A campaign running now on successful payments, in wilaya 15 only by default."""
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "name": f"Test campaign {uuid.uuid4().hex[:6]}",
        "trigger": "billing.payment.succeeded",
        "period": {
            "starts_at": now.replace(year=now.year - 1).isoformat(),
            "ends_at": now.replace(year=now.year + 1).isoformat(),
        },
        "reward": {"kind": "points", "quantity": 100, "unit_cost_centimes": 1_000},
        "conditions": {},
        "caps": {},
    }
    body.update(changes)
    return body
