"""Billing's test world: the service in-process on the real database and broker, the SATIM
and Khlass simulators as real processes on free ports, customers, lines and bills."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import insert, select, update

from sila_billing.tables import invoices, messaging, payments, subscriptions
from sila_common.auth import JwksKeySource
from sila_common.settings import PlatformSettings, ServiceSettings
from sila_identity.auth.keys import KeyStore
from sila_identity.auth.tokens import issue_access_token
from sila_local.processes import free_port
from tests.conftest import RUN_ID, create_agent, token_for
from tests.support import LiveService, bearer, eventually, live_service

PASSWORD = "billing agents pass phrase"
EDAHABIA_OK = "6280581100000001"


@dataclass
class Simulator:
    url: str
    process: subprocess.Popen[bytes]


def _start(name: str, *args: str) -> Iterator[Simulator]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sila_simulators", name, "--port", str(port), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"

    async def ready() -> bool:
        try:
            async with httpx.AsyncClient() as client:
                return (await client.get(f"{url}/_sim/health")).status_code == 200
        except httpx.HTTPError:
            return False

    asyncio.run(eventually(ready, timeout=20, what=f"the {name} simulator listening"))
    try:
        yield Simulator(url, process)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def satim() -> Iterator[Simulator]:
    yield from _start("satim", "--late-seconds", "1", "--hang-seconds", "5")


@pytest.fixture(scope="session")
def khlass() -> Iterator[Simulator]:
    yield from _start("khlass", "--code-seconds", "2", "--hang-seconds", "5")


@pytest.fixture(scope="session")
async def billing(
    platform: PlatformSettings,
    settings_for: Callable[..., ServiceSettings],
    identity: LiveService,
    identity_url: str,
    satim: Simulator,
    khlass: Simulator,
) -> AsyncIterator[LiveService]:
    from sila_billing.service import definition

    jwks_client = httpx.AsyncClient(transport=httpx.ASGITransport(app=identity.app))
    keys = JwksKeySource("http://identity/.well-known/jwks.json", client=jwks_client)
    settings = settings_for(
        "billing",
        satim_url=satim.url,
        khlass_url=khlass.url,
        provider_timeout_seconds=2.0,
        jobs_interval_seconds=3600.0,
        public_base_url="http://billing",
        identity_url=identity_url,
    )
    async with live_service(
        definition, platform=platform, settings=settings, key_source=keys
    ) as service:
        yield service
    await jwks_client.aclose()


@pytest.fixture(scope="session")
async def billing_agent(identity: LiveService) -> str:
    username = f"billing-{RUN_ID}"
    await create_agent(identity, username, PASSWORD, ["billing"], ["*"])
    return await token_for(identity, username, PASSWORD)


@pytest.fixture(scope="session")
async def call_centre_agent(identity: LiveService) -> str:
    username = f"cc-{RUN_ID}"
    await create_agent(identity, username, PASSWORD, ["agent"], ["15"])
    return await token_for(identity, username, PASSWORD)


async def customer_token(identity: LiveService, customer_id: str) -> str:
    keys = identity.runtime.collaborators.get(KeyStore)
    return await issue_access_token(
        keys,
        identity.runtime.platform,
        subject=customer_id,
        kind="customer",
        ttl_seconds=900,
        extra={"customer_id": customer_id},
    )


@dataclass
class Customer:
    id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


@pytest.fixture
async def customer(identity: LiveService) -> Customer:
    customer_id = str(uuid.uuid4())
    return Customer(customer_id, await customer_token(identity, customer_id))


async def add_line(
    billing: LiveService, agent: str, customer_id: str, offer_code: str = "IDOOM_FIBRE_100M"
) -> dict[str, Any]:
    answer = await billing.client.post(
        "/v1/subscriptions",
        headers=bearer(agent),
        json={
            "customer_id": customer_id,
            "contract_id": str(uuid.uuid4()),
            "offer_code": offer_code,
        },
    )
    assert answer.status_code == 201, answer.text
    line: dict[str, Any] = answer.json()
    return line


async def add_bill(
    billing: LiveService, customer_id: str, amount: int = 250_000, *, agent: str
) -> str:
    """An issued bill of a fixed line, as a bill run would leave it."""
    line = await add_line(billing, agent, customer_id, "IDOOM_FIXE")
    invoice_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    async with billing.runtime.session_factory() as session, session.begin():
        await session.execute(
            insert(invoices).values(
                id=invoice_id,
                number=f"T-{uuid.uuid4().hex[:12]}",
                customer_id=customer_id,
                subscription_id=line["id"],
                period=f"T{uuid.uuid4().hex[:6]}",
                offer_code="IDOOM_FIXE",
                price_version=1,
                amount_centimes=amount,
                paid_centimes=0,
                state="issued",
                issued_at=now,
                due_at=now + timedelta(days=15),
                overdue_notified_at=None,
                bill_run_id=None,
            )
        )
    return invoice_id


async def invoice_row(billing: LiveService, invoice_id: str) -> Any:
    async with billing.runtime.session_factory() as session:
        return (await session.execute(select(invoices).where(invoices.c.id == invoice_id))).one()


async def subscription_row(billing: LiveService, subscription_id: str) -> Any:
    async with billing.runtime.session_factory() as session:
        return (
            await session.execute(
                select(subscriptions).where(subscriptions.c.id == subscription_id)
            )
        ).one()


async def expire_window(billing: LiveService, payment_id: str) -> None:
    """As if the payment's window (15 minutes) had passed."""
    async with billing.runtime.session_factory() as session, session.begin():
        await session.execute(
            update(payments)
            .where(payments.c.id == payment_id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )


async def events_of(billing: LiveService, subject: str, type_: str) -> list[dict[str, Any]]:
    outbox = messaging.outbox
    async with billing.runtime.session_factory() as session:
        rows = (
            await session.execute(
                select(outbox.c.envelope).where(outbox.c.event_type == type_).order_by(outbox.c.id)
            )
        ).all()
    return [dict(r.envelope) for r in rows if r.envelope["subject"] == subject]


async def pay_on_satim(
    satim: Simulator, redirect_url: str, pan: str = EDAHABIA_OK, **extra: str
) -> str:
    """The customer on SATIM's page: the card typed, sent back; answers the return path."""
    order_id = dict(pair.split("=", 1) for pair in urlsplit(redirect_url).query.split("&"))[
        "mdOrder"
    ]
    async with httpx.AsyncClient() as client:
        page = await client.get(redirect_url)
        assert page.status_code == 200 and "Payer" in page.text
        answer = await client.post(
            f"{satim.url}/_sim/pay",
            json={"orderId": order_id, "pan": pan, "expiry": "1230", "cvv2": "123", **extra},
        )
    redirect: str = answer.json()["redirect"]
    parts = urlsplit(redirect)
    return f"{parts.path}?{parts.query}"


async def sim_faults(simulator: Simulator, **faults: dict[str, Any]) -> None:
    async with httpx.AsyncClient() as client:
        answer = await client.post(f"{simulator.url}/_sim/faults", json=faults)
        assert answer.status_code == 200
