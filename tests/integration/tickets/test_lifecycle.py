"""The lifecycle over HTTP: transitions with who/when/why, the paused clock, notes, lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sila_tickets import flows
from sila_tickets.domain.lifecycle import Status
from sila_tickets.domain.sla import TicketCategory
from tests.integration.tickets.conftest import MakeCustomer, open_ticket, outbox_events
from tests.support import LiveService, bearer, problem_of


async def move(
    tickets: LiveService,
    headers: dict[str, str],
    ticket_id: str,
    to: str,
    reason: str | None = None,
) -> dict[str, Any]:
    answer = await tickets.client.post(
        f"/v1/tickets/{ticket_id}/transitions", headers=headers, json={"to": to, "reason": reason}
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_an_illegal_transition_is_a_409_listing_the_allowed_ones(
    tickets: LiveService, admin_token: str, make_customer: MakeCustomer
) -> None:
    ticket = await open_ticket(tickets, bearer(admin_token), await make_customer())
    answer = await tickets.client.post(
        f"/v1/tickets/{ticket['id']}/transitions",
        headers=bearer(admin_token),
        json={"to": "closed"},
    )
    problem = problem_of(answer)
    assert answer.status_code == 409 and problem["type"].endswith("/illegal-transition")
    assert set(problem["allowed_transitions"]) == {
        "in_progress",
        "pending_customer",
        "held",
        "resolved",
        "rejected",
        "cancelled",
    }


async def test_each_transition_is_in_the_history_with_who_when_and_why(
    tickets: LiveService, admin_token: str, make_customer: MakeCustomer, agent_auth
) -> None:
    agent_id, agent = await agent_auth(["agent"], ["15"])
    ticket = await open_ticket(tickets, bearer(admin_token), await make_customer())
    await move(tickets, agent, ticket["id"], "in_progress")
    held = await move(tickets, agent, ticket["id"], "held", "En attente d'un technicien")
    assert [(h["from_status"], h["status"]) for h in held["history"]] == [
        (None, "acknowledged"),
        ("acknowledged", "in_progress"),
        ("in_progress", "held"),
    ]
    assert held["history"][-1]["reason"] == "En attente d'un technicien"
    assert held["history"][-1]["by"] == f"agent:{agent_id}"
    changes = await outbox_events(tickets, "tickets.ticket.status_changed", ticket["id"])
    assert [e["data"]["status"] for e in changes] == ["in_progress", "held"]
    assert changes[-1]["data"]["reason"] == "En attente d'un technicien"


async def test_rejecting_without_a_reason_is_refused(
    tickets: LiveService, admin_token: str, make_customer: MakeCustomer
) -> None:
    ticket = await open_ticket(tickets, bearer(admin_token), await make_customer())
    answer = await tickets.client.post(
        f"/v1/tickets/{ticket['id']}/transitions",
        headers=bearer(admin_token),
        json={"to": "rejected"},
    )
    assert answer.status_code == 422
    assert problem_of(answer)["type"].endswith("/reason-required")


async def test_the_clock_stops_while_waiting_on_the_customer_and_resumes_after(
    tickets: LiveService, make_customer: MakeCustomer
) -> None:
    runtime = tickets.runtime
    customer_id = await make_customer()
    agent = flows.Caller("agent", "clock-tester", wilayas=frozenset({"*"}))
    t0 = datetime(2026, 11, 1, 9, tzinfo=UTC)
    async with runtime.session_factory() as session, session.begin():
        row = await flows.open_ticket(
            session,
            runtime,
            flows.NewTicket(
                customer_id=customer_id,
                category=TicketCategory.TECHNICAL,
                channel="web",
                subject="Pas de connexion",
            ),
            agent,
            now=t0,
        )
    assert row["due_at"] == t0 + timedelta(hours=48)
    async with runtime.session_factory() as session, session.begin():
        paused = await flows.transition(
            session,
            runtime,
            await flows.load_ticket(session, row["id"], lock=True),
            Status.PENDING_CUSTOMER,
            reason="Merci de redémarrer le modem",
            caller=agent,
            now=t0 + timedelta(hours=2),
        )
    assert paused["due_at"] is None and paused["warn_at"] is None
    async with runtime.session_factory() as session, session.begin():
        resumed = await flows.transition(
            session,
            runtime,
            await flows.load_ticket(session, row["id"], lock=True),
            Status.IN_PROGRESS,
            reason=None,
            caller=agent,
            now=t0 + timedelta(hours=26),
        )
    # Twenty-four hours waiting on the customer push the 48-hour commitment by 24 hours.
    assert resumed["due_at"] == t0 + timedelta(hours=72)
    assert resumed["warn_at"] == t0 + timedelta(hours=36 + 24)
    [waiting, working] = await outbox_events(tickets, "tickets.ticket.status_changed", row["id"])
    assert waiting["data"]["public_status"] == "pending_customer"
    assert waiting["data"]["due_at"] is None
    assert datetime.fromisoformat(working["data"]["due_at"]) == t0 + timedelta(hours=72)


async def test_customers_see_only_public_notes_and_internal_notes_carry_no_text(
    tickets: LiveService, admin_token: str, make_customer: MakeCustomer, customer_auth
) -> None:
    customer_id = await make_customer()
    ticket = await open_ticket(tickets, bearer(admin_token), customer_id)
    for text, public in (("Un technicien passera demain", True), ("Client difficile", False)):
        answer = await tickets.client.post(
            f"/v1/tickets/{ticket['id']}/notes",
            headers=bearer(admin_token),
            json={"text": text, "public": public},
        )
        assert answer.status_code == 201
    mine = await customer_auth(customer_id)
    seen = await tickets.client.get(f"/v1/tickets/{ticket['id']}", headers=mine)
    assert [n["text"] for n in seen.json()["notes"]] == ["Un technicien passera demain"]
    staff = await tickets.client.get(f"/v1/tickets/{ticket['id']}", headers=bearer(admin_token))
    assert len(staff.json()["notes"]) == 2
    events = await outbox_events(tickets, "tickets.note.added", ticket["id"])
    assert [(e["data"]["public"], e["data"]["text"]) for e in events] == [
        (True, "Un technicien passera demain"),
        (False, None),
    ]
    internal = await tickets.client.post(
        f"/v1/tickets/{ticket['id']}/notes", headers=mine, json={"text": "secret", "public": False}
    )
    assert internal.status_code == 403


async def test_a_customer_answering_a_ticket_waiting_on_them_puts_it_back_in_progress(
    tickets: LiveService, admin_token: str, make_customer: MakeCustomer, customer_auth
) -> None:
    customer_id = await make_customer()
    ticket = await open_ticket(tickets, bearer(admin_token), customer_id)
    await move(tickets, bearer(admin_token), ticket["id"], "pending_customer")
    answer = await tickets.client.post(
        f"/v1/tickets/{ticket['id']}/notes",
        headers=await customer_auth(customer_id),
        json={"text": "J'ai redémarré, toujours rien"},
    )
    assert answer.status_code == 201
    seen = await tickets.client.get(f"/v1/tickets/{ticket['id']}", headers=bearer(admin_token))
    assert seen.json()["status"] == "in_progress"
    assert seen.json()["history"][-1]["reason"] == "The customer answered."
    assert seen.json()["due_at"] is not None


async def test_resolution_invites_to_the_survey_and_the_customer_may_reopen(
    tickets: LiveService, admin_token: str, make_customer: MakeCustomer, customer_auth
) -> None:
    customer_id = await make_customer()
    ticket = await open_ticket(tickets, bearer(admin_token), customer_id)
    await move(tickets, bearer(admin_token), ticket["id"], "resolved", "Modem remplacé")
    [resolved] = await outbox_events(tickets, "tickets.ticket.status_changed", ticket["id"])
    # The link the customer gets is the portal's survey page of the ticket, not the API.
    assert resolved["data"]["survey_url"] == (
        f"http://127.0.0.1:8000/espace-client/reclamations/{ticket['id']}/avis"
    )
    assert "/v1/" not in resolved["data"]["survey_url"]
    mine = await customer_auth(customer_id)
    reopened = await move(tickets, mine, ticket["id"], "in_progress", "Toujours en panne")
    assert reopened["status"] == "in_progress" and reopened["reopen_count"] == 1
    assert reopened["history"][-1]["by"] == "you"
    refused = await tickets.client.post(
        f"/v1/tickets/{ticket['id']}/transitions", headers=mine, json={"to": "resolved"}
    )
    assert refused.status_code == 409
    assert problem_of(refused)["allowed_transitions"] == ["cancelled"]


async def test_another_customers_ticket_does_not_exist_for_you(
    tickets: LiveService, admin_token: str, make_customer: MakeCustomer, customer_auth
) -> None:
    ticket = await open_ticket(tickets, bearer(admin_token), await make_customer())
    stranger = await customer_auth(await make_customer())
    assert (
        await tickets.client.get(f"/v1/tickets/{ticket['id']}", headers=stranger)
    ).status_code == 404
    moved = await tickets.client.post(
        f"/v1/tickets/{ticket['id']}/transitions",
        headers=stranger,
        json={"to": "cancelled", "reason": "x"},
    )
    assert moved.status_code == 404


async def test_agents_list_only_their_wilayas_filtered_and_paged(
    tickets: LiveService, admin_token: str, make_customer: MakeCustomer, agent_auth
) -> None:
    admin = bearer(admin_token)
    customer_15 = await make_customer(wilaya="15")
    ours = [await open_ticket(tickets, admin, customer_15) for _ in range(3)]
    theirs = await open_ticket(tickets, admin, await make_customer(wilaya="16"))
    _, agent_15 = await agent_auth(["agent"], ["15"])
    hidden = await tickets.client.get(f"/v1/tickets/{theirs['id']}", headers=agent_15)
    assert hidden.status_code == 404
    await move(tickets, admin, ours[0]["id"], "in_progress")
    in_progress = await tickets.client.get(
        "/v1/tickets",
        headers=agent_15,
        params={"customer_id": customer_15, "status": "in_progress"},
    )
    assert [t["id"] for t in in_progress.json()["items"]] == [ours[0]["id"]]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"customer_id": customer_15, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await tickets.client.get("/v1/tickets", headers=agent_15, params=params)).json()
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [t["id"] for t in reversed(ours)]
    outside = await tickets.client.get("/v1/tickets", headers=agent_15, params={"wilaya": "16"})
    assert outside.status_code == 403
    overdue = await tickets.client.get(
        "/v1/tickets", headers=agent_15, params={"customer_id": customer_15, "overdue": "true"}
    )
    assert overdue.json()["items"] == []


async def test_script_answers_are_checked_and_kept_on_the_ticket(
    tickets: LiveService, admin_token: str, make_customer: MakeCustomer
) -> None:
    ticket = await open_ticket(
        tickets,
        bearer(admin_token),
        await make_customer(),
        script_answers={"modem_restarted": True},
    )
    url = f"/v1/tickets/{ticket['id']}/script-answers"
    state = await tickets.client.put(
        url, headers=bearer(admin_token), json={"answers": {"modem_lights": "power seul"}}
    )
    assert state.status_code == 200, state.text
    assert state.json()["answers"] == {"modem_restarted": True, "modem_lights": "power seul"}
    assert set(state.json()["missing"]) == {"subscription_active", "since"}
    wrong = await tickets.client.put(
        url, headers=bearer(admin_token), json={"answers": {"modem_lights": "violet"}}
    )
    assert wrong.status_code == 422
    seen = await tickets.client.get(f"/v1/tickets/{ticket['id']}", headers=bearer(admin_token))
    assert seen.json()["script_answers"]["modem_lights"] == "power seul"


async def test_a_number_json_cannot_store_is_a_422_not_a_500(
    tickets: LiveService, admin_token: str, make_customer: MakeCustomer
) -> None:
    """NaN, Infinity and 1e400 (Python's JSON reads them; PostgreSQL's jsonb refuses them):
    in a script answer or a questionnaire's document they were a 500 from the database."""
    admin = bearer(admin_token) | {"content-type": "application/json"}
    ticket = await open_ticket(
        tickets,
        bearer(admin_token),
        await make_customer(),
        category="administrative",
        subcategory="billing_dispute",
    )
    url = f"/v1/tickets/{ticket['id']}/script-answers"
    for number in ("NaN", "Infinity", "-Infinity", "1e400", "-1E+999"):
        answer = await tickets.client.put(
            url,
            headers=admin,
            content=f'{{"answers": {{"disputed_amount_dzd": {number}}}}}'.encode(),
        )
        assert answer.status_code == 422, (number, answer.text)
        assert problem_of(answer)["errors"][0]["field"] == "body"
    written = await tickets.client.put(
        url, headers=admin, json={"answers": {"disputed_amount_dzd": 1500, "invoice_number": "NaN"}}
    )
    assert written.status_code == 200, written.text
    seen = await tickets.client.get(f"/v1/tickets/{ticket['id']}", headers=admin)
    assert seen.json()["script_answers"] == {"disputed_amount_dzd": 1500, "invoice_number": "NaN"}
    questionnaire = await tickets.client.post(
        "/v1/surveys/questionnaires",
        headers=admin,
        content=b'{"code": "nan-doc", "document": {"questions": [], "weight": NaN}}',
    )
    assert questionnaire.status_code == 422, questionnaire.text
    problem_of(questionnaire)


async def test_a_number_answer_is_a_quantity_not_a_negative_or_astronomical_one(
    tickets: LiveService, admin_token: str, make_customer: MakeCustomer
) -> None:
    """The script's numbers are amounts, speeds and counts: -5 DZD disputed or 1e308 Mbit/s
    measured are typing accidents, refused with the answer named, as a text too long is."""
    admin = bearer(admin_token)
    ticket = await open_ticket(
        tickets, admin, await make_customer(), category="technical", subcategory="slow_line"
    )
    url = f"/v1/tickets/{ticket['id']}/script-answers"
    kept = await tickets.client.put(url, headers=admin, json={"answers": {"measured_mbps": 2.5}})
    assert kept.status_code == 200, kept.text
    for number in (-5, -0.1, 1e308, 10**26):
        answer = await tickets.client.put(
            url, headers=admin, json={"answers": {"measured_mbps": number}}
        )
        assert answer.status_code == 422, (number, answer.text)
        assert problem_of(answer)["errors"][0]["field"] == "answers.measured_mbps"
    seen = await tickets.client.get(f"/v1/tickets/{ticket['id']}", headers=admin)
    assert seen.json()["script_answers"] == {"measured_mbps": 2.5}
