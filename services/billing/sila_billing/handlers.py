"""What billing consumes from identity: signed contracts, each becoming its subscription, and
its customers (registered, updated, erased), whose wilaya scopes agents (flows/customers.py)."""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sila_billing.flows.customers import remember_customer
from sila_billing.flows.subscriptions import subscribe
from sila_billing.runtime import BillingContext
from sila_billing.settings import BillingSettings
from sila_common.events import CloudEvent, topic_for
from sila_common.problems import NotFound
from sila_common.service import ConsumerSpec

log = structlog.get_logger(__name__)


async def contract_signed(
    session: AsyncSession, event: CloudEvent, context: BillingContext
) -> None:
    data = event.data
    try:
        await subscribe(
            session,
            customer_id=str(data["customer_id"]),
            contract_id=str(data["contract_id"]),
            offer_code=str(data["offer_code"]),
            line_number=data.get("line_number"),
        )
    except NotFound:
        # An offer billing does not sell (a legacy code): nothing to bill; not an error to retry.
        log.warning(
            "contract names an offer billing does not sell; no subscription",
            contract_id=str(data["contract_id"]),
            offer_code=str(data["offer_code"]),
        )
        return


async def customer_changed(
    session: AsyncSession, event: CloudEvent, context: BillingContext
) -> None:
    await remember_customer(session, event, erased=False)


async def customer_erased(
    session: AsyncSession, event: CloudEvent, context: BillingContext
) -> None:
    await remember_customer(session, event, erased=True)


CONTRACTS = ConsumerSpec[BillingSettings](
    name="billing.contracts",
    topics=[topic_for("identity")],
    handlers={
        "identity.contract.signed": contract_signed,
        "identity.customer.registered": customer_changed,
        "identity.customer.updated": customer_changed,
        "identity.customer.erased": customer_erased,
    },
)
