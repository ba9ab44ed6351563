"""Tiers: the levels that recognise long-standing and faithful customers, and their privileges.

A tier follows from tenure (days since the customer was registered) and spend (what they
paid over the 365 days before the moment considered); whichever gives the higher level wins.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final


class Tier(enum.StrEnum):
    BRONZE = "bronze"
    SILVER = "silver"
    GOLD = "gold"


ORDER: Final = (Tier.BRONZE, Tier.SILVER, Tier.GOLD)


@dataclass(frozen=True)
class Threshold:
    tier: Tier
    tenure_days: int
    spend_centimes: int


# Two years or 20,000 DZD in a year: silver; five years or 50,000 DZD: gold.
THRESHOLDS: Final = (
    Threshold(Tier.GOLD, 5 * 365, 5_000_000),
    Threshold(Tier.SILVER, 2 * 365, 2_000_000),
)


@dataclass(frozen=True)
class Privileges:
    # Points granted by campaigns are multiplied by this percentage.
    points_percent: int
    priority_line: bool
    description: str


PRIVILEGES: Final[dict[Tier, Privileges]] = {
    Tier.BRONZE: Privileges(100, False, "Les points des campagnes."),
    Tier.SILVER: Privileges(125, False, "Points +25 %."),
    Tier.GOLD: Privileges(150, True, "Points +50 %, ligne prioritaire au 12."),
}


def tier_for(tenure_days: int, spend_centimes: int) -> Tier:
    for threshold in THRESHOLDS:
        if tenure_days >= threshold.tenure_days or spend_centimes >= threshold.spend_centimes:
            return threshold.tier
    return Tier.BRONZE


def boosted_points(points: int, tier: Tier) -> int:
    """Campaign points as the tier's privilege multiplies them (rounded down)."""
    return points * PRIVILEGES[tier].points_percent // 100


def is_upgrade(before: Tier, after: Tier) -> bool:
    return ORDER.index(after) > ORDER.index(before)
