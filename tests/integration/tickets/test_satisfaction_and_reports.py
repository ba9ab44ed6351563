"""Surveys after resolution, the questionnaire engine, and the period report."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sila_tickets.seed import DATA_DIR
from tests.integration.tickets.conftest import MakeCustomer, open_ticket, outbox_events
from tests.support import LiveService, bearer, problem_of


async def test_surveys_open_at_resolution_once_and_the_report_counts_them(
    tickets: LiveService, admin_token: str, make_customer: MakeCustomer, customer_auth, agent_auth
) -> None:
    admin = bearer(admin_token)
    customer_id = await make_customer(wilaya="58")
    mine = await customer_auth(customer_id)
    first_contact, worked, waiting = [
        await open_ticket(tickets, admin, customer_id) for _ in range(3)
    ]

    async def move(ticket: dict[str, Any], to: str) -> None:
        answer = await tickets.client.post(
            f"/v1/tickets/{ticket['id']}/transitions",
            headers=admin,
            json={"to": to, "reason": "fait"},
        )
        assert answer.status_code == 200, answer.text

    await move(first_contact, "resolved")
    await move(worked, "in_progress")
    await move(worked, "resolved")

    early = await tickets.client.post(
        f"/v1/tickets/{waiting['id']}/survey", headers=mine, json={"csat": 5}
    )
    assert early.status_code == 409
    assert problem_of(early)["type"].endswith("/survey-before-resolution")
    for ticket, answers in (
        (first_contact, {"csat": 5, "nps": 10, "recommend": "yes"}),
        (worked, {"csat": 2, "nps": 3, "recommend": "maybe", "comment": "Trop long"}),
    ):
        answered = await tickets.client.post(
            f"/v1/tickets/{ticket['id']}/survey", headers=mine, json=answers
        )
        assert answered.status_code == 201, answered.text
    twice = await tickets.client.post(
        f"/v1/tickets/{first_contact['id']}/survey", headers=mine, json={"csat": 1}
    )
    assert twice.status_code == 409
    assert problem_of(twice)["type"].endswith("/survey-already-answered")
    [event] = await outbox_events(tickets, "tickets.survey.answered", first_contact["id"])
    assert (event["data"]["csat"], event["data"]["nps"]) == (5, 10)

    _, supervisor = await agent_auth(["agent", "supervisor"], ["58"])
    now = datetime.now(UTC)
    period = {
        "from": (now - timedelta(hours=1)).isoformat(),
        "to": (now + timedelta(hours=1)).isoformat(),
    }
    report = (
        await tickets.client.get("/v1/reports/tickets", headers=supervisor, params=period)
    ).json()
    section = report["tickets"]
    assert (section["opened"], section["resolved"]) == (3, 2)
    assert section["sla"]["compliance"] == 1.0
    assert section["first_contact_resolution"]["share"] == 0.5
    assert section["backlog"]["by_queue"] == {"technical": 1}
    assert section["backlog"]["by_wilaya"] == {"58": 1}
    assert section["resolution_time"]["count"] == 2
    satisfaction = report["satisfaction"]
    assert satisfaction["csat_score"] == 0.5 and satisfaction["nps"] == 0.0
    assert satisfaction["recommend"] == {"yes": 1, "no": 0, "maybe": 1}

    as_csv = await tickets.client.get(
        "/v1/reports/tickets", headers=supervisor, params={**period, "format": "csv"}
    )
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = dict(csv.reader(io.StringIO(as_csv.text)))
    assert rows["tickets.sla.compliance"] == "1.0"
    assert rows["satisfaction.nps"] == "0.0"


async def test_the_field_study_questionnaire_loads_as_it_is_and_its_answers_are_reported(
    tickets: LiveService, admin_token: str
) -> None:
    admin = bearer(admin_token)
    code = f"thesis-{uuid.uuid4().hex[:6]}"
    document = json.loads((DATA_DIR / "questionnaire-thesis.json").read_text(encoding="utf-8"))
    loaded = await tickets.client.post(
        "/v1/surveys/questionnaires", headers=admin, json={"code": code, "document": document}
    )
    assert loaded.status_code == 201, loaded.text
    url = f"/v1/surveys/questionnaires/{code}/responses"
    for answers in (
        {"q10_recommander": "Oui", "q7_domaine_prioritaire": ["Suivi des réclamations"]},
        {
            "q10_recommander": "Peut-être",
            "q7_domaine_prioritaire": ["Suivi des réclamations", "Rapidité de réponse"],
        },
    ):
        answered = await tickets.client.post(url, headers=admin, json={"answers": answers})
        assert answered.status_code == 201, answered.text
    wrong = await tickets.client.post(
        url, headers=admin, json={"answers": {"q10_recommander": "Jamais"}}
    )
    assert wrong.status_code == 422
    now = datetime.now(UTC)
    report = (
        await tickets.client.get(
            "/v1/reports/tickets",
            headers=admin,
            params={
                "from": (now - timedelta(hours=1)).isoformat(),
                "to": (now + timedelta(hours=1)).isoformat(),
            },
        )
    ).json()
    [ours] = [q for q in report["questionnaires"] if q["code"] == code]
    questions = {q["key"]: q for q in ours["questions"]}
    assert ours["responses"] == 2
    assert questions["q10_recommander"]["counts"] == {"Oui": 1, "Non": 0, "Peut-être": 1}
    assert questions["q7_domaine_prioritaire"]["counts"]["Suivi des réclamations"] == 2


async def test_reports_are_for_supervisors_and_need_a_real_period(
    tickets: LiveService, admin_token: str, agent_auth
) -> None:
    _, agent = await agent_auth(["agent"], ["15"])
    params = {"from": "2026-01-01T00:00:00+01:00", "to": "2026-02-01T00:00:00+01:00"}
    assert (
        await tickets.client.get("/v1/reports/tickets", headers=agent, params=params)
    ).status_code == 403
    backwards = await tickets.client.get(
        "/v1/reports/tickets",
        headers=bearer(admin_token),
        params={"from": params["to"], "to": params["from"]},
    )
    assert backwards.status_code == 422
