"""TMF621 hub events delivered to a real listener on 127.0.0.1, through the webhook machinery.

Tickets announces a listener with ``tickets.hub_subscription.changed``; notify turns
``tickets.ticket.opened`` / ``status_changed`` into TroubleTicket*Event bodies and POSTs them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from sila_common.events import CloudEvent
from sila_common.settings import PlatformSettings
from sila_notify.domain.webhook_signature import verify
from sila_notify.flows.webhooks.tmf_hub import ticket_changed
from sila_notify.tables import webhook_deliveries
from tests.integration.simulators.servers import serve
from tests.support import LiveService, bearer, eventually, problem_of

from .conftest import Publish, partner_token

DUE_AT = "2026-03-04T09:30:00+01:00"
ALL_FOUR = [
    "TroubleTicketCreateEvent",
    "TroubleTicketStatusChangeEvent",
    "TroubleTicketResolvedEvent",
    "TroubleTicketInformationRequiredEvent",
]


@dataclass
class Listener:
    """Partners' TMF listeners: each path answers its planned statuses, then 201."""

    plans: dict[str, list[int]] = field(default_factory=dict)
    received: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    async def receive(self, request: Request) -> Response:
        name = request.path_params["name"]
        raw = await request.body()
        self.received.setdefault(name, []).append(
            {"headers": dict(request.headers), "raw": raw, "body": json.loads(raw)}
        )
        plan = self.plans.get(name, [])
        return PlainTextResponse("", status_code=plan.pop(0) if plan else 201)

    def bodies(self, name: str) -> list[dict[str, Any]]:
        return [r["body"] for r in self.received.get(name, [])]


@pytest.fixture(scope="module")
async def listener_server() -> AsyncIterator[tuple[Listener, str]]:
    listener = Listener()
    app = Starlette(routes=[Route("/tmf/{name}", listener.receive, methods=["POST"])])
    async with serve(app) as url:
        yield listener, url


def partner() -> str:
    return f"partner-{uuid.uuid4().hex[:8]}"


async def announce(
    publish: Publish,
    *,
    subscription_id: str,
    partner_id: str,
    callback: str,
    active: bool = True,
    reach: str = "own",
    event_types: list[str] | None = None,
) -> None:
    """What tickets' ``POST /hub`` (or ``DELETE /hub/{id}``) publishes, keyed by the partner."""
    await publish(
        "tickets.hub_subscription.changed",
        partner_id,
        {
            "subscription_id": subscription_id,
            "partner_id": partner_id,
            "callback": callback,
            "query": None,
            "active": active,
            "event_types": event_types or ALL_FOUR,
            "reach": reach,
        },
    )


async def registered(
    publish: Publish, notify: LiveService, admin_token: str, **listener: Any
) -> dict[str, Any]:
    """Announce a listener and wait until notify keeps it; returns it as the webhook API shows."""
    subscription_id = str(uuid.uuid4())
    await announce(publish, subscription_id=subscription_id, **listener)

    async def kept() -> dict[str, Any] | None:
        answer = await notify.client.get(
            f"/v1/webhook-subscriptions/{subscription_id}", headers=bearer(admin_token)
        )
        return answer.json() if answer.status_code == 200 else None

    return await eventually(kept, what="the hub listener kept by notify")


async def deliveries_of(
    notify: LiveService, token: str, subscription_id: str
) -> list[dict[str, Any]]:
    answer = await notify.client.get(
        f"/v1/webhook-subscriptions/{subscription_id}/deliveries", headers=bearer(token)
    )
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def ticket_opened(partner_id: str | None) -> tuple[str, dict[str, Any]]:
    customer_id = str(uuid.uuid4())
    return customer_id, {
        "ticket_id": str(uuid.uuid4()),
        "number": "TT-2026-000777",
        "customer_id": customer_id,
        "category": "technical",
        "subcategory": "no_connection",
        "priority": "critical",
        "channel": "partner",
        "subject": "Plus de connexion depuis ce matin",
        "queue": "technical",
        "status": "acknowledged",
        "due_at": DUE_AT,
        "first_response_due_at": None,
        "incident_id": None,
        "estimated_end_at": None,
        "wilaya_code": "15",
        "partner_id": partner_id,
        "external_id": "EXT-42",
    }


