"""Personal data (law 18-07): consent records, the export of everything held about a
customer, and erasure.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from sila_common.auth import Principal, ensure_roles
from sila_common.db import as_utc
from sila_common.problems import Forbidden
from sila_common.roles import FRONT_OFFICE, SUPERVISION
from sila_identity.api.deps import Caller, RuntimeDep, Supervisor
from sila_identity.directory import ensure_may_read, load_row, name_of
from sila_identity.domain.consent import (
    CaptureChannel,
    ConsentChannel,
    ConsentRecord,
    Purpose,
    current_consent,
)
from sila_identity.flows import audit
from sila_identity.flows import privacy as flows
from sila_identity.flows.privacy import Consent
from sila_identity.tables import (
    audit_log,
    consents,
    contracts,
    interactions,
    timeline_entries,
)
from sila_identity.timeline.projection import customer_facing

router = APIRouter(prefix="/v1/customers", tags=["personal data"])
# Where a customer acting for themselves can have expressed a choice.
SELF_CAPTURE = frozenset({CaptureChannel.WEB, CaptureChannel.APP, CaptureChannel.SMS})


class ConsentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: Purpose
    channel: ConsentChannel
    granted: bool
    captured_via: CaptureChannel


class ConsentRead(BaseModel):
    purpose: str
    channel: str
    granted: bool
    captured_via: str
    captured_by: str
    recorded_at: datetime


class ConsentState(BaseModel):
    purpose: str
    channel: str
    granted: bool
    # False while no record exists and the purpose's default applies.
    recorded: bool


class ConsentSummary(BaseModel):
    current: list[ConsentState]
    history: list[ConsentRead]


class Erasure(BaseModel):
    customer_id: str
    erased_at: datetime


def _ensure_manages_consent(principal: Principal) -> None:
    """Customers and agents manage consent; partners never (whichever customer is asked
    for: checked before the customer is looked up)."""
    if principal.kind not in ("customer", "agent"):
        raise Forbidden("Consent is managed by the customer or an agent.")


def _ensure_person(principal: Principal, customer: Any) -> None:
    """The customer themselves or an agent serving them; partners never."""
    _ensure_manages_consent(principal)
    ensure_may_read(principal, customer)


@router.post(
    "/{customer_id}/consents",
    status_code=status.HTTP_201_CREATED,
    response_model=ConsentRead,
    summary="Record a consent given or withdrawn",
)
async def record_consent(
    customer_id: str, body: ConsentCreate, runtime: RuntimeDep, principal: Caller
) -> ConsentRead:
    if principal.kind == "customer" and body.captured_via not in SELF_CAPTURE:
        raise Forbidden("A customer records consent from the portal, the app or by SMS.")
    if principal.kind == "agent":
        ensure_roles(principal, *FRONT_OFFICE)
    row = await flows.record_consent(
        runtime,
        principal,
        customer_id,
        Consent(
            purpose=body.purpose.value,
            channel=body.channel.value,
            granted=body.granted,
            captured_via=body.captured_via.value,
        ),
        authorise=lambda customer: _ensure_person(principal, customer),
    )
    return ConsentRead.model_validate(row)


@router.get(
    "/{customer_id}/consents",
    response_model=ConsentSummary,
    summary="A customer's consent: the state per purpose and channel, and the history",
)
async def list_consents(customer_id: str, runtime: RuntimeDep, principal: Caller) -> ConsentSummary:
    async with runtime.session_factory() as session:
        _ensure_manages_consent(principal)
        await load_row(session, customer_id, reader=principal)
        rows = (
            await session.execute(
                select(consents)
                .where(consents.c.customer_id == customer_id)
                .order_by(consents.c.id.desc())
            )
        ).all()
    await audit.record_reads(runtime.session_factory, principal, "consent.read", [customer_id])
    history = [
        ConsentRead.model_validate(r, from_attributes=True).model_copy(
            update={"recorded_at": r.recorded_at}
        )
        for r in rows
    ]
    records = [
        ConsentRecord(
            purpose=Purpose(h.purpose),
            channel=ConsentChannel(h.channel),
            granted=h.granted,
            recorded_at=h.recorded_at,
        )
        for h in history
    ]
    current = [
        ConsentState(
            purpose=purpose.value,
            channel=channel.value,
            granted=current_consent(records, purpose, channel),
            recorded=any(
                r.purpose is purpose and r.channel in (channel, ConsentChannel.ANY) for r in records
            ),
        )
        for purpose in Purpose
        for channel in ConsentChannel
        if channel is not ConsentChannel.ANY
    ]
    return ConsentSummary(current=current, history=history)


@router.get(
    "/{customer_id}/export",
    summary="Everything identity holds about a customer (JSON)",
    description=(
        "The customer (unmasked), contracts, logged contacts, consent history, timeline and "
        "the log of who read or changed their data. For the customer, or a supervisor."
    ),
)
async def export_customer(
    customer_id: str, runtime: RuntimeDep, principal: Caller
) -> dict[str, Any]:
    if principal.kind == "agent":
        ensure_roles(principal, *SUPERVISION)
    async with runtime.session_factory() as session:
        _ensure_manages_consent(principal)
        customer = await load_row(session, customer_id, reader=principal)
        sections: dict[str, Any] = {}
        for name, table, order in (
            ("contracts", contracts, contracts.c.created_at),
            ("interactions", interactions, interactions.c.occurred_at),
            ("consents", consents, consents.c.id),
            ("timeline", timeline_entries, timeline_entries.c.occurred_at),
            ("access_log", audit_log, audit_log.c.id),
        ):
            query = select(table).where(table.c.customer_id == customer_id).order_by(order)
            if table is timeline_entries:
                query = query.where(customer_facing())
            rows = (await session.execute(query)).all()
            # The export is the customer's: agents' internal notes are not part of it.
            sections[name] = [
                _plain({k: v for k, v in row._mapping.items() if k not in INTERNAL_COLUMNS})
                for row in rows
            ]
    await audit.record_reads(runtime.session_factory, principal, "customer.export", [customer_id])
    profile = _plain(customer._mapping)
    profile.pop("search_text", None)
    profile.pop("name_keys", None)
    profile["display_name"] = name_of(customer)
    return {"exported_at": datetime.now(UTC).isoformat(), "customer": profile, **sections}


# Columns written by agents for agents (an interaction's notes).
INTERNAL_COLUMNS = frozenset({"notes"})


def _plain(mapping: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in dict(mapping).items():
        if isinstance(value, datetime):
            value = (as_utc(value) or value).isoformat()
        out[key] = value
    return out


@router.post(
    "/{customer_id}/erasure",
    response_model=Erasure,
    summary="Erase a customer's personal data",
    description=(
        "Anonymises the customer (names, identifiers, phone, e-mail, address), their "
        "contracts' lines and addresses, agents' notes and their timeline entries; closes "
        "the customer, ends their sessions, and emits identity.customer.erased so every "
        "service scrubs its copies. Erasing again changes nothing."
    ),
)
async def erase_customer(customer_id: str, runtime: RuntimeDep, principal: Supervisor) -> Erasure:
    erased_at = await flows.erase_customer(runtime, principal, customer_id)
    return Erasure(customer_id=customer_id, erased_at=erased_at)
