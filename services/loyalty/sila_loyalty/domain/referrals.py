"""Referral ("parrainage"): who may invite whom, and what is refused.

A referee is referred once: a second invitation of the same person, inviting oneself, and
an invitation that would close a loop (A invites B, B invites A, or longer) are refused.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Mapping

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8


class ReferralRefusal(enum.StrEnum):
    SELF_REFERRAL = "self-referral"
    LOOP = "referral-loop"
    ALREADY_REFERRED = "already-referred"
    ALREADY_CUSTOMER = "referee-already-paying"


def new_code() -> str:
    """A referral code a customer can read out on the phone (no 0/O, 1/I)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def check_referral(
    referrer_id: str,
    referee_id: str | None,
    *,
    referrer_phone: str | None,
    referee_phone: str | None,
    referred_by: Mapping[str, str],
    referee_has_paid: bool = False,
) -> ReferralRefusal | None:
    """Why this invitation is refused, or None. ``referred_by`` maps a referee's customer id
    to their referrer's, for every referral already made."""
    if referee_id == referrer_id or (referee_phone is not None and referee_phone == referrer_phone):
        return ReferralRefusal.SELF_REFERRAL
    if referee_id is not None:
        if referee_id in referred_by:
            return ReferralRefusal.ALREADY_REFERRED
        if referee_has_paid:
            return ReferralRefusal.ALREADY_CUSTOMER
        # Walk up from the referrer: meeting the referee means the referee (directly or
        # through others) brought the referrer in.
        seen: set[str] = set()
        current: str | None = referrer_id
        while current is not None and current not in seen:
            if current == referee_id:
                return ReferralRefusal.LOOP
            seen.add(current)
            current = referred_by.get(current)
    return None
