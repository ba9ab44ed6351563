"""Customers: registration, changes of details or status, and identification (each read
audited), with their events.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.auth import Principal
from sila_common.idempotency import Created, create_once
from sila_common.problems import Conflict, Forbidden, Problem, Unprocessable
from sila_common.roles import CUSTOMER_CARE
from sila_identity import queries
from sila_identity.directory import (
    duplicate_conflict,
    ensure_wilaya,
    load_row,
    may_read,
    registered_payload,
    to_read,
    updated_payload,
)
from sila_identity.domain.customers import (
    CustomerStatus,
    InvalidStatusTransition,
    allowed_transitions,
    check_identity,
    ensure_transition,
)
from sila_identity.domain.search import customer_name_keys, customer_search_text
from sila_identity.events import CUSTOMER_REGISTERED, CUSTOMER_UPDATED
from sila_identity.flows import audit
from sila_identity.flows.geography import commune_for_text, ensure_commune
from sila_identity.runtime import IdentityRuntime
from sila_identity.tables import customers

# Derived from the name (and the wilaya, for name_keys): never reported as changed fields.
INDEX_COLUMNS = frozenset({"search_text", "name_keys"})
# Changing one of these re-checks the kind's naming rules and re-indexes the name.
IDENTITY_FIELDS = frozenset(
    {
        "first_name",
        "last_name",
        "first_name_ar",
        "last_name_ar",
        "company_name",
        "legal_form",
        "trade_register_number",
        "tax_id",
    }
)


def search_text(values: dict[str, Any]) -> str | None:
    return customer_search_text(
        first_name=values.get("first_name"),
        last_name=values.get("last_name"),
        first_name_ar=values.get("first_name_ar"),
        last_name_ar=values.get("last_name_ar"),
        company_name=values.get("company_name"),
    )


def name_keys(values: dict[str, Any]) -> list[str] | None:
    return customer_name_keys(
        wilaya_code=values["wilaya_code"],
        first_name=values.get("first_name"),
        last_name=values.get("last_name"),
        first_name_ar=values.get("first_name_ar"),
        last_name_ar=values.get("last_name_ar"),
        company_name=values.get("company_name"),
    )


async def register_customer(
    runtime: IdentityRuntime,
    principal: Principal,
    values: dict[str, Any],
    *,
    channel: str,
    idempotency_key: str | None,
    request: Any,
) -> Created:
    """Register a customer (once per Idempotency-Key): the row, its event, the audit."""
    customer_id = str(uuid.uuid4())

    async def work(session: AsyncSession) -> tuple[int, dict[str, Any]]:
        await ensure_wilaya(session, values["wilaya_code"], "body.wilaya_code")
        conflict = await duplicate_conflict(
            session,
            phone=values["phone"],
            national_id=values.get("national_id"),
            principal=principal,
        )
        if conflict is not None:
            raise conflict
        now = datetime.now(UTC)
        row_values = dict(values)
        if row_values.get("commune_code"):
            await ensure_commune(
                session,
                row_values["commune_code"],
                row_values["wilaya_code"],
                commune_field="body.commune_code",
                wilaya_field="body.wilaya_code",
            )
        else:
            row_values["commune_code"] = await commune_for_text(
                session, row_values["wilaya_code"], row_values.get("commune")
            )
        await session.execute(
            insert(customers).values(
                **row_values,
                id=customer_id,
                search_text=search_text(values),
                name_keys=name_keys(values),
                version=1,
                created_at=now,
                updated_at=now,
            )
        )
        row = await load_row(session, customer_id)
        await runtime.outbox.record(
            session,
            CUSTOMER_REGISTERED,
            subject=customer_id,
            customer_id=customer_id,
            data=registered_payload(row, channel),
        )
        await audit.record(session, principal, "customer.create", customer_id=customer_id)
        return 201, to_read(row).model_dump(mode="json")

    try:
        return await create_once(runtime, principal, key=idempotency_key, body=request, work=work)
    except IntegrityError as exc:
        # A concurrent registration took the phone or NIN between the check and the insert.
        async with runtime.session_factory() as session:
            conflict = await duplicate_conflict(
                session,
                phone=values["phone"],
                national_id=values.get("national_id"),
                principal=principal,
            )
        raise (conflict or Conflict("The customer conflicts with an existing one.")) from exc


async def update_customer(
    runtime: IdentityRuntime,
    principal: Principal,
    customer_id: str,
    wanted: dict[str, Any],
    *,
    channel: str,
    if_match: str | None,
) -> Any:
    """Change the fields in ``wanted`` (as sent); returns the customer's row after."""
    try:
        async with runtime.session_factory() as session, session.begin():
            row = await load_row(session, customer_id, for_update=True, reader=principal)
            if row.erased_at is not None:
                raise Conflict("This customer was erased; nothing about them can change.")
            if if_match is not None and if_match.strip().strip('"') != str(row.version):
                raise Problem(
                    f"The customer is at version {row.version}, not {if_match}.",
                    status=412,
                    slug="version-mismatch",
                    title="Precondition failed",
                    current_version=row.version,
                )
            changes = await _changes(session, principal, row, wanted)
            if not changes:
                return row
            await session.execute(
                update(customers)
                .where(customers.c.id == customer_id)
                .values(**changes, version=row.version + 1, updated_at=datetime.now(UTC))
            )
            row = await load_row(session, customer_id)
            changed = sorted(set(changes) - INDEX_COLUMNS)
            await runtime.outbox.record(
                session,
                CUSTOMER_UPDATED,
                subject=customer_id,
                customer_id=customer_id,
                data=updated_payload(row, channel, changed),
            )
            await audit.record(
                session,
                principal,
                "customer.update",
                customer_id=customer_id,
                detail={"fields": changed},
            )
    except IntegrityError as exc:
        async with runtime.session_factory() as session:
            conflict = await duplicate_conflict(
                session,
                phone=wanted.get("phone"),
                national_id=wanted.get("national_id"),
                exclude_id=customer_id,
                principal=principal,
            )
        raise (conflict or Conflict("The change conflicts with another customer.")) from exc
    return row


