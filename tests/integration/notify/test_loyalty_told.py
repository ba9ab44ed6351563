"""Loyalty told through notify, end to end, with everyone logged in the way real clients
are: agents made by the administrator through identity's admin API (password grant), the
customer logged in with the OTP grant, the code read from the SMS the SMS centre simulator
received (notify's dispatcher sent it).

A big payment lifts the customer to silver: ``loyalty.tier.changed`` is published, the
timeline shows it with the reward, and notify tells the customer.

Here, beside notify's fixtures (one notify per run, with its simulators); loyalty comes
from loyalty's fixtures (a second loyalty engine in the run is one more member of its
consumer group, as in a scaled deployment).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from tests.integration.loyalty.conftest import (  # noqa: F401 - fixtures, used by name
    Emit,
    account_open,
    campaign_body,
    emit,
    loyalty,
    outbox_events,
)
from tests.integration.security_support import new_agent
from tests.integration.security_support import new_customer as registered_customer
from tests.support import LiveService, bearer, eventually

from .conftest import Simulator

OTP_GRANT = "urn:sila:params:oauth:grant-type:otp"


async def otp_login(identity: LiveService, sms_centre: Simulator, phone: str) -> str:
    """``POST /v1/auth/otp``; the code from the SMS; the OTP grant."""
    asked = await identity.client.post("/v1/auth/otp", json={"phone": phone})
    assert asked.status_code == 202, asked.text

    async def sms() -> str | None:
        for message in await sms_centre.messages():
            found = re.search(r"\b(\d{6})\b", message["text"])
            if message["to"] == phone and found:
                return found.group(1)
        return None

    code = await eventually(sms, timeout=20, what="the code's SMS")
    answer = await identity.client.post(
        "/v1/oauth/token", data={"grant_type": OTP_GRANT, "phone": phone, "code": code}
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


async def test_a_customer_logged_in_by_otp_sees_their_tier_rise_on_the_timeline_and_is_told(
    identity: LiveService,
    loyalty: LiveService,  # noqa: F811
    notify: LiveService,
    smsc: Simulator,
    admin_token: str,
    emit: Emit,  # noqa: F811
) -> None:
    agent = await new_agent(identity, admin_token, ["agent"], ["15"])
    marketing = await new_agent(identity, admin_token, ["marketing"], ["*"])
    offer = f"gold_{uuid.uuid4().hex[:6]}"
    created = await loyalty.client.post(
        "/v1/loyalty/campaigns",
        headers=marketing.auth,
        json=campaign_body(conditions={"offers": [offer]}),
    )
    assert created.status_code == 201, created.text
    customer = await registered_customer(identity, agent)
    await account_open(loyalty, customer["id"])
    token = await otp_login(identity, smsc, customer["phone"])
    own = bearer(token)

    account = await loyalty.client.get(f"/v1/loyalty/accounts/{customer['id']}", headers=own)
    assert account.status_code == 200, account.text
    assert account.json()["tier"] == "bronze"
    other = await registered_customer(identity, agent)
    assert (
        await loyalty.client.get(f"/v1/loyalty/accounts/{other['id']}", headers=own)
    ).status_code == 404

    # 21,000 DZD in a year: silver (20,000), and the campaign's points at silver's rate.
    await emit(
        "billing.payment.succeeded",
        customer["id"],
        {"payment_id": str(uuid.uuid4()), "amount_centimes": 2_100_000, "offer_code": offer},
    )

    async def silver() -> Any:
        read = await loyalty.client.get(f"/v1/loyalty/accounts/{customer['id']}", headers=own)
        body = read.json()
        return body if body["tier"] == "silver" and body["balances"]["points"] else None

    body = await eventually(silver, what="the customer at silver")
    assert body["balances"]["points"] == 125
    [changed] = await outbox_events(loyalty, customer["id"], "loyalty.tier.changed")
    assert changed["data"] | {"customer_id": None} == {
        "customer_id": None,
        "tier": "silver",
        "previous_tier": "bronze",
        "upgrade": True,
    }
    ledger = await loyalty.client.get(f"/v1/loyalty/accounts/{customer['id']}/ledger", headers=own)
    assert [e["quantity"] for e in ledger.json()["items"]] == [125]

    async def on_the_timeline() -> dict[str, str] | None:
        read = await identity.client.get(f"/v1/customers/{customer['id']}/timeline", headers=own)
        assert read.status_code == 200, read.text
        summaries = {i["type"]: i["summary"] for i in read.json()["items"]}
        wanted = ("loyalty.tier.changed", "loyalty.reward.granted")
        return summaries if all(t in summaries for t in wanted) else None

    summaries = await eventually(on_the_timeline, timeout=20, what="the timeline")
    assert summaries["loyalty.tier.changed"] == "Niveau fidélité : argent"
    assert summaries["loyalty.reward.granted"] == "Récompense fidélité : 125 points fidélité"

    async def told() -> list[dict[str, Any]] | None:
        read = await notify.client.get(
            "/v1/notifications", params={"customer_id": customer["id"]}, headers=agent.auth
        )
        assert read.status_code == 200, read.text
        items = [m for m in read.json()["items"] if m["event_type"] == "loyalty.tier.changed"]
        return items or None

    messages = await eventually(told, timeout=20, what="the customer told of the new tier")
    # Once per channel the customer has, in French, about this very event.
    channels = [m["channel"] for m in messages]
    assert len(channels) == len(set(channels)), channels
    assert all(m["event_id"] == changed["id"] and m["language"] == "fr" for m in messages)
    assert any("Vous êtes désormais client silver" in m["body"] for m in messages), messages
