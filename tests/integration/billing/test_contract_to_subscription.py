"""A contract signed at identity becomes its billing subscription, through the real broker.

One vocabulary: identity's contracts and billing's catalogue name offers by the same codes
(``IDOOM_FIXE``, ``IDOOM_FIBRE_100M``..., docs/billing.md)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from sila_billing.tables import subscriptions
from sila_identity.events import CONTRACT_SIGNED, ContractSigned
from tests.integration.billing.conftest import customer_token
from tests.integration.identity.conftest import register
from tests.support import LiveService, bearer, eventually, problem_of


async def sign(identity: LiveService, admin_token: str, customer_id: str, **body: Any) -> str:
    signed = await identity.client.post(
        f"/v1/customers/{customer_id}/contracts", headers=bearer(admin_token), json=body
    )
    assert signed.status_code == 201, signed.text
    contract_id: str = signed.json()["id"]
    return contract_id


async def subscription_of(billing: LiveService, contract_id: str) -> Any:
    async with billing.runtime.session_factory() as session:
        return (
            await session.execute(
                select(subscriptions).where(subscriptions.c.contract_id == contract_id)
            )
        ).one_or_none()


async def test_a_signed_fibre_contract_becomes_a_prepaid_subscription_the_customer_sees(
    billing: LiveService, identity: LiveService, admin_token: str
) -> None:
    customer = await register(identity, admin_token)
    contract_id = await sign(identity, admin_token, customer["id"], offer_code="IDOOM_FIBRE_100M")

    async def subscribed() -> Any:
        return await subscription_of(billing, contract_id)

    row = await eventually(subscribed, timeout=30, what="the subscription made from the contract")
    token = await customer_token(identity, customer["id"])
    seen = await billing.client.get("/v1/subscriptions", headers=bearer(token))
    assert [(s["contract_id"], s["billing"], s["offer_code"]) for s in seen.json()] == [
        (contract_id, "prepaid", "IDOOM_FIBRE_100M")
    ]
    assert row.technology == "fibre" and row.customer_id == customer["id"]


async def test_a_fixed_line_contract_is_billed_and_an_unknown_offer_makes_nothing(
    billing: LiveService, identity: LiveService, admin_token: str
) -> None:
    customer = await register(identity, admin_token)
    # Every code identity's contracts use for a line billing sells is in the catalogue.
    offers = {o["code"] for o in (await billing.client.get("/v1/offers")).json()}
    assert {"IDOOM_FIXE", "IDOOM_ADSL_20M", "IDOOM_FIBRE_100M"} <= offers
    # Identity refuses a contract for a code the catalogue does not hold: 422 naming the field.
    refused = await identity.client.post(
        f"/v1/customers/{customer['id']}/contracts",
        headers=bearer(admin_token),
        json={"offer_code": "IDOOM_MYSTERY"},
    )
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in problem_of(refused)["errors"]] == ["body.offer_code"]
    # A contract signed before identity checked codes (a legacy code in an event), published
    # first: the consumer skips it without retrying.
    unknown = str(uuid.uuid4())
    async with identity.runtime.session_factory() as session, session.begin():
        await identity.runtime.outbox.record(
            session,
            CONTRACT_SIGNED,
            subject=unknown,
            customer_id=customer["id"],
            data=ContractSigned(
                customer_id=customer["id"],
                contract_id=unknown,
                number="AT-16-2019-0000001-0",
                offer_code="IDOOM_MYSTERY",
                line_number=None,
                status="active",
                installation_wilaya_code="16",
            ),
        )
    fixed = await sign(
        identity, admin_token, customer["id"], offer_code="IDOOM_FIXE", line_number="026 12 34 56"
    )

    async def subscribed() -> Any:
        return await subscription_of(billing, fixed)

    row = await eventually(subscribed, timeout=30, what="the fixed line's subscription")
    assert (row.offer_code, row.billing, row.technology) == ("IDOOM_FIXE", "postpaid", "fixed")
    # Same partition (keyed by customer), earlier offset: already handled, and made nothing.
    assert await subscription_of(billing, unknown) is None
