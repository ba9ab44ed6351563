"""Security case 2 (docs/security.md): partners' webhooks carry only what their owner may see.

Partners made through the admin API subscribe with client-credentials tokens to a real HTTP
receiver; the events come from the real services (a customer registered at identity, tickets
opened through TMF621, ``/v1/tickets`` and by an agent, notes, a logged call). An
administrator's ``*`` subscription is the control: once it has every event, the fan-out of
each event to every subscription is committed, so what a partner did not get it never will.
"""

from __future__ import annotations

from typing import Any

from tests.integration.security_support import (
    Receiver,
    known_to_tickets,
    new_agent,
    new_customer,
    new_partner,
    partner_token,
    webhook_receiver,
)
from tests.support import LiveService, bearer, eventually, problem_of

TT = "/tmf-api/troubleTicket/v4/troubleTicket"
PERSONAL = ("phone", "email", "display_name", "first_name", "last_name", "commune")


async def subscribe(
    notify: LiveService, token: str, receiver: Receiver, name: str, types: list[str]
) -> dict[str, Any]:
    answer = await notify.client.post(
        "/v1/webhook-subscriptions",
        headers=bearer(token),
        json={"url": receiver.endpoint(name), "event_types": types},
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def deliveries(notify: LiveService, token: str, sub_id: str) -> list[dict[str, Any]]:
    answer = await notify.client.get(
        f"/v1/webhook-subscriptions/{sub_id}/deliveries", headers=bearer(token)
    )
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def of_type(bodies: list[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    return [b for b in bodies if b.get("type") == event_type]


async def test_a_partner_hears_only_its_own_tickets_and_a_bare_star_subscription_nothing(
    notify: LiveService, identity: LiveService, tickets: LiveService, admin_token: str
) -> None:
    async with webhook_receiver() as receiver:
        agent = await new_agent(identity, admin_token, ["agent"], ["15"])
        nosy = await new_partner(identity, admin_token, ["webhooks:manage"])
        tmf = await new_partner(
            identity, admin_token, ["webhooks:manage", "tmf621:read", "tmf621:write"]
        )
        other = await new_partner(
            identity, admin_token, ["webhooks:manage", "tickets:read", "tickets:write"]
        )
        # Exact types a partner may never receive are refused when asked for.
        for token, types in (
            (nosy.token, ["identity.customer.registered"]),
            (tmf.token, ["tickets.ticket.assigned"]),
            (tmf.token, ["notify.message.sent"]),
        ):
            refused = await notify.client.post(
                "/v1/webhook-subscriptions",
                headers=bearer(token),
                json={"url": receiver.endpoint("refused"), "event_types": types},
            )
            assert refused.status_code == 422, refused.text
            assert problem_of(refused)["errors"][0]["field"] == "body.event_types"
        control = await subscribe(notify, admin_token, receiver, "admin", ["*"])
        star = await subscribe(notify, nosy.token, receiver, "nosy", ["*"])
        mine = await subscribe(notify, tmf.token, receiver, "tmf", ["tickets.*", "notify.*"])
        receiver.failing.add("other-down")
        down = await subscribe(notify, other.token, receiver, "other-down", ["tickets.*"])
        other_notices = await subscribe(notify, other.token, receiver, "other-ok", ["notify.*"])

        customer = await new_customer(identity, agent)
        await known_to_tickets(tickets, customer["id"])
        by_tmf = await tickets.client.post(
            TT,
            headers=tmf.auth,
            json={
                "@type": "TroubleTicket",
                "name": "Pas de connexion ADSL",
                "description": "La ligne ne synchronise plus.",
                "severity": "Major",
                "ticketType": "technical",
                "relatedParty": [{"id": customer["id"], "role": "customer"}],
            },
        )
        assert by_tmf.status_code == 201, by_tmf.text
        tmf_ticket = by_tmf.json()["id"]
        by_agent = await tickets.client.post(
            "/v1/tickets",
            headers=agent.auth,
            json={
                "customer_id": customer["id"],
                "category": "technical",
                "channel": "call_centre",
                "subject": "Coupure ligne fixe",
            },
        )
        assert by_agent.status_code == 201, by_agent.text
        by_other = await tickets.client.post(
            "/v1/tickets",
            headers=other.auth,
            json={
                "customer_id": customer["id"],
                "category": "technical",
                "channel": "partner",
                "subject": "Signalement partenaire",
            },
        )
        assert by_other.status_code == 201, by_other.text
        for public, text in (
            (False, "Client agressif, voir dossier 2019"),
            (True, "Technicien passé"),
        ):
            note = await tickets.client.post(
                f"/v1/tickets/{tmf_ticket}/notes",
                headers=agent.auth,
                json={"text": text, "public": public},
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
                "notes": "Menace de résilier",
            },
        )
        assert call.status_code == 201, call.text

        async def control_has_everything() -> bool:
            # Only this test's events (other tests' may reach an admin's "*" too).
            ours = [
                b
                for b in receiver.bodies("admin")
                if b.get("customerid") == customer["id"]
                or b.get("data", {}).get("subscription_id") == down["id"]
            ]
            return (
                len(of_type(ours, "tickets.ticket.opened")) == 3
                and len(of_type(ours, "tickets.note.added")) == 2
                and len(of_type(ours, "identity.customer.registered")) == 1
                and len(of_type(ours, "identity.interaction.logged")) == 1
                and len(of_type(ours, "notify.webhook_subscription.disabled")) == 1
            )

        await eventually(control_has_everything, timeout=30, what="every event at the control")

        # webhooks:manage alone: a "*" subscription gets nothing, not even a delivery row.
        assert await deliveries(notify, nosy.token, star["id"]) == []
        assert receiver.bodies("nosy") == []

        # The TMF621 partner: its own ticket's opening and public note, nothing else.
        async def tmf_heard() -> list[dict[str, Any]]:
            bodies = receiver.bodies("tmf")
            return bodies if len(bodies) >= 2 else []

        heard = await eventually(tmf_heard, what="the partner's own events")
        assert len(await deliveries(notify, tmf.token, mine["id"])) == 2
        assert sorted(b["type"] for b in heard) == ["tickets.note.added", "tickets.ticket.opened"]
        assert {b["data"]["ticket_id"] for b in heard} == {tmf_ticket}
        note = of_type(heard, "tickets.note.added")[0]["data"]
        assert note["public"] is True and note["text"] == "Technicien passé"
        for body in heard:
            assert not set(PERSONAL) & set(body["data"]), body
            assert "Client agressif" not in str(body)
        # Another partner's subscription being disabled is internal to that partner.
        assert of_type(heard, "notify.webhook_subscription.disabled") == []
        disabled = await eventually(
            lambda: _first(receiver.bodies("other-ok")), what="the owner told of its endpoint"
        )
        assert disabled["type"] == "notify.webhook_subscription.disabled"
        assert disabled["data"]["subscription_id"] == down["id"]
        # The receiver closes with the test: its subscriptions go with it.
        for token, sub in (
            (admin_token, control),
            (nosy.token, star),
            (tmf.token, mine),
            (other.token, down),
            (other.token, other_notices),
        ):
            gone = await notify.client.delete(
                f"/v1/webhook-subscriptions/{sub['id']}", headers=bearer(token)
            )
            assert gone.status_code == 204


async def _first(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    return items[0] if items else None


async def test_a_stored_delivery_is_judged_again_when_replayed_after_the_scopes_shrank(
    notify: LiveService, identity: LiveService, tickets: LiveService, admin_token: str
) -> None:
    async with webhook_receiver() as receiver:
        agent = await new_agent(identity, admin_token, ["agent"], ["15"])
        partner = await new_partner(
            identity, admin_token, ["webhooks:manage", "tickets:read", "tickets:write"]
        )
        sub = await subscribe(notify, partner.token, receiver, "shrinking", ["tickets.*"])
        assert sub["owner_scopes"] == ["tickets:read", "tickets:write", "webhooks:manage"]
        customer = await new_customer(identity, agent)
        await known_to_tickets(tickets, customer["id"])
        opened = await tickets.client.post(
            "/v1/tickets",
            headers=partner.auth,
            json={
                "customer_id": customer["id"],
                "category": "technical",
                "channel": "partner",
                "subject": "Signalement partenaire",
            },
        )
        assert opened.status_code == 201, opened.text

        async def delivered() -> list[dict[str, Any]]:
            return [
                d
                for d in await deliveries(notify, partner.token, sub["id"])
                if d["state"] == "succeeded"
            ]

        [first] = await eventually(delivered, what="the partner's own ticket delivered")
        assert len(receiver.bodies("shrinking")) == 1

        # The partner saves its subscription again with a token that no longer reads tickets.
        narrow = await partner_token(identity, partner, "webhooks:manage")
        saved = await notify.client.patch(
            f"/v1/webhook-subscriptions/{sub['id']}",
            headers=bearer(narrow),
            json={"description": "fewer scopes"},
        )
        assert saved.status_code == 200, saved.text
        assert saved.json()["owner_scopes"] == ["webhooks:manage"]
        replay = await notify.client.post(
            f"/v1/webhook-subscriptions/{sub['id']}/deliveries/{first['id']}/replay",
            headers=bearer(narrow),
        )
        assert replay.status_code == 202, replay.text

        async def refused() -> list[dict[str, Any]]:
            return [
                d
                for d in await deliveries(notify, narrow, sub["id"])
                if d["id"] == first["id"] and d["state"] == "failed"
            ]

        [again] = await eventually(refused, what="the replay judged again")
        assert "not allowed" in again["last_error"]
        assert len(receiver.bodies("shrinking")) == 1
        gone = await notify.client.delete(
            f"/v1/webhook-subscriptions/{sub['id']}", headers=bearer(narrow)
        )
        assert gone.status_code == 204


async def test_scopes_removed_or_a_partner_disabled_at_identity_bound_its_webhooks_at_once(
    notify: LiveService, identity: LiveService, tickets: LiveService, admin_token: str
) -> None:
    async with webhook_receiver() as receiver:
        agent = await new_agent(identity, admin_token, ["agent"], ["15"])
        partner = await new_partner(
            identity, admin_token, ["webhooks:manage", "tickets:read", "tickets:write"]
        )
        control = await subscribe(notify, admin_token, receiver, "control", ["tickets.*"])
        sub = await subscribe(notify, partner.token, receiver, "cut", ["tickets.*"])
        customer = await new_customer(identity, agent)
        await known_to_tickets(tickets, customer["id"])

        async def scopes_now() -> list[str]:
            answer = await notify.client.get(
                f"/v1/webhook-subscriptions/{sub['id']}", headers=partner.auth
            )
            scopes: list[str] = answer.json()["owner_scopes"]
            return scopes

        # The administrator takes tickets:read away: the subscription follows.
        cut = await identity.client.patch(
            f"/v1/admin/identity/partners/{partner.id}",
            headers=bearer(admin_token),
            json={"scopes": ["webhooks:manage", "tickets:write"]},
        )
        assert cut.status_code == 200, cut.text

        async def narrowed() -> bool:
            return await scopes_now() == ["tickets:write", "webhooks:manage"]

        await eventually(narrowed, what="the subscription narrowed")
        opened = await tickets.client.post(
            "/v1/tickets",
            headers=partner.auth,
            json={
                "customer_id": customer["id"],
                "category": "technical",
                "channel": "partner",
                "subject": "Signalement partenaire",
            },
        )
        assert opened.status_code == 201, opened.text

        async def at_control() -> bool:
            return any(
                b["data"].get("ticket_id") == opened.json()["id"]
                for b in receiver.bodies("control")
            )

        await eventually(at_control, what="the ticket at the control")
        assert await deliveries(notify, partner.token, sub["id"]) == []
        assert receiver.bodies("cut") == []

        # Disabled: nothing at all.
        off = await identity.client.patch(
            f"/v1/admin/identity/partners/{partner.id}",
            headers=bearer(admin_token),
            json={"disabled": True},
        )
        assert off.status_code == 200, off.text

        async def emptied() -> bool:
            return await scopes_now() == []

        await eventually(emptied, what="the disabled partner's subscription emptied")
        for token, s in ((admin_token, control), (admin_token, sub)):
            gone = await notify.client.delete(
                f"/v1/webhook-subscriptions/{s['id']}", headers=bearer(token)
            )
            assert gone.status_code == 204
