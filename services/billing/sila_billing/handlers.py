"""What billing consumes: identity's signed contracts, each becoming its subscription."""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

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


CONTRACTS = ConsumerSpec[BillingSettings](
    name="billing.contracts",
    topics=[topic_for("identity")],
    handlers={"identity.contract.signed": contract_signed},
)
