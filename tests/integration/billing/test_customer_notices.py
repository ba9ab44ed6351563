"""A customer the way real clients make them, told by SMS before their line ends and when it has.

Agents are made through identity's admin API and log in with the password grant; the customer
is registered at identity and logs in with the OTP grant, the code read from the SMS centre
(the simulator notify sends it to). Billing's scheduled job writes the expiring and expired
notices to its outbox; the relay publishes them, notify consumes them and texts the customer.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import httpx
import pytest
import uvicorn
from sqlalchemy import update

from sila_billing import jobs
from sila_billing.tables import subscriptions
from sila_common.auth import JwksKeySource
from sila_common.settings import PlatformSettings, ServiceSettings
from sila_local.processes import free_port
from sila_simulators.smsc import SmscSimulatorConfig, create_smsc_app
from tests.integration.billing.conftest import Simulator, events_of, pay_on_satim
from tests.integration.security_support import Account, new_agent, new_customer
from tests.integration.simulators.servers import serve
from tests.support import LiveService, eventually, live_service, random_mobile, wait_until

OTP_GRANT = "urn:sila:params:oauth:grant-type:otp"


@pytest.fixture
async def smsc() -> AsyncIterator[str]:
    async with serve(create_smsc_app(SmscSimulatorConfig(dlr_delay_seconds=0.02))) as url:
        yield url


@pytest.fixture
async def notify(
    platform: PlatformSettings,
    settings_for: Callable[..., ServiceSettings],
    scratch_database: Callable[[str], Awaitable[str]],
    identity: LiveService,
    smsc: str,
) -> AsyncIterator[LiveService]:
    """Notify with its consumers and its dispatcher, sending SMS to this test's SMS centre
    simulator: an instance of its own, on its own database and in consumer groups of its
    own. Sharing notify's database and groups (``notify.messages``...) with another notify
    still running in the session (notify's tests' own) split the partitions and the queued
    messages between the two, and the other sent this customer's SMS to its SMS centre."""
    from sila_notify.service import definition

    own = uuid.uuid4().hex[:8]
    alone = replace(
        definition,
        consumers=[replace(spec, name=f"{spec.name}.{own}") for spec in definition.consumers],
    )
    port = free_port()
    settings = settings_for(
        "notify",
        database_url=await scratch_database("notify"),
        dispatcher=True,
        sms_url=f"{smsc}/cgi-bin/sendsms",
        smtp_host="127.0.0.1",
        smtp_port=free_port(),
        public_base_url=f"http://127.0.0.1:{port}",
        dispatcher_poll_seconds=0.02,
        retry_base_seconds=0.05,
        # Tests run at any hour.
        quiet_hours_start=time(0, 0),
        quiet_hours_end=time(0, 0),
    )
    jwks_client = httpx.AsyncClient(transport=httpx.ASGITransport(app=identity.app))
    keys = JwksKeySource("http://identity/.well-known/jwks.json", client=jwks_client)
    async with live_service(
        alone, platform=platform, settings=settings, key_source=keys
    ) as service:
        # The same app on a real socket, for the SMS centre's delivery reports.
        server = uvicorn.Server(
            uvicorn.Config(
                service.app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"
            )
        )
        task = asyncio.create_task(server.serve())
        await wait_until(lambda: server.started, what="notify's callback server started")
        try:
            yield service
        finally:
            server.should_exit = True
            await asyncio.wait_for(task, 10)
    await jwks_client.aclose()


async def texts_to(smsc: str, phone: str) -> list[str]:
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"{smsc}/_sim/messages")
    answer.raise_for_status()
    return [str(m["text"]) for m in answer.json() if m["to"] == phone]


