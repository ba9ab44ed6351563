"""The 2025 reform in what tickets owns: agencies, active incidents and queue members move
to the new wilaya (`python -m sila_tickets apply-reform`), once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from sila_common.geography import reference
from sila_tickets.reform import apply_reform
from sila_tickets.tables import incidents, queue_agents
from tests.support import LiveService, bearer, problem_of

AGENCIES = "/v1/tickets/admin/agencies"
BOU_SAADA = next(c for c in reference().communes.values() if c.name_fr == "Bou Saada").code


async def test_an_agency_in_bou_saada_its_incident_and_its_queue_move_to_wilaya_64_once(
    tickets: LiveService, admin_token: str
) -> None:
    admin = bearer(admin_token)
    code = f"28-BS-{uuid.uuid4().hex[:6].upper()}"
    body = {"code": code, "name": "ACTEL Bou Saâda", "wilaya_code": "28"}
    wrong = await tickets.client.put(
        AGENCIES, headers=admin, json=body | {"commune_code": BOU_SAADA}
    )
    assert wrong.status_code == 422
    assert "Bou Saâda" in problem_of(wrong)["detail"] and "M'Sila" in problem_of(wrong)["detail"]
    typed = await tickets.client.put(AGENCIES, headers=admin, json=body | {"commune": "Bou Saâda"})
    assert typed.status_code == 200 and typed.json()["commune_code"] is None
    member = str(uuid.uuid4())
    added = await tickets.client.put(
        f"/v1/tickets/queues/billing/agents/{member}", headers=admin, params={"wilaya": "28"}
    )
    assert added.status_code == 204, added.text
    incident_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    async with tickets.runtime.session_factory() as session, session.begin():
        # Declared over Bou Saâda while it was still M'Sila's.
        await session.execute(
            insert(incidents).values(
                id=incident_id,
                service="fibre",
                area_kind="commune",
                area_value=BOU_SAADA,
                wilaya_code="28",
                area_label="Bou Saada",
                status="active",
                estimated_end_at=now + timedelta(hours=2),
                declared_by="agent:test",
                declared_at=now,
                affected_count=0,
            )
        )

    report = await apply_reform(tickets.runtime)

    assert code in report.agencies_moved and incident_id in report.incidents_moved
    agency = (await tickets.client.get(f"{AGENCIES}/{code}", headers=admin)).json()
    assert (agency["wilaya_code"], agency["commune_code"]) == ("64", BOU_SAADA)
    incident = await tickets.client.get(f"/v1/incidents/{incident_id}", headers=admin)
    assert incident.json()["wilaya_code"] == "64"
    async with tickets.runtime.session_factory() as session:
        wilayas = set(
            (
                await session.scalars(
                    select(queue_agents.c.wilaya_code).where(
                        queue_agents.c.queue == "billing", queue_agents.c.agent_id == member
                    )
                )
            ).all()
        )
    assert wilayas == {"28", "64"}
    removed = await tickets.client.delete(
        f"/v1/tickets/queues/billing/agents/{member}", headers=admin, params={"wilaya": "64"}
    )
    assert removed.status_code == 204

    again = await apply_reform(tickets.runtime)
    assert code not in again.agencies_moved and incident_id not in again.incidents_moved
    async with tickets.runtime.session_factory() as session:
        count = await session.scalar(
            select(queue_agents.c.agent_id).where(
                queue_agents.c.queue == "billing",
                queue_agents.c.wilaya_code == "64",
                queue_agents.c.agent_id == member,
            )
        )
    assert count is None
    await tickets.client.post(f"/v1/incidents/{incident_id}/resolve", headers=admin)
