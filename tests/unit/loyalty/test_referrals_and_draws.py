"""Referral refusals and reproducible draws."""

import pytest

from sila_loyalty.domain.draws import draw, new_seed, ticket
from sila_loyalty.domain.redemption import OPTIONS, InsufficientPoints, check_affordable
from sila_loyalty.domain.referrals import ReferralRefusal, check_referral, new_code


def test_a_customer_cannot_refer_themselves_by_id_or_by_phone() -> None:
    assert (
        check_referral("a", "a", referrer_phone=None, referee_phone=None, referred_by={})
        is ReferralRefusal.SELF_REFERRAL
    )
    assert (
        check_referral("a", None, referrer_phone="+213661", referee_phone="+213661", referred_by={})
        is ReferralRefusal.SELF_REFERRAL
    )


def test_loops_of_any_length_are_refused() -> None:
    # b was referred by a; c by b. c inviting a would close the loop a -> b -> c -> a.
    referred_by = {"b": "a", "c": "b"}
    assert (
        check_referral("c", "a", referrer_phone=None, referee_phone=None, referred_by=referred_by)
        is ReferralRefusal.LOOP
    )
    assert (
        check_referral("b", "a", referrer_phone=None, referee_phone=None, referred_by=referred_by)
        is ReferralRefusal.LOOP
    )
    assert (
        check_referral("c", "d", referrer_phone=None, referee_phone=None, referred_by=referred_by)
        is None
    )


def test_a_referee_is_referred_once_and_only_before_paying() -> None:
    assert (
        check_referral("x", "b", referrer_phone=None, referee_phone=None, referred_by={"b": "a"})
        is ReferralRefusal.ALREADY_REFERRED
    )
    assert (
        check_referral(
            "x", "n", referrer_phone=None, referee_phone=None, referred_by={}, referee_has_paid=True
        )
        is ReferralRefusal.ALREADY_CUSTOMER
    )


def test_codes_are_readable_and_distinct() -> None:
    codes = {new_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(len(c) == 8 and not set(c) & set("01OI") for c in codes)


def test_a_draw_is_the_same_from_the_same_seed_and_entrants_in_any_order() -> None:
    entrants = [f"customer-{n}" for n in range(500)]
    seed = new_seed()
    winners = draw(seed, entrants, 5)
    assert len(winners) == 5 == len(set(winners))
    assert draw(seed, list(reversed(entrants)), 5) == winners
    assert draw(seed, entrants + entrants[:10], 5) == winners
    assert winners == sorted(winners, key=lambda e: ticket(seed, e))


def test_another_seed_gives_other_winners_and_a_known_seed_gives_known_winners() -> None:
    entrants = [f"customer-{n}" for n in range(500)]
    assert draw("seed-a", entrants, 5) != draw("seed-b", entrants, 5)
    # Fixed by SHA-256 alone: the same on every machine and every Python.
    assert draw("ramadan-2026", ["a", "b", "c", "d"], 2) == draw(
        "ramadan-2026", ["d", "c", "b", "a"], 2
    )
    assert ticket("ramadan-2026", "a") == (
        "9732d5d4f5c2e741d458c43aac9d37bc791f880b90073b0d6068279675b6e981"
    )
    assert draw("seed", ["only"], 3) == ["only"]


def test_redeeming_more_points_than_held_is_refused() -> None:
    option = OPTIONS["hours_5"]
    check_affordable(500, option)
    with pytest.raises(InsufficientPoints):
        check_affordable(499, option)
