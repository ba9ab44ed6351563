"""Tickets' own test helpers: customers in the directory, tokens of every kind, the outbox."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import insert, select

from sila_common.geography import reference
from sila_identity.auth.keys import KeyStore
from sila_identity.auth.tokens import issue_access_token
from sila_identity.tables import messaging as identity_messaging
from sila_identity.tables import timeline_entries
from sila_tickets.tables import known_customers, known_installations, messaging
from tests.conftest import create_agent, token_for
from tests.support import LiveService, bearer, eventually

MakeCustomer = Callable[..., Awaitable[str]]


async def add_customer(
    tickets: LiveService,
    *,
    wilaya: str = "15",
    commune: str | None = None,
    exchange: str | None = None,
    olt: str | None = None,
    commune_code: str | None = None,
    installed_in: str | None = None,
) -> str:
    """A customer the directory knows, as if identity had announced them (and their
    contract installed in the commune `installed_in`, a code of the reference)."""
    customer_id = str(uuid.uuid4())
    async with tickets.runtime.session_factory() as session, session.begin():
        if installed_in is not None:
            place = reference().communes[installed_in]
            await session.execute(
                insert(known_installations).values(
                    contract_id=str(uuid.uuid4()),
                    customer_id=customer_id,
                    wilaya_code=place.wilaya_code,
                    commune_code=place.code,
                    daira_code=place.daira_code,
                    event_time=datetime.now(UTC),
                )
            )
        await session.execute(
            insert(known_customers).values(
                customer_id=customer_id,
                wilaya_code=wilaya,
                language="fr",
                status="active",
                updated_at=datetime.now(UTC),
                commune=commune,
                exchange=exchange,
                olt=olt,
                commune_code=commune_code,
                phone="+213661234567",
                display_name="Test Client",
            )
        )
    return customer_id


@pytest.fixture
def make_customer(tickets: LiveService) -> MakeCustomer:
    async def make(**kwargs: Any) -> str:
        return await add_customer(tickets, **kwargs)

    return make


async def mint(
    identity: LiveService,
    *,
    subject: str,
    kind: str,
    scope: str = "",
    roles: list[str] | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    keys = identity.runtime.collaborators.get(KeyStore)
    assert isinstance(keys, KeyStore)
    return await issue_access_token(
        keys,
        identity.runtime.platform,
        subject=subject,
        kind=kind,
        ttl_seconds=600,
        roles=roles,
        scope=scope,
        extra=extra,
    )


@pytest.fixture
def customer_auth(identity: LiveService) -> Callable[[str], Awaitable[dict[str, str]]]:
    async def make(customer_id: str) -> dict[str, str]:
        token = await mint(
            identity, subject=customer_id, kind="customer", extra={"customer_id": customer_id}
        )
        return bearer(token)

    return make


@pytest.fixture
def partner_auth(identity: LiveService) -> Callable[..., Awaitable[dict[str, str]]]:
    async def make(subject: str = "", scope: str = "tickets:read tickets:write") -> dict[str, str]:
        token = await mint(
            identity,
            subject=subject or f"partner-{uuid.uuid4().hex[:6]}",
            kind="partner",
            scope=scope,
        )
        return bearer(token)

    return make


_AGENTS: dict[tuple[tuple[str, ...], tuple[str, ...]], tuple[str, str]] = {}


@pytest.fixture
def agent_auth(identity: LiveService) -> Callable[..., Awaitable[tuple[str, dict[str, str]]]]:
    """(agent id, headers) of an agent with these roles and wilayas; one per combination."""

    async def make(
        roles: list[str] | None = None, wilayas: list[str] | None = None
    ) -> tuple[str, dict[str, str]]:
        key = (tuple(roles or ["agent"]), tuple(wilayas or ["15"]))
        if key not in _AGENTS:
            name = f"agent-{uuid.uuid4().hex[:8]}"
            agent_id = await create_agent(
                identity, name, "pass-word-123", list(key[0]), list(key[1])
            )
            _AGENTS[key] = (agent_id, await token_for(identity, name, "pass-word-123"))
        agent_id, token = _AGENTS[key]
        return agent_id, bearer(token)

    return make


async def outbox_events(
    tickets: LiveService, event_type: str, subject: str
) -> list[dict[str, Any]]:
    """The events recorded for an entity (what the relay publishes), oldest first."""
    outbox = messaging.outbox
    async with tickets.runtime.session_factory() as session:
        rows = await session.execute(
            select(outbox.c.envelope)
            .where(outbox.c.event_type == event_type)
            .where(outbox.c.envelope["subject"].as_string() == subject)
            .order_by(outbox.c.id)
        )
        return [dict(envelope) for (envelope,) in rows]


async def open_ticket(
    tickets: LiveService, headers: dict[str, str], customer_id: str, **fields: Any
) -> dict[str, Any]:
    body = {
        "customer_id": customer_id,
        "category": "technical",
        "subcategory": "no_connection",
        "channel": "call_centre",
        "subject": "Pas de connexion ADSL",
        **fields,
    }
    answer = await tickets.client.post("/v1/tickets", headers=headers, json=body)
    assert answer.status_code == 201, answer.text
    ticket: dict[str, Any] = answer.json()
    return ticket


async def timeline_rows_once_projected(identity: LiveService, event_ids: list[str]) -> list[Any]:
    """Wait until identity's timeline consumer has handled these events (its inbox has
    them), then the timeline entries they made (none for an event about no customer)."""
    inbox = identity_messaging.inbox

    async def handled() -> bool:
        async with identity.runtime.session_factory() as session:
            seen = set(
                await session.scalars(
                    select(inbox.c.event_id).where(
                        inbox.c.consumer == "identity.timeline", inbox.c.event_id.in_(event_ids)
                    )
                )
            )
        return seen == set(event_ids)

    await eventually(handled, what="identity's timeline consumer handling the events")
    async with identity.runtime.session_factory() as session:
        return list(
            (
                await session.execute(
                    select(timeline_entries).where(timeline_entries.c.event_id.in_(event_ids))
                )
            ).all()
        )
