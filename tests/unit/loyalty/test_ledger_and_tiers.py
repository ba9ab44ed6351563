"""The ledger's arithmetic: balances, the point expiry schedule, tiers and their privileges."""

from datetime import UTC, datetime, timedelta

from sila_loyalty.domain.ledger import (
    ALGIERS,
    Entry,
    PointLot,
    RewardKind,
    balances,
    expiring_now,
    points_expiry,
    remaining_by_lot,
    tenure_days,
)
from sila_loyalty.domain.tiers import Tier, boosted_points, is_upgrade, tier_for

T0 = datetime(2026, 3, 15, 10, 0, tzinfo=ALGIERS)


def test_balances_are_the_sum_of_each_kinds_entries_expiries_included() -> None:
    entries = [
        Entry(RewardKind.POINTS, 500, T0),
        Entry(RewardKind.POINTS, -200, T0),
        Entry(RewardKind.BONUS_HOURS, 5, T0),
        Entry(RewardKind.POINTS, -100, T0),
    ]
    totals = balances(entries)
    assert totals[RewardKind.POINTS] == 200
    assert totals[RewardKind.BONUS_HOURS] == 5
    assert totals[RewardKind.COUPON] == 0


def test_points_earned_in_march_expire_at_midnight_algiers_on_the_first_of_april_next_year() -> (
    None
):
    assert points_expiry(T0) == datetime(2027, 4, 1, 0, 0, tzinfo=ALGIERS)
    # 23:30 UTC on 31 December is already 1 January in Algiers: a January lot.
    new_year_eve = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    assert points_expiry(new_year_eve) == datetime(2028, 2, 1, 0, 0, tzinfo=ALGIERS)


def test_redeemed_points_come_from_the_lot_that_expires_first() -> None:
    lots = [
        PointLot("late", 300, T0 + timedelta(days=60)),
        PointLot("early", 200, T0 + timedelta(days=10)),
    ]
    assert remaining_by_lot(lots, 250) == {"early": 0, "late": 250}


def test_only_what_is_left_of_a_lot_past_its_date_expires_and_only_once() -> None:
    lots = [
        PointLot("early", 200, T0 + timedelta(days=10)),
        PointLot("late", 300, T0 + timedelta(days=60)),
    ]
    at = T0 + timedelta(days=11)
    assert expiring_now(lots, spent=150, already_expired={}, now=at) == {"early": 50}
    assert expiring_now(lots, spent=150, already_expired={"early": 50}, now=at) == {}
    assert expiring_now(lots, spent=150, already_expired={}, now=T0) == {}
    later = T0 + timedelta(days=61)
    assert expiring_now(lots, spent=150, already_expired={"early": 50}, now=later) == {"late": 300}


def test_tenure_counts_whole_days() -> None:
    assert tenure_days(T0, T0 + timedelta(days=3, hours=23)) == 3
    assert tenure_days(None, T0) == 0


def test_tiers_follow_tenure_or_spend_whichever_is_higher() -> None:
    assert tier_for(0, 0) is Tier.BRONZE
    assert tier_for(730, 0) is Tier.SILVER
    assert tier_for(10, 2_000_000) is Tier.SILVER
    assert tier_for(5 * 365, 0) is Tier.GOLD
    assert tier_for(800, 5_000_000) is Tier.GOLD
    assert tier_for(729, 1_999_999) is Tier.BRONZE


def test_a_tiers_privilege_multiplies_campaign_points() -> None:
    assert boosted_points(100, Tier.BRONZE) == 100
    assert boosted_points(100, Tier.SILVER) == 125
    assert boosted_points(101, Tier.GOLD) == 151
    assert is_upgrade(Tier.BRONZE, Tier.GOLD)
    assert not is_upgrade(Tier.GOLD, Tier.SILVER)
