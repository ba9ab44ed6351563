"""What tickets consumes: identity's customers, so a ticket can only name a real one."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.db import insert_for
from sila_common.events import CloudEvent, topic_for
from sila_common.service import ConsumerSpec
from sila_tickets.tables import known_customers


async def remember_customer(session: AsyncSession, event: CloudEvent) -> None:
    insert = insert_for(session)
    values = {
        "customer_id": event.customerid,
        "wilaya_code": str(event.data["wilaya_code"]),
        "language": str(event.data.get("language", "fr")),
        "status": str(event.data.get("status", "active")),
        "updated_at": datetime.now(UTC),
    }
    stmt = insert(known_customers).values(**values)
    await session.execute(stmt.on_conflict_do_update(index_elements=["customer_id"], set_=values))


CUSTOMER_DIRECTORY = ConsumerSpec(
    name="tickets.customers",
    topics=[topic_for("identity")],
    handlers={"identity.customer.registered": remember_customer},
)
