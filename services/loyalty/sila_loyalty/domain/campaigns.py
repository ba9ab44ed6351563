"""Campaigns as data: a trigger, conditions, a period, a reward and caps; checked, evaluated
against the facts of one event, and simulated over recorded events (the dry run).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Final

from sila_loyalty.domain.ledger import RewardKind
from sila_loyalty.domain.periods import Period
from sila_loyalty.domain.tiers import Tier, boosted_points

# The events a campaign can follow: what happens to a customer elsewhere in Sila (or in
# loyalty itself). Billing's names are the ones its events are published under.
TRIGGERS: Final[dict[str, str]] = {
    "billing.payment.succeeded": "a payment succeeded (bill or recharge)",
    "billing.subscription.recharged": "a prepaid subscription was recharged",
    "billing.invoice.paid": "a bill was paid in full",
    "identity.customer.registered": "a customer was registered",
    "identity.contract.signed": "a contract was signed",
    "tickets.ticket.escalated": "a ticket's commitment was breached (level breached only)",
    "tickets.survey.answered": "the customer answered a satisfaction survey",
    "loyalty.referral.converted": "a customer's referee made their first payment",
    "loyalty.tenure.anniversary": "the customer's tenure anniversary (a daily job, Algiers time)",
}
# Triggers that fire only on some of their events, and what makes a grant "once".
ONCE_PER_SUBJECT: Final = {"tickets.ticket.escalated"}
WILAYA_PATTERN = re.compile(r"^\d{2}$")
MAX_QUANTITY = 1_000_000


@dataclass(frozen=True)
class Conditions:
    offers: frozenset[str] | None = None
    wilayas: frozenset[str] | None = None
    tiers: frozenset[Tier] | None = None
    min_tenure_days: int | None = None
    min_amount_centimes: int | None = None
    first_time: bool | None = None


@dataclass(frozen=True)
class Reward:
    kind: RewardKind
    quantity: int
    label: str
    # What one grant costs Algérie Télécom, counted against the budget.
    unit_cost_centimes: int = 0
    # Speed boosts: the speed granted (its duration in hours is the quantity).
    speed_mbps: int | None = None
    # Gifts: what is handed over (modem, wifi_repeater, telephone...).
    item: str | None = None


@dataclass(frozen=True)
class Caps:
    per_customer: int | None = None
    budget_centimes: int | None = None
    stock: int | None = None


@dataclass(frozen=True)
class Campaign:
    campaign_id: str
    name: str
    trigger: str
    period: Period
    reward: Reward
    conditions: Conditions = field(default_factory=Conditions)
    caps: Caps = field(default_factory=Caps)


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def as_dict(self, prefix: str = "") -> dict[str, str]:
        return {"field": f"{prefix}{self.field}", "message": self.message}


class InvalidCampaign(ValueError):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


def check_campaign(campaign: Campaign) -> list[FieldError]:
    """Every fault of a campaign's rules, each naming its field (empty: valid)."""
    errors: list[FieldError] = []
    if campaign.trigger not in TRIGGERS:
        errors.append(FieldError("trigger", f"unknown event type; one of {sorted(TRIGGERS)}"))
    period = campaign.period
    for name in ("starts_at", "ends_at"):
        value: datetime = getattr(period, name)
        if value.tzinfo is None or value.utcoffset() is None:
            errors.append(FieldError(f"period.{name}", "needs a time zone offset"))
    naive = any(e.field.startswith("period") for e in errors)
    if not naive and period.ends_at <= period.starts_at:
        errors.append(FieldError("period.ends_at", "the period ends before it starts"))
    reward = campaign.reward
    if not 0 < reward.quantity <= MAX_QUANTITY:
        errors.append(FieldError("reward.quantity", f"between 1 and {MAX_QUANTITY}"))
    if reward.unit_cost_centimes < 0:
        errors.append(FieldError("reward.unit_cost_centimes", "cannot be below zero"))
    if reward.kind is RewardKind.SPEED_BOOST and not reward.speed_mbps:
        errors.append(FieldError("reward.speed_mbps", "a speed boost names its speed"))
    if reward.kind is not RewardKind.SPEED_BOOST and reward.speed_mbps is not None:
        errors.append(FieldError("reward.speed_mbps", "only a speed boost has a speed"))
    if reward.kind is RewardKind.GIFT:
        if not reward.item:
            errors.append(FieldError("reward.item", "a gift names the item handed over"))
        if campaign.caps.stock is None:
            errors.append(FieldError("caps.stock", "a physical gift needs a stock"))
    caps = campaign.caps
    for name in ("per_customer", "budget_centimes", "stock"):
        value_ = getattr(caps, name)
        if value_ is not None and value_ < 0:
            errors.append(FieldError(f"caps.{name}", "cannot be below zero"))
    if caps.per_customer == 0:
        errors.append(FieldError("caps.per_customer", "at least 1 (or no cap)"))
    if caps.budget_centimes is not None and reward.unit_cost_centimes == 0:
        errors.append(
            FieldError("reward.unit_cost_centimes", "a budget needs the cost of one reward")
        )
    conditions = campaign.conditions
    for code in sorted(conditions.wilayas or ()):
        if not WILAYA_PATTERN.match(code):
            errors.append(FieldError("conditions.wilayas", f"{code!r} is not a wilaya code"))
    for name in ("min_tenure_days", "min_amount_centimes"):
        value_ = getattr(conditions, name)
        if value_ is not None and value_ < 0:
            errors.append(FieldError(f"conditions.{name}", "cannot be below zero"))
    for name in ("offers", "wilayas", "tiers"):
        value_ = getattr(conditions, name)
        if value_ is not None and not value_:
            errors.append(FieldError(f"conditions.{name}", "an empty list matches nobody"))
    return errors


