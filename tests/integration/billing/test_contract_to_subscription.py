"""A contract signed at identity becomes its billing subscription, through the real broker."""

from __future__ import annotations

from sqlalchemy import select

from sila_billing.tables import subscriptions
from tests.integration.billing.conftest import customer_token
from tests.integration.identity.conftest import register
from tests.support import LiveService, bearer, eventually


async def test_a_signed_fibre_contract_becomes_a_prepaid_subscription_the_customer_sees(
    billing: LiveService, identity: LiveService, admin_token: str
) -> None:
    customer = await register(identity, admin_token)
    signed = await identity.client.post(
        f"/v1/customers/{customer['id']}/contracts",
        headers=bearer(admin_token),
        json={"offer_code": "FIBRE_100", "access_number": "fibre-0001"},
    )
    assert signed.status_code == 201, signed.text
    contract_id = signed.json()["id"]

    async def subscribed() -> object:
        async with billing.runtime.session_factory() as session:
            return (
                await session.execute(
                    select(subscriptions).where(subscriptions.c.contract_id == contract_id)
                )
            ).one_or_none()

    row = await eventually(subscribed, timeout=30, what="the subscription made from the contract")
    token = await customer_token(identity, customer["id"])
    seen = await billing.client.get("/v1/subscriptions", headers=bearer(token))
    assert [(s["contract_id"], s["billing"]) for s in seen.json()] == [(contract_id, "prepaid")]
    assert row is not None
