"""Opening tickets against the reference data: customers, subcategories, policies, calendar."""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import insert, text

from sila_tickets.domain.catalogue import SUBCATEGORIES
from sila_tickets.flows import next_number
from sila_tickets.tables import ticket_counters
from tests.integration.tickets.conftest import MakeCustomer, open_ticket, outbox_events
from tests.support import LiveService, bearer, problem_of


async def test_a_fault_ticket_gets_a_number_a_queue_a_due_date_and_an_opened_event(
    tickets: LiveService, admin_token: str, make_customer: MakeCustomer
) -> None:
    customer_id = await make_customer(wilaya="15")
    ticket = await open_ticket(tickets, bearer(admin_token), customer_id)
    assert ticket["number"].startswith("TT-") and ticket["queue"] == "technical"
    assert ticket["status"] == "acknowledged" and ticket["public_status"] == "opened"
    opened = datetime.fromisoformat(ticket["opened_at"])
    # Normal-priority fault: 48 calendar hours, from the policy table.
    assert datetime.fromisoformat(ticket["due_at"]) - opened == timedelta(hours=48)
    [event] = await outbox_events(tickets, "tickets.ticket.opened", ticket["id"])
    assert event["customerid"] == customer_id
    assert event["data"]["number"] == ticket["number"]
    assert event["data"]["due_at"] is not None and event["data"]["incident_id"] is None


async def test_an_unknown_customer_is_a_clear_problem(
    tickets: LiveService, admin_token: str
) -> None:
    answer = await tickets.client.post(
        "/v1/tickets",
        headers=bearer(admin_token),
        json={
            "customer_id": "nobody",
            "category": "technical",
            "channel": "web",
            "subject": "Pas de connexion",
        },
    )
    assert answer.status_code == 422
    assert problem_of(answer)["type"].endswith("/unknown-customer")


async def test_a_subcategory_of_another_category_is_refused_with_the_valid_ones(
    tickets: LiveService, admin_token: str, make_customer: MakeCustomer
) -> None:
    customer_id = await make_customer()
    answer = await tickets.client.post(
        "/v1/tickets",
        headers=bearer(admin_token),
        json={
            "customer_id": customer_id,
            "category": "administrative",
            "subcategory": "slow_line",
            "channel": "web",
            "subject": "Facture",
        },
    )
    problem = problem_of(answer)
    assert answer.status_code == 422 and problem["type"].endswith("/unknown-subcategory")
    assert "billing_dispute" in problem["errors"][0]["message"]


async def test_the_same_idempotency_key_gives_the_same_ticket_and_another_body_a_409(
    tickets: LiveService, admin_token: str, make_customer: MakeCustomer
) -> None:
    customer_id = await make_customer()
    headers = {**bearer(admin_token), "Idempotency-Key": f"key-{customer_id}"}
    body = {
        "customer_id": customer_id,
        "category": "commercial",
        "subcategory": "subscription_request",
        "channel": "agency",
        "subject": "Abonnement fibre",
    }
    first = await tickets.client.post("/v1/tickets", headers=headers, json=body)
    again = await tickets.client.post("/v1/tickets", headers=headers, json=body)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    other = await tickets.client.post(
        "/v1/tickets", headers=headers, json={**body, "subject": "Autre chose"}
    )
    assert other.status_code == 409
    listed = await tickets.client.get(
        "/v1/tickets", headers=bearer(admin_token), params={"customer_id": customer_id}
    )
    assert len(listed.json()["items"]) == 1


