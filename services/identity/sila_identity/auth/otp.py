"""Customers' log-in by one-time SMS code: asking for a code, and redeeming it.

Asking always looks the same from outside (202, same work: a challenge row is written
even for a number no customer has), so the endpoint cannot tell who is a customer.
A code is redeemed at most once, within 5 minutes, in at most 5 guesses; the guess
counter is committed before the answer is given, so parallel guesses cannot exceed it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import insert, select, update

from sila_common.db import as_utc
from sila_identity.auth.errors import invalid_grant
from sila_identity.domain import otp
from sila_identity.events import OTP_REQUESTED, OtpRequested
from sila_identity.runtime import IdentityRuntime
from sila_identity.tables import customers, otp_challenges

NO_CUSTOMER = ""


def _secret(runtime: IdentityRuntime) -> bytes:
    return runtime.settings.otp_secret.get_secret_value().encode()


async def request_code(runtime: IdentityRuntime, phone: str) -> None:
    """Create a challenge for ``phone``; if a customer has it, have notify send the code."""
    now = datetime.now(UTC)
    challenge_id = str(uuid.uuid4())
    code = otp.new_code()
    async with runtime.session_factory() as session, session.begin():
        customer = (
            await session.execute(
                select(customers.c.id, customers.c.language).where(
                    customers.c.phone == phone, customers.c.erased_at.is_(None)
                )
            )
        ).one_or_none()
        await session.execute(
            insert(otp_challenges).values(
                id=challenge_id,
                phone=phone,
                customer_id=customer.id if customer else NO_CUSTOMER,
                code_hash=otp.hash_code(_secret(runtime), challenge_id, code),
                attempts=0,
                created_at=now,
                expires_at=otp.expires_at(now),
                consumed_at=None,
            )
        )
        if customer is not None:
            # The code leaves identity sealed for notify alone (sila_common.otp_transport).
            key = runtime.settings.transport_key()
            await runtime.outbox.record(
                session,
                OTP_REQUESTED,
                subject=challenge_id,
                customer_id=customer.id,
                data=OtpRequested(
                    customer_id=customer.id,
                    phone=phone,
                    sealed_code=key.seal(code, customer_id=customer.id, phone=phone),
                    key_id=key.key_id,
                    expires_at=otp.expires_at(now),
                    language=customer.language,
                ),
            )


async def redeem_code(runtime: IdentityRuntime, phone: str, code: str) -> str:
    """The customer id the code logs in, or invalid_grant."""
    now = datetime.now(UTC)
    refusal = "The code is wrong or has expired; ask for a new one."
    async with runtime.session_factory() as session, session.begin():
        query = (
            select(otp_challenges)
            .where(
                otp_challenges.c.phone == phone,
                otp_challenges.c.consumed_at.is_(None),
                otp_challenges.c.expires_at > now,
            )
            .order_by(otp_challenges.c.created_at.desc())
            .limit(1)
            .with_for_update()
        )
        challenge = (await session.execute(query)).one_or_none()
        if challenge is None or (as_utc(challenge.expires_at) or now) <= now:
            raise invalid_grant(refusal)
        if challenge.attempts >= otp.MAX_ATTEMPTS:
            raise invalid_grant("Too many wrong codes; ask for a new one.")
        matches = otp.is_well_formed(code) and otp.code_matches(
            _secret(runtime), challenge.id, code, challenge.code_hash
        )
        accepted = matches and challenge.customer_id != NO_CUSTOMER
        await session.execute(
            update(otp_challenges)
            .where(otp_challenges.c.id == challenge.id)
            .values(
                attempts=otp_challenges.c.attempts + 1,
                consumed_at=now if accepted else None,
            )
        )
    if not accepted:
        raise invalid_grant(refusal)
    return str(challenge.customer_id)