def validated(campaign: Campaign) -> Campaign:
    errors = check_campaign(campaign)
    if errors:
        raise InvalidCampaign(errors)
    return campaign


@dataclass(frozen=True)
class Facts:
    """What the rules know about one event of one customer, at the moment it happened."""

    event_id: str
    event_type: str
    customer_id: str
    occurred_at: datetime
    # What makes a grant "once": the event id, or the ticket for a breach.
    subject: str
    wilaya_code: str | None = None
    offers: frozenset[str] = frozenset()
    tier: Tier = Tier.BRONZE
    tenure_days: int = 0
    amount_centimes: int | None = None
    first_time: bool = False
    # Member of the event's data some triggers look at (a ticket's escalation level).
    level: str | None = None
    # Tickets' events: the ticket's number, for the compensation's timeline entry.
    ticket_number: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "customer_id": self.customer_id,
            "occurred_at": self.occurred_at.isoformat(),
            "subject": self.subject,
            "wilaya_code": self.wilaya_code,
            "offers": sorted(self.offers),
            "tier": self.tier.value,
            "tenure_days": self.tenure_days,
            "amount_centimes": self.amount_centimes,
            "first_time": self.first_time,
            "level": self.level,
            "ticket_number": self.ticket_number,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Facts:
        return cls(
            event_id=str(data["event_id"]),
            event_type=str(data["event_type"]),
            customer_id=str(data["customer_id"]),
            occurred_at=datetime.fromisoformat(str(data["occurred_at"])),
            subject=str(data["subject"]),
            wilaya_code=data.get("wilaya_code"),
            offers=frozenset(data.get("offers") or ()),
            tier=Tier(data.get("tier") or Tier.BRONZE),
            tenure_days=int(data.get("tenure_days") or 0),
            amount_centimes=data.get("amount_centimes"),
            first_time=bool(data.get("first_time")),
            level=data.get("level"),
            ticket_number=data.get("ticket_number"),
        )


def refusal(campaign: Campaign, facts: Facts) -> str | None:
    """Why this campaign does not reward this event (None: it does, caps permitting)."""
    if facts.event_type != campaign.trigger:
        return "trigger"
    if facts.event_type == "tickets.ticket.escalated" and facts.level != "breached":
        return "trigger"
    if not campaign.period.covers(facts.occurred_at):
        return "period"
    c = campaign.conditions
    if c.offers is not None and not (c.offers & facts.offers):
        return "offer"
    if c.wilayas is not None and facts.wilaya_code not in c.wilayas:
        return "wilaya"
    if c.tiers is not None and facts.tier not in c.tiers:
        return "tier"
    if c.min_tenure_days is not None and facts.tenure_days < c.min_tenure_days:
        return "tenure"
    if c.min_amount_centimes is not None and (facts.amount_centimes or 0) < c.min_amount_centimes:
        return "amount"
    if c.first_time is not None and facts.first_time != c.first_time:
        return "first_time"
    return None