async def test_a_policy_added_by_an_administrator_sets_the_due_date_of_new_tickets(
    tickets: LiveService, admin_token: str, make_customer: MakeCustomer
) -> None:
    policy = {
        "category": "technical",
        "subcategory": "line_cut",
        "priority": "critical",
        "first_response": {"amount": 1, "kind": "calendar_hours"},
        "resolution": {"amount": 12, "kind": "calendar_hours"},
    }
    put = await tickets.client.put(
        "/v1/tickets/admin/sla-policies", headers=bearer(admin_token), json=policy
    )
    assert put.status_code == 200, put.text
    customer_id = await make_customer()
    ticket = await open_ticket(
        tickets, bearer(admin_token), customer_id, subcategory="line_cut", priority="critical"
    )
    opened = datetime.fromisoformat(ticket["opened_at"])
    assert datetime.fromisoformat(ticket["due_at"]) - opened == timedelta(hours=12)
    gone = await tickets.client.delete(
        "/v1/tickets/admin/sla-policies/technical/line_cut/critical", headers=bearer(admin_token)
    )
    assert gone.status_code == 204
    category_wide = await tickets.client.delete(
        "/v1/tickets/admin/sla-policies/technical/*/*", headers=bearer(admin_token)
    )
    assert category_wide.status_code == 422


async def test_moving_an_estimated_eid_moves_the_due_dates_that_cross_it(
    tickets: LiveService, admin_token: str
) -> None:
    auth = bearer(admin_token)
    calendar = await tickets.client.get(
        "/v1/tickets/admin/calendar", headers=auth, params={"year": 2027}
    )
    eid = [h for h in calendar.json()["holidays"] if h["name"] == "Eid al-Fitr"]
    assert [h["day"] for h in eid] == ["2027-03-09", "2027-03-10", "2027-03-11"]
    assert all(h["estimated"] for h in eid)
    preview = {"category": "administrative", "opened_at": "2027-03-08T10:00:00+01:00"}
    before = await tickets.client.get(
        "/v1/tickets/admin/sla-policies/preview", headers=auth, params=preview
    )
    # Seven working days around the three-day Eid and the weekend: Monday 22 March.
    assert before.json()["due_at"] == "2027-03-22T16:30:00+01:00"

    moved = await tickets.client.post(
        "/v1/tickets/admin/calendar/overrides",
        headers=auth,
        json={
            "action": "move",
            "day": "2027-03-09",
            "to_day": "2027-03-12",
            "name": "Eid al-Fitr",
            "reason": "Moon sighting announced by the ministry",
        },
    )
    assert moved.status_code == 201, moved.text
    confirmed = await tickets.client.post(
        "/v1/tickets/admin/calendar/overrides",
        headers=auth,
        json={
            "action": "confirm",
            "day": "2027-03-10",
            "name": "Eid al-Fitr",
            "reason": "Official",
        },
    )
    days = {h["day"]: h for h in confirmed.json()["holidays"] if h["name"] == "Eid al-Fitr"}
    assert set(days) == {"2027-03-10", "2027-03-11", "2027-03-12"}
    assert days["2027-03-10"]["estimated"] is False
    assert [o["action"] for o in confirmed.json()["overrides"]] == ["remove", "add", "add"]
    after = await tickets.client.get(
        "/v1/tickets/admin/sla-policies/preview", headers=auth, params=preview
    )
    assert after.json()["due_at"] == "2027-03-21T16:30:00+01:00"


async def test_only_an_administrator_changes_the_calendar(tickets: LiveService, agent_auth) -> None:
    _, headers = await agent_auth(["agent", "supervisor"], ["15"])
    answer = await tickets.client.post(
        "/v1/tickets/admin/calendar/overrides",
        headers=headers,
        json={"action": "add", "day": "2027-06-01", "name": "Jour exceptionnel", "reason": "x y z"},
    )
    assert answer.status_code == 403


async def test_an_override_naming_no_holiday_of_that_day_is_refused(
    tickets: LiveService, admin_token: str
) -> None:
    answer = await tickets.client.post(
        "/v1/tickets/admin/calendar/overrides",
        headers=bearer(admin_token),
        json={"action": "confirm", "day": "2027-04-01", "name": "Eid al-Fitr", "reason": "typo"},
    )
    assert answer.status_code == 422
    assert problem_of(answer)["type"].endswith("/no-such-holiday")


