"""Campaign sends: only consenting customers of the segment, paced, with progress."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sila_notify.directory import record_consent
from tests.support import LiveService, bearer, eventually, problem_of

from .conftest import NewCustomer


async def test_a_campaign_reaches_the_consenting_customers_of_its_wilaya_only(
    notify: LiveService, new_customer: NewCustomer, admin_token: str
) -> None:
    wilaya = "58"
    consenting = [await new_customer(wilaya_code=wilaya) for _ in range(3)]
    silent = await new_customer(wilaya_code=wilaya)
    elsewhere = await new_customer(wilaya_code="16")
    async with notify.runtime.session_factory() as session, session.begin():
        for customer in [*consenting, elsewhere]:
            await record_consent(
                session,
                customer_id=customer.id,
                purpose="marketing",
                channel="sms",
                granted=True,
                captured_via="test",
                at=datetime.now(UTC),
            )
    created = await notify.client.post(
        "/v1/campaign-sends",
        headers=bearer(admin_token),
        json={
            "name": "Fibre El Meniaa",
            "channel": "sms",
            "segment": {"wilaya_codes": [wilaya]},
            "variables": {"offer": "Idoom Fibre 300 Mb/s"},
            "rate_per_second": 100,
        },
    )
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]

    async def finished() -> dict[str, Any] | None:
        answer = await notify.client.get(
            f"/v1/campaign-sends/{campaign_id}", headers=bearer(admin_token)
        )
        body: dict[str, Any] = answer.json()
        done = body["messages"]["sent"] + body["messages"]["delivered"]
        return body if body["state"] == "planned" and done == 3 else None

    progress = await eventually(finished, what="the campaign sent")
    assert progress["targeted"] == 3
    reached = {m["customer_id"] for m in await _campaign_messages(notify, admin_token, consenting)}
    assert reached == {c.id for c in consenting}
    for customer in (silent, elsewhere):
        mine = await notify.client.get(
            "/v1/notifications", params={"customer_id": customer.id}, headers=customer.auth
        )
        assert [m for m in mine.json()["items"] if m["lane"] == "marketing"] == []


async def _campaign_messages(notify: LiveService, token: str, customers: list[Any]) -> list[Any]:
    found = []
    for customer in customers:
        answer = await notify.client.get(
            "/v1/notifications", params={"customer_id": customer.id}, headers=bearer(token)
        )
        found += [m for m in answer.json()["items"] if m["lane"] == "marketing"]
    return found


async def test_campaigns_need_the_marketing_role_and_variables_that_fit(
    notify: LiveService, new_customer: NewCustomer, admin_token: str
) -> None:
    customer = await new_customer()
    refused = await notify.client.post(
        "/v1/campaign-sends", headers=customer.auth, json={"name": "x", "variables": {}}
    )
    assert refused.status_code == 403
    missing = await notify.client.post(
        "/v1/campaign-sends",
        headers=bearer(admin_token),
        json={"name": "Sans offre", "variables": {}},
    )
    assert missing.status_code == 422
    assert problem_of(missing)["errors"][0]["type"] == "missing_value"