def status_changed(opened: dict[str, Any], status: str, reason: str | None) -> dict[str, Any]:
    return {
        "ticket_id": opened["ticket_id"],
        "number": opened["number"],
        "customer_id": opened["customer_id"],
        "from_status": "in_progress",
        "status": status,
        "reason": reason,
        "due_at": DUE_AT,
        "survey_url": None,
        "public_status": status,
        "actor_kind": "agent",
        "partner_id": opened["partner_id"],
        "external_id": opened["external_id"],
    }


async def test_a_hub_listener_receives_a_create_event_for_its_partners_new_ticket(
    notify: LiveService,
    identity: LiveService,
    platform: PlatformSettings,
    publish: Publish,
    admin_token: str,
    listener_server: tuple[Listener, str],
) -> None:
    server, base = listener_server
    partner_id, name = partner(), uuid.uuid4().hex[:8]
    listener = await registered(
        publish, notify, admin_token, partner_id=partner_id, callback=f"{base}/tmf/{name}"
    )
    assert (listener["kind"], listener["reach"]) == ("tmf621", "own")
    assert listener["owner"] == f"partner:{partner_id}"
    customer_id, data = ticket_opened(partner_id)
    event = await publish("tickets.ticket.opened", customer_id, data)

    async def arrived() -> list[dict[str, Any]]:
        return server.received.get(name, [])

    [request] = await eventually(arrived, what="the TMF create event")
    body = request["body"]
    assert body["eventId"] == f"{event.id}:TroubleTicketCreateEvent"
    assert body["eventType"] == "TroubleTicketCreateEvent"
    assert datetime.fromisoformat(body["eventTime"]) == event.time
    assert body["timeOcurred"] == body["eventTime"]
    assert body["event"]["troubleTicket"] == {
        "id": data["ticket_id"],
        "href": f"http://127.0.0.1:8000/tmf-api/troubleTicket/v4/troubleTicket/{data['ticket_id']}",
        "@type": "TroubleTicket",
        "externalId": "EXT-42",
        "status": "acknowledged",
        "severity": "Critical",
        "ticketType": "technical",
        "name": "Plus de connexion depuis ce matin",
        "creationDate": body["eventTime"],
        "expectedResolutionDate": DUE_AT,
        "relatedParty": [{"id": customer_id, "role": "customer"}],
    }
    # No secret: a plain JSON POST, not signed.
    assert request["headers"]["content-type"] == "application/json"
    assert "webhook-signature" not in request["headers"]

    # The partner reads the delivery log through the webhook API, but the hub owns the rest.
    token = await partner_token(identity, platform, partner_id)

    async def logged() -> list[dict[str, Any]]:
        items = await deliveries_of(notify, token, listener["id"])
        return [d for d in items if d["state"] == "succeeded"]

    [delivery] = await eventually(logged, what="the delivery logged")
    assert delivery["event_id"] == body["eventId"]
    assert delivery["attempt_log"][0]["status_code"] == 201
    moved = await notify.client.patch(
        f"/v1/webhook-subscriptions/{listener['id']}",
        json={"url": f"{base}/tmf/elsewhere"},
        headers=bearer(token),
    )
    assert moved.status_code == 409
    assert problem_of(moved)["type"].endswith("tmf-hub-listener")
    removed = await notify.client.delete(
        f"/v1/webhook-subscriptions/{listener['id']}", headers=bearer(token)
    )
    assert removed.status_code == 409


async def test_a_resolution_is_delivered_as_a_status_change_and_a_resolved_event(
    notify: LiveService,
    publish: Publish,
    admin_token: str,
    listener_server: tuple[Listener, str],
) -> None:
    server, base = listener_server
    partner_id, name = partner(), uuid.uuid4().hex[:8]
    await registered(
        publish, notify, admin_token, partner_id=partner_id, callback=f"{base}/tmf/{name}"
    )
    customer_id, opened = ticket_opened(partner_id)
    event = await publish(
        "tickets.ticket.status_changed",
        customer_id,
        status_changed(opened, "resolved", "Ligne réparée"),
    )

    async def both() -> list[dict[str, Any]] | None:
        bodies = server.bodies(name)
        return bodies if len(bodies) >= 2 else None

    bodies = sorted(await eventually(both, what="two TMF events"), key=lambda b: b["eventType"])
    assert [b["eventType"] for b in bodies] == [
        "TroubleTicketResolvedEvent",
        "TroubleTicketStatusChangeEvent",
    ]
    assert [b["eventId"] for b in bodies] == [f"{event.id}:{b['eventType']}" for b in bodies]
    for body in bodies:
        ticket = body["event"]["troubleTicket"]
        assert ticket["status"] == "resolved"
        assert ticket["statusChangeReason"] == "Ligne réparée"
        assert ticket["statusChangeDate"] == body["eventTime"]
        assert ticket["expectedResolutionDate"] == DUE_AT