async def test_agents_read_the_subcategories_with_their_scripts(
    tickets: LiveService, admin_token: str
) -> None:
    answer = await tickets.client.get(
        "/v1/tickets/reference/subcategories",
        headers=bearer(admin_token),
        params={"category": "technical"},
    )
    codes = {s["code"]: s for s in answer.json()}
    assert {"no_connection", "slow_line", "line_cut"} <= set(codes)
    assert any(q["key"] == "modem_restarted" for q in codes["no_connection"]["script"])


async def test_every_subcategory_reads_in_arabic_right_to_left_for_customers_and_agents(
    tickets: LiveService,
    admin_token: str,
    make_customer: MakeCustomer,
    customer_auth: Callable[[str], Awaitable[dict[str, str]]],
) -> None:
    customer = await customer_auth(await make_customer())
    for headers in (bearer(admin_token), customer):
        answer = await tickets.client.get("/v1/tickets/reference/subcategories", headers=headers)
        assert answer.status_code == 200, answer.text
        listed = {s["code"]: s for s in answer.json()}
        assert set(listed) == {sub.code for sub in SUBCATEGORIES}
        for sub in SUBCATEGORIES:
            label = listed[sub.code]["label_ar"]
            assert label == sub.label_ar and label not in (sub.label_fr, sub.label_en)
            # Arabic script, read right to left: its first strongly directed letter is Arabic.
            strong = next(c for c in label if unicodedata.bidirectional(c) in ("L", "R", "AL"))
            assert unicodedata.bidirectional(strong) == "AL", (sub.code, label)
    assert listed["billing_dispute"]["label_ar"] == "الاعتراض على فاتورة"


async def test_tickets_opened_at_once_get_distinct_numbers_from_the_years_sequence(
    tickets: LiveService, admin_token: str, make_customer: MakeCustomer
) -> None:
    customers = [await make_customer() for _ in range(8)]
    opened = await asyncio.gather(
        *(open_ticket(tickets, bearer(admin_token), customer) for customer in customers)
    )
    numbers = [ticket["number"] for ticket in opened]
    assert len(set(numbers)) == len(numbers)
    year = datetime.fromisoformat(opened[0]["opened_at"]).year
    assert all(number.startswith(f"TT-{year}-") for number in numbers)
    async with tickets.runtime.engine.connect() as conn:
        exists = await conn.scalar(
            text("SELECT to_regclass(:name)"), {"name": f"ticket_numbers_{year}"}
        )
    assert exists is not None


async def test_a_years_sequence_starts_after_the_numbers_its_counter_row_gave(
    tickets: LiveService,
) -> None:
    # A database numbered by the counter row before sequences: the year 2090's row at 41.
    async with tickets.runtime.session_factory() as session, session.begin():
        await session.execute(insert(ticket_counters).values(year=2090, last_value=41))
    async with tickets.runtime.session_factory() as session, session.begin():
        first = await next_number(session, 2090, tickets.runtime)
        second = await next_number(session, 2090, tickets.runtime)
    assert (first, second) == ("TT-2090-000042", "TT-2090-000043")


async def test_a_years_sequence_created_by_an_opening_that_rolled_back_is_created_again(
    tickets: LiveService,
) -> None:
    # The sequence is created in the opening's own transaction (no second connection).
    async with tickets.runtime.session_factory() as session, session.begin():
        assert await next_number(session, 2091, tickets.runtime) == "TT-2091-000001"
        await session.rollback()
    async with tickets.runtime.session_factory() as session, session.begin():
        first = await next_number(session, 2091, tickets.runtime)
    async with tickets.runtime.session_factory() as session, session.begin():
        second = await next_number(session, 2091, tickets.runtime)
    assert (first, second) == ("TT-2091-000001", "TT-2091-000002")
