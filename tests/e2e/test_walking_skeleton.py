"""The walking skeleton: a customer and a ticket reach the one timeline through Kafka."""

from __future__ import annotations

import time

from tests.support import LiveService, bearer, eventually, random_mobile


async def test_registered_customer_and_opened_ticket_reach_the_timeline(
    identity: LiveService, tickets: LiveService, admin_token: str
) -> None:
    auth = bearer(admin_token)
    created = await identity.client.post(
        "/v1/customers",
        headers=auth,
        json={
            "first_name": "Karim",
            "last_name": "Aït Saïd",
            "phone": random_mobile(),
            "wilaya_code": "15",
            "language": "fr",
            "channel": "call_centre",
        },
    )
    assert created.status_code == 201, created.text
    customer_id = created.json()["id"]

    async def timeline_types() -> list[str]:
        page = await identity.client.get(f"/v1/customers/{customer_id}/timeline", headers=auth)
        assert page.status_code == 200, page.text
        return [item["type"] for item in page.json()["items"]]

    assert await eventually(timeline_types, what="registration on the timeline") == [
        "identity.customer.registered"
    ]

    # Tickets learns of the customer from identity's event, then accepts a ticket.
    async def open_ticket() -> dict[str, object] | None:
        answer = await tickets.client.post(
            "/v1/tickets",
            headers=auth,
            json={
                "customer_id": customer_id,
                "category": "technical",
                "subcategory": "no_connection",
                "channel": "call_centre",
                "subject": "Pas de connexion ADSL depuis hier",
            },
        )
        if answer.status_code == 422 and "unknown-customer" in answer.json()["type"]:
            return None
        assert answer.status_code == 201, answer.text
        body: dict[str, object] = answer.json()
        return body

    ticket = await eventually(open_ticket, what="tickets knowing the customer")
    assert str(ticket["number"]).startswith("TT-")
    assert ticket["due_at"] is not None
    opened_at = time.monotonic()

    async def ticket_on_timeline() -> list[dict[str, object]] | None:
        page = await identity.client.get(
            f"/v1/customers/{customer_id}/timeline", headers=auth, params={"lang": "fr"}
        )
        items: list[dict[str, object]] = page.json()["items"]
        return items if items and items[0]["type"] == "tickets.ticket.opened" else None

    items = await eventually(
        ticket_on_timeline, timeout=5, interval=0.02, what="ticket on timeline"
    )
    latency = time.monotonic() - opened_at
    assert latency < 1.0, f"the ticket reached the timeline after {latency:.3f}s"
    newest = items[0]
    assert newest["resource"] == f"/v1/tickets/{ticket['id']}"
    assert str(ticket["number"]) in str(newest["summary"])
    assert [i["type"] for i in items] == ["tickets.ticket.opened", "identity.customer.registered"]
