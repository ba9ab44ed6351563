"""End to end: a customer registered at identity is known by where their line is installed,
and an incident over that commune tells them and links their fault ticket."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from sila_tickets.tables import known_installations
from tests.support import LiveService, bearer, eventually, random_mobile


async def test_an_incident_in_the_commune_of_a_customers_line_reaches_them(
    identity: LiveService, tickets: LiveService, admin_token: str
) -> None:
    auth = bearer(admin_token)
    created = await identity.client.post(
        "/v1/customers",
        headers=auth,
        json={
            "first_name": "Nadia",
            "last_name": "Hamdi",
            "phone": random_mobile(),
            "wilaya_code": "15",
            "commune": "Tizi Ouzou",
            "language": "fr",
            "channel": "agency",
        },
    )
    assert created.status_code == 201, created.text
    customer_id = created.json()["id"]
    contract = await identity.client.post(
        f"/v1/customers/{customer_id}/contracts",
        headers=auth,
        # Typed as the agent heard it: matched to the reference's "Larbaa Nath Irathen".
        json={"offer_code": "IDOOM_ADSL_10M", "installation_commune": "Larbaâ Nath-Irathen"},
    )
    assert contract.status_code == 201, contract.text
    commune = contract.json()["installation_commune_code"]
    assert commune is not None

    async def installed() -> Any:
        async with tickets.runtime.session_factory() as session:
            return await session.scalar(
                select(known_installations.c.commune_code).where(
                    known_installations.c.customer_id == customer_id
                )
            )

    assert await eventually(installed, what="tickets knowing the installation") == commune
    declared = await tickets.client.post(
        "/v1/incidents",
        headers=auth,
        json={
            "service": "all",
            "area": {"kind": "commune", "value": "الأربعاء ناث إيراثن", "wilaya_code": "15"},
            "estimated_end_at": (datetime.now(UTC) + timedelta(hours=4)).isoformat(),
        },
    )
    assert declared.status_code == 201, declared.text
    assert declared.json()["area_value"] == commune and declared.json()["affected_count"] == 1
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
    await tickets.client.post(f"/v1/incidents/{declared.json()['id']}/resolve", headers=auth)
