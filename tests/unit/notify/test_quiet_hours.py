"""Quiet hours and frequency caps."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from sila_notify.domain.quiet_hours import (
    FrequencyCap,
    QuietHoursWindow,
    earliest_send_time,
    next_allowed_send,
)

ALGIERS = ZoneInfo("Africa/Algiers")


def algiers(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, minute, second, tzinfo=ALGIERS)


def test_non_urgent_message_at_20_59_goes_now() -> None:
    now = algiers(12, 20, 59)
    assert next_allowed_send(now) == now


def test_non_urgent_message_at_21_00_waits_until_8_00_next_morning() -> None:
    assert next_allowed_send(algiers(12, 21, 0)) == algiers(13, 8, 0)


def test_non_urgent_message_just_before_midnight_waits_until_next_morning() -> None:
    assert next_allowed_send(algiers(12, 23, 59, 59)) == algiers(13, 8, 0)


def test_non_urgent_message_just_after_midnight_waits_until_same_morning() -> None:
    assert next_allowed_send(algiers(13, 0, 0)) == algiers(13, 8, 0)


def test_non_urgent_message_at_7_59_waits_until_8_00() -> None:
    assert next_allowed_send(algiers(13, 7, 59)) == algiers(13, 8, 0)


def test_non_urgent_message_at_8_00_goes_now() -> None:
    now = algiers(13, 8, 0)
    assert next_allowed_send(now) == now


def test_quiet_period_across_new_year_ends_on_the_next_year() -> None:
    now = datetime(2025, 12, 31, 22, 0, tzinfo=ALGIERS)
    assert next_allowed_send(now) == datetime(2026, 1, 1, 8, 0, tzinfo=ALGIERS)


def test_urgent_message_goes_now_even_at_night() -> None:
    now = algiers(13, 3, 0)
    assert next_allowed_send(now, urgent=True) == now


def test_utc_time_is_judged_on_the_algiers_clock() -> None:
    # 20:30 UTC is 21:30 in Algiers (UTC+1): already quiet there.
    now = datetime(2026, 1, 12, 20, 30, tzinfo=UTC)
    assert next_allowed_send(now) == algiers(13, 8, 0)
    assert next_allowed_send(datetime(2026, 1, 12, 19, 59, tzinfo=UTC)).hour == 19


def test_result_is_expressed_in_the_window_zone() -> None:
    result = next_allowed_send(datetime(2026, 1, 12, 23, 0, tzinfo=UTC))
    assert result.utcoffset() == timedelta(hours=1)
    assert result == datetime(2026, 1, 13, 7, 0, tzinfo=UTC)


def test_window_within_one_day_is_quiet_only_between_its_bounds() -> None:
    siesta = QuietHoursWindow(start=time(13, 0), end=time(14, 30))
    assert next_allowed_send(algiers(12, 12, 59), siesta) == algiers(12, 12, 59)
    assert next_allowed_send(algiers(12, 13, 0), siesta) == algiers(12, 14, 30)
    assert next_allowed_send(algiers(12, 14, 30), siesta) == algiers(12, 14, 30)


def test_window_with_equal_bounds_has_no_quiet_hours() -> None:
    never = QuietHoursWindow(start=time(21, 0), end=time(21, 0))
    assert next_allowed_send(algiers(12, 21, 0), never) == algiers(12, 21, 0)


def test_custom_window_in_another_zone() -> None:
    paris = ZoneInfo("Europe/Paris")
    window = QuietHoursWindow(start=time(22, 0), end=time(7, 0), zone=paris)
    # 22:30 in Algiers is 23:30 in Paris in winter.
    assert next_allowed_send(algiers(12, 22, 30), window) == datetime(
        2026, 1, 13, 7, 0, tzinfo=paris
    )


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_allowed_send(datetime(2026, 1, 12, 22, 0))


def test_cap_allows_until_the_limit_is_reached_within_the_period() -> None:
    cap = FrequencyCap(max_messages=2, per=timedelta(days=1))
    now = algiers(12, 12)
    assert cap.allows([], now)
    assert cap.allows([algiers(12, 9)], now)
    assert not cap.allows([algiers(12, 9), algiers(12, 10)], now)


def test_cap_forgets_sends_older_than_the_period() -> None:
    cap = FrequencyCap(max_messages=2, per=timedelta(days=1))
    now = algiers(12, 12)
    assert cap.allows([algiers(11, 12), algiers(12, 10)], now)
    assert not cap.allows([algiers(11, 12, 0, 1), algiers(12, 10)], now)


def test_cap_next_slot_is_when_the_oldest_blocking_send_leaves_the_period() -> None:
    cap = FrequencyCap(max_messages=2, per=timedelta(days=1))
    sent = [algiers(12, 11), algiers(12, 9), algiers(12, 10)]
    next_slot = cap.next_slot(sent, algiers(12, 12))
    assert next_slot == algiers(13, 10)
    assert cap.allows(sent, next_slot)
    assert not cap.allows(sent, next_slot - timedelta(seconds=1))


def test_cap_next_slot_is_now_when_allowed() -> None:
    cap = FrequencyCap(max_messages=3, per=timedelta(hours=1))
    now = algiers(12, 12)
    assert cap.next_slot([algiers(12, 11, 30)], now) == now


def test_cap_counts_sends_stamped_after_now() -> None:
    cap = FrequencyCap(max_messages=1, per=timedelta(hours=1))
    assert not cap.allows([algiers(12, 12, 1)], algiers(12, 12))


@pytest.mark.parametrize(
    ("max_messages", "per", "complaint"),
    [
        (0, timedelta(hours=1), "at least 1"),
        (1, timedelta(0), "positive"),
        (1, -timedelta(1), "positive"),
    ],
)
def test_cap_refuses_meaningless_settings(
    max_messages: int, per: timedelta, complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        FrequencyCap(max_messages, per)


def test_capped_message_whose_slot_falls_at_night_waits_for_the_morning() -> None:
    cap = FrequencyCap(max_messages=1, per=timedelta(hours=4))
    now = algiers(12, 19)
    result = earliest_send_time(now, urgent=False, cap=cap, sent_times=[algiers(12, 18)])
    assert result == algiers(13, 8)


def test_urgent_message_skips_both_cap_and_quiet_hours() -> None:
    cap = FrequencyCap(max_messages=1, per=timedelta(hours=4))
    now = algiers(12, 23)
    assert earliest_send_time(now, urgent=True, cap=cap, sent_times=[algiers(12, 22)]) == now
