"""Campaign rules: validation naming the faulty field, evaluation, caps, the dry run, seasons."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from sila_loyalty.domain.campaigns import (
    Campaign,
    CampaignIndex,
    Caps,
    Conditions,
    Facts,
    InvalidCampaign,
    Reward,
    check_campaign,
    dry_run,
    grant_key,
    refusal,
    validated,
)
from sila_loyalty.domain.ledger import ALGIERS, RewardKind
from sila_loyalty.domain.periods import Period, Season, UnknownSeason, ramadan, season
from sila_loyalty.domain.tiers import Tier

START = datetime(2026, 2, 18, tzinfo=ALGIERS)
PERIOD = Period(START, START + timedelta(days=30))


def campaign(**changes: object) -> Campaign:
    base = Campaign(
        campaign_id="c1",
        name="Ramadan 2026",
        trigger="billing.payment.succeeded",
        period=PERIOD,
        reward=Reward(RewardKind.POINTS, 100, "100 points", unit_cost_centimes=1_000),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def facts(n: int = 0, **changes: object) -> Facts:
    base = Facts(
        event_id=f"e{n}",
        event_type="billing.payment.succeeded",
        customer_id=f"cust{n}",
        occurred_at=START + timedelta(hours=n + 1),
        subject=f"pay{n}",
        wilaya_code="15",
        offers=frozenset({"fibre_100"}),
        amount_centimes=250_000,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def fields_of(c: Campaign) -> set[str]:
    return {e.field for e in check_campaign(c)}


def test_a_well_formed_campaign_has_no_fault() -> None:
    assert check_campaign(campaign()) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"trigger": "billing.nothing.happened"}, "trigger"),
        ({"period": Period(START, START - timedelta(days=1))}, "period.ends_at"),
        ({"period": Period(START.replace(tzinfo=None), START + timedelta(1))}, "period.starts_at"),
        ({"caps": Caps(per_customer=-1)}, "caps.per_customer"),
        ({"caps": Caps(stock=-5)}, "caps.stock"),
        ({"caps": Caps(budget_centimes=-1)}, "caps.budget_centimes"),
        ({"reward": Reward(RewardKind.POINTS, 0, "x")}, "reward.quantity"),
        ({"reward": Reward(RewardKind.SPEED_BOOST, 24, "x")}, "reward.speed_mbps"),
        ({"reward": Reward(RewardKind.GIFT, 1, "modem", item="modem")}, "caps.stock"),
        ({"reward": Reward(RewardKind.GIFT, 1, "x"), "caps": Caps(stock=3)}, "reward.item"),
        (
            {"reward": Reward(RewardKind.POINTS, 1, "x"), "caps": Caps(budget_centimes=10)},
            "reward.unit_cost_centimes",
        ),
        ({"conditions": Conditions(wilayas=frozenset({"Tizi"}))}, "conditions.wilayas"),
        ({"conditions": Conditions(min_tenure_days=-3)}, "conditions.min_tenure_days"),
        ({"conditions": Conditions(offers=frozenset())}, "conditions.offers"),
    ],
)
def test_each_fault_names_its_field(change: dict[str, object], field: str) -> None:
    assert field in fields_of(campaign(**change))
    with pytest.raises(InvalidCampaign):
        validated(campaign(**change))


def test_conditions_each_refuse_what_they_do_not_cover() -> None:
    assert refusal(campaign(), facts()) is None
    assert refusal(campaign(), facts(occurred_at=START - timedelta(minutes=1))) == "period"
    assert refusal(campaign(), facts(occurred_at=PERIOD.ends_at)) == "period"
    conditions = [
        (Conditions(offers=frozenset({"adsl_8"})), "offer"),
        (Conditions(wilayas=frozenset({"16"})), "wilaya"),
        (Conditions(tiers=frozenset({Tier.GOLD})), "tier"),
        (Conditions(min_tenure_days=365), "tenure"),
        (Conditions(min_amount_centimes=300_000), "amount"),
        (Conditions(first_time=True), "first_time"),
    ]
    for condition, reason in conditions:
        assert refusal(campaign(conditions=condition), facts()) == reason
    assert refusal(campaign(conditions=Conditions(first_time=True)), facts(first_time=True)) is None


def test_a_breach_campaign_fires_on_breaches_once_per_ticket_not_on_warnings() -> None:
    breach = campaign(trigger="tickets.ticket.escalated")
    warning = facts(event_type="tickets.ticket.escalated", level="warning", subject="t1")
    breached = replace(warning, level="breached")
    assert refusal(breach, warning) == "trigger"
    assert refusal(breach, breached) is None
    again = replace(breached, event_id="another-delivery-of-the-same-breach")
    assert grant_key(breach, breached) == grant_key(breach, again) == "campaign:c1:t1"
    # Other triggers grant once per event.
    assert grant_key(campaign(), facts(1)) != grant_key(campaign(), facts(2))


def test_the_dry_run_counts_customers_cost_and_where_the_budget_ran_out() -> None:
    c = campaign(caps=Caps(per_customer=1, budget_centimes=3_000))
    recorded = [facts(n) for n in range(5)] + [facts(0, event_id="e0-second")]
    result = dry_run(c, recorded)
    assert result.grants == 3
    assert result.customers_reached == 3
    assert result.cost_centimes == 3_000
    assert result.refused == {"per_customer": 1, "budget": 2}
    assert result.budget_exhausted_at == facts(3).occurred_at


def test_the_dry_run_multiplies_points_by_tier_and_respects_stock() -> None:
    gift = campaign(reward=Reward(RewardKind.GIFT, 1, "modem", item="modem"), caps=Caps(stock=2))
    assert dry_run(gift, [facts(n) for n in range(4)]).grants == 2
    points = dry_run(campaign(), [facts(0, tier=Tier.GOLD), facts(1)])
    assert points.quantity == 250


def test_ramadan_runs_from_its_first_day_to_the_eve_of_eid_al_fitr_in_algiers_time() -> None:
    period = ramadan(2026)
    assert period.starts_at == datetime(2026, 2, 18, tzinfo=ALGIERS)
    assert period.ends_at == datetime(2026, 3, 20, tzinfo=ALGIERS)
    # Midnight in Algiers is 23:00 UTC the day before.
    assert period.starts_at.astimezone(UTC) == datetime(2026, 2, 17, 23, tzinfo=UTC)
    assert period.covers(datetime(2026, 3, 19, 22, 59, tzinfo=UTC))
    assert not period.covers(datetime(2026, 3, 19, 23, 0, tzinfo=UTC))


def test_seasons_of_a_year_come_from_the_calendar() -> None:
    assert ramadan(2027).starts_at.date() == date(2027, 2, 8)
    adha = season(Season.EID_AL_ADHA, 2026)
    assert (adha.ends_at - adha.starts_at).days == 3
    assert season(Season.YEAR_END, 2026).ends_at.date() == date(2027, 1, 13)
    with pytest.raises(UnknownSeason):
        ramadan(1800)


def test_a_default_label_says_the_points_a_tier_actually_grants() -> None:
    from sila_loyalty.domain.campaigns import Reward, default_label, granted_label
    from sila_loyalty.domain.ledger import RewardKind

    plain = Reward(kind=RewardKind.POINTS, quantity=100, label="")
    plain = Reward(kind=RewardKind.POINTS, quantity=100, label=default_label(plain))
    assert granted_label(plain, 125) == "125 points fidélité"
    assert granted_label(plain, 100) == "100 points fidélité"
    own = Reward(kind=RewardKind.POINTS, quantity=100, label="Cadeau de l'Aïd")
    assert granted_label(own, 150) == "Cadeau de l'Aïd"


def test_the_index_by_offer_finds_what_refusal_allows_in_id_order() -> None:
    offers = ["fibre_100", "adsl_8", "4g_30", "fibre_1g"]
    campaigns = [
        campaign(
            campaign_id=f"c{n:02d}",
            conditions=Conditions(
                offers=None if n % 5 == 0 else frozenset(offers[n % 4 : n % 4 + 1 + n % 2]),
                wilayas=frozenset({"15"}) if n % 3 == 0 else None,
                min_amount_centimes=300_000 if n % 7 == 0 else None,
            ),
            period=PERIOD if n % 6 else Period(START, START + timedelta(hours=3)),
        )
        for n in range(30)
    ]
    index = CampaignIndex(campaigns)
    cases = [
        facts(n, offers=frozenset(chosen), wilaya_code=wilaya, amount_centimes=amount)
        for n, (chosen, wilaya, amount) in enumerate(
            [
                ({"fibre_100"}, "15", 250_000),
                ({"adsl_8", "fibre_1g"}, "16", 400_000),
                (set(), "15", 500_000),
                ({"4g_30", "fibre_100", "adsl_8"}, "15", 100_000),
                ({"fibre_1g"}, "31", 300_000),
            ]
        )
    ]
    cases.append(replace(cases[0], event_type="tickets.survey.answered"))
    for case in cases:
        expected = [c for c in campaigns if refusal(c, case) is None]
        assert index.rewarding(case) == expected
    assert any(index.rewarding(case) for case in cases)
    assert any(len(index.rewarding(case)) < len(campaigns) // 2 for case in cases)
