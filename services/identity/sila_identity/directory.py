"""The customer directory shared by identity's routers: reading, scoping and describing
customers, and the checks every write makes (wilaya exists, phone and NIN are unique).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from sila_common.auth import Principal, ensure_roles, ensure_scope
from sila_common.problems import Conflict, NotFound, Unprocessable
from sila_common.roles import CUSTOMER_CARE, Scope
from sila_identity.domain.customers import display_name
from sila_identity.domain.national_id import mask_nin
from sila_identity.events import CustomerRegistered, CustomerUpdated
from sila_identity.tables import customers, wilayas


class CustomerRead(BaseModel):
    id: str
    kind: str
    status: str
    display_name: str
    first_name: str | None
    last_name: str | None
    first_name_ar: str | None
    last_name_ar: str | None
    company_name: str | None
    legal_form: str | None
    trade_register_number: str | None
    tax_id: str | None
    # Masked (last four digits): screens do not need the whole number.
    national_id: str | None
    phone: str | None
    email: str | None
    wilaya_code: str
    commune: str | None
    commune_code: str | None
    address: str | None
    language: str
    version: int
    created_at: datetime
    updated_at: datetime
    erased_at: datetime | None


def name_of(row: Any) -> str:
    return display_name(
        first_name=row.first_name,
        last_name=row.last_name,
        first_name_ar=row.first_name_ar,
        last_name_ar=row.last_name_ar,
        company_name=row.company_name,
    )


def to_read(row: Any) -> CustomerRead:
    return CustomerRead(
        id=row.id,
        kind=row.kind,
        status=row.status,
        display_name=name_of(row),
        first_name=row.first_name,
        last_name=row.last_name,
        first_name_ar=row.first_name_ar,
        last_name_ar=row.last_name_ar,
        company_name=row.company_name,
        legal_form=row.legal_form,
        trade_register_number=row.trade_register_number,
        tax_id=row.tax_id,
        national_id=mask_nin(row.national_id) if row.national_id else None,
        phone=row.phone,
        email=row.email,
        wilaya_code=row.wilaya_code,
        commune=row.commune,
        commune_code=row.commune_code,
        address=row.address,
        language=row.language,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        erased_at=row.erased_at,
    )


async def load_row(
    session: AsyncSession | AsyncConnection,
    customer_id: str,
    *,
    for_update: bool = False,
    reader: Principal | None = None,
) -> Any:
    """The customer's row, or 404; with ``reader``, only a customer that caller may read
    (``ensure_may_read``), and a caller who never reads customers is refused (403) before
    anything is read, so that the answer never tells whether the customer exists."""
    if reader is not None:
        ensure_reads_customers(reader)
    query = select(customers).where(customers.c.id == customer_id)
    if for_update:
        query = query.with_for_update()
    row = (await session.execute(query)).one_or_none()
    if row is None:
        raise NotFound(f"No customer {customer_id}.")
    if reader is not None:
        ensure_may_read(reader, row)
    return row


def may_read(principal: Principal, row: Any) -> bool:
    return principal.may_read_customer(row.id, row.wilaya_code)


def ensure_reads_customers(principal: Principal) -> None:
    """A role or scope that never reads one customer's records is refused as such (403),
    whichever customer is asked for (checked before the customer is looked up)."""
    if principal.kind == "agent":
        ensure_roles(principal, *CUSTOMER_CARE)
    if principal.kind == "partner":
        ensure_scope(principal, Scope.CUSTOMERS_READ)


def ensure_may_read(principal: Principal, row: Any) -> None:
    ensure_reads_customers(principal)
    if not may_read(principal, row):
        # A caller outside their scope learns nothing about whether the customer exists.
        raise NotFound(f"No customer {row.id}.")


def registered_payload(row: Any, channel: str | None) -> CustomerRegistered:
    return CustomerRegistered(
        customer_id=row.id,
        kind=row.kind,
        status=row.status,
        wilaya_code=row.wilaya_code,
        language=row.language,
        channel=channel,
        display_name=name_of(row),
        phone=row.phone or "",
        email=row.email,
        commune=row.commune,
        commune_code=row.commune_code,
    )


def updated_payload(
    row: Any, channel: str | None, changed: list[str], reason: str | None = None
) -> CustomerUpdated:
    base = registered_payload(row, channel).model_dump()
    return CustomerUpdated(**base, changed=changed, version=row.version, reason=reason)


async def ensure_wilaya(session: AsyncSession, code: str, field: str) -> None:
    active = await session.scalar(select(wilayas.c.active).where(wilayas.c.code == code))
    if not active:
        reason = f"no wilaya has the code {code}"
        raise Unprocessable(
            reason, errors=[{"field": field, "message": reason, "type": "unknown_wilaya"}]
        )


async def duplicate_conflict(
    session: AsyncSession,
    *,
    phone: str | None,
    national_id: str | None,
    exclude_id: str | None = None,
    principal: Principal | None = None,
) -> Conflict | None:
    """A 409 when another customer already has this phone number or NIN.

    It names that customer only to a caller who may read them: outside an agent's wilayas
    the duplicate is still refused, but the answer says nothing of who it is.
    """
    for column, value, label in (
        (customers.c.phone, phone, "phone number"),
        (customers.c.national_id, national_id, "national identification number"),
    ):
        if value is None:
            continue
        query = select(customers.c.id, customers.c.wilaya_code).where(column == value)
        if exclude_id is not None:
            query = query.where(customers.c.id != exclude_id)
        found = (await session.execute(query.limit(1))).one_or_none()
        if found is not None:
            existing = found.id
            if principal is not None and not principal.may_read_customer(
                existing, found.wilaya_code
            ):
                return Conflict(
                    f"A customer with this {label} is already registered, outside your scope.",
                    slug="duplicate-customer",
                    field=column.name,
                )
            return Conflict(
                f"A customer with this {label} already exists: {existing}.",
                slug="duplicate-customer",
                existing_customer_id=existing,
                field=column.name,
            )
    return None
