"""Privacy (law 18-07): consent given or withdrawn, and erasure of a customer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, update

from sila_common.auth import Principal
from sila_common.db import as_utc
from sila_common.outbox import forget_customer_history
from sila_common.problems import Conflict
from sila_identity.auth import sessions
from sila_identity.auth.accounts import forget_account
from sila_identity.directory import load_row
from sila_identity.events import CONSENT_CHANGED, CUSTOMER_ERASED, ConsentChanged, CustomerErased
from sila_identity.flows import audit
from sila_identity.runtime import IdentityRuntime
from sila_identity.tables import (
    consents,
    contracts,
    customers,
    interactions,
    messaging,
    otp_challenges,
)
from sila_identity.timeline.projection import scrub_customer_entries


@dataclass(frozen=True)
class Consent:
    purpose: str
    channel: str
    granted: bool
    captured_via: str


async def record_consent(
    runtime: IdentityRuntime,
    principal: Principal,
    customer_id: str,
    consent: Consent,
    *,
    authorise: Callable[[Any], None],
) -> dict[str, Any]:
    """Record a consent of a customer ``authorise`` lets the caller act for; its event."""
    now = datetime.now(UTC)
    async with runtime.session_factory() as session, session.begin():
        customer = await load_row(session, customer_id)
        authorise(customer)
        if customer.erased_at is not None:
            raise Conflict("This customer was erased.")
        row = {
            "customer_id": customer_id,
            "purpose": consent.purpose,
            "channel": consent.channel,
            "granted": consent.granted,
            "captured_via": consent.captured_via,
            "captured_by": f"{principal.kind}:{principal.subject}",
            "recorded_at": now,
        }
        await session.execute(insert(consents).values(**row))
        await runtime.outbox.record(
            session,
            CONSENT_CHANGED,
            subject=customer_id,
            customer_id=customer_id,
            data=ConsentChanged(
                customer_id=customer_id,
                purpose=consent.purpose,
                channel=consent.channel,
                granted=consent.granted,
                captured_via=consent.captured_via,
            ),
        )
        await audit.record(
            session,
            principal,
            "consent.change",
            customer_id=customer_id,
            detail={"purpose": consent.purpose, "channel": consent.channel},
        )
    return row


async def erase_customer(
    runtime: IdentityRuntime, principal: Principal, customer_id: str
) -> datetime:
    """Anonymise the customer everywhere identity keeps them, end their sessions, tell every
    service; erasing again changes nothing. Returns when they were erased.
    """
    now = datetime.now(UTC)
    async with runtime.session_factory() as session, session.begin():
        customer = await load_row(session, customer_id, for_update=True, reader=principal)
        if customer.erased_at is not None:
            return as_utc(customer.erased_at) or now
        await session.execute(
            update(customers)
            .where(customers.c.id == customer_id)
            .values(
                first_name=None,
                last_name=None,
                first_name_ar=None,
                last_name_ar=None,
                company_name=None,
                legal_form=None,
                trade_register_number=None,
                tax_id=None,
                national_id=None,
                phone=None,
                email=None,
                commune=None,
                commune_code=None,
                address=None,
                search_text=None,
                name_keys=None,
                status="closed",
                erased_at=now,
                version=customer.version + 1,
                updated_at=now,
            )
        )
        await session.execute(
            update(contracts)
            .where(contracts.c.customer_id == customer_id)
            .values(
                line_number=None,
                access_number=None,
                installation_address=None,
                installation_commune=None,
                installation_commune_code=None,
            )
        )
        await session.execute(
            update(interactions).where(interactions.c.customer_id == customer_id).values(notes=None)
        )
        await session.execute(
            delete(otp_challenges).where(otp_challenges.c.customer_id == customer_id)
        )
        await sessions.revoke_subject(session, customer_id)
        await scrub_customer_entries(session, customer_id)
        await forget_customer_history(session, messaging, customer_id)
        await runtime.outbox.record(
            session,
            CUSTOMER_ERASED,
            subject=customer_id,
            customer_id=customer_id,
            data=CustomerErased(customer_id=customer_id, erased_at=now),
        )
        await audit.record(session, principal, "customer.erase", customer_id=customer_id)
    forget_account(runtime, customer_id)
    return now
