"""Network incidents: customers told, new fault tickets linked, resolution for everyone."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from tests.integration.tickets.conftest import MakeCustomer, open_ticket, outbox_events
from tests.support import LiveService, bearer


async def test_an_incident_tells_its_area_links_new_faults_and_resolves_them_all(
    tickets: LiveService, admin_token: str, make_customer: MakeCustomer
) -> None:
    admin = bearer(admin_token)
    commune = f"Azazga {uuid.uuid4().hex[:6]}"
    inside = [await make_customer(wilaya="15", commune=commune) for _ in range(2)]
    spelled_otherwise = await make_customer(wilaya="15", commune=commune.upper())
    outside = await make_customer(wilaya="15", commune="Tigzirt")
    end = (datetime.now(UTC) + timedelta(hours=6)).replace(microsecond=0)
    declared = await tickets.client.post(
        "/v1/incidents",
        headers=admin,
        json={
            "service": "adsl",
            "area": {"kind": "commune", "value": commune, "wilaya_code": "15"},
            "estimated_end_at": end.isoformat(),
            "area_label": f"Commune de {commune}",
        },
    )
    assert declared.status_code == 201, declared.text
    incident = declared.json()
    assert incident["affected_count"] == 3
    told = await outbox_events(tickets, "tickets.incident.customer_affected", incident["id"])
    assert sorted(e["customerid"] for e in told) == sorted([*inside, spelled_otherwise])
    assert datetime.fromisoformat(told[0]["data"]["estimated_end_at"]) == end

    linked = await open_ticket(tickets, admin, inside[0], service="adsl")
    assert linked["incident_id"] == incident["id"] and linked["assignee_id"] is None
    [opened] = await outbox_events(tickets, "tickets.ticket.opened", linked["id"])
    assert opened["data"]["incident_id"] == incident["id"]
    assert datetime.fromisoformat(opened["data"]["estimated_end_at"]) == end
    other_service = await open_ticket(tickets, admin, inside[1], service="fibre")
    assert other_service["incident_id"] is None
    unrelated = await open_ticket(tickets, admin, outside)
    assert unrelated["incident_id"] is None
    billing = await open_ticket(
        tickets, admin, inside[1], category="administrative", subcategory="billing_dispute"
    )
    assert billing["incident_id"] is None

    resolved = await tickets.client.post(f"/v1/incidents/{incident['id']}/resolve", headers=admin)
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "resolved" and resolved.json()["linked_tickets"] == 1
    ticket = await tickets.client.get(f"/v1/tickets/{linked['id']}", headers=admin)
    assert ticket.json()["status"] == "resolved"
    restored = await outbox_events(tickets, "tickets.incident.customer_restored", incident["id"])
    assert sorted(e["customerid"] for e in restored) == sorted([*inside, spelled_otherwise])
    again = await tickets.client.post(f"/v1/incidents/{incident['id']}/resolve", headers=admin)
    assert again.status_code == 409
    after = await open_ticket(tickets, admin, inside[0], service="adsl")
    assert after["incident_id"] is None


async def test_an_incident_outside_the_agents_wilayas_is_refused(
    tickets: LiveService, agent_auth
) -> None:
    _, agent = await agent_auth(["agent", "technician"], ["15"])
    answer = await tickets.client.post(
        "/v1/incidents",
        headers=agent,
        json={
            "service": "fibre",
            "area": {"kind": "olt", "value": "OLT-ALG-01", "wilaya_code": "16"},
            "estimated_end_at": "2030-01-01T10:00:00+01:00",
        },
    )
    assert answer.status_code == 403


async def test_an_exchange_needs_its_wilaya_and_a_customer_cannot_declare(
    tickets: LiveService, admin_token: str, make_customer: MakeCustomer, customer_auth
) -> None:
    body = {
        "service": "fixed",
        "area": {"kind": "exchange", "value": "TO-CENTRAL"},
        "estimated_end_at": "2030-01-01T10:00:00+01:00",
    }
    answer = await tickets.client.post("/v1/incidents", headers=bearer(admin_token), json=body)
    assert answer.status_code == 422
    mine = await customer_auth(await make_customer())
    refused = await tickets.client.post("/v1/incidents", headers=mine, json=body)
    assert refused.status_code == 403
