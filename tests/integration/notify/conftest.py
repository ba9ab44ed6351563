"""Notify running in-process against PostgreSQL, the broker, a real SMTP server and the simulators.

- ``smsc`` / ``fcm``: the Kannel and FCM simulators on real loopback ports.
- ``smtp``: the SMTP sink simulator; recipients starting ``bounce`` are refused (550),
  ``later`` deferred (451).
- ``notify``: the service with its consumers and its dispatcher, also served on a real port so
  that the SMS centre can call the delivery-report URL.
- ``publish``: puts another service's event on the broker, as that service's relay would.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaProducer

from sila_common.auth import JwksKeySource
from sila_common.events import CloudEvent
from sila_common.settings import PlatformSettings, ServiceSettings
from sila_identity.auth.keys import KeyStore
from sila_identity.auth.tokens import issue_access_token
from sila_local.processes import free_port
from sila_simulators.fcm import create_fcm_app
from sila_simulators.smsc import SmscSimulatorConfig, create_smsc_app
from sila_simulators.smtp import SmtpSink, create_smtp_app
from tests.integration.simulators.servers import serve
from tests.support import (
    LiveService,
    bearer,
    eventually,
    live_service,
    random_mobile,
    wait_until,
)


@dataclass
class Simulator:
    url: str
    client: httpx.AsyncClient
    # The SMTP sink's mail port (its url is the HTTP listing).
    smtp_port: int = 0

    async def messages(self) -> list[dict[str, Any]]:
        answer = await self.client.get("/_sim/messages")
        answer.raise_for_status()
        result: list[dict[str, Any]] = answer.json()
        return result


@pytest.fixture(scope="session")
async def smsc() -> AsyncIterator[Simulator]:
    config = SmscSimulatorConfig(dlr_delay_seconds=0.02, temporary_failures_before_success=2)
    app = create_smsc_app(config)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        yield Simulator(url, client)


@pytest.fixture(scope="session")
async def fcm() -> AsyncIterator[Simulator]:
    async with serve(create_fcm_app()) as url, httpx.AsyncClient(base_url=url) as client:
        yield Simulator(url, client)


@pytest.fixture(scope="session")
async def smtp() -> AsyncIterator[Simulator]:
    port = free_port()
    app = create_smtp_app(SmtpSink(), "127.0.0.1", port)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        yield Simulator(url, client, smtp_port=port)


def notify_overrides(smsc: Simulator, fcm: Simulator, smtp_port: int, port: int) -> dict[str, Any]:
    return {
        "dispatcher": True,
        "sms_url": f"{smsc.url}/cgi-bin/sendsms",
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_port,
        "fcm_url": fcm.url,
        "public_base_url": f"http://127.0.0.1:{port}",
        "dispatcher_poll_seconds": 0.02,
        "retry_base_seconds": 0.05,
        "sending_lease_seconds": 1.5,
        "webhook_retry_schedule": [0.1, 0.2, 0.3],
        "webhook_jitter_ratio": 0.0,
        "campaign_chunk_size": 100,
        # Tests run at any hour: quiet hours are exercised through the planner directly.
        "quiet_hours_start": time(0, 0),
        "quiet_hours_end": time(0, 0),
    }


@pytest.fixture(scope="session")
async def notify(
    platform: PlatformSettings,
    settings_for: Callable[..., ServiceSettings],
    identity: LiveService,
    identity_url: str,
    smsc: Simulator,
    fcm: Simulator,
    smtp: Simulator,
) -> AsyncIterator[LiveService]:
    from sila_notify.service import definition

    port = free_port()
    settings = settings_for(
        "notify", identity_url=identity_url, **notify_overrides(smsc, fcm, smtp.smtp_port, port)
    )
    jwks_client = httpx.AsyncClient(transport=httpx.ASGITransport(app=identity.app))
    keys = JwksKeySource("http://identity/.well-known/jwks.json", client=jwks_client)
    async with live_service(
        definition, platform=platform, settings=settings, key_source=keys
    ) as svc:
        # The same app on a real socket (its lifespan already ran) for the SMS centre's callbacks.
        server = uvicorn.Server(
            uvicorn.Config(
                svc.app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"
            )
        )
        task = asyncio.create_task(server.serve())
        await wait_until(lambda: server.started, what="the callback server started")
        try:
            yield svc
        finally:
            server.should_exit = True
            await asyncio.wait_for(task, 10)
    await jwks_client.aclose()


Publish = Callable[..., Awaitable[CloudEvent]]


@pytest.fixture(scope="session")
async def publish(platform: PlatformSettings) -> AsyncIterator[Publish]:
    producer = AIOKafkaProducer(bootstrap_servers=platform.kafka_bootstrap, acks="all")
    await producer.start()

    async def send(
        event_type: str,
        customer_id: str,
        data: dict[str, Any],
        *,
        event_id: str | None = None,
        time: datetime | None = None,
    ) -> CloudEvent:
        service = event_type.split(".", 1)[0]
        event = CloudEvent(
            id=event_id or str(uuid.uuid4()),
            source=f"/sila/{service}",
            type=event_type,
            time=time or datetime.now(UTC),
            subject=customer_id,
            dataschema=f"https://schemas.sila.algerietelecom.dz/events/{event_type}.v1.json",
            customerid=customer_id,
            data=data,
        )
        await producer.send_and_wait(
            f"sila.{service}", value=event.to_bytes(), key=customer_id.encode()
        )
        return event

    yield send
    await producer.stop()


@dataclass
class Customer:
    id: str
    phone: str
    email: str | None
    token: str
    wilaya_code: str

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.token)


async def customer_token(
    identity: LiveService, platform: PlatformSettings, customer_id: str
) -> str:
    return await issue_access_token(
        identity.runtime.collaborators.get(KeyStore),
        platform,
        subject=customer_id,
        kind="customer",
        ttl_seconds=900,
        extra={"customer_id": customer_id},
    )


async def partner_token(
    identity: LiveService,
    platform: PlatformSettings,
    partner: str,
    scope: str = "webhooks:manage tickets:read",
) -> str:
    """A partner's token (its webhooks hear the tickets it opened: ``data.partner_id``)."""
    return await issue_access_token(
        identity.runtime.collaborators.get(KeyStore),
        platform,
        subject=partner,
        kind="partner",
        ttl_seconds=900,
        scope=scope,
    )


NewCustomer = Callable[..., Awaitable[Customer]]


@pytest.fixture(scope="session")
async def new_customer(
    notify: LiveService, identity: LiveService, platform: PlatformSettings, publish: Publish
) -> NewCustomer:
    """A customer registered through identity's event, known to notify's directory."""
    from sila_notify.directory import recipient_row

    async def make(
        *,
        phone: str | None = None,
        email: str | None = "",
        language: str = "fr",
        wilaya_code: str = "15",
    ) -> Customer:
        customer_id = str(uuid.uuid4())
        phone = phone or random_mobile()
        address = f"c-{customer_id[:8]}@example.dz" if email == "" else email
        await publish(
            "identity.customer.registered",
            customer_id,
            {
                "customer_id": customer_id,
                "kind": "residential",
                "status": "active",
                "wilaya_code": wilaya_code,
                "language": language,
                "channel": "agency",
                "display_name": "Karim Aït Saïd",
                "phone": phone,
                "email": address,
                "commune": None,
            },
        )

        async def known() -> bool:
            async with notify.runtime.session_factory() as session:
                return await recipient_row(session, customer_id) is not None

        await eventually(known, what="the customer in notify's directory")
        token = await customer_token(identity, platform, customer_id)
        return Customer(customer_id, phone, address, token, wilaya_code)

    return make
