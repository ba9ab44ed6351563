"""A customer identity knows is known to tickets at once: the directory asks identity (as a
service, over HTTP, with a token from the client_credentials grant) and keeps the answer."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy import delete, select

from sila_tickets.tables import known_customers
from tests.support import LiveService, bearer, eventually, problem_of, random_mobile

TICKET = {
    "category": "technical",
    "subcategory": "no_connection",
    "channel": "agency",
    "subject": "Pas de tonalité depuis ce matin",
}


async def register(identity: LiveService, token: str, wilaya: str = "16") -> str:
    created = await identity.client.post(
        "/v1/customers",
        headers=bearer(token),
        json={
            "first_name": "Nadia",
            "last_name": "Hamdi",
            "phone": random_mobile(),
            "wilaya_code": wilaya,
            "language": "fr",
            "channel": "agency",
        },
    )
    assert created.status_code == 201, created.text
    customer_id: str = created.json()["id"]
    return customer_id


async def directory_entry(tickets: LiveService, customer_id: str) -> Any:
    async with tickets.runtime.session_factory() as session:
        query = select(known_customers).where(known_customers.c.customer_id == customer_id)
        return (await session.execute(query)).one_or_none()


async def forget(tickets: LiveService, customer_id: str) -> None:
    """Tickets' copy loses the customer, as if identity's event had not arrived yet."""
    async with tickets.runtime.session_factory() as session, session.begin():
        await session.execute(
            delete(known_customers).where(known_customers.c.customer_id == customer_id)
        )


async def test_an_agent_opens_a_ticket_in_the_same_instant_the_customer_is_registered(
    identity: LiveService, tickets: LiveService, admin_token: str
) -> None:
    # At a counter: register, then open at once; a few customers at a time, no waiting.
    customer_ids = await asyncio.gather(*(register(identity, admin_token) for _ in range(4)))
    answers = await asyncio.gather(
        *(
            tickets.client.post(
                "/v1/tickets", headers=bearer(admin_token), json={"customer_id": cid, **TICKET}
            )
            for cid in customer_ids
        )
    )
    assert [a.status_code for a in answers] == [201] * 4, [a.text for a in answers]
    assert {a.json()["wilaya_code"] for a in answers} == {"16"}


async def test_a_customer_missing_from_the_directory_is_asked_of_identity_and_kept(
    identity: LiveService, tickets: LiveService, admin_token: str
) -> None:
    customer_id = await register(identity, admin_token, wilaya="31")
    await eventually(lambda: directory_entry(tickets, customer_id), what="the event consumed")
    await forget(tickets, customer_id)

    answer = await tickets.client.post(
        "/v1/tickets", headers=bearer(admin_token), json={"customer_id": customer_id, **TICKET}
    )
    assert answer.status_code == 201, answer.text
    kept = await directory_entry(tickets, customer_id)
    assert (kept.wilaya_code, kept.display_name, kept.erased_at) == ("31", "Nadia Hamdi", None)
    # Kept without an event time: identity's next event about the customer still applies.
    assert kept.event_time is None


async def test_an_id_identity_does_not_know_is_still_an_unknown_customer(
    tickets: LiveService, admin_token: str
) -> None:
    nobody = str(uuid.uuid4())
    answer = await tickets.client.post(
        "/v1/tickets", headers=bearer(admin_token), json={"customer_id": nobody, **TICKET}
    )
    assert answer.status_code == 422
    problem = problem_of(answer)
    assert problem["type"].endswith("/unknown-customer")
    assert problem["errors"][0]["field"] == "body.customer_id"
    assert await directory_entry(tickets, nobody) is None


async def test_an_id_no_customer_could_have_is_unknown_without_asking_identity(
    tickets: LiveService, admin_token: str
) -> None:
    # Found by the OpenAPI fuzzer: control characters in the id made the lookup's URL
    # invalid (a 500). Identity names customers by UUID; anything else is nobody.
    for odd in ("\n\x1f¿", "../admin", "x" * 36):
        answer = await tickets.client.post(
            "/v1/tickets", headers=bearer(admin_token), json={"customer_id": odd, **TICKET}
        )
        assert answer.status_code == 422, (odd, answer.text)
        assert problem_of(answer)["type"].endswith("/unknown-customer")


async def test_an_erased_customer_identity_still_knows_is_refused(
    identity: LiveService, tickets: LiveService, admin_token: str
) -> None:
    customer_id = await register(identity, admin_token)
    erased = await identity.client.post(
        f"/v1/customers/{customer_id}/erasure", headers=bearer(admin_token)
    )
    assert erased.status_code == 200, erased.text

    async def erasure_consumed() -> bool:
        entry = await directory_entry(tickets, customer_id)
        return entry is not None and entry.erased_at is not None

    await eventually(erasure_consumed, what="the erasure consumed")
    await forget(tickets, customer_id)

    answer = await tickets.client.post(
        "/v1/tickets", headers=bearer(admin_token), json={"customer_id": customer_id, **TICKET}
    )
    assert answer.status_code == 422
    assert problem_of(answer)["type"].endswith("/unknown-customer")
    kept = await directory_entry(tickets, customer_id)
    assert kept.erased_at is not None and kept.phone is None


async def test_a_partner_cannot_use_a_services_client_id_without_its_secret(
    identity: LiveService,
) -> None:
    refused = await identity.client.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials", "scope": "customers:read"},
        auth=("tickets", "guessed"),
    )
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"
    granted = await identity.client.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("tickets", "dev-only-tickets-service-secret"),
    )
    assert granted.status_code == 200, granted.text
    assert granted.json()["scope"] == "customers:read"
    too_much = await identity.client.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials", "scope": "customers:read customers:write"},
        auth=("tickets", "dev-only-tickets-service-secret"),
    )
    assert too_much.status_code == 400
    assert too_much.json()["error"] == "invalid_scope"
