"""Referral: a customer invites by phone number or a referee enters a code; at the referee's
first successful payment both are rewarded, once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.auth import Principal
from sila_common.idempotency import Created, create_once
from sila_common.problems import Conflict, NotFound, Unprocessable
from sila_loyalty.domain.campaigns import Facts
from sila_loyalty.domain.ledger import EntryReason, RewardKind
from sila_loyalty.domain.referrals import ReferralRefusal, check_referral
from sila_loyalty.domain.tiers import Tier
from sila_loyalty.events import REFERRAL_CONVERTED, ReferralConverted
from sila_loyalty.flows.accounts import lock_account
from sila_loyalty.flows.grants import Source, grant
from sila_loyalty.runtime import LoyaltyParts, LoyaltyRuntime, Render
from sila_loyalty.tables import accounts, recorded_events, referrals

# The advisory lock that serialises invitations (any number unique to this purpose).
INVITE_LOCK = 14_001
_TITLES = {
    ReferralRefusal.SELF_REFERRAL: "You cannot refer yourself.",
    ReferralRefusal.LOOP: "This invitation would close a referral loop.",
    ReferralRefusal.ALREADY_REFERRED: "This customer was already referred.",
    ReferralRefusal.ALREADY_CUSTOMER: "This customer is already a paying customer.",
}


async def _referred_by(session: AsyncSession) -> dict[str, str]:
    rows = await session.execute(
        select(referrals.c.referee_id, referrals.c.referrer_id).where(
            referrals.c.referee_id.is_not(None)
        )
    )
    return {str(referee): str(referrer) for referee, referrer in rows.all()}


async def _has_paid(session: AsyncSession, customer_id: str) -> bool:
    found = await session.scalar(
        select(recorded_events.c.event_id)
        .where(
            recorded_events.c.customer_id == customer_id,
            recorded_events.c.event_type == "billing.payment.succeeded",
        )
        .limit(1)
    )
    return found is not None


async def invite(
    session: AsyncSession,
    *,
    referrer_id: str,
    referee_phone: str | None = None,
    referrer_code: str | None = None,
    customer_id: str,
) -> dict[str, Any]:
    """An invitation: by the referrer naming a phone number, or by the referee (``customer_id``)
    entering the referrer's code. Refusals are 409s naming what is wrong."""
    referee_id: str | None = None
    via = "phone"
    if referrer_code is not None:
        via = "code"
        referrer = (
            await session.execute(
                select(accounts).where(accounts.c.referral_code == referrer_code.upper())
            )
        ).one_or_none()
        if referrer is None or referrer.erased_at is not None:
            raise Unprocessable(
                "No customer has this referral code.",
                slug="unknown-referral-code",
                errors=[{"field": "body.referrer_code", "message": "unknown code"}],
            )
        referrer_id, referee_id = referrer.customer_id, customer_id
    # Invitations are made one at a time, so the loop check sees every earlier one.
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": INVITE_LOCK})
    await lock_account(session, referrer_id)
    referrer_row = (
        await session.execute(select(accounts).where(accounts.c.customer_id == referrer_id))
    ).one()
    if referee_id is None and referee_phone is not None:
        known = (
            await session.execute(select(accounts).where(accounts.c.phone == referee_phone))
        ).first()
        referee_id = known.customer_id if known is not None else None
    refusal = check_referral(
        referrer_id,
        referee_id,
        referrer_phone=referrer_row.phone,
        referee_phone=referee_phone,
        referred_by=await _referred_by(session),
        referee_has_paid=referee_id is not None and await _has_paid(session, referee_id),
    )
    if refusal is None and referee_phone is not None:
        taken = await session.scalar(
            select(referrals.c.id).where(referrals.c.referee_phone == referee_phone)
        )
        if taken is not None:
            refusal = ReferralRefusal.ALREADY_REFERRED
    if refusal is not None:
        raise Conflict(_TITLES[refusal], slug=refusal.value, title="Referral refused")
    row = {
        "id": str(uuid.uuid4()),
        "referrer_id": referrer_id,
        "referee_id": referee_id,
        "referee_phone": referee_phone,
        "via": via,
        "status": "invited",
        "created_at": datetime.now(UTC),
        "converted_at": None,
    }
    await session.execute(insert(referrals).values(**row))
    return row


