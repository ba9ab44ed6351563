"""Consent, export and erasure (law 18-07) against PostgreSQL and the broker."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from sila_identity.tables import contracts, customers, timeline_entries
from tests.integration.identity.conftest import Cast, customer_token, events_of, register
from tests.support import LiveService, bearer, eventually


async def test_consent_is_recorded_per_purpose_and_channel_with_when_and_how(
    identity: LiveService, cast: Cast
) -> None:
    customer = await register(identity, cast.agent_15)
    url = f"/v1/customers/{customer['id']}/consents"
    given = await identity.client.post(
        url,
        headers=bearer(cast.agent_15),
        json={"purpose": "marketing", "channel": "sms", "granted": True, "captured_via": "agency"},
    )
    assert given.status_code == 201, given.text
    assert given.json()["captured_by"].startswith("agent:")
    token = await customer_token(identity, customer["id"])
    withdrawn = await identity.client.post(
        url,
        headers=bearer(token),
        json={"purpose": "service", "channel": "email", "granted": False, "captured_via": "app"},
    )
    assert withdrawn.status_code == 201, withdrawn.text
    summary = (await identity.client.get(url, headers=bearer(token))).json()
    state = {(c["purpose"], c["channel"]): c["granted"] for c in summary["current"]}
    assert state[("marketing", "sms")] is True
    assert state[("marketing", "email")] is False, "marketing waits for a yes"
    assert state[("service", "email")] is False
    assert state[("service", "sms")] is True, "service messages are on by default"
    assert len(summary["history"]) == 2
    changes = await events_of(identity, customer["id"], "identity.consent.changed")
    assert [
        (e["data"]["purpose"], e["data"]["granted"], e["data"]["captured_via"]) for e in changes
    ] == [
        ("marketing", True, "agency"),
        ("service", False, "app"),
    ]


async def test_a_customer_cannot_claim_their_consent_was_captured_at_an_agency(
    identity: LiveService, cast: Cast
) -> None:
    customer = await register(identity, cast.agent_15)
    token = await customer_token(identity, customer["id"])
    answer = await identity.client.post(
        f"/v1/customers/{customer['id']}/consents",
        headers=bearer(token),
        json={"purpose": "marketing", "channel": "sms", "granted": True, "captured_via": "agency"},
    )
    assert answer.status_code == 403


async def test_the_export_holds_everything_identity_keeps_about_the_customer(
    identity: LiveService, cast: Cast
) -> None:
    customer = await register(identity, cast.agent_15, national_id="109870123456789012")
    await identity.client.post(
        f"/v1/customers/{customer['id']}/contracts",
        headers=bearer(cast.agent_15),
        json={"offer_code": "IDOOM_ADSL_20M"},
    )
    token = await customer_token(identity, customer["id"])
    answer = await identity.client.get(
        f"/v1/customers/{customer['id']}/export", headers=bearer(token)
    )
    assert answer.status_code == 200, answer.text
    export = answer.json()
    assert export["customer"]["national_id"] == "109870123456789012"
    assert export["customer"]["phone"] == customer["phone"]
    assert [c["offer_code"] for c in export["contracts"]] == ["IDOOM_ADSL_20M"]
    assert {"interactions", "consents", "timeline", "access_log"} <= export.keys()
    assert any(a["action"] == "customer.create" for a in export["access_log"])


async def test_erasure_anonymises_the_customer_scrubs_the_timeline_and_tells_every_service(
    identity: LiveService, cast: Cast
) -> None:
    customer = await register(
        identity, cast.agent_15, email="karim@example.dz", commune="Azazga", address="12 rue X"
    )
    customer_id = customer["id"]
    await identity.client.post(
        f"/v1/customers/{customer_id}/contracts",
        headers=bearer(cast.agent_15),
        json={"offer_code": "IDOOM_FIXE", "line_number": "026 12 34 56"},
    )
    token = await customer_token(identity, customer_id)

    async def registered_projected() -> list[Any]:
        async with identity.runtime.session_factory() as session:
            return list(
                (
                    await session.execute(
                        select(timeline_entries.c.data).where(
                            timeline_entries.c.customer_id == customer_id,
                            timeline_entries.c.event_type == "identity.customer.registered",
                        )
                    )
                ).all()
            )

    [before] = await eventually(registered_projected, what="registration on the timeline")
    assert before.data["phone"] == customer["phone"]

    refused = await identity.client.post(
        f"/v1/customers/{customer_id}/erasure", headers=bearer(cast.agent_15)
    )
    assert refused.status_code == 403, "erasure is a supervisor's act"
    erased = await identity.client.post(
        f"/v1/customers/{customer_id}/erasure", headers=bearer(cast.supervisor_15)
    )
    assert erased.status_code == 200, erased.text
    again = await identity.client.post(
        f"/v1/customers/{customer_id}/erasure", headers=bearer(cast.supervisor_15)
    )
    assert again.json()["erased_at"] == erased.json()["erased_at"]
    [event] = await events_of(identity, customer_id, "identity.customer.erased")
    assert event["data"]["customer_id"] == customer_id

    async with identity.runtime.session_factory() as session:
        row = (await session.execute(select(customers).where(customers.c.id == customer_id))).one()
        line = await session.scalar(
            select(contracts.c.line_number).where(contracts.c.customer_id == customer_id)
        )
    outbox = identity.runtime.outbox.table
    async with identity.runtime.session_factory() as session:
        history = (
            await session.execute(
                select(outbox.c.event_type, outbox.c.envelope).where(
                    outbox.c.message_key == customer_id
                )
            )
        ).all()
    assert "identity.customer.registered" not in {kept.event_type for kept in history}
    assert customer["phone"] not in json.dumps([kept.envelope for kept in history])
    personal = (row.first_name, row.last_name, row.phone, row.email, row.commune, row.address)
    assert personal == (None,) * 6
    assert (row.status, row.search_text, line) == ("closed", None, None)

    async def erased_on_timeline() -> list[dict[str, Any]] | None:
        answer = await identity.client.get(
            f"/v1/customers/{customer_id}/timeline", headers=bearer(cast.agent_15)
        )
        items: list[dict[str, Any]] = answer.json()["items"]
        return items if items and items[0]["type"] == "identity.customer.erased" else None

    items = await eventually(erased_on_timeline, what="the erasure on the timeline")
    for item in items:
        for member in ("phone", "email", "display_name", "commune"):
            assert member not in item["data"], item
    lookup = await identity.client.get(
        "/v1/customers", headers=bearer(cast.agent_15), params={"phone": customer["phone"]}
    )
    assert lookup.json() == []
    assert (
        await identity.client.get(f"/v1/customers/{customer_id}", headers=bearer(token))
    ).status_code == 401, "the erased customer's token no longer opens anything"
    frozen = await identity.client.patch(
        f"/v1/customers/{customer_id}", headers=bearer(cast.agent_15), json={"email": "a@b.dz"}
    )
    assert frozen.status_code == 409
