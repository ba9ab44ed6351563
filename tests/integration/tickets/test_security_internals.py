"""Security cases 3 and 5 (docs/security.md), through the real client path: agents and
partners made with the admin API, tokens from the password, client-credentials and OTP
grants, the customer registered at identity and known to tickets through its events.

- Internal notes, script answers and agents' interaction notes reach agents only: not a
  partner reading its own ticket, not the customer, not the customer's timeline or export.
- A satisfaction survey is the customer's: an agent only records the customer's answer on a
  call (marked so), which the customer's own answer then replaces; nobody else answers.
- Questionnaire responses only from respondents or customer-care agents; a partner with
  ``tickets:write`` alone does not list tickets; marketing does not read tickets.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import select

from sila_tickets.seed import DATA_DIR
from sila_tickets.tables import questionnaire_responses, surveys
from tests.integration.security_support import (
    Account,
    customer_login,
    known_to_tickets,
    new_agent,
    new_customer,
    new_partner,
)
from tests.support import LiveService, bearer, eventually, problem_of

INTERNAL = "Client agressif, voir dossier 2019"
PUBLIC = "Le technicien passe demain matin."
CALL_NOTE = "Menace de résilier si pas réglé"
NOTE = "tickets.note.added"


async def test_internal_notes_and_script_answers_reach_agents_only(
    identity: LiveService, tickets: LiveService, admin_token: str
) -> None:
    agent = await new_agent(identity, admin_token, ["agent"], ["15"])
    marketing = await new_agent(identity, admin_token, ["marketing"], ["15"])
    partner = await new_partner(identity, admin_token, ["tickets:read", "tickets:write"])
    writer = await new_partner(identity, admin_token, ["tickets:write"])
    customer = await new_customer(identity, agent)
    await known_to_tickets(tickets, customer["id"])
    me = await customer_login(identity, customer["phone"])

    opened = await tickets.client.post(
        "/v1/tickets",
        headers=partner.auth,
        json={
            "customer_id": customer["id"],
            "category": "technical",
            "subcategory": "no_connection",
            "channel": "partner",
            "subject": "Pas de connexion ADSL",
        },
    )
    assert opened.status_code == 201, opened.text
    ticket = opened.json()["id"]
    script = await tickets.client.put(
        f"/v1/tickets/{ticket}/script-answers",
        headers=agent.auth,
        json={"answers": {"modem_lights": "power seul"}},
    )
    assert script.status_code == 200, script.text
    for public, text in ((False, INTERNAL), (True, PUBLIC)):
        note = await tickets.client.post(
            f"/v1/tickets/{ticket}/notes", headers=agent.auth, json={"text": text, "public": public}
        )
        assert note.status_code == 201, note.text
    call = await identity.client.post(
        f"/v1/customers/{customer['id']}/interactions",
        headers=agent.auth,
        json={
            "channel": "call_centre",
            "direction": "inbound",
            "reason": "technical",
            "outcome": "follow_up_needed",
            "duration_seconds": 240,
            "notes": CALL_NOTE,
        },
    )
    assert call.status_code == 201, call.text

    hidden = await tickets.client.post(
        f"/v1/tickets/{ticket}/notes", headers=partner.auth, json={"text": "x", "public": False}
    )
    assert hidden.status_code == 403
    staff = (await tickets.client.get(f"/v1/tickets/{ticket}", headers=agent.auth)).json()
    assert sorted(n["text"] for n in staff["notes"]) == sorted([INTERNAL, PUBLIC])
    assert staff["script_answers"] == {"modem_lights": "power seul"}
    for outsider in (partner, me):
        seen = await tickets.client.get(f"/v1/tickets/{ticket}", headers=outsider.auth)
        assert seen.status_code == 200, seen.text
        assert [n["text"] for n in seen.json()["notes"]] == [PUBLIC]
        assert seen.json()["script_answers"] is None
        assert INTERNAL not in seen.text and "modem_lights" not in seen.text
        # Who acted, by kind only: no agent's account leaves the staff.
        assert agent.id not in seen.text
        assert {n["author"] for n in seen.json()["notes"]} == {"agent"}
    assert (
        await tickets.client.get(f"/v1/tickets/{ticket}", headers=marketing.auth)
    ).status_code == 403

    # tickets:write alone opens tickets, but listing is reading.
    listed = await tickets.client.get("/v1/tickets", headers=writer.auth)
    assert listed.status_code == 403
    assert problem_of(listed)["required_scope"] == "tickets:read"
    assert (await tickets.client.get("/v1/tickets", headers=partner.auth)).status_code == 200
    unread = await tickets.client.get(f"/v1/tickets/{ticket}", headers=writer.auth)
    assert unread.status_code == 403

    # The 360° view: the agent sees the internal note's entry, the customer no trace of it.
    timeline = f"/v1/customers/{customer['id']}/timeline"

    async def agent_sees_both() -> list[dict[str, Any]]:
        answer = await identity.client.get(
            timeline, headers=agent.auth, params={"type": "tickets.note.added"}
        )
        items: list[dict[str, Any]] = answer.json()["items"]
        return items if len(items) == 2 else []

    await eventually(agent_sees_both, what="both notes on the agent's timeline")
    mine = await identity.client.get(timeline, headers=me.auth)
    notes = [e for e in mine.json()["items"] if e["type"] == "tickets.note.added"]
    assert [e["data"]["public"] for e in notes] == [True]
    export = await identity.client.get(f"/v1/customers/{customer['id']}/export", headers=me.auth)
    assert export.status_code == 200, export.text
    assert [
        e["data"]["public"]
        for e in export.json()["timeline"]
        if e["event_type"] == "tickets.note.added"
    ] == [True]
    assert export.json()["interactions"] and CALL_NOTE not in export.text
    assert INTERNAL not in export.text


async def resolved_ticket(tickets: LiveService, agent: Account, customer_id: str) -> str:
    opened = await tickets.client.post(
        "/v1/tickets",
        headers=agent.auth,
        json={
            "customer_id": customer_id,
            "category": "technical",
            "channel": "call_centre",
            "subject": "Ligne coupée",
        },
    )
    assert opened.status_code == 201, opened.text
    ticket: str = opened.json()["id"]
    moved = await tickets.client.post(
        f"/v1/tickets/{ticket}/transitions",
        headers=agent.auth,
        json={"to": "resolved", "reason": "réparé"},
    )
    assert moved.status_code == 200, moved.text
    return ticket


async def survey_row(tickets: LiveService, ticket: str) -> Any:
    async with tickets.runtime.session_factory() as session:
        return (
            await session.execute(select(surveys).where(surveys.c.ticket_id == ticket))
        ).one_or_none()


async def test_the_survey_is_the_customers_and_an_agent_only_records_it_on_a_call(
    identity: LiveService, tickets: LiveService, admin_token: str
) -> None:
    agent = await new_agent(identity, admin_token, ["agent"], ["15"])
    marketing = await new_agent(identity, admin_token, ["marketing"], ["15"])
    partner = await new_partner(identity, admin_token, ["tickets:read", "tickets:write"])
    customer = await new_customer(identity, agent)
    await known_to_tickets(tickets, customer["id"])
    me = await customer_login(identity, customer["phone"])
    ticket = await resolved_ticket(tickets, agent, customer["id"])
    url = f"/v1/tickets/{ticket}/survey"

    # Any agent answering on their own account, a partner, marketing: refused.
    alone = await tickets.client.post(url, headers=agent.auth, json={"csat": 1})
    assert alone.status_code == 403
    assert problem_of(alone)["type"].endswith("/survey-is-the-customers")
    for intruder in (partner, marketing):
        body = {"csat": 1, "recorded_on_call": True}
        assert (await tickets.client.post(url, headers=intruder.auth, json=body)).status_code == 403
    assert await survey_row(tickets, ticket) is None

    # The agent records the customer's answer on a call: marked as such.
    recorded = await tickets.client.post(
        url, headers=agent.auth, json={"csat": 2, "recorded_on_call": True}
    )
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["recorded_on_call"] is True
    assert recorded.json()["answered_by"] == f"agent:{agent.id}"
    again = await tickets.client.post(
        url, headers=agent.auth, json={"csat": 3, "recorded_on_call": True}
    )
    assert again.status_code == 409

    # The customer's own answer is not blocked: it replaces the recorded one, once.
    own = await tickets.client.post(url, headers=me.auth, json={"csat": 5, "nps": 9})
    assert own.status_code == 201, own.text
    row = await survey_row(tickets, ticket)
    assert (row.csat, row.recorded_on_call, row.answered_by) == (5, False, f"customer:{me.id}")
    twice = await tickets.client.post(url, headers=me.auth, json={"csat": 1})
    assert twice.status_code == 409
    late = await tickets.client.post(
        url, headers=agent.auth, json={"csat": 1, "recorded_on_call": True}
    )
    assert late.status_code == 409
    assert (await survey_row(tickets, ticket)).csat == 5


async def test_questionnaire_responses_come_from_respondents_or_care_agents_only(
    identity: LiveService, tickets: LiveService, admin_token: str
) -> None:
    agent = await new_agent(identity, admin_token, ["agent"], ["15"])
    marketing = await new_agent(identity, admin_token, ["marketing"], ["15"])
    partner = await new_partner(identity, admin_token, ["tickets:read", "tickets:write"])
    bare = await new_partner(identity, admin_token, [])
    customer = await new_customer(identity, agent)
    me = await customer_login(identity, customer["phone"])
    code = f"sec-{uuid.uuid4().hex[:6]}"
    document = json.loads((DATA_DIR / "questionnaire-thesis.json").read_text(encoding="utf-8"))
    loaded = await tickets.client.post(
        "/v1/surveys/questionnaires",
        headers=bearer(admin_token),
        json={"code": code, "document": document},
    )
    assert loaded.status_code == 201, loaded.text
    url = f"/v1/surveys/questionnaires/{code}/responses"
    answers = {"answers": {"q10_recommander": "Oui"}}
    for intruder in (partner, bare, marketing):
        assert (
            await tickets.client.post(url, headers=intruder.auth, json=answers)
        ).status_code == 403
    by_customer = await tickets.client.post(url, headers=me.auth, json=answers)
    by_agent = await tickets.client.post(url, headers=agent.auth, json=answers)
    assert by_customer.status_code == by_agent.status_code == 201
    async with tickets.runtime.session_factory() as session:
        rows = {
            r.id: r
            for r in (
                await session.execute(
                    select(questionnaire_responses).where(
                        questionnaire_responses.c.questionnaire_code == code
                    )
                )
            ).all()
        }
    assert len(rows) == 2
    assert rows[by_customer.json()["id"]].customer_id == me.id
    assert rows[by_customer.json()["id"]].recorded_by is None
    assert rows[by_agent.json()["id"]].recorded_by == f"agent:{agent.id}"


async def test_a_ticket_for_a_customer_outside_the_agents_wilayas_is_as_for_an_unknown_one(
    identity: LiveService, tickets: LiveService, admin_token: str
) -> None:
    alger = await new_agent(identity, admin_token, ["agent"], ["16"])
    tizi = await new_agent(identity, admin_token, ["agent"], ["15"])
    customer = await new_customer(identity, alger, wilaya="16")
    await known_to_tickets(tickets, customer["id"])
    answers = []
    for customer_id in (customer["id"], str(uuid.uuid4())):
        answer = await tickets.client.post(
            "/v1/tickets",
            headers=tizi.auth,
            json={
                "customer_id": customer_id,
                "category": "technical",
                "channel": "call_centre",
                "subject": "Pas de tonalité",
            },
        )
        problem = problem_of(answer)
        answers.append((answer.status_code, problem["type"], problem["errors"]))
        assert "wilaya" not in answer.text
    assert answers[0] == answers[1]
    assert answers[0][0] == 422 and answers[0][1].endswith("/unknown-customer")
