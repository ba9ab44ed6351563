"""The events loyalty publishes on ``sila.loyalty`` (all keyed by customer id)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from sila_common.events import declare_event


class AccountOpened(BaseModel):
    customer_id: str
    tier: str
    referral_code: str


class RewardGranted(BaseModel):
    """Billing applies bonus hours, speed boosts and coupons to the customer's subscription."""

    entry_id: str
    customer_id: str
    kind: str
    quantity: int
    reward_label: str
    reason: str
    campaign_id: str | None = None
    source_event_id: str | None = None
    agent_id: str | None = None
    # Speed boosts: the speed and the window it holds.
    speed_mbps: int | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    # Points: when they expire. Coupons: the code to present.
    expires_at: datetime | None = None
    coupon_code: str | None = None
    # Service recovery: the ticket whose breached commitment this compensates.
    ticket_id: str | None = None
    ticket_number: str | None = None


class PointsRedeemed(BaseModel):
    redemption_id: str
    customer_id: str
    points: int
    option_code: str
    reward_label: str
    balance_after: int


class PointsExpired(BaseModel):
    customer_id: str
    points: int
    earned_entry_id: str
    balance_after: int


class TierChanged(BaseModel):
    customer_id: str
    tier: str
    previous_tier: str
    upgrade: bool


class BoostEnded(BaseModel):
    """Billing returns the subscription to its normal speed."""

    boost_id: str
    entry_id: str
    customer_id: str
    speed_mbps: int
    ended_at: datetime


class ReferralConverted(BaseModel):
    referral_id: str
    customer_id: str
    referee_id: str


ACCOUNT_OPENED = declare_event(
    "loyalty.account.opened",
    AccountOpened,
    "A loyalty account was opened for a newly registered customer.",
)
REWARD_GRANTED = declare_event(
    "loyalty.reward.granted",
    RewardGranted,
    "A reward was granted (points, bonus hours, a speed boost, a coupon, a gift); "
    "billing applies hours, boosts and coupons to the subscription.",
)
POINTS_REDEEMED = declare_event(
    "loyalty.points.redeemed",
    PointsRedeemed,
    "The customer spent points on a bonus or a coupon.",
)
POINTS_EXPIRED = declare_event(
    "loyalty.points.expired",
    PointsExpired,
    "Points not spent by their expiry date were withdrawn.",
)
TIER_CHANGED = declare_event(
    "loyalty.tier.changed",
    TierChanged,
    "The customer's tier (bronze, silver, gold) changed.",
)
BOOST_ENDED = declare_event(
    "loyalty.boost.ended",
    BoostEnded,
    "A speed boost reached its end; billing restores the normal speed.",
)
REFERRAL_CONVERTED = declare_event(
    "loyalty.referral.converted",
    ReferralConverted,
    "A customer's referee made their first payment; both were rewarded (keyed by referrer).",
)