async def _changes(
    session: AsyncSession, principal: Principal, row: Any, wanted: dict[str, Any]
) -> dict[str, Any]:
    """The columns to write, after every rule that spans fields or needs the database."""
    changes = {k: v for k, v in wanted.items() if getattr(row, k) != v}
    if "wilaya_code" in changes:
        if not principal.serves_wilaya(changes["wilaya_code"]):
            raise Forbidden(f"Your scope does not cover wilaya {changes['wilaya_code']}.")
        await ensure_wilaya(session, changes["wilaya_code"], "body.wilaya_code")
    await _check_commune(session, row, changes, set(wanted))
    if "status" in changes:
        try:
            ensure_transition(CustomerStatus(row.status), CustomerStatus(changes["status"]))
        except InvalidStatusTransition as exc:
            raise Conflict(
                f"A {row.status} customer cannot become {changes['status']}.",
                slug="status-transition-refused",
                allowed_transitions=sorted(allowed_transitions(CustomerStatus(row.status))),
            ) from exc
    if {"phone", "national_id"} & changes.keys():
        conflict = await duplicate_conflict(
            session,
            phone=changes.get("phone"),
            national_id=changes.get("national_id"),
            exclude_id=row.id,
            principal=principal,
        )
        if conflict is not None:
            raise conflict
    # What the name rules and the index read: the names, company details and wilaya.
    merged = (
        {field: getattr(row, field) for field in IDENTITY_FIELDS}
        | {"wilaya_code": row.wilaya_code}
        | changes
    )
    if IDENTITY_FIELDS & changes.keys():
        try:
            check_identity(row.kind, merged)
        except ValueError as exc:
            raise Unprocessable(str(exc)) from exc
        changes["search_text"] = search_text(merged)
    if (IDENTITY_FIELDS | {"wilaya_code"}) & changes.keys():
        changes["name_keys"] = name_keys(merged)
    return changes


async def _check_commune(
    session: AsyncSession, row: Any, changes: dict[str, Any], sent: set[str]
) -> None:
    """The commune stays a commune of the wilaya: checked when either moves; a commune
    typed without its code is matched to the reference (cleared when nothing matches)."""
    wilaya = changes.get("wilaya_code", row.wilaya_code)
    if "commune_code" not in sent and {"commune", "wilaya_code"} & changes.keys():
        text = changes.get("commune", row.commune)
        matched = await commune_for_text(session, wilaya, text)
        if (matched is not None or "commune" in changes) and matched != row.commune_code:
            changes["commune_code"] = matched
    code = changes.get("commune_code", row.commune_code)
    if code and {"commune_code", "wilaya_code"} & changes.keys():
        await ensure_commune(
            session,
            code,
            wilaya,
            commune_field="body.commune_code",
            wilaya_field="body.wilaya_code",
        )


async def find_customers(
    runtime: IdentityRuntime,
    principal: Principal,
    *,
    phone: str | None = None,
    contract: str | None = None,
    q: str | None = None,
    wilaya: str | None = None,
    limit: int,
) -> list[Any]:
    """The customers with this phone (E.164), contract number or name that the caller may
    read; the read audited in the same transaction (one connection, one commit).
    """
    if phone and principal.kind == "agent" and principal.has_role(*CUSTOMER_CARE):
        # The agents' hot path: the read, its scope and its audit rows in one statement.
        # A connection without the ORM session: the statement is its own transaction.
        return await queries.by_phone_audited(
            runtime.engine,
            phone,
            principal.wilayas,
            audit.read_row(principal, "customer.lookup", {"by": "phone"}),
        )
    async with runtime.session_factory() as session, session.begin():
        if phone:
            rows = await queries.by_phone(session, phone)
        elif contract:
            rows = await queries.by_contract(session, contract)
        else:
            rows = await queries.by_name(
                session, runtime.settings, principal, q or "", wilaya, limit
            )
        found = [row for row in rows if may_read(principal, row)]
        await audit.record_reads_in(
            session,
            principal,
            "customer.search" if q else "customer.lookup",
            [row.id for row in found],
            detail={"by": "phone" if phone else "contract" if contract else "q"},
        )
    return found
