"""Billing's directory of identity's customers: the wilaya of each, so an agent scoped to
some wilayas reads and acts on the bills of theirs only (docs/security.md, docs/billing.md).

Fed by identity's events (an older event never overwrites what a newer one wrote); a customer
the directory lacks (registered a moment ago, its event not yet consumed) is asked of
identity and identity's answer kept (docs/platform.md, "A customer the service has not heard
of yet").
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from sila_billing.runtime import BillingRuntime
from sila_billing.tables import customers
from sila_common.db import as_utc
from sila_common.events import CloudEvent
from sila_common.identity_client import identity_client_of


async def customer_row(session: AsyncSession, customer_id: str) -> Any:
    return (
        await session.execute(select(customers).where(customers.c.customer_id == customer_id))
    ).one_or_none()


async def remember_customer(session: AsyncSession, event: CloudEvent, *, erased: bool) -> None:
    """identity.customer.registered / updated / erased: the customer's wilaya (an erasure
    keeps it: the bills billing must keep stay in that wilaya's scope)."""
    customer_id = event.customerid
    wilaya = event.data.get("wilaya_code")
    existing = await customer_row(session, customer_id)
    if existing is None:
        await session.execute(
            pg_insert(customers)
            .values(
                customer_id=customer_id,
                wilaya_code=str(wilaya) if wilaya else None,
                erased=erased,
                source_time=event.time,
                updated_at=datetime.now(UTC),
            )
            .on_conflict_do_nothing(index_elements=["customer_id"])
        )
        return
    stored = as_utc(existing.source_time) if existing.source_time is not None else None
    if stored is not None and event.time < stored:
        return
    values: dict[str, Any] = {
        "erased": erased or bool(existing.erased),
        "source_time": event.time,
        "updated_at": datetime.now(UTC),
    }
    if wilaya:
        values["wilaya_code"] = str(wilaya)
    await session.execute(
        update(customers).where(customers.c.customer_id == customer_id).values(**values)
    )


async def wilaya_of(runtime: BillingRuntime, customer_id: str) -> tuple[bool, str | None]:
    """(known, wilaya) of a customer: from the directory, else asked of identity and kept.
    (False, None) when identity knows no such customer (503 ``IdentityUnavailable`` when it
    cannot answer)."""
    async with runtime.session_factory() as session:
        row = await customer_row(session, customer_id)
    if row is not None:
        return True, row.wilaya_code
    answer = await identity_client_of(runtime).customer(customer_id)
    if answer is None:
        return False, None
    async with runtime.session_factory() as session, session.begin():
        await session.execute(
            pg_insert(customers)
            .values(
                customer_id=answer.id,
                wilaya_code=answer.wilaya_code,
                erased=answer.erased,
                source_time=None,
                updated_at=datetime.now(UTC),
            )
            .on_conflict_do_nothing(index_elements=["customer_id"])
        )
    return True, answer.wilaya_code
