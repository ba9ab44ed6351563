"""Redemption: 20 concurrent requests on one account never overdraw; only one's own account."""

from __future__ import annotations

import asyncio

from tests.integration.loyalty.conftest import (
    Staff,
    account_open,
    customer_headers,
    outbox_events,
    points,
    register,
)
from tests.support import LiveService, bearer


async def test_twenty_concurrent_redemptions_on_one_account_never_overdraw(
    identity: LiveService, loyalty: LiveService, staff: Staff
) -> None:
    customer_id = await register(identity, staff)
    other_id = await register(identity, staff)
    await account_open(loyalty, customer_id)
    granted = await loyalty.client.post(
        f"/v1/loyalty/accounts/{customer_id}/adjustments",
        headers=bearer(staff.supervisor_15),
        json={"kind": "points", "quantity": 3_700, "label": "Geste commercial"},
    )
    assert granted.status_code == 201, granted.text
    own = await customer_headers(identity, customer_id)

    async def redeem() -> int:
        answer = await loyalty.client.post(
            "/v1/loyalty/redemptions",
            headers=own,
            json={"customer_id": customer_id, "option": "hours_5"},
        )
        return answer.status_code

    codes = await asyncio.gather(*(redeem() for _ in range(20)))
    assert sorted(codes) == [201] * 7 + [409] * 13
    assert await points(loyalty, customer_id) == 200
    assert len(await outbox_events(loyalty, customer_id, "loyalty.points.redeemed")) == 7

    theirs = await loyalty.client.post(
        "/v1/loyalty/redemptions",
        headers=await customer_headers(identity, other_id),
        json={"customer_id": customer_id, "option": "hours_5"},
    )
    assert theirs.status_code == 403
    agent = await loyalty.client.post(
        "/v1/loyalty/redemptions",
        headers=bearer(staff.agent_15),
        json={"customer_id": customer_id, "option": "hours_5"},
    )
    assert agent.status_code == 403
    unknown = await loyalty.client.post(
        "/v1/loyalty/redemptions", headers=own, json={"customer_id": customer_id, "option": "x"}
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "body.option"
