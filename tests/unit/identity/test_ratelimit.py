"""Fixed windows of rate limits."""

from __future__ import annotations

from datetime import UTC, datetime

from sila_identity.domain.ratelimit import Limit

HOURLY = Limit("otp", hits=5, window_seconds=3600)


def test_moments_of_the_same_hour_share_a_window() -> None:
    early = datetime(2026, 5, 1, 14, 0, 1, tzinfo=UTC)
    late = datetime(2026, 5, 1, 14, 59, 59, tzinfo=UTC)
    assert HOURLY.window_start(early) == HOURLY.window_start(late)
    assert HOURLY.window_start(early) == datetime(2026, 5, 1, 14, tzinfo=UTC)


def test_retry_after_counts_to_the_next_window() -> None:
    assert HOURLY.retry_after(datetime(2026, 5, 1, 14, 59, 30, tzinfo=UTC)) == 30
    assert HOURLY.retry_after(datetime(2026, 5, 1, 14, 0, 0, tzinfo=UTC)) == 3600


def test_buckets_are_named_by_limit_and_bounded_in_length() -> None:
    assert HOURLY.bucket("abc") == "otp:abc"
    assert len(HOURLY.bucket("x" * 500)) == 120
