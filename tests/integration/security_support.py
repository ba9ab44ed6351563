"""The attacker's and the defender's accounts, made the way real clients get them.

Agents and partners are created through identity's admin API (by the run's administrator),
tokens come from the real grants (password, client_credentials), customers are registered
through ``POST /v1/customers``, and partners' endpoints are real HTTP servers on loopback.
Used by the tests of docs/security.md.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tests.integration.simulators.servers import serve
from tests.support import LiveService, bearer, otp_code_of, random_mobile

PASSWORD = "a long enough security test password"


@dataclass(frozen=True)
class Account:
    token: str
    id: str
    # A partner's client credentials (for another token, e.g. with fewer scopes).
    client_id: str = ""
    client_secret: str = ""

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.token)


async def new_agent(
    identity: LiveService, admin_token: str, roles: list[str], wilayas: list[str]
) -> Account:
    """An agent made by the administrator, logged in with the password grant."""
    username = f"sec-{'-'.join(roles)}-{uuid.uuid4().hex[:8]}"
    created = await identity.client.post(
        "/v1/admin/identity/agents",
        headers=bearer(admin_token),
        json={
            "username": username,
            "display_name": username,
            "password": PASSWORD,
            "roles": roles,
            "wilayas": wilayas,
        },
    )
    assert created.status_code == 201, created.text
    answer = await identity.client.post(
        "/v1/oauth/token",
        data={"grant_type": "password", "username": username, "password": PASSWORD},
    )
    assert answer.status_code == 200, answer.text
    return Account(answer.json()["access_token"], created.json()["id"])


async def new_partner(identity: LiveService, admin_token: str, scopes: list[str]) -> Account:
    """A partner made by the administrator, with a client-credentials token."""
    created = await identity.client.post(
        "/v1/admin/identity/partners",
        headers=bearer(admin_token),
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
    token = answer.json()["access_token"]
    subject = jwt.decode(token, options={"verify_signature": False})["sub"]
    return Account(token, str(subject), body["client_id"], body["client_secret"])


async def partner_token(identity: LiveService, partner: Account, scope: str) -> str:
    """Another client-credentials token of the partner, asking for ``scope`` only."""
    answer = await identity.client.post(
        "/v1/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": partner.client_id,
            "client_secret": partner.client_secret,
            "scope": scope,
        },
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


async def new_customer(
    identity: LiveService, agent: Account, *, wilaya: str = "15", **fields: Any
) -> dict[str, Any]:
    """A customer registered by an agent through identity's API."""
    body = {
        "first_name": "Samira",
        "last_name": "Belkacem",
        "phone": random_mobile(),
        "email": f"s-{uuid.uuid4().hex[:8]}@example.dz",
        "wilaya_code": wilaya,
        "language": "fr",
        "channel": "agency",
    } | fields
    answer = await identity.client.post("/v1/customers", headers=agent.auth, json=body)
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


@dataclass
class Receiver:
    """A partner's webhook endpoint: keeps every body it is sent, per path name."""

    url: str = ""
    received: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # Names whose endpoint is down (500), to get a subscription disabled.
    failing: set[str] = field(default_factory=set)

    async def receive(self, request: Request) -> Response:
        name = request.path_params["name"]
        self.received.setdefault(name, []).append(json.loads(await request.body()))
        return PlainTextResponse(
            "down" if name in self.failing else "ok",
            status_code=500 if name in self.failing else 200,
        )

    def endpoint(self, name: str) -> str:
        return f"{self.url}/hooks/{name}"

    def bodies(self, name: str) -> list[dict[str, Any]]:
        return self.received.get(name, [])


@asynccontextmanager
async def webhook_receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/hooks/{name}", receiver.receive, methods=["POST"])])
    async with serve(app) as url:
        receiver.url = url
        yield receiver


async def customer_login(identity: LiveService, phone: str) -> Account:
    """The customer's own log-in: ``POST /v1/auth/otp``, then the OTP grant with the code.

    The code is read where the SMS centre would get it from: the event identity published
    for notify (its outbox); notify's own path is case 1's test.
    """
    from sqlalchemy import select

    from sila_identity.tables import messaging

    asked = await identity.client.post("/v1/auth/otp", json={"phone": phone})
    assert asked.status_code == 202, asked.text
    outbox = messaging.outbox
    async with identity.runtime.session_factory() as session:
        envelopes = (
            await session.execute(select(outbox.c.envelope).order_by(outbox.c.id.desc()).limit(200))
        ).scalars()
        code = next(
            otp_code_of(e["data"], identity.runtime.settings)
            for e in envelopes
            if e["type"] == "identity.otp.requested" and e["data"]["phone"] == phone
        )
    answer = await identity.client.post(
        "/v1/oauth/token",
        data={"grant_type": "urn:sila:params:oauth:grant-type:otp", "phone": phone, "code": code},
    )
    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    return Account(token, str(jwt.decode(token, options={"verify_signature": False})["sub"]))


async def known_to_tickets(tickets: LiveService, customer_id: str) -> None:
    """Wait until tickets' directory has heard of the customer from identity's events."""
    from sqlalchemy import select

    from sila_tickets.tables import known_customers
    from tests.support import eventually

    async def known() -> bool:
        async with tickets.runtime.session_factory() as session:
            found = await session.scalar(
                select(known_customers.c.customer_id).where(
                    known_customers.c.customer_id == customer_id
                )
            )
        return found is not None

    await eventually(known, what="the customer in tickets' directory")
