"""Partner webhooks: when to try again, and which destinations a delivery may reach.

The retry schedule (5 s, 5 min, 30 min, 2 h, 5 h, then every 10 h) spans about three days;
each delay gets random jitter so that a partner coming back online is not hit by every
pending delivery at the same second.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

# The destination check is shared with tickets' TMF621 hub (one rule for every service).
from sila_common.destinations import (
    DestinationRefused as DestinationRefused,
)
from sila_common.destinations import (
    IpAddress as IpAddress,
)
from sila_common.destinations import (
    check_addresses as check_addresses,
)
from sila_common.destinations import (
    check_url_shape as check_url_shape,
)

# Event types no subscription ever receives: they carry secrets (a one-time code).
NEVER_DELIVERED: Final = frozenset({"identity.otp.requested"})


# -- what a partner may receive ----------------------------------------------------------------
# A partner's subscription receives an event only when the partner's scopes allow its type,
# only about what the partner may see through its API, and only with the members that API
# would show. Every type not listed here is internal (assignments, escalations, internal
# notes, surveys, consents, messages, interactions, other partners' subscriptions...): it
# never reaches a partner, whatever pattern the subscription asked for.
@dataclass(frozen=True)
class PartnerRule:
    # Any one of these scopes opens the type.
    scopes: frozenset[str]
    # "own_ticket": the ticket was opened by this partner (data.partner_id); "customer": any
    # customer (customers:read shows any customer); "own_subscription": data.owner is the
    # partner's own subscription.
    reach: str
    # The data members delivered (the others are dropped).
    members: frozenset[str]
    # A data member that must be true (a note must be public).
    requires_true: str | None = None


_TICKET_READERS = frozenset({"tickets:read", "tmf621:read"})
_CUSTOMER_READERS = frozenset({"customers:read"})
_CUSTOMER_MEMBERS = frozenset(
    {
        "customer_id",
        "kind",
        "status",
        "wilaya_code",
        "language",
        "channel",
        "display_name",
        "phone",
        "email",
        "commune",
        "changed",
        "version",
    }
)
_TICKET_MEMBERS = frozenset(
    {
        "ticket_id",
        "number",
        "customer_id",
        "category",
        "subcategory",
        "priority",
        "channel",
        "subject",
        "queue",
        "status",
        "public_status",
        "from_status",
        "reason",
        "due_at",
        "first_response_due_at",
        "incident_id",
        "estimated_end_at",
        "partner_id",
        "external_id",
    }
)

PARTNER_RULES: Final[dict[str, PartnerRule]] = {
    "tickets.ticket.opened": PartnerRule(_TICKET_READERS, "own_ticket", _TICKET_MEMBERS),
    "tickets.ticket.status_changed": PartnerRule(_TICKET_READERS, "own_ticket", _TICKET_MEMBERS),
    "tickets.note.added": PartnerRule(
        _TICKET_READERS,
        "own_ticket",
        frozenset(
            {"ticket_id", "number", "customer_id", "note_id", "public", "text", "partner_id"}
        ),
        requires_true="public",
    ),
    "identity.customer.registered": PartnerRule(_CUSTOMER_READERS, "customer", _CUSTOMER_MEMBERS),
    "identity.customer.updated": PartnerRule(_CUSTOMER_READERS, "customer", _CUSTOMER_MEMBERS),
    "identity.customer.erased": PartnerRule(
        _CUSTOMER_READERS, "customer", frozenset({"customer_id", "erased_at"})
    ),
    "identity.contract.signed": PartnerRule(
        _CUSTOMER_READERS,
        "customer",
        frozenset({"customer_id", "contract_id", "number", "offer_code", "line_number", "status"}),
    ),
    "notify.webhook_subscription.disabled": PartnerRule(
        frozenset({"webhooks:manage"}),
        "own_subscription",
        frozenset({"subscription_id", "owner", "url", "reason"}),
    ),
}


@dataclass(frozen=True)
class Audience:
    """Whom a subscription delivers to: an administrator (internal), or a partner and the
    scopes it holds."""

    owner: str
    scopes: frozenset[str] = frozenset()

    @property
    def internal(self) -> bool:
        return self.owner.startswith("agent:")

    @property
    def partner_id(self) -> str | None:
        kind, _, subject = self.owner.partition(":")
        return subject if kind == "partner" else None


def partner_may_subscribe(event_type: str, scopes: Iterable[str]) -> bool:
    """Whether a partner with ``scopes`` could ever receive this exact event type."""
    rule = PARTNER_RULES.get(event_type)
    return rule is not None and bool(rule.scopes & set(scopes))


def view_for(audience: Audience, event_type: str, data: Mapping[str, Any]) -> dict[str, Any] | None:
    """The event's data as this subscription may receive it, or None when it may not."""
    if event_type in NEVER_DELIVERED:
        return None
    if audience.internal:
        return dict(data)
    partner = audience.partner_id
    rule = PARTNER_RULES.get(event_type)
    if partner is None or rule is None or not (rule.scopes & audience.scopes):
        return None
    if rule.requires_true is not None and data.get(rule.requires_true) is not True:
        return None
    if rule.reach == "own_ticket" and data.get("partner_id") != partner:
        return None
    if rule.reach == "own_subscription" and data.get("owner") != audience.owner:
        return None
    return {k: v for k, v in data.items() if k in rule.members}


def next_retry_delay(
    failed_attempts: int,
    schedule: Sequence[float],
    *,
    jitter_ratio: float = 0.1,
    rng: random.Random | None = None,
) -> float | None:
    """Seconds until the next attempt after ``failed_attempts`` failures; None when exhausted."""
    if failed_attempts < 1:
        raise ValueError("failed_attempts counts from 1")
    if failed_attempts > len(schedule):
        return None
    base = schedule[failed_attempts - 1]
    spread = base * jitter_ratio
    return max(0.0, base + (rng or random).uniform(-spread, spread))


def type_matches(patterns: Iterable[str], event_type: str) -> bool:
    """``tickets.ticket.opened`` matches itself, ``tickets.*`` and ``*``."""
    if event_type in NEVER_DELIVERED:
        return False
    for pattern in patterns:
        if pattern == "*" or pattern == event_type:
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False
