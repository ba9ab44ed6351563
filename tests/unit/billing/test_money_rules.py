"""Billing's pure rules: money, subscriptions, Idoomly, bills, payments, vouchers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sila_billing.domain import bills, idoomly, money, payments, providers, subscriptions
from sila_billing.domain.offers import PriceVersion, Technology, price_at
from sila_billing.domain.vouchers import code_hash, new_code, normalise

ALGIERS = ZoneInfo("Africa/Algiers")


def algiers(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=ALGIERS)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "100", True, money.MAX_AMOUNT_CENTIMES + 1])
def test_an_amount_is_a_positive_bounded_integer_of_centimes(bad: object) -> None:
    with pytest.raises(money.AmountError):
        money.check_amount(bad)


def test_amounts_are_shown_in_dinars_with_two_centime_digits() -> None:
    assert money.format_dzd(123_450) == "1\u00a0234,50 DA"
    assert money.format_dzd(123_450, "en") == "1,234.50 DZD"
    assert money.format_dzd(5, "ar") == "0,05 دج"


def test_the_price_in_force_is_the_latest_version_started() -> None:
    versions = [
        PriceVersion(1, 160_000, datetime(2025, 1, 1, tzinfo=UTC)),
        PriceVersion(2, 180_000, datetime(2026, 6, 1, tzinfo=UTC)),
    ]
    assert price_at(versions, datetime(2026, 5, 31, tzinfo=UTC)).version == 1  # type: ignore[union-attr]
    assert price_at(versions, datetime(2026, 6, 1, tzinfo=UTC)).version == 2  # type: ignore[union-attr]
    assert price_at(versions, datetime(2024, 1, 1, tzinfo=UTC)) is None


def test_a_recharge_extends_from_the_current_end_when_still_running() -> None:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    end = now + timedelta(days=5)
    period = subscriptions.extend(end, now, timedelta(days=30))
    assert period.starts_at == end and period.ends_at == end + timedelta(days=30)


def test_a_recharge_of_an_expired_line_starts_now() -> None:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    period = subscriptions.extend(now - timedelta(days=9), now, timedelta(days=30))
    assert period.starts_at == now


def test_subscription_states_by_end_date() -> None:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    assert subscriptions.state_at(now + timedelta(days=10), now) is subscriptions.State.ACTIVE
    assert subscriptions.state_at(now + timedelta(days=2), now) is subscriptions.State.EXPIRING
    assert subscriptions.state_at(now, now) is subscriptions.State.EXPIRED
    assert subscriptions.state_at(now, now, suspended=True) is subscriptions.State.SUSPENDED
    assert subscriptions.state_at(None, now) is subscriptions.State.BILLED


def test_idoomly_is_granted_at_night_for_36_hours() -> None:
    ended = algiers(2026, 11, 3, 20, 0)  # a Tuesday evening
    moment = algiers(2026, 11, 3, 23, 30)
    grant = idoomly.grant(
        technology=Technology.ADSL,
        ends_at=ended,
        suspended=False,
        last_grant_period_end=None,
        moment=moment,
    )
    assert grant.ends_at - grant.starts_at == timedelta(hours=36)
    assert grant.period_end == ended


def test_idoomly_is_granted_on_a_friday_afternoon_and_refused_on_a_tuesday_afternoon() -> None:
    assert idoomly.is_off_hours(algiers(2026, 11, 6, 14, 0))  # Friday
    assert not idoomly.is_off_hours(algiers(2026, 11, 3, 14, 0))  # Tuesday


def test_independence_day_is_off_hours_even_on_a_working_afternoon() -> None:
    assert algiers(2026, 7, 5, 10, 0).weekday() == 6  # a Sunday
    assert idoomly.is_off_hours(algiers(2026, 7, 5, 10, 0))
    assert idoomly.is_holiday(date(2026, 1, 12))  # Yennayer


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"technology": Technology.LTE}, idoomly.Refusal.NOT_ELIGIBLE_OFFER),
        ({"ends_at": algiers(2026, 11, 10, 0, 0)}, idoomly.Refusal.NOT_EXPIRED),
        ({"last_grant_period_end": algiers(2026, 11, 3, 20, 0)}, idoomly.Refusal.ALREADY_USED),
        ({"moment": algiers(2026, 11, 4, 10, 0)}, idoomly.Refusal.BUSINESS_HOURS),
        ({"suspended": True}, idoomly.Refusal.SUSPENDED),
    ],
)
def test_idoomly_refusals(kwargs: dict[str, object], reason: idoomly.Refusal) -> None:
    arguments: dict[str, object] = {
        "technology": Technology.FIBRE,
        "ends_at": algiers(2026, 11, 3, 20, 0),
        "suspended": False,
        "last_grant_period_end": None,
        "moment": algiers(2026, 11, 3, 23, 0),
    } | kwargs
    with pytest.raises(idoomly.IdoomlyRefused) as refused:
        idoomly.grant(**arguments)  # type: ignore[arg-type]
    assert refused.value.reason is reason


def test_idoomly_of_an_earlier_period_does_not_block_the_next() -> None:
    grant = idoomly.grant(
        technology=Technology.FIBRE,
        ends_at=algiers(2026, 12, 3, 20, 0),
        suspended=False,
        last_grant_period_end=algiers(2026, 11, 3, 20, 0),
        moment=algiers(2026, 12, 4, 2, 0),
    )
    assert grant.period_end == algiers(2026, 12, 3, 20, 0)


def test_bill_states_follow_payments_and_due_date() -> None:
    due = bills.due_at(date(2026, 11, 1))
    assert due == algiers(2026, 11, 16, 23, 59, 59)
    before, after = algiers(2026, 11, 10, 0, 0), algiers(2026, 11, 17, 0, 0)
    assert bills.state_after_payment(1000, 0, due, before) is bills.BillState.ISSUED
    assert bills.state_after_payment(1000, 400, due, before) is bills.BillState.PARTIALLY_PAID
    assert bills.state_after_payment(1000, 400, due, after) is bills.BillState.OVERDUE
    assert bills.state_after_payment(1000, 1000, due, after) is bills.BillState.PAID
    assert bills.bill_number("2026-11", 42) == "F-202611-00000042"
    with pytest.raises(ValueError, match="YYYY-MM"):
        bills.parse_period("2026-13")


def test_payment_states_only_move_forward() -> None:
    payments.check_transition(payments.PaymentState.PENDING, payments.PaymentState.SUCCEEDED)
    with pytest.raises(payments.PaymentTransitionError):
        payments.check_transition(payments.PaymentState.SUCCEEDED, payments.PaymentState.FAILED)
    with pytest.raises(payments.PaymentTransitionError):
        payments.check_transition(payments.PaymentState.EXPIRED, payments.PaymentState.SUCCEEDED)


def test_refunds_partial_then_whole_never_above_what_was_paid() -> None:
    paid = payments.PaymentState.SUCCEEDED
    assert payments.after_refund(paid, 1000, 0, 300) is paid
    assert payments.after_refund(paid, 1000, 300, 700) is payments.PaymentState.REFUNDED
    with pytest.raises(payments.RefundError):
        payments.after_refund(paid, 1000, 300, 701)
    with pytest.raises(payments.RefundError):
        payments.after_refund(payments.PaymentState.FAILED, 1000, 0, 1)
    with pytest.raises(payments.RefundError):
        payments.after_refund(paid, 1000, 0, 0)


def test_only_the_masked_pan_is_kept() -> None:
    assert payments.mask_pan("6280581100000001") == "628058******0001"
    assert payments.mask_pan(None) is None


def test_satim_order_statuses_mean_what_satim_says() -> None:
    paid = providers.satim_confirmation(
        {"ErrorCode": "0", "OrderStatus": 2, "Amount": 250000, "Pan": "628058******0001"}
    )
    assert paid.outcome is providers.Outcome.PAID and paid.amount_centimes == 250000
    declined = providers.satim_confirmation(
        {"ErrorCode": "0", "OrderStatus": 6, "params": {"respCode": "51"}}
    )
    assert declined.outcome is providers.Outcome.DECLINED and declined.reason == "51"
    assert providers.satim_confirmation({"ErrorCode": "6"}).outcome is providers.Outcome.UNKNOWN


def test_voucher_codes_are_long_random_and_hashed_with_a_pepper() -> None:
    code = new_code()
    assert len(code) == 16 and code.isdigit() and new_code() != code
    spaced = " ".join(code[i : i + 4] for i in range(0, 16, 4))
    assert normalise(spaced) == code
    assert code_hash(spaced, "p") == code_hash(code, "p") != code_hash(code, "q")
