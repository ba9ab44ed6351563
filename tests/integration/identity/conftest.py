"""Identity's test cast (agents of two wilayas, a supervisor, an admin, a partner) and helpers
to register customers, mint their tokens and read identity's outbox."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from sila_identity.auth.keys import KeyStore
from sila_identity.auth.tokens import issue_access_token
from sila_identity.tables import messaging
from tests.conftest import RUN_ID, create_agent, token_for
from tests.support import LiveService, bearer, random_mobile

PASSWORD = "a long enough test password"


@dataclass(frozen=True)
class Cast:
    """Tokens (and ids) of the people the identity tests act as."""

    admin: str
    agent_15: str
    agent_15_id: str
    agent_16: str
    supervisor_15: str
    technician_15: str
    marketing_15: str
    partner_no_scope: str
    partner_timeline: str
    partner_customers: str


async def partner_token(identity: LiveService, admin: str, scopes: list[str]) -> str:
    created = await identity.client.post(
        "/v1/admin/identity/partners",
        headers=bearer(admin),
        json={"name": f"Partner {uuid.uuid4().hex[:6]}", "scopes": scopes},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    answer = await identity.client.post(
        "/v1/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": body["client_id"],
            "client_secret": body["client_secret"],
        },
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


@pytest.fixture(scope="session")
async def cast(identity: LiveService, admin_token: str) -> Cast:
    async def agent(name: str, roles: list[str], wilayas: list[str]) -> tuple[str, str]:
        username = f"{name}-{RUN_ID}"
        agent_id = await create_agent(identity, username, PASSWORD, roles, wilayas)
        return await token_for(identity, username, PASSWORD), agent_id

    agent_15, agent_15_id = await agent("agent15", ["agent"], ["15"])
    return Cast(
        admin=admin_token,
        agent_15=agent_15,
        agent_15_id=agent_15_id,
        agent_16=(await agent("agent16", ["agent"], ["16"]))[0],
        supervisor_15=(await agent("supervisor15", ["supervisor"], ["15"]))[0],
        technician_15=(await agent("technician15", ["technician"], ["15"]))[0],
        marketing_15=(await agent("marketing15", ["marketing"], ["15"]))[0],
        partner_no_scope=await partner_token(identity, admin_token, []),
        partner_timeline=await partner_token(identity, admin_token, ["timeline:read"]),
        partner_customers=await partner_token(identity, admin_token, ["customers:read"]),
    )


async def register(identity: LiveService, token: str, **fields: Any) -> dict[str, Any]:
    """A residential customer of Tizi Ouzou with a fresh phone number, or as overridden."""
    body = {
        "first_name": "Karim",
        "last_name": "Aït Saïd",
        "phone": random_mobile(),
        "wilaya_code": "15",
        "language": "fr",
        "channel": "agency",
    } | fields
    answer = await identity.client.post("/v1/customers", headers=bearer(token), json=body)
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


async def customer_token(identity: LiveService, customer_id: str) -> str:
    """A customer's access token as the OTP grant issues it (the flow has its own tests)."""
    keys = identity.runtime.collaborators.get(KeyStore)
    assert isinstance(keys, KeyStore)
    return await issue_access_token(
        keys,
        identity.runtime.platform,
        subject=customer_id,
        kind="customer",
        ttl_seconds=900,
        extra={"customer_id": customer_id},
    )


async def outbox_events(identity: LiveService, customer_id: str) -> list[dict[str, Any]]:
    """The CloudEvents identity recorded for a customer, oldest first."""
    outbox = messaging.outbox
    async with identity.runtime.session_factory() as session:
        rows = (
            await session.execute(
                select(outbox.c.envelope)
                .where(outbox.c.message_key == customer_id)
                .order_by(outbox.c.id)
            )
        ).all()
    return [dict(row.envelope) for row in rows]


async def events_of(identity: LiveService, customer_id: str, type_: str) -> list[dict[str, Any]]:
    return [e for e in await outbox_events(identity, customer_id) if e["type"] == type_]
