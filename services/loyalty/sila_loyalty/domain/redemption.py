"""What points buy: the redemption catalogue, and the rule that a balance never goes negative."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sila_loyalty.domain.ledger import RewardKind


@dataclass(frozen=True)
class Option:
    code: str
    points: int
    kind: RewardKind
    quantity: int
    label: str
    speed_mbps: int | None = None


OPTIONS: Final[dict[str, Option]] = {
    option.code: option
    for option in (
        Option("hours_5", 500, RewardKind.BONUS_HOURS, 5, "5 heures de connexion offertes"),
        Option("hours_24", 2000, RewardKind.BONUS_HOURS, 24, "24 heures de connexion offertes"),
        Option(
            "boost_24h_50",
            1500,
            RewardKind.SPEED_BOOST,
            24,
            "50 Mbit/s pendant 24 heures",
            speed_mbps=50,
        ),
        # Coupons hold their value in centimes: 200 DZD off the next recharge.
        Option("coupon_200", 1000, RewardKind.COUPON, 20_000, "un bon de 200 DA"),
        Option("coupon_500", 2400, RewardKind.COUPON, 50_000, "un bon de 500 DA"),
    )
}


class InsufficientPoints(ValueError):
    def __init__(self, balance: int, needed: int) -> None:
        super().__init__(f"{needed} points needed, {balance} available")
        self.balance = balance
        self.needed = needed


def check_affordable(balance: int, option: Option) -> None:
    if balance < option.points:
        raise InsufficientPoints(balance, option.points)
