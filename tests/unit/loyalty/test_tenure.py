"""Tenure anniversaries in Algiers time: due once a year from the first, never before."""

from __future__ import annotations

from datetime import UTC, datetime

from sila_loyalty.domain.ledger import ALGIERS
from sila_loyalty.domain.tenure import due_anniversary


def test_an_anniversary_is_due_from_its_day_in_algiers_once_a_year() -> None:
    # Registered 14 March 2024 at 23:30 UTC: already 15 March in Algiers (UTC+1).
    registered = datetime(2024, 3, 14, 23, 30, tzinfo=UTC)
    assert due_anniversary(registered, None, datetime(2024, 12, 31, tzinfo=UTC)) is None
    assert due_anniversary(registered, None, datetime(2025, 3, 14, 22, 59, tzinfo=UTC)) is None
    due = due_anniversary(registered, None, datetime(2025, 3, 14, 23, 0, tzinfo=UTC))
    assert due == (2025, datetime(2025, 3, 15, 0, 0, tzinfo=ALGIERS))
    assert due_anniversary(registered, 2025, datetime(2025, 7, 1, tzinfo=UTC)) is None
    # Down all of 2026's spring: 2026's is still celebrated, once, in the summer.
    assert due_anniversary(registered, 2025, datetime(2026, 7, 1, tzinfo=UTC)) == (
        2026,
        datetime(2026, 3, 15, 0, 0, tzinfo=ALGIERS),
    )


def test_a_leap_day_registration_is_celebrated_on_the_first_of_march_in_common_years() -> None:
    registered = datetime(2024, 2, 29, 10, 0, tzinfo=UTC)
    assert due_anniversary(registered, None, datetime(2025, 2, 28, 12, tzinfo=UTC)) is None
    assert due_anniversary(registered, None, datetime(2025, 3, 1, 12, tzinfo=UTC)) == (
        2025,
        datetime(2025, 3, 1, 0, 0, tzinfo=ALGIERS),
    )
    assert due_anniversary(registered, None, datetime(2028, 2, 29, 12, tzinfo=UTC)) == (
        2028,
        datetime(2028, 2, 29, 0, 0, tzinfo=ALGIERS),
    )