async def test_waiting_on_the_customer_asks_only_listeners_of_that_type_for_information(
    notify: LiveService,
    publish: Publish,
    admin_token: str,
    listener_server: tuple[Listener, str],
) -> None:
    server, base = listener_server
    partner_id, name = partner(), uuid.uuid4().hex[:8]
    listener = await registered(
        publish,
        notify,
        admin_token,
        partner_id=partner_id,
        callback=f"{base}/tmf/{name}",
        event_types=["TroubleTicketInformationRequiredEvent"],
    )
    customer_id, opened = ticket_opened(partner_id)
    await publish("tickets.ticket.opened", customer_id, opened)
    await publish(
        "tickets.ticket.status_changed",
        customer_id,
        status_changed(opened, "pending_customer", "Merci d'envoyer une photo du modem"),
    )

    async def arrived() -> list[dict[str, Any]]:
        return server.bodies(name)

    [body] = await eventually(arrived, what="the information-required event")
    assert body["eventType"] == "TroubleTicketInformationRequiredEvent"
    assert body["event"]["troubleTicket"]["status"] == "pending"
    # One customer's events keep their order: the creation and the status change were
    # handled before, and queued nothing for this listener.
    assert len(await deliveries_of(notify, admin_token, listener["id"])) == 1


async def test_an_own_listener_of_another_partner_hears_nothing_while_an_all_listener_hears_all(
    notify: LiveService,
    publish: Publish,
    admin_token: str,
    listener_server: tuple[Listener, str],
) -> None:
    server, base = listener_server
    owner_id, other_id, admin_id = partner(), partner(), f"admin-{uuid.uuid4().hex[:8]}"
    owner_name, other_name, admin_name = (uuid.uuid4().hex[:8] for _ in range(3))
    await registered(
        publish, notify, admin_token, partner_id=owner_id, callback=f"{base}/tmf/{owner_name}"
    )
    other = await registered(
        publish, notify, admin_token, partner_id=other_id, callback=f"{base}/tmf/{other_name}"
    )
    everything = await registered(
        publish,
        notify,
        admin_token,
        partner_id=admin_id,
        callback=f"{base}/tmf/{admin_name}",
        reach="all",
        event_types=["TroubleTicketCreateEvent"],
    )
    assert everything["owner"] == f"agent:{admin_id}"
    try:
        customer_id, opened = ticket_opened(owner_id)
        await publish("tickets.ticket.opened", customer_id, opened)

        async def heard_by_owner_and_admin() -> bool:
            return bool(server.bodies(owner_name)) and any(
                b["event"]["troubleTicket"]["id"] == opened["ticket_id"]
                for b in server.bodies(admin_name)
            )

        await eventually(heard_by_owner_and_admin, what="the owner's and the admin's events")
        # The deliveries of one event are queued together: the other partner got none.
        assert await deliveries_of(notify, admin_token, other["id"]) == []
        assert server.bodies(other_name) == []
    finally:
        await announce(
            publish,
            subscription_id=everything["id"],
            partner_id=admin_id,
            callback=f"{base}/tmf/{admin_name}",
            active=False,
            reach="all",
        )


async def test_a_removed_listener_receives_nothing_more(
    notify: LiveService,
    publish: Publish,
    admin_token: str,
    listener_server: tuple[Listener, str],
) -> None:
    server, base = listener_server
    partner_id, gone_name, kept_name = partner(), uuid.uuid4().hex[:8], uuid.uuid4().hex[:8]
    gone = await registered(
        publish, notify, admin_token, partner_id=partner_id, callback=f"{base}/tmf/{gone_name}"
    )
    await registered(
        publish, notify, admin_token, partner_id=partner_id, callback=f"{base}/tmf/{kept_name}"
    )
    await announce(
        publish,
        subscription_id=gone["id"],
        partner_id=partner_id,
        callback=f"{base}/tmf/{gone_name}",
        active=False,
    )

    async def dropped() -> bool:
        answer = await notify.client.get(
            f"/v1/webhook-subscriptions/{gone['id']}", headers=bearer(admin_token)
        )
        return answer.status_code == 404

    await eventually(dropped, what="the listener dropped")
    customer_id, opened = ticket_opened(partner_id)
    await publish("tickets.ticket.opened", customer_id, opened)

    async def kept_heard() -> list[dict[str, Any]]:
        return server.bodies(kept_name)

    await eventually(kept_heard, what="the remaining listener's event")
    assert server.bodies(gone_name) == []