async def otp_login(identity: LiveService, smsc: str, phone: str) -> str:
    """``POST /v1/auth/otp``, the code read from the SMS the customer got, the OTP grant."""
    before = len(await texts_to(smsc, phone))
    asked = await identity.client.post("/v1/auth/otp", json={"phone": phone})
    assert asked.status_code == 202, asked.text

    async def code_sms() -> list[str]:
        return (await texts_to(smsc, phone))[before:]

    text = (await eventually(code_sms, timeout=30, what="the code's SMS"))[0]
    code = re.search(r"\b(\d{6})\b", text)
    assert code is not None, text
    answer = await identity.client.post(
        "/v1/oauth/token", data={"grant_type": OTP_GRANT, "phone": phone, "code": code.group(1)}
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


@asynccontextmanager
async def scheduler(billing: LiveService) -> AsyncIterator[None]:
    """Billing's job loop (``run_jobs``, as the service schedules it): a tick at once, then
    the next after ``SILA_BILLING_JOBS_INTERVAL_SECONDS`` (an hour here) unless stopped."""
    stop = asyncio.Event()
    task = asyncio.create_task(jobs.run_jobs(billing.runtime, stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def move_end(billing: LiveService, subscription_id: str, ends_at: datetime) -> None:
    """As if the days had passed: the line now ends at ``ends_at``."""
    async with billing.runtime.session_factory() as session, session.begin():
        await session.execute(
            update(subscriptions)
            .where(subscriptions.c.id == subscription_id)
            .values(ends_at=ends_at)
        )


async def test_a_customer_logged_in_by_otp_is_told_before_the_line_ends_and_once_it_has(
    billing: LiveService,
    identity: LiveService,
    notify: LiveService,
    smsc: str,
    satim: Simulator,
    admin_token: str,
) -> None:
    agent = await new_agent(identity, admin_token, ["agent"], ["15"])
    biller = await new_agent(identity, admin_token, ["billing"], ["*"])
    phone = random_mobile()
    registered = await new_customer(identity, agent, phone=phone)
    token = await otp_login(identity, smsc, phone)
    customer = Account(token, registered["id"])

    # The billing agent (admin API, password grant) opens the line; the customer recharges it.
    opened = await billing.client.post(
        "/v1/subscriptions",
        headers=biller.auth,
        json={
            "customer_id": customer.id,
            "contract_id": f"c-{registered['id'][:30]}",
            "offer_code": "IDOOM_FIBRE_100M",
        },
    )
    assert opened.status_code == 201, opened.text
    line = opened.json()
    paying = await billing.client.post(
        "/v1/payments",
        headers=customer.auth,
        json={"purpose": "recharge", "method": "edahabia", "subscription_id": line["id"]},
    )
    assert paying.status_code == 201, paying.text
    back = await pay_on_satim(satim, paying.json()["redirect_url"])
    assert (await billing.client.get(back)).status_code == 303
    mine = await billing.client.get(f"/v1/subscriptions/{line['id']}", headers=customer.auth)
    assert mine.json()["state"] == "active"

    # Nothing to say 30 days ahead.
    await jobs.run_once(billing.runtime)
    assert await events_of(billing, line["id"], "billing.subscription.expiring") == []

    # Two days before the end (the notice is 3 days): one expiring notice, however many ticks.
    ends_at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    await move_end(billing, line["id"], ends_at)
    async with scheduler(billing):
        await eventually(
            lambda: events_of(billing, line["id"], "billing.subscription.expiring"),
            what="the scheduled job's expiring notice",
        )
    await jobs.run_once(billing.runtime)  # the next ticks
    await jobs.run_once(billing.runtime)
    expiring = await events_of(billing, line["id"], "billing.subscription.expiring")
    assert len(expiring) == 1
    assert expiring[0]["data"]["customer_id"] == customer.id
    assert datetime.fromisoformat(expiring[0]["data"]["expires_at"]) == ends_at
    assert (
        await billing.client.get(f"/v1/subscriptions/{line['id']}", headers=customer.auth)
    ).json()["state"] == "expiring"

    async def told(words: str) -> list[str]:
        return [t for t in await texts_to(smsc, phone) if words in t]

    expiring_sms = await eventually(
        lambda: told("expire le"), timeout=30, what="the expiring SMS to the customer"
    )
    assert len(expiring_sms) == 1

    # The end passes: one expired notice; the expiring one is not sent again.
    await move_end(billing, line["id"], datetime.now(UTC) - timedelta(minutes=1))
    async with scheduler(billing):
        await eventually(
            lambda: events_of(billing, line["id"], "billing.subscription.expired"),
            what="the scheduled job's expired notice",
        )
    await jobs.run_once(billing.runtime)
    expired = await events_of(billing, line["id"], "billing.subscription.expired")
    assert len(expired) == 1 and expired[0]["data"]["offer_code"] == "IDOOM_FIBRE_100M"
    assert len(await events_of(billing, line["id"], "billing.subscription.expiring")) == 1
    assert (
        await billing.client.get(f"/v1/subscriptions/{line['id']}", headers=customer.auth)
    ).json()["state"] == "expired"
    expired_sms = await eventually(
        lambda: told("a expiré"), timeout=30, what="the expired SMS to the customer"
    )
    assert len(expired_sms) == 1 and "Idoomly" in expired_sms[0]
    assert len(await told("expire le")) == 1

    # A customer's own token reads only their own line; an agent without the billing role
    # cannot open one.
    other = await billing.client.post(
        "/v1/subscriptions",
        headers=agent.auth,
        json={"customer_id": customer.id, "contract_id": "x-1", "offer_code": "IDOOM_FIXE"},
    )
    assert other.status_code == 403
    assert (
        await billing.client.get(
            "/v1/subscriptions", params={"customer_id": "someone-else"}, headers=customer.auth
        )
    ).json() == []