class CampaignIndex:
    """Campaigns (one trigger's, in id order) indexed by the offers their conditions name,
    so an event is checked only against those its offers may satisfy: with a hundred
    campaigns of ten offers, ten instead of a hundred ``refusal`` calls per event."""

    def __init__(self, campaigns: Iterable[Campaign]) -> None:
        self._order: dict[str, int] = {}
        self._any: list[Campaign] = []
        self._by_offer: dict[str, list[Campaign]] = {}
        for position, campaign in enumerate(campaigns):
            self._order[campaign.campaign_id] = position
            offers = campaign.conditions.offers
            if offers is None:
                self._any.append(campaign)
            for offer in offers or ():
                self._by_offer.setdefault(offer, []).append(campaign)

    def rewarding(self, facts: Facts) -> list[Campaign]:
        """The campaigns that reward these facts (``refusal`` is None), in id order."""
        pool = {c.campaign_id: c for c in self._any}
        for offer in facts.offers:
            for campaign in self._by_offer.get(offer, ()):
                pool[campaign.campaign_id] = campaign
        return [
            campaign
            for campaign in sorted(pool.values(), key=lambda c: self._order[c.campaign_id])
            if refusal(campaign, facts) is None
        ]


def grant_key(campaign: Campaign, facts: Facts) -> str:
    """The source key that makes a campaign's grant happen once for what triggered it."""
    once_for = facts.subject if facts.event_type in ONCE_PER_SUBJECT else facts.event_id
    return f"campaign:{campaign.campaign_id}:{once_for}"


def granted_quantity(reward: Reward, tier: Tier) -> int:
    if reward.kind is RewardKind.POINTS:
        return boosted_points(reward.quantity, tier)
    return reward.quantity


@dataclass
class CapState:
    """What a campaign has used so far."""

    spent_centimes: int = 0
    stock_used: int = 0
    per_customer: dict[str, int] = field(default_factory=dict)


def cap_refusal(campaign: Campaign, state: CapState, customer_id: str) -> str | None:
    caps = campaign.caps
    if (
        caps.per_customer is not None
        and state.per_customer.get(customer_id, 0) >= caps.per_customer
    ):
        return "per_customer"
    cost = campaign.reward.unit_cost_centimes
    if caps.budget_centimes is not None and state.spent_centimes + cost > caps.budget_centimes:
        return "budget"
    if caps.stock is not None and state.stock_used + 1 > caps.stock:
        return "stock"
    return None


@dataclass(frozen=True)
class DryRun:
    events_considered: int
    grants: int
    customers_reached: int
    cost_centimes: int
    quantity: int
    refused: dict[str, int]
    budget_exhausted_at: datetime | None


def dry_run(campaign: Campaign, recorded: Iterable[Facts]) -> DryRun:
    """What the campaign would have granted over these recorded events, in time order."""
    state = CapState()
    seen_keys: set[str] = set()
    refused: dict[str, int] = {}
    reached: set[str] = set()
    grants = quantity = considered = 0
    exhausted: datetime | None = None
    for facts in sorted(recorded, key=lambda f: (f.occurred_at, f.event_id)):
        if facts.event_type != campaign.trigger:
            continue
        considered += 1
        reason = refusal(campaign, facts)
        key = grant_key(campaign, facts)
        if reason is None and key in seen_keys:
            reason = "already_granted"
        if reason is None:
            reason = cap_refusal(campaign, state, facts.customer_id)
            if reason == "budget" and exhausted is None:
                exhausted = facts.occurred_at
        if reason is not None:
            refused[reason] = refused.get(reason, 0) + 1
            continue
        seen_keys.add(key)
        state.spent_centimes += campaign.reward.unit_cost_centimes
        state.stock_used += 1
        state.per_customer[facts.customer_id] = state.per_customer.get(facts.customer_id, 0) + 1
        reached.add(facts.customer_id)
        grants += 1
        quantity += granted_quantity(campaign.reward, facts.tier)
    return DryRun(
        events_considered=considered,
        grants=grants,
        customers_reached=len(reached),
        cost_centimes=state.spent_centimes,
        quantity=quantity,
        refused=refused,
        budget_exhausted_at=exhausted,
    )


def default_label(reward: Reward) -> str:
    """The reward in French words, when the campaign gave no label."""
    if reward.kind is RewardKind.POINTS:
        return f"{reward.quantity} points fidélité"
    if reward.kind is RewardKind.BONUS_HOURS:
        return f"{reward.quantity} heures de connexion offertes"
    if reward.kind is RewardKind.SPEED_BOOST:
        return f"un débit de {reward.speed_mbps} Mbit/s pendant {reward.quantity} heures"
    if reward.kind is RewardKind.COUPON:
        return f"un bon de {reward.quantity // 100} DA sur votre prochaine recharge"
    return f"un cadeau : {reward.item}"


def granted_label(reward: Reward, quantity: int) -> str:
    """The label of what is granted: the campaign's own words, or the default ones said
    with the quantity actually granted (a tier's bonus on points changes it)."""
    if quantity != reward.quantity and reward.label == default_label(reward):
        return default_label(replace(reward, quantity=quantity))
    return reward.label
