"""Queues and assignment; the escalation scheduler with several instances and after downtime."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from sila_common.runtime import open_runtime
from sila_common.service import Runtime
from sila_common.settings import PlatformSettings, ServiceSettings
from sila_tickets import flows
from sila_tickets.domain.lifecycle import Status
from sila_tickets.domain.sla import TicketCategory, TicketPriority
from sila_tickets.flows.escalation import run_escalation_pass
from sila_tickets.service import definition
from sila_tickets.settings import TicketsSettings
from sila_tickets.tables import known_customers, messaging, queue_agents
from sila_tickets.tables import tickets as tickets_table
from tests.integration.tickets.conftest import MakeCustomer, open_ticket, outbox_events
from tests.support import LiveService, bearer, problem_of


async def two_technical_agents(
    tickets: LiveService, admin: dict[str, str], *, wilaya: str
) -> tuple[str, str]:
    """Two new agents made members of the technical queue for the wilaya, through the API."""
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    for agent in (first, second):
        answer = await tickets.client.put(
            f"/v1/tickets/queues/technical/agents/{agent}", headers=admin, params={"wilaya": wilaya}
        )
        assert answer.status_code == 204
    return first, second


async def test_round_robin_shares_a_wilayas_tickets_between_the_queue_agents(
    tickets: LiveService, admin_token: str, make_customer: MakeCustomer
) -> None:
    admin = bearer(admin_token)
    first, second = await two_technical_agents(tickets, admin, wilaya="47")
    customer_id = await make_customer(wilaya="47")
    opened = [await open_ticket(tickets, admin, customer_id) for _ in range(4)]
    assignees = [t["assignee_id"] for t in opened]
    assert set(assignees) == {first, second}
    assert assignees[0] != assignees[1] and assignees[:2] == assignees[2:]
    [event] = await outbox_events(tickets, "tickets.ticket.assigned", opened[0]["id"])
    assert event["data"]["automatic"] is True and event["data"]["queue"] == "technical"


async def test_least_loaded_gives_the_ticket_to_the_agent_with_fewest_open_ones(
    tickets: LiveService, admin_token: str, make_customer: MakeCustomer
) -> None:
    admin = bearer(admin_token)
    busy, free = str(uuid.uuid4()), str(uuid.uuid4())
    customer_id = await make_customer(wilaya="48")
    await tickets.client.put(
        f"/v1/tickets/queues/commercial/agents/{busy}", headers=admin, params={"wilaya": "48"}
    )
    body = {"category": "commercial", "subcategory": "offer_change"}
    loaded = [await open_ticket(tickets, admin, customer_id, **body) for _ in range(2)]
    assert {t["assignee_id"] for t in loaded} == {busy}
    await tickets.client.put(
        f"/v1/tickets/queues/commercial/agents/{free}", headers=admin, params={"wilaya": "48"}
    )
    strategy = await tickets.client.put(
        "/v1/tickets/queues/commercial", headers=admin, json={"strategy": "least_loaded"}
    )
    assert strategy.status_code == 200
    try:
        picks = [
            (await open_ticket(tickets, admin, customer_id, **body))["assignee_id"]
            for _ in range(2)
        ]
    finally:
        await tickets.client.put(
            "/v1/tickets/queues/commercial", headers=admin, json={"strategy": "round_robin"}
        )
    assert picks == [free, free]


async def test_a_supervisor_assigns_only_to_an_agent_of_the_queue(
    tickets: LiveService, admin_token: str, make_customer: MakeCustomer, agent_auth
) -> None:
    admin = bearer(admin_token)
    member = str(uuid.uuid4())
    await tickets.client.put(
        f"/v1/tickets/queues/billing/agents/{member}", headers=admin, params={"wilaya": "49"}
    )
    ticket = await open_ticket(
        tickets,
        admin,
        await make_customer(wilaya="49"),
        category="administrative",
        subcategory="billing_dispute",
    )
    url = f"/v1/tickets/{ticket['id']}/assignment"
    stranger = await tickets.client.post(url, headers=admin, json={"assignee_id": "someone"})
    assert stranger.status_code == 422
    assert problem_of(stranger)["type"].endswith("/not-a-queue-agent")
    given = await tickets.client.post(url, headers=admin, json={"assignee_id": member})
    assert given.status_code == 200 and given.json()["assignee_id"] == member
    _, plain_agent = await agent_auth(["agent"], ["49"])
    refused = await tickets.client.post(url, headers=plain_agent, json={"assignee_id": member})
    assert refused.status_code == 403


async def test_a_supervisor_manages_members_only_in_their_wilayas(
    tickets: LiveService, agent_auth
) -> None:
    _, supervisor = await agent_auth(["agent", "supervisor"], ["15"])
    ok = await tickets.client.put(
        "/v1/tickets/queues/technical/agents/someone", headers=supervisor, params={"wilaya": "15"}
    )
    assert ok.status_code == 204
    elsewhere = await tickets.client.put(
        "/v1/tickets/queues/technical/agents/someone", headers=supervisor, params={"wilaya": "16"}
    )
    assert elsewhere.status_code == 403
    removed = await tickets.client.delete(
        "/v1/tickets/queues/technical/agents/someone", headers=supervisor, params={"wilaya": "15"}
    )
    assert removed.status_code == 204


# --- the scheduler, on a database of its own --------------------------------------------------

T0 = datetime(2026, 11, 1, 9, tzinfo=UTC)
AGENT = flows.Caller("agent", "scheduler-test", wilayas=frozenset({"*"}))


@pytest.fixture
async def lone_tickets(
    scratch_database: Callable[[str], object],
    platform: PlatformSettings,
    settings_for: Callable[..., ServiceSettings],
) -> AsyncIterator[Runtime[Any]]:
    url = await scratch_database("tickets")  # type: ignore[misc]
    settings = settings_for("tickets", database_url=url)
    assert isinstance(settings, TicketsSettings)
    async with open_runtime(definition, platform=platform, settings=settings) as runtime:
        yield runtime


async def open_fault(runtime: Runtime[Any], customer_id: str, *, at: datetime) -> str:
    async with runtime.session_factory() as session, session.begin():
        row = await flows.open_ticket(
            session,
            runtime,
            flows.NewTicket(
                customer_id=customer_id,
                category=TicketCategory.TECHNICAL,
                channel="web",
                subject="Coupure",
                priority=TicketPriority.CRITICAL,
            ),
            AGENT,
            now=at,
        )
    return str(row["id"])


async def escalations(runtime: Runtime[Any]) -> list[tuple[str, str]]:
    outbox = messaging.outbox
    async with runtime.session_factory() as session:
        rows = await session.execute(
            select(outbox.c.envelope).where(outbox.c.event_type == "tickets.ticket.escalated")
        )
        return sorted((e["subject"], e["data"]["level"]) for (e,) in rows)


async def add_lone_customer(runtime: Runtime[Any]) -> str:
    customer_id = str(uuid.uuid4())
    async with runtime.session_factory() as session, session.begin():
        await session.execute(
            insert(known_customers).values(
                customer_id=customer_id,
                wilaya_code="15",
                language="fr",
                status="active",
                updated_at=T0,
            )
        )
    return customer_id


async def test_concurrent_passes_warn_the_supervisor_once_per_ticket(
    lone_tickets: Runtime[Any],
) -> None:
    customer_id = await add_lone_customer(lone_tickets)
    ids = [await open_fault(lone_tickets, customer_id, at=T0) for _ in range(30)]
    # Critical faults: 24 hours, so the warning is due at 18 hours.
    await run_escalation_pass(lone_tickets, T0 + timedelta(hours=17))
    assert await escalations(lone_tickets) == []
    results = await asyncio.gather(
        *(
            run_escalation_pass(lone_tickets, T0 + timedelta(hours=19), batch_size=7)
            for _ in range(4)
        )
    )
    assert sum(r.warned for r in results) == 30
    assert await escalations(lone_tickets) == sorted((i, "warning") for i in ids)


async def test_a_pass_after_downtime_catches_up_breaches_and_closes_old_resolutions(
    lone_tickets: Runtime[Any],
) -> None:
    customer_id = await add_lone_customer(lone_tickets)
    late = [await open_fault(lone_tickets, customer_id, at=T0) for _ in range(5)]
    done = await open_fault(lone_tickets, customer_id, at=T0)
    async with lone_tickets.session_factory() as session, session.begin():
        row = await flows.load_ticket(session, done, lock=True)
        await flows.transition(
            session,
            lone_tickets,
            row,
            Status.RESOLVED,
            reason="ok",
            caller=AGENT,
            now=T0 + timedelta(hours=1),
        )
    after_downtime = T0 + timedelta(days=10)
    first, second = await asyncio.gather(
        run_escalation_pass(lone_tickets, after_downtime, batch_size=2),
        run_escalation_pass(lone_tickets, after_downtime, batch_size=2),
    )
    assert first.breached + second.breached == 5
    assert first.warned + second.warned == 0
    assert first.closed + second.closed == 1
    assert await escalations(lone_tickets) == sorted((i, "breached") for i in late)
    async with lone_tickets.session_factory() as session:
        flags = (
            await session.execute(
                select(tickets_table.c.id, tickets_table.c.escalation_level, tickets_table.c.status)
            )
        ).all()
    assert {f.id: f.escalation_level for f in flags if f.id in late} == dict.fromkeys(
        late, "breached"
    )
    assert next(f.status for f in flags if f.id == done) == "closed"
    again = await run_escalation_pass(lone_tickets, after_downtime + timedelta(hours=1))
    assert (again.warned, again.breached, again.closed) == (0, 0, 0)


# --- an opening's assignment: written with the ticket, in its transaction ---------------------


async def add_queue_member(runtime: Runtime[Any], queue: str, wilaya: str) -> str:
    agent_id = str(uuid.uuid4())
    async with runtime.session_factory() as session, session.begin():
        await session.execute(
            insert(queue_agents).values(
                queue=queue, wilaya_code=wilaya, agent_id=agent_id, added_by="test", added_at=T0
            )
        )
    return agent_id


async def last_assigned(runtime: Runtime[Any], agent_id: str) -> datetime | None:
    async with runtime.session_factory() as session:
        return await session.scalar(
            select(queue_agents.c.last_assigned_at).where(queue_agents.c.agent_id == agent_id)
        )


async def events_about(runtime: Runtime[Any], ticket_id: str) -> list[str]:
    outbox = messaging.outbox
    async with runtime.session_factory() as session:
        rows = await session.execute(
            select(outbox.c.event_type)
            .where(outbox.c.envelope["subject"].as_string() == ticket_id)
            .order_by(outbox.c.id)
        )
        return list(rows.scalars())


async def test_a_ticket_is_inserted_with_its_assignee_and_its_events_in_order(
    lone_tickets: Runtime[Any],
) -> None:
    customer_id = await add_lone_customer(lone_tickets)
    agent_id = await add_queue_member(lone_tickets, "technical", "15")
    ticket_id = await open_fault(lone_tickets, customer_id, at=T0)
    async with lone_tickets.session_factory() as session:
        row = (
            await session.execute(select(tickets_table).where(tickets_table.c.id == ticket_id))
        ).one()
    assert (row.assignee_id, row.assigned_at, row.updated_at) == (agent_id, T0, T0)
    assert await events_about(lone_tickets, ticket_id) == [
        "tickets.ticket.opened",
        "tickets.ticket.assigned",
    ]
    assert await last_assigned(lone_tickets, agent_id) == T0


async def test_an_opening_rolled_back_leaves_no_ticket_no_event_and_no_assignment(
    lone_tickets: Runtime[Any],
) -> None:
    customer_id = await add_lone_customer(lone_tickets)
    agent_id = await add_queue_member(lone_tickets, "technical", "15")
    opened: list[dict[str, Any]] = []

    class Abandoned(Exception):
        pass

    async def open_then_abandon() -> None:
        async with lone_tickets.session_factory() as session, session.begin():
            new = flows.NewTicket(
                customer_id=customer_id,
                category=TicketCategory.TECHNICAL,
                channel="web",
                subject="Coupure",
            )
            opened.append(await flows.open_ticket(session, lone_tickets, new, AGENT, now=T0))
            raise Abandoned

    with pytest.raises(Abandoned):
        await open_then_abandon()
    assert opened[0]["assignee_id"] == agent_id
    async with lone_tickets.session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(tickets_table)) == 0
    assert await events_about(lone_tickets, opened[0]["id"]) == []
    assert await last_assigned(lone_tickets, agent_id) is None


async def test_round_robin_with_idempotency_keys_and_a_replay_that_assigns_nobody(
    tickets: LiveService, admin_token: str, make_customer: MakeCustomer
) -> None:
    admin = bearer(admin_token)
    first, second = await two_technical_agents(tickets, admin, wilaya="44")
    customer_id = await make_customer(wilaya="44")
    body = {
        "customer_id": customer_id,
        "category": "technical",
        "subcategory": "no_connection",
        "channel": "call_centre",
        "subject": "Pas de connexion ADSL",
    }

    async def open_with(key: str) -> Any:
        answer = await tickets.client.post(
            "/v1/tickets", headers={**admin, "Idempotency-Key": key}, json=body
        )
        assert answer.status_code == 201, answer.text
        return answer

    keys = [f"rr-{uuid.uuid4()}" for _ in range(3)]
    answers = [await open_with(key) for key in keys[:2]]
    assignees = [a.json()["assignee_id"] for a in answers]
    assert set(assignees) == {first, second}
    replay = await open_with(keys[0])
    assert replay.headers.get("idempotent-replayed") == "true"
    assert replay.json() == answers[0].json()
    assert replay.headers["location"] == f"/v1/tickets/{answers[0].json()['id']}"
    # The replay gave nobody a ticket: the next one goes to whoever waited longest.
    third = await open_with(keys[2])
    assert third.json()["assignee_id"] == assignees[0]