async def test_a_failing_callback_is_retried_with_the_same_event_id_until_it_accepts(
    notify: LiveService,
    identity: LiveService,
    platform: PlatformSettings,
    publish: Publish,
    admin_token: str,
    listener_server: tuple[Listener, str],
) -> None:
    server, base = listener_server
    partner_id, name = partner(), uuid.uuid4().hex[:8]
    server.plans[name] = [500, 503]
    listener = await registered(
        publish, notify, admin_token, partner_id=partner_id, callback=f"{base}/tmf/{name}"
    )
    customer_id, opened = ticket_opened(partner_id)
    await publish("tickets.ticket.opened", customer_id, opened)
    token = await partner_token(identity, platform, partner_id)

    async def succeeded() -> list[dict[str, Any]]:
        items = await deliveries_of(notify, token, listener["id"])
        return [d for d in items if d["state"] == "succeeded"]

    [delivery] = await eventually(succeeded, what="the delivery after two failures")
    assert delivery["attempts"] == 3
    assert [a["status_code"] for a in delivery["attempt_log"]] == [500, 503, 201]
    assert {b["eventId"] for b in server.bodies(name)} == {delivery["event_id"]}
    assert len(server.bodies(name)) == 3


async def test_the_same_ticket_event_handled_twice_queues_each_tmf_event_once_per_listener(
    notify: LiveService,
    publish: Publish,
    admin_token: str,
    listener_server: tuple[Listener, str],
) -> None:
    _, base = listener_server
    partner_id = partner()
    # The handler is called directly: only the queueing is under test (rows stay, sent or not).
    listener = await registered(
        publish, notify, admin_token, partner_id=partner_id, callback=f"{base}/tmf/twice"
    )
    customer_id, opened = ticket_opened(partner_id)
    event = CloudEvent(
        id=str(uuid.uuid4()),
        source="/sila/tickets",
        type="tickets.ticket.status_changed",
        time=datetime.now(UTC),
        subject=opened["ticket_id"],
        dataschema="https://schemas.sila.algerietelecom.dz/events/tickets.ticket.status_changed.v1.json",
        customerid=customer_id,
        data=status_changed(opened, "resolved", None),
    )
    for _ in range(2):
        async with notify.runtime.session_factory() as session, session.begin():
            await ticket_changed(session, event, notify.runtime.settings)
    async with notify.runtime.session_factory() as session:
        rows = (
            await session.execute(
                select(webhook_deliveries.c.event_type).where(
                    webhook_deliveries.c.subscription_id == listener["id"]
                )
            )
        ).all()
    assert sorted(r.event_type for r in rows) == [
        "TroubleTicketResolvedEvent",
        "TroubleTicketStatusChangeEvent",
    ]


async def test_a_listener_given_a_secret_through_the_webhook_api_gets_signed_events(
    notify: LiveService,
    identity: LiveService,
    platform: PlatformSettings,
    publish: Publish,
    admin_token: str,
    listener_server: tuple[Listener, str],
) -> None:
    server, base = listener_server
    partner_id, name = partner(), uuid.uuid4().hex[:8]
    listener = await registered(
        publish, notify, admin_token, partner_id=partner_id, callback=f"{base}/tmf/{name}"
    )
    token = await partner_token(identity, platform, partner_id)
    rotated = await notify.client.post(
        f"/v1/webhook-subscriptions/{listener['id']}/rotate-secret", headers=bearer(token)
    )
    assert rotated.status_code == 200
    customer_id, opened = ticket_opened(partner_id)
    await publish("tickets.ticket.opened", customer_id, opened)

    async def arrived() -> list[dict[str, Any]]:
        return server.received.get(name, [])

    [request] = await eventually(arrived, what="the signed TMF event")
    verify(rotated.json()["secret"], request["headers"], request["raw"])
