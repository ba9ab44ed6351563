"""Referral: invited by phone, the referee's first payment rewards both once; refusals."""

from __future__ import annotations

import uuid

from tests.integration.loyalty.conftest import (
    Emit,
    Staff,
    account_open,
    customer_headers,
    outbox_events,
    points,
    registered_by_event,
)
from tests.support import LiveService, eventually, problem_of, random_mobile


async def test_both_sides_are_rewarded_once_at_the_referees_first_payment(
    identity: LiveService, loyalty: LiveService, staff: Staff, emit: Emit
) -> None:
    referrer_phone = random_mobile()
    referrer = await registered_by_event(emit, phone=referrer_phone)
    await account_open(loyalty, referrer)
    headers = await customer_headers(identity, referrer)
    referee_phone = random_mobile()
    local = "0" + referee_phone[4:]
    invited = await loyalty.client.post(
        "/v1/loyalty/referrals", headers=headers, json={"referee_phone": local}
    )
    assert invited.status_code == 201, invited.text
    myself = await loyalty.client.post(
        "/v1/loyalty/referrals", headers=headers, json={"referee_phone": referrer_phone}
    )
    assert problem_of(myself)["type"].endswith("/self-referral")
    twice = await loyalty.client.post(
        "/v1/loyalty/referrals", headers=headers, json={"referee_phone": local}
    )
    assert problem_of(twice)["type"].endswith("/already-referred")

    referee = await registered_by_event(emit, phone=referee_phone)
    await account_open(loyalty, referee)
    loop = await loyalty.client.post(
        "/v1/loyalty/referrals",
        headers=await customer_headers(identity, referee),
        json={"referee_phone": referrer_phone},
    )
    assert problem_of(loop)["type"].endswith("/referral-loop")

    for _ in range(2):
        await emit(
            "billing.payment.succeeded",
            referee,
            {"payment_id": str(uuid.uuid4()), "amount_centimes": 150_000},
        )

    async def converted() -> bool:
        return bool(await outbox_events(loyalty, referrer, "loyalty.referral.converted"))

    await eventually(converted, what="the referral converted")
    assert await points(loyalty, referrer) == 500
    assert await points(loyalty, referee) == 300
    assert len(await outbox_events(loyalty, referrer, "loyalty.referral.converted")) == 1
    listed = await loyalty.client.get("/v1/loyalty/referrals", headers=headers)
    assert [r["status"] for r in listed.json()] == ["converted"]
