"""The 2025 reform in what tickets owns: agencies, active incidents and queue members move
to the new wilaya (`python -m sila_tickets apply-reform`), once."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update

from sila_common.geography import reference
from sila_tickets.flows.reform import apply_reform
from sila_tickets.tables import incidents, queue_agents
from sila_tickets.tables import tickets as ticket_rows
from tests.integration.tickets.conftest import (
    MakeCustomer,
    open_ticket,
    outbox_events,
    timeline_rows_once_projected,
)
from tests.support import LiveService, bearer, problem_of

AGENCIES = "/v1/tickets/admin/agencies"
AgentAuth = Callable[..., Awaitable[tuple[str, dict[str, str]]]]
BOU_SAADA = next(c for c in reference().communes.values() if c.name_fr == "Bou Saada").code


async def test_an_agency_in_bou_saada_its_incident_and_its_queue_move_to_wilaya_64_once(
    tickets: LiveService, identity: LiveService, admin_token: str
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

    # Each move was one ordinary event, keyed by what moved, recorded once for both runs...
    [agency_moved] = await outbox_events(tickets, "tickets.agency.relocated", code)
    [incident_moved] = await outbox_events(tickets, "tickets.incident.relocated", incident_id)
    assert agency_moved["customerid"] == code and incident_moved["customerid"] == incident_id
    assert {k: agency_moved["data"][k] for k in ("from_wilaya_code", "wilaya_code")} == {
        "from_wilaya_code": "28",
        "wilaya_code": "64",
    }
    assert agency_moved["data"]["commune_code"] == BOU_SAADA
    assert (incident_moved["data"]["from_wilaya_code"], incident_moved["data"]["wilaya_code"]) == (
        "28",
        "64",
    )
    assert agency_moved["data"]["actor"] == "service:tickets.reform"
    # ...about no customer: identity's timeline consumer takes them and writes nothing.
    assert (
        await timeline_rows_once_projected(identity, [agency_moved["id"], incident_moved["id"]])
        == []
    )
    await tickets.client.post(f"/v1/incidents/{incident_id}/resolve", headers=admin)


async def test_reports_name_the_wilayas_show_bou_saada_from_the_reform_and_say_how_msila_split(
    tickets: LiveService, admin_token: str, make_customer: MakeCustomer, agent_auth: AgentAuth
) -> None:
    admin = bearer(admin_token)
    customer = await make_customer(wilaya="64", installed_in=BOU_SAADA)
    await open_ticket(tickets, admin, customer)
    old = await open_ticket(tickets, admin, customer)
    async with tickets.runtime.session_factory() as session, session.begin():
        await session.execute(
            update(ticket_rows)
            .where(ticket_rows.c.id == old["id"])
            .values(opened_at=datetime(2025, 6, 1, 9, tzinfo=UTC))
        )
    _, supervisor = await agent_auth(["agent", "supervisor"], ["28", "64"])
    now = datetime.now(UTC)

    async def report(start: datetime, end: datetime) -> dict[str, Any]:
        answer = await tickets.client.get(
            "/v1/reports/tickets",
            headers=supervisor,
            params={"from": start.isoformat(), "to": end.isoformat()},
        )
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    today = await report(now - timedelta(hours=1), now + timedelta(hours=1))
    assert today["tickets"]["opened_by_wilaya"].get("64", 0) >= 1
    assert today["wilayas"]["names"]["64"] == {
        "fr": "Bou Saâda",
        "ar": "بوسعادة",
        "en": "Bou Saada",
    }
    [split] = today["wilayas"]["splits"]
    assert (split["wilaya_code"], [w["code"] for w in split["into"]]) == ("28", ["64"])
    assert "M'Sila" in split["explanation"] and "Bou Saâda (64)" in split["explanation"]

    before = await report(datetime(2025, 5, 1, tzinfo=UTC), datetime(2025, 7, 1, tzinfo=UTC))
    assert before["tickets"]["opened_by_wilaya"] == {"28": 1}
    assert before["wilayas"]["names"]["28"]["fr"] == "M'Sila"
