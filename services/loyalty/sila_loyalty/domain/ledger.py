"""The ledger's vocabulary: what an entry holds, the balances derived from entries, and
the point expiry schedule (first earned, first spent; what is left of a lot expires).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ALGIERS = ZoneInfo("Africa/Algiers")
# Points live this many calendar months after the month they were earned in.
POINT_LIFETIME_MONTHS = 12


class RewardKind(enum.StrEnum):
    POINTS = "points"
    BONUS_HOURS = "bonus_hours"
    SPEED_BOOST = "speed_boost"
    COUPON = "coupon"
    GIFT = "gift"


class EntryReason(enum.StrEnum):
    """Why an entry exists; its source (event, campaign, agent...) is beside it."""

    CAMPAIGN = "campaign"
    REFERRAL = "referral"
    REDEMPTION = "redemption"
    EXPIRY = "expiry"
    ADJUSTMENT = "adjustment"
    DRAW = "draw"


@dataclass(frozen=True)
class Entry:
    """One ledger line as the balance arithmetic sees it."""

    kind: RewardKind
    quantity: int
    occurred_at: datetime
    expires_at: datetime | None = None


def balances(entries: Iterable[Entry]) -> dict[RewardKind, int]:
    """Every kind's balance: the sum of its entries (expiries are entries too)."""
    totals = dict.fromkeys(RewardKind, 0)
    for entry in entries:
        totals[entry.kind] += entry.quantity
    return totals


def points_expiry(earned_at: datetime) -> datetime:
    """When points earned at ``earned_at`` expire: the end of the 12th month after the month
    they were earned, midnight in Algiers (earned 15 March 2026: gone 1 April 2027, 00:00)."""
    local = earned_at.astimezone(ALGIERS)
    month_index = local.year * 12 + (local.month - 1) + POINT_LIFETIME_MONTHS + 1
    first_of_next = date(month_index // 12, month_index % 12 + 1, 1)
    return datetime.combine(first_of_next, time(0, 0), tzinfo=ALGIERS)


@dataclass(frozen=True)
class PointLot:
    """Points earned together (one credit entry), with their expiry."""

    lot_id: str
    amount: int
    expires_at: datetime


def remaining_by_lot(lots: Iterable[PointLot], spent: int) -> dict[str, int]:
    """What is left of each lot once ``spent`` points (redeemed or already expired) are taken
    first from the lots that expire first."""
    left: dict[str, int] = {}
    to_take = max(spent, 0)
    for lot in sorted(lots, key=lambda lot: (lot.expires_at, lot.lot_id)):
        taken = min(lot.amount, to_take)
        to_take -= taken
        left[lot.lot_id] = lot.amount - taken
    return left


def expiring_now(
    lots: Iterable[PointLot], spent: int, already_expired: Mapping[str, int], now: datetime
) -> dict[str, int]:
    """The points to expire at ``now``, by lot: what is left of each lot past its date that
    has not been expired yet. ``spent`` counts redeemed points only (not expiries)."""
    lots = list(lots)
    # Expired points were taken from their own lot; redemptions from the earliest others.
    reduced = [
        PointLot(lot.lot_id, lot.amount - already_expired.get(lot.lot_id, 0), lot.expires_at)
        for lot in lots
    ]
    left = remaining_by_lot(reduced, spent)
    return {
        lot.lot_id: left[lot.lot_id]
        for lot in reduced
        if lot.expires_at <= now and left[lot.lot_id] > 0
    }


def tenure_days(since: datetime | None, at: datetime) -> int:
    if since is None:
        return 0
    return max((at - since) // timedelta(days=1), 0)
