"""End to end: a customer registered at identity is known by commune, and an incident there
tells them and links their fault ticket."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from sila_tickets.tables import known_customers
from tests.support import LiveService, bearer, eventually, random_mobile


async def test_an_incident_in_a_registered_customers_commune_reaches_them(
    identity: LiveService, tickets: LiveService, admin_token: str
) -> None:
    auth = bearer(admin_token)
    commune = f"Larbaa Nath Irathen {uuid.uuid4().hex[:5]}"
    created = await identity.client.post(
        "/v1/customers",
        headers=auth,
        json={
            "first_name": "Nadia",
            "last_name": "Hamdi",
            "phone": random_mobile(),
            "wilaya_code": "15",
            "commune": commune,
            "language": "fr",
            "channel": "agency",
        },
    )
    assert created.status_code == 201, created.text
    customer_id = created.json()["id"]

    async def known_commune() -> Any:
        async with tickets.runtime.session_factory() as session:
            return await session.scalar(
                select(known_customers.c.commune).where(
                    known_customers.c.customer_id == customer_id
                )
            )

    assert await eventually(known_commune, what="tickets knowing the commune") == commune
    declared = await tickets.client.post(
        "/v1/incidents",
        headers=auth,
        json={
            "service": "all",
            "area": {"kind": "commune", "value": commune, "wilaya_code": "15"},
            "estimated_end_at": (datetime.now(UTC) + timedelta(hours=4)).isoformat(),
        },
    )
    assert declared.status_code == 201 and declared.json()["affected_count"] == 1
    ticket = await tickets.client.post(
        "/v1/tickets",
        headers=auth,
        json={
            "customer_id": customer_id,
            "category": "technical",
            "subcategory": "line_cut",
            "channel": "call_centre",
            "subject": "Ligne coupée depuis ce matin",
        },
    )
    assert ticket.status_code == 201 and ticket.json()["incident_id"] == declared.json()["id"]