async def link_registered(session: AsyncSession, customer_id: str, phone: str | None) -> None:
    """A newly registered customer who was invited by phone becomes that referral's referee."""
    if not phone:
        return
    await session.execute(
        update(referrals)
        .where(referrals.c.referee_phone == phone, referrals.c.referee_id.is_(None))
        .values(referee_id=customer_id)
    )


async def referrers_of(session: AsyncSession, referees: set[str], phones: set[str]) -> set[str]:
    """The referrers a batch of these customers' events may reward."""
    query = select(referrals.c.referrer_id).where(
        or_(
            and_(referrals.c.referee_id.in_(referees), referrals.c.status == "invited"),
            and_(referrals.c.referee_phone.in_(phones), referrals.c.referee_id.is_(None)),
        )
    )
    return {str(r) for r in await session.scalars(query)}


async def convert(
    session: AsyncSession, runtime: LoyaltyParts, referee_id: str, *, at: datetime
) -> bool:
    """The referee paid for the first time: reward both sides once, tell the referrer."""
    referral = (
        await session.execute(
            select(referrals)
            .where(referrals.c.referee_id == referee_id, referrals.c.status == "invited")
            .with_for_update()
        )
    ).one_or_none()
    if referral is None:
        return False
    await session.execute(
        update(referrals)
        .where(referrals.c.id == referral.id)
        .values(status="converted", converted_at=at)
    )
    settings = runtime.settings
    await lock_account(session, referral.referrer_id)
    for customer_id, side, points in (
        (referral.referrer_id, "referrer", settings.referral_referrer_points),
        (referee_id, "referee", settings.referral_referee_points),
    ):
        await grant(
            session,
            runtime,
            customer_id=customer_id,
            kind=RewardKind.POINTS,
            quantity=points,
            label=f"{points} points de parrainage",
            source=Source(key=f"referral:{referral.id}:{side}", reason=EntryReason.REFERRAL),
            occurred_at=at,
        )
    event = await runtime.outbox.record(
        session,
        REFERRAL_CONVERTED,
        subject=referral.id,
        customer_id=referral.referrer_id,
        data=ReferralConverted(
            referral_id=referral.id, customer_id=referral.referrer_id, referee_id=referee_id
        ),
    )
    # Campaigns on referrals follow the referrer's side of it.
    from sila_loyalty.flows.engine import run_campaigns

    referrer = (
        await session.execute(
            select(accounts).where(accounts.c.customer_id == referral.referrer_id)
        )
    ).one()
    await run_campaigns(
        session,
        runtime,
        Facts(
            event_id=event.id,
            event_type=REFERRAL_CONVERTED.type,
            customer_id=referral.referrer_id,
            occurred_at=at,
            subject=referral.id,
            wilaya_code=referrer.wilaya_code,
            offers=frozenset(referrer.offers or []),
            tier=Tier(referrer.tier),
        ),
    )
    return True


async def list_for(session: AsyncSession, customer_id: str) -> list[Any]:
    rows = await session.execute(
        select(referrals)
        .where((referrals.c.referrer_id == customer_id) | (referrals.c.referee_id == customer_id))
        .order_by(referrals.c.created_at.desc(), referrals.c.id.desc())
        .limit(200)
    )
    return list(rows.all())


async def load(session: AsyncSession, referral_id: str) -> Any:
    row = (
        await session.execute(select(referrals).where(referrals.c.id == referral_id))
    ).one_or_none()
    if row is None:
        raise NotFound(f"No referral {referral_id}.")
    return row


async def invite_once(
    runtime: LoyaltyRuntime,
    principal: Principal,
    *,
    customer_id: str,
    referee_phone: str | None,
    referrer_code: str | None,
    key: str | None,
    body: Any,
    render: Render,
) -> Created:
    """The invitation (``invite``, the caller being ``customer_id``), once per Idempotency-Key."""

    async def work(session: AsyncSession) -> tuple[int, dict[str, Any]]:
        row = await invite(
            session,
            referrer_id=customer_id,
            referee_phone=referee_phone,
            referrer_code=referrer_code,
            customer_id=customer_id,
        )
        return 201, render(row)

    return await create_once(runtime, principal, key=key, body=body, work=work)
