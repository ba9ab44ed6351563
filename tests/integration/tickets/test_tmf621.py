"""TMF621 Trouble Ticket v4 over HTTP: the same tickets in TMF words, TMF errors, the hub."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from sila_tickets.tables import tmf_hub_subscriptions
from tests.integration.tickets.conftest import (
    MakeCustomer,
    outbox_events,
    timeline_rows_once_projected,
)
from tests.support import LiveService, bearer

BASE = "/tmf-api/troubleTicket/v4"
TT = f"{BASE}/troubleTicket"
PartnerAuth = Callable[..., Awaitable[dict[str, str]]]
FULL = "tmf621:read tmf621:write"


def tmf_error_of(answer: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = answer.json()
    assert body["@type"] == "Error"
    assert body["status"] == str(status)
    assert {"code", "reason", "message"} <= body.keys()
    if code is not None:
        assert body["code"] == code, body
    return body


def tmf_body(customer_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "@type": "TroubleTicket",
        "name": "Pas de connexion ADSL",
        "description": "La ligne ne synchronise plus depuis ce matin.",
        "severity": "Major",
        "ticketType": "technical",
        "relatedParty": [{"id": customer_id, "role": "customer", "@referredType": "Customer"}],
        "channel": {"name": "partner"},
        **fields,
    }


async def create(
    tickets: LiveService, headers: dict[str, str], customer_id: str, **fields: Any
) -> dict[str, Any]:
    answer = await tickets.client.post(TT, headers=headers, json=tmf_body(customer_id, **fields))
    assert answer.status_code == 201, answer.text
    document: dict[str, Any] = answer.json()
    return document


async def test_a_created_trouble_ticket_is_one_of_our_tickets_read_back_at_its_location(
    tickets: LiveService, partner_auth: PartnerAuth, make_customer: MakeCustomer, admin_token: str
) -> None:
    partner = await partner_auth(scope=FULL)
    customer = await make_customer()
    answer = await tickets.client.post(
        TT,
        headers=partner,
        json=tmf_body(
            customer,
            externalId="PX-778",
            note=[{"text": "Client joignable après 17 h."}],
            troubleTicketCharacteristic=[{"name": "subcategory", "value": "no_connection"}],
        ),
    )
    assert answer.status_code == 201, answer.text
    location = answer.headers["Location"]
    created = answer.json()
    assert location == f"{TT}/{created['id']}"
    assert created["href"].endswith(location)

    read = await tickets.client.get(location, headers=partner)
    assert read.status_code == 200
    ticket = read.json()
    assert ticket["@type"] == "TroubleTicket"
    assert (ticket["status"], ticket["severity"], ticket["ticketType"]) == (
        "acknowledged",
        "Major",
        "technical",
    )
    assert ticket["relatedParty"][0] == {
        "id": customer,
        "role": "customer",
        "@referredType": "Customer",
        "@type": "RelatedParty",
    }
    assert ticket["externalId"] == "PX-778"
    assert [n["text"] for n in ticket["note"]] == ["Client joignable après 17 h."]
    assert [s["status"] for s in ticket["statusChange"]] == ["acknowledged"]
    # The same ticket through our own API: same commitment, high priority from "Major".
    ours = (
        await tickets.client.get(f"/v1/tickets/{created['id']}", headers=bearer(admin_token))
    ).json()
    assert ours["priority"] == "high" and ours["subcategory"] == "no_connection"
    assert datetime.fromisoformat(ticket["expectedResolutionDate"]) == datetime.fromisoformat(
        ours["due_at"]
    )
    opened = await outbox_events(tickets, "tickets.ticket.opened", created["id"])
    assert opened[0]["data"]["external_id"] == "PX-778"
    assert opened[0]["data"]["partner_id"] is not None


async def test_creation_refuses_a_body_without_a_customer_party_in_the_tmf_error_shape(
    tickets: LiveService, partner_auth: PartnerAuth, make_customer: MakeCustomer
) -> None:
    partner = await partner_auth(scope=FULL)
    body = tmf_body(await make_customer())
    body["relatedParty"][0]["role"] = "reporter"
    tmf_error_of(await tickets.client.post(TT, headers=partner, json=body), 400, "invalid-request")
    missing = {k: v for k, v in tmf_body("x").items() if k != "severity"}
    error = tmf_error_of(await tickets.client.post(TT, headers=partner, json=missing), 400)
    assert "severity" in error["message"]
    unknown = tmf_body(str(uuid.uuid4()))
    tmf_error_of(await tickets.client.post(TT, headers=partner, json=unknown), 422)


async def test_the_list_filters_selects_attributes_and_pages_with_count_headers(
    tickets: LiveService, partner_auth: PartnerAuth, make_customer: MakeCustomer
) -> None:
    partner = await partner_auth(scope=FULL)
    alice, bob = await make_customer(), await make_customer()
    first = await create(tickets, partner, alice, severity="Critical")
    await create(tickets, partner, alice, ticketType="administrative", severity="Minor")
    await create(tickets, partner, bob, severity="Critical")
    await tickets.client.patch(
        f"{TT}/{first['id']}", headers=partner, json={"status": "inProgress"}
    )

    everything = await tickets.client.get(TT, headers=partner)
    assert everything.headers["X-Total-Count"] == "3"
    assert everything.headers["X-Result-Count"] == "3"

    critical = await tickets.client.get(
        TT, headers=partner, params={"severity": "Critical", "fields": "severity,status"}
    )
    assert critical.headers["X-Total-Count"] == "2"
    assert all(set(t) == {"id", "href", "@type", "severity", "status"} for t in critical.json())

    of_alice = await tickets.client.get(
        TT, headers=partner, params={"relatedParty.id": alice, "ticketType": "technical"}
    )
    assert [t["id"] for t in of_alice.json()] == [first["id"]]
    in_progress = await tickets.client.get(TT, headers=partner, params={"status": "inProgress"})
    assert [t["id"] for t in in_progress.json()] == [first["id"]]

    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    none = await tickets.client.get(TT, headers=partner, params={"creationDate.gt": later})
    assert none.json() == [] and none.headers["X-Total-Count"] == "0"

    page = await tickets.client.get(TT, headers=partner, params={"offset": 1, "limit": 1})
    assert page.headers["X-Total-Count"] == "3" and page.headers["X-Result-Count"] == "1"
    assert page.json()[0]["id"] == everything.json()[1]["id"]

    error = tmf_error_of(
        await tickets.client.get(TT, headers=partner, params={"colour": "blue"}), 400
    )
    assert "colour" in error["message"]


async def test_a_partner_sees_only_its_own_trouble_tickets_and_an_admin_sees_all(
    tickets: LiveService, partner_auth: PartnerAuth, make_customer: MakeCustomer, admin_token: str
) -> None:
    mine, theirs = await partner_auth(scope=FULL), await partner_auth(scope=FULL)
    ticket = await create(tickets, mine, await make_customer())
    tmf_error_of(await tickets.client.get(f"{TT}/{ticket['id']}", headers=theirs), 404, "not-found")
    listed = await tickets.client.get(TT, headers=theirs)
    assert ticket["id"] not in {t["id"] for t in listed.json()}
    admin = await tickets.client.get(f"{TT}/{ticket['id']}", headers=bearer(admin_token))
    assert admin.status_code == 200


async def test_a_patch_moves_the_status_through_the_lifecycle_with_its_reason(
    tickets: LiveService, partner_auth: PartnerAuth, make_customer: MakeCustomer
) -> None:
    partner = await partner_auth(scope=FULL)
    ticket = await create(tickets, partner, await make_customer())
    answer = await tickets.client.patch(
        f"{TT}/{ticket['id']}",
        headers={**partner, "Content-Type": "application/merge-patch+json"},
        json={"status": "held", "statusChangeReason": "Attente technicien"},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "held"
    assert body["statusChangeReason"] == "Attente technicien"
    assert [s["status"] for s in body["statusChange"]] == ["acknowledged", "held"]
    changed = await outbox_events(tickets, "tickets.ticket.status_changed", ticket["id"])
    assert changed[-1]["data"]["status"] == "held"
    assert changed[-1]["data"]["partner_id"] is not None


async def test_an_illegal_patch_is_a_tmf_conflict_naming_the_allowed_statuses(
    tickets: LiveService, partner_auth: PartnerAuth, make_customer: MakeCustomer
) -> None:
    partner = await partner_auth(scope=FULL)
    ticket = await create(tickets, partner, await make_customer())
    url = f"{TT}/{ticket['id']}"
    error = tmf_error_of(
        await tickets.client.patch(url, headers=partner, json={"status": "closed"}),
        409,
        "illegal-transition",
    )
    assert "inProgress" in error["message"]
    tmf_error_of(
        await tickets.client.patch(url, headers=partner, json={"status": "cancelled"}),
        422,
        "reason-required",
    )
    tmf_error_of(await tickets.client.patch(url, headers=partner, json={"status": "open"}), 400)
    tmf_error_of(
        await tickets.client.patch(url, headers=partner, json={"creationDate": "2020-01-01"}),
        400,
    )
    still = (await tickets.client.get(url, headers=partner)).json()
    assert still["status"] == "acknowledged" and len(still["statusChange"]) == 1


async def test_scopes_guard_every_path_with_tmf_errors(
    tickets: LiveService,
    partner_auth: PartnerAuth,
    make_customer: MakeCustomer,
    customer_auth: Callable[[str], Awaitable[dict[str, str]]],
) -> None:
    customer = await make_customer()
    ordinary = await partner_auth(scope="tickets:read tickets:write")
    reader = await partner_auth(scope="tmf621:read")
    tmf_error_of(await tickets.client.get(TT, headers=ordinary), 403, "forbidden")
    assert (await tickets.client.get(TT, headers=reader)).status_code == 200
    tmf_error_of(
        await tickets.client.post(TT, headers=reader, json=tmf_body(customer)), 403, "forbidden"
    )
    tmf_error_of(
        await tickets.client.post(
            f"{BASE}/hub", headers=reader, json={"callback": "http://127.0.0.1:9/cb"}
        ),
        403,
    )
    tmf_error_of(await tickets.client.get(TT, headers=await customer_auth(customer)), 403)
    tmf_error_of(await tickets.client.get(TT), 401, "unauthorized")
    tmf_error_of(await tickets.client.get(f"{BASE}/nothing", headers=reader), 404)
    tmf_error_of(await tickets.client.put(TT, headers=reader, json={}), 405)


async def test_a_listener_is_registered_announced_and_removed(
    tickets: LiveService, identity: LiveService, partner_auth: PartnerAuth
) -> None:
    subject = f"partner-{uuid.uuid4().hex[:6]}"
    partner = await partner_auth(subject=subject, scope=FULL)
    query = "eventType=TroubleTicketStatusChangeEvent,TroubleTicketResolvedEvent"
    answer = await tickets.client.post(
        f"{BASE}/hub",
        headers=partner,
        json={"callback": "http://127.0.0.1:9000/listener", "query": query},
    )
    assert answer.status_code == 201, answer.text
    listener = answer.json()
    assert listener["callback"] == "http://127.0.0.1:9000/listener"
    async with tickets.runtime.session_factory() as session:
        stored = (
            await session.execute(
                select(tmf_hub_subscriptions).where(tmf_hub_subscriptions.c.id == listener["id"])
            )
        ).one()
    assert stored.partner == f"partner:{subject}" and stored.query == query
    [registered] = await outbox_events(tickets, "tickets.hub_subscription.changed", listener["id"])
    assert registered["data"]["active"] is True
    assert registered["data"]["partner_id"] == subject
    assert registered["data"]["event_types"] == [
        "TroubleTicketStatusChangeEvent",
        "TroubleTicketResolvedEvent",
    ]

    other = await partner_auth(scope=FULL)
    tmf_error_of(await tickets.client.delete(f"{BASE}/hub/{listener['id']}", headers=other), 404)
    removed = await tickets.client.delete(f"{BASE}/hub/{listener['id']}", headers=partner)
    assert removed.status_code == 204
    events = await outbox_events(tickets, "tickets.hub_subscription.changed", listener["id"])
    assert [e["data"]["active"] for e in events] == [True, False]
    # Keyed by the partner, about no customer: identity's timeline consumer writes nothing.
    assert events[0]["customerid"] == subject
    assert await timeline_rows_once_projected(identity, [e["id"] for e in events]) == []
    tmf_error_of(await tickets.client.delete(f"{BASE}/hub/{listener['id']}", headers=partner), 404)


async def test_a_listener_needs_a_callback_we_may_call_and_a_query_we_understand(
    tickets: LiveService, partner_auth: PartnerAuth
) -> None:
    partner = await partner_auth(scope=FULL)
    for body in (
        {"callback": "ftp://partner.example.dz/cb"},
        {"callback": "https://10.1.2.3/cb"},
        {"callback": "https://partner.example.dz/cb", "query": "eventType=Nope"},
        {"query": "eventType=TroubleTicketCreateEvent"},
    ):
        tmf_error_of(await tickets.client.post(f"{BASE}/hub", headers=partner, json=body), 400)
