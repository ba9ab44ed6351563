"""Security cases 4 and 5 (docs/security.md) across services: one role vocabulary
(sila_common.roles) and the same answer from every service.

Agents of each role are made with the admin API and log in with their password; the
customer is registered at identity and reaches tickets and notify through the events.
"""

from __future__ import annotations

import uuid

from sila_notify.directory import recipient_row
from tests.integration.security_support import (
    known_to_tickets,
    new_agent,
    new_customer,
)
from tests.support import LiveService, eventually, problem_of

CARE = ("agent", "supervisor", "technician", "billing")


async def test_every_service_gives_a_role_the_same_answer_about_one_customer(
    notify: LiveService, identity: LiveService, tickets: LiveService, admin_token: str
) -> None:
    front = await new_agent(identity, admin_token, ["agent"], ["15"])
    customer = await new_customer(identity, front)
    cid = customer["id"]
    await known_to_tickets(tickets, cid)

    async def known_to_notify() -> bool:
        async with notify.runtime.session_factory() as session:
            return await recipient_row(session, cid) is not None

    await eventually(known_to_notify, what="the customer in notify's directory")
    ticket = await tickets.client.post(
        "/v1/tickets",
        headers=front.auth,
        json={
            "customer_id": cid,
            "category": "technical",
            "channel": "call_centre",
            "subject": "Débit faible",
        },
    )
    assert ticket.status_code == 201, ticket.text

    for role in (*CARE, "marketing"):
        agent = await new_agent(identity, admin_token, [role], ["15"])
        reads = {
            "identity customer": await identity.client.get(
                f"/v1/customers/{cid}", headers=agent.auth
            ),
            "identity timeline": await identity.client.get(
                f"/v1/customers/{cid}/timeline", headers=agent.auth
            ),
            "tickets ticket": await tickets.client.get(
                f"/v1/tickets/{ticket.json()['id']}", headers=agent.auth
            ),
            "tickets list": await tickets.client.get(
                "/v1/tickets", headers=agent.auth, params={"customer_id": cid}
            ),
            "notify messages": await notify.client.get(
                "/v1/notifications", headers=agent.auth, params={"customer_id": cid}
            ),
            "notify preferences": await notify.client.get(
                f"/v1/notification-preferences/{cid}", headers=agent.auth
            ),
        }
        expected = 200 if role in CARE else 403
        assert {k: r.status_code for k, r in reads.items()} == dict.fromkeys(reads, expected), role

        # Consent changes: the front office only, in identity and in notify alike.
        consent = {"purpose": "marketing", "channel": "sms", "granted": True}
        writes = {
            "identity consents": await identity.client.post(
                f"/v1/customers/{cid}/consents",
                headers=agent.auth,
                json=consent | {"captured_via": "agency"},
            ),
            "notify preferences": await notify.client.put(
                f"/v1/notification-preferences/{cid}",
                headers=agent.auth,
                json={"consents": [consent]},
            ),
        }
        front_office = role in ("agent", "supervisor")
        statuses = {k: r.status_code for k, r in writes.items()}
        assert statuses == (
            {"identity consents": 201, "notify preferences": 200}
            if front_office
            else {"identity consents": 403, "notify preferences": 403}
        ), role


async def test_notify_answers_the_same_404_for_an_unknown_and_an_out_of_scope_customer(
    notify: LiveService, identity: LiveService, admin_token: str
) -> None:
    alger = await new_agent(identity, admin_token, ["agent"], ["16"])
    tizi = await new_agent(identity, admin_token, ["agent"], ["15"])
    customer = await new_customer(identity, alger, wilaya="16")

    async def known() -> bool:
        async with notify.runtime.session_factory() as session:
            return await recipient_row(session, customer["id"]) is not None

    await eventually(known, what="the customer in notify's directory")
    assert (
        await notify.client.get(
            "/v1/notifications", headers=alger.auth, params={"customer_id": customer["id"]}
        )
    ).status_code == 200
    for path in ("/v1/notifications", "/v1/notification-preferences/{id}", "/v1/inbox"):
        answers = []
        for customer_id in (customer["id"], str(uuid.uuid4())):
            answer = await notify.client.get(
                path.format(id=customer_id),
                headers=tizi.auth,
                params={} if "{id}" in path else {"customer_id": customer_id},
            )
            problem = problem_of(answer)
            answers.append((answer.status_code, problem["type"], problem["title"]))
        assert answers[0] == answers[1] == (404, answers[0][1], answers[0][2]), (path, answers)
        assert answers[0][0] == 404
