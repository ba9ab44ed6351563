"""Agencies and their business hours: the admin endpoint, and tickets timed on them."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from sila_tickets.domain.calendar import ALGIERS
from tests.integration.tickets.conftest import MakeCustomer, mint, open_ticket
from tests.support import LiveService, bearer, problem_of

AGENCIES = "/v1/tickets/admin/agencies"
AgentAuth = Callable[..., Awaitable[tuple[str, dict[str, str]]]]
CustomerAuth = Callable[[str], Awaitable[dict[str, str]]]
FRIDAY, SATURDAY = 4, 5
SUNDAY_TO_THURSDAY = ("sunday", "monday", "tuesday", "wednesday", "thursday")


def new_code() -> str:
    return f"T-{uuid.uuid4().hex[:8].upper()}"


def agency_body(code: str, **fields: Any) -> dict[str, Any]:
    return {
        "code": code,
        "name": f"ACTEL test {code}",
        "wilaya_code": "15",
        "commune": "Tizi Ouzou",
        **fields,
    }


def window(opens: str, closes: str) -> dict[str, str]:
    return {"opens": opens, "closes": closes}


async def put_agency(tickets: LiveService, headers: dict[str, str], body: dict[str, Any]) -> Any:
    answer = await tickets.client.put(AGENCIES, headers=headers, json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def local_weekday(instant: str) -> int:
    return datetime.fromisoformat(instant).astimezone(ALGIERS).weekday()


async def test_the_migration_seeds_actel_agencies_on_the_standard_hours(
    tickets: LiveService, agent_auth: AgentAuth
) -> None:
    _, headers = await agent_auth()
    answer = await tickets.client.get(AGENCIES, headers=headers, params={"wilaya": "16"})
    assert answer.status_code == 200, answer.text
    by_code = {agency["code"]: agency for agency in answer.json()}
    assert {"16-ALGER-CENTRE", "16-BAB-EZZOUAR"} <= set(by_code)
    alger = by_code["16-ALGER-CENTRE"]
    assert alger["active"] and alger["hour_overrides"] == []
    assert alger["hours"] == {day: window("08:00", "16:30") for day in SUNDAY_TO_THURSDAY}
    tizi = await tickets.client.get(f"{AGENCIES}/15-TIZI-OUZOU", headers=headers)
    assert tizi.json()["name"] == "ACTEL Tizi Ouzou"


async def test_customers_may_not_read_agencies_and_plain_agents_may_not_change_them(
    tickets: LiveService,
    agent_auth: AgentAuth,
    customer_auth: CustomerAuth,
    make_customer: MakeCustomer,
) -> None:
    customer = await customer_auth(await make_customer())
    _, agent = await agent_auth(["agent"], ["15"])
    body = agency_body(new_code())
    assert (await tickets.client.get(AGENCIES, headers=customer)).status_code == 403
    assert (await tickets.client.put(AGENCIES, headers=customer, json=body)).status_code == 403
    refused = await tickets.client.put(AGENCIES, headers=agent, json=body)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    missing = await tickets.client.get(f"{AGENCIES}/{body['code']}", headers=agent)
    assert missing.status_code == 404


async def test_a_supervisor_changes_only_the_agencies_of_their_wilayas(
    tickets: LiveService, agent_auth: AgentAuth
) -> None:
    _, supervisor_16 = await agent_auth(["supervisor"], ["16"])
    _, supervisor_15 = await agent_auth(["supervisor"], ["15"])
    code = new_code()
    elsewhere = await tickets.client.put(AGENCIES, headers=supervisor_16, json=agency_body(code))
    assert elsewhere.status_code == 403
    created = await put_agency(tickets, supervisor_15, agency_body(code))
    assert created["updated_by"].startswith("agent:")
    # Moving it to wilaya 16 needs a scope over both.
    moved = await tickets.client.put(
        AGENCIES, headers=supervisor_16, json=agency_body(code, wilaya_code="16")
    )
    assert moved.status_code == 403


async def test_invalid_hours_are_a_problem_naming_each_field_at_fault(
    tickets: LiveService, admin_token: str
) -> None:
    body = agency_body(
        "lower-case",
        wilaya_code="00",
        hours={
            "sunday": window("16:00", "08:00"),
            "sundy": window("08:00", "16:00"),
            "monday": window("08:00+01:00", "16:00"),
        },
        hour_overrides=[
            {
                "label": "Ramadan 2026",
                "first_day": "2026-02-18",
                "last_day": "2026-03-19",
                "hours": {"sunday": window("09:00", "15:00")},
            },
            {
                "label": "Overlap",
                "first_day": "2026-03-19",
                "last_day": "2026-03-25",
                "hours": {"sunday": window("09:00", "15:00")},
            },
        ],
    )
    answer = await tickets.client.put(AGENCIES, headers=bearer(admin_token), json=body)
    assert answer.status_code == 422
    problem = problem_of(answer)
    fields = {error["field"] for error in problem["errors"]}
    assert "body.code" in fields
    assert "body.wilaya_code" in fields
    assert "body.hours.sunday" in fields  # closes before it opens
    assert any(f.startswith("body.hours.sundy") for f in fields)  # not a weekday
    assert "body.hours.monday.opens" in fields  # a local time carries no offset
    assert "body.hour_overrides" in fields  # the periods overlap
    closing = next(e for e in problem["errors"] if e["field"] == "body.hours.sunday")
    assert "after opens" in closing["message"]


async def test_an_agency_must_open_some_day_and_a_period_must_not_end_before_it_starts(
    tickets: LiveService, admin_token: str
) -> None:
    body = agency_body(
        new_code(),
        hours={"friday": None},
        hour_overrides=[
            {
                "label": "Backwards",
                "first_day": "2026-03-19",
                "last_day": "2026-02-18",
                "hours": {"sunday": window("09:00", "15:00")},
            }
        ],
    )
    answer = await tickets.client.put(AGENCIES, headers=bearer(admin_token), json=body)
    assert answer.status_code == 422
    fields = {error["field"] for error in problem_of(answer)["errors"]}
    assert {"body.hours", "body.hour_overrides.0"} <= fields


async def test_the_preview_times_a_first_response_on_the_agency_hours_and_its_ramadan_hours(
    tickets: LiveService, admin_token: str
) -> None:
    code = new_code()
    ramadan = {
        "label": "Ramadan 2026",
        "first_day": "2026-02-18",
        "last_day": "2026-03-19",
        "hours": {day: window("09:00", "15:00") for day in SUNDAY_TO_THURSDAY},
    }
    hours = {day: window("08:00", "16:00") for day in SUNDAY_TO_THURSDAY}
    saved = await put_agency(
        tickets, bearer(admin_token), agency_body(code, hours=hours, hour_overrides=[ramadan])
    )
    assert saved["hour_overrides"] == [ramadan]

    async def first_response_due(opened_at: str, agency: str | None) -> str:
        params = {"category": "technical", "opened_at": opened_at}
        if agency:
            params["agency_code"] = agency
        answer = await tickets.client.get(
            "/v1/tickets/admin/sla-policies/preview", headers=bearer(admin_token), params=params
        )
        assert answer.status_code == 200, answer.text
        due: str = answer.json()["first_response_due_at"]
        return due

    # Thursday 15:30, four working hours: 30 min before 16:00, then Sunday 08:00 + 3 h 30.
    thursday = "2026-02-05T15:30:00+01:00"
    assert await first_response_due(thursday, code) == "2026-02-08T11:30:00+01:00"
    assert await first_response_due(thursday, None) == "2026-02-08T11:00:00+01:00"
    # In Ramadan: one hour to 15:00 on Wednesday, then Thursday 09:00 + 3 h.
    in_ramadan = "2026-02-25T14:00:00+01:00"
    assert await first_response_due(in_ramadan, code) == "2026-02-26T12:00:00+01:00"
    unknown = await tickets.client.get(
        "/v1/tickets/admin/sla-policies/preview",
        headers=bearer(admin_token),
        params={"category": "technical", "agency_code": "NO-SUCH-AGENCY"},
    )
    assert unknown.status_code == 422


async def test_a_ticket_handled_by_an_agency_is_timed_on_its_hours_also_after_a_pause(
    tickets: LiveService, admin_token: str, make_customer: MakeCustomer
) -> None:
    # An agency working only on the weekend: every working-time due date lands on it.
    code = new_code()
    weekend = {"friday": window("08:00", "16:30"), "saturday": window("08:00", "12:00")}
    await put_agency(tickets, bearer(admin_token), agency_body(code, hours=weekend))
    customer_id = await make_customer()

    fault = await open_ticket(tickets, bearer(admin_token), customer_id, agency_code=code)
    assert fault["agency_code"] == code
    assert local_weekday(fault["first_response_due_at"]) in (FRIDAY, SATURDAY)
    standard = await open_ticket(tickets, bearer(admin_token), customer_id)
    assert standard["agency_code"] is None
    assert local_weekday(standard["first_response_due_at"]) not in (FRIDAY, SATURDAY)

    dispute = await open_ticket(
        tickets,
        bearer(admin_token),
        customer_id,
        category="administrative",
        subcategory="billing_dispute",
        agency_code=code,
    )
    assert local_weekday(dispute["due_at"]) in (FRIDAY, SATURDAY)
    path = f"/v1/tickets/{dispute['id']}/transitions"
    for target in ("pending_customer", "in_progress"):
        moved = await tickets.client.post(
            path, headers=bearer(admin_token), json={"to": target, "reason": "test"}
        )
        assert moved.status_code == 200, moved.text
    resumed = (
        await tickets.client.get(f"/v1/tickets/{dispute['id']}", headers=bearer(admin_token))
    ).json()
    assert resumed["due_at"] is not None
    assert local_weekday(resumed["due_at"]) in (FRIDAY, SATURDAY)


async def test_an_agent_opening_a_ticket_hands_it_to_the_agency_their_token_names(
    tickets: LiveService, identity: LiveService, make_customer: MakeCustomer
) -> None:
    async def agent_of(agency: str) -> dict[str, str]:
        token = await mint(
            identity,
            subject=str(uuid.uuid4()),
            kind="agent",
            roles=["agent"],
            extra={"wilayas": ["15"], "agency": agency},
        )
        return bearer(token)

    customer_id = await make_customer(wilaya="15")
    by_name = await open_ticket(tickets, await agent_of("ACTEL Azazga"), customer_id)
    assert by_name["agency_code"] == "15-AZAZGA"
    unknown = await open_ticket(tickets, await agent_of("Guichet inconnu"), customer_id)
    assert unknown["agency_code"] is None
    chosen = await open_ticket(
        tickets, await agent_of("ACTEL Azazga"), customer_id, agency_code="15-TIZI-OUZOU"
    )
    assert chosen["agency_code"] == "15-TIZI-OUZOU"

    # The opened event names the agency too (notify and reports read it from there).
    outbox = tickets.runtime.outbox.table
    async with tickets.runtime.session_factory() as session:
        opened = {
            envelope["subject"]: envelope["data"]["agency_code"]
            for envelope in await session.scalars(
                select(outbox.c.envelope).where(
                    outbox.c.message_key == customer_id,
                    outbox.c.event_type == "tickets.ticket.opened",
                )
            )
        }
    assert opened == {
        by_name["id"]: "15-AZAZGA",
        unknown["id"]: None,
        chosen["id"]: "15-TIZI-OUZOU",
    }


async def test_only_agents_name_an_agency_and_only_an_active_one(
    tickets: LiveService,
    admin_token: str,
    customer_auth: CustomerAuth,
    make_customer: MakeCustomer,
) -> None:
    customer_id = await make_customer()
    body = {
        "customer_id": customer_id,
        "category": "technical",
        "channel": "app",
        "subject": "Pas de connexion",
        "agency_code": "15-TIZI-OUZOU",
    }
    by_customer = await tickets.client.post(
        "/v1/tickets", headers=await customer_auth(customer_id), json=body
    )
    assert by_customer.status_code == 403
    code = new_code()
    await put_agency(tickets, bearer(admin_token), agency_body(code, active=False))
    closed = await tickets.client.post(
        "/v1/tickets", headers=bearer(admin_token), json={**body, "agency_code": code}
    )
    assert closed.status_code == 422
    problem = problem_of(closed)
    assert problem["type"].endswith("/unknown-agency")
    assert problem["errors"][0]["field"] == "body.agency_code"
