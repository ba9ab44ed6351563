"""Commitments: policy selection and the SLA clock on the Algerian calendar."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sila_tickets.domain.calendar import (
    ALGIERS,
    CalendarCoverageError,
    HolidayOverride,
    WorkingCalendar,
)
from sila_tickets.domain.sla import (
    ClockKind,
    Duration,
    NoPolicyError,
    Pause,
    SlaClock,
    SlaPolicy,
    TicketCategory,
    TicketPriority,
    compute_due,
    default_policies,
    select_policy,
)

CALENDAR = WorkingCalendar.algeria(years=range(2025, 2028))
FORTY_EIGHT_HOURS = Duration.calendar_hours(48)
FOUR_WORKING_HOURS = Duration.working_hours(4)
SEVEN_WORKING_DAYS = Duration.working_days(7)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ALGIERS)


# --- Eid and holidays -----------------------------------------------------------------------


def test_fault_opened_thursday_evening_before_eid_al_fitr_is_due_saturday_evening_during_eid() -> (
    None
):
    # Eid al-Fitr 2026 (holidays 0.108, estimated): Friday 20 to Sunday 22 March.
    due = compute_due(FORTY_EIGHT_HOURS, local(2026, 3, 19, 18), CALENDAR)
    assert due == local(2026, 3, 21, 18)


def test_first_response_to_that_fault_waits_past_weekend_and_eid_until_monday_noon() -> None:
    due = compute_due(FOUR_WORKING_HOURS, local(2026, 3, 19, 18), CALENDAR)
    assert due == local(2026, 3, 23, 12)


def test_eid_al_fitr_confirmed_one_day_later_moves_first_response_to_tuesday_noon() -> None:
    moved = WorkingCalendar.algeria(
        years=[2026],
        overrides=[
            HolidayOverride.remove(date(2026, 3, 20), "Eid al-Fitr"),
            HolidayOverride.add(date(2026, 3, 23), "Eid al-Fitr"),
        ],
    )
    due = compute_due(FOUR_WORKING_HOURS, local(2026, 3, 19, 18), moved)
    assert due == local(2026, 3, 24, 12)


def test_complaint_opened_thursday_evening_before_eid_al_adha_is_due_thursday_4_june() -> None:
    # Day 0 is Sunday 24 May; Eid al-Adha takes Wed 27 to Fri 29 May 2026.
    # Mon 25 (1), Tue 26 (2), Sun 31 (3), Mon 1 (4), Tue 2 (5), Wed 3 (6), Thu 4 June (7).
    due = compute_due(SEVEN_WORKING_DAYS, local(2026, 5, 21, 19), CALENDAR)
    assert due == local(2026, 6, 4, 16, 30)


def test_complaint_opened_thursday_morning_counts_thursday_as_day_zero() -> None:
    due = compute_due(SEVEN_WORKING_DAYS, local(2026, 5, 21, 10), CALENDAR)
    assert due == local(2026, 6, 3, 16, 30)


def test_complaint_opened_exactly_at_closing_time_starts_counting_next_working_day() -> None:
    at_closing = compute_due(SEVEN_WORKING_DAYS, local(2026, 5, 21, 16, 30), CALENDAR)
    assert at_closing == compute_due(SEVEN_WORKING_DAYS, local(2026, 5, 21, 19), CALENDAR)


def test_eid_al_adha_moved_one_day_later_brings_the_complaint_due_date_a_day_earlier() -> None:
    # Eid confirmed Thu 28 to Sat 30 May: Wednesday 27 becomes a working day again.
    moved = WorkingCalendar.algeria(
        years=[2026],
        overrides=[
            HolidayOverride.remove(date(2026, 5, 27), "Eid al-Adha"),
            HolidayOverride.add(date(2026, 5, 30), "Eid al-Adha"),
        ],
    )
    due = compute_due(SEVEN_WORKING_DAYS, local(2026, 5, 21, 19), moved)
    assert due == local(2026, 6, 3, 16, 30)


@pytest.mark.parametrize(
    ("opened_at", "expected_due"),
    [
        # Sun 11 Jan 2026, 16:00: half an hour, Yennayer Monday skipped, 3.5 h on Tuesday.
        (local(2026, 1, 11, 16), local(2026, 1, 13, 11, 30)),
        # Thu 2 Jul 2026, 15:00: Fri/Sat weekend, Sun 5 July Independence Day.
        (local(2026, 7, 2, 15), local(2026, 7, 6, 10, 30)),
        # Thu 29 Oct 2026, 15:00: Fri/Sat weekend, Sun 1 November Revolution Day.
        (local(2026, 10, 29, 15), local(2026, 11, 2, 10, 30)),
    ],
    ids=["yennayer", "independence-day", "revolution-day"],
)
def test_working_hour_commitments_skip_fixed_national_holidays(
    opened_at: datetime, expected_due: datetime
) -> None:
    assert compute_due(FOUR_WORKING_HOURS, opened_at, CALENDAR) == expected_due


# --- Pauses -----------------------------------------------------------------------------------


def test_weekend_pause_shifts_working_days_due_date_by_the_working_time_lost() -> None:
    opened = local(2026, 2, 1, 10)  # Sunday; unpaused due: Tuesday 10 Feb at 16:30
    assert compute_due(SEVEN_WORKING_DAYS, opened, CALENDAR) == local(2026, 2, 10, 16, 30)

    waiting_on_customer = [(local(2026, 2, 5, 15), local(2026, 2, 8, 9))]  # Thu 15:00-Sun 09:00
    due = compute_due(SEVEN_WORKING_DAYS, opened, CALENDAR, waiting_on_customer)

    # 1.5 h lost on Thursday + 1 h on Sunday, not the 66 calendar hours of the pause.
    assert due == local(2026, 2, 11, 10, 30)


def test_calendar_hour_commitment_runs_through_the_weekend() -> None:
    due = compute_due(FORTY_EIGHT_HOURS, local(2026, 1, 8, 10), CALENDAR)  # Thursday
    assert due == local(2026, 1, 10, 10)  # Saturday


def test_calendar_hour_commitment_still_stops_while_waiting_on_the_customer() -> None:
    pause = Pause(local(2026, 1, 8, 12), local(2026, 1, 8, 18))
    due = compute_due(FORTY_EIGHT_HOURS, local(2026, 1, 8, 10), CALENDAR, [pause])
    assert due == local(2026, 1, 10, 16)


def test_calendar_hour_pause_over_the_weekend_shifts_by_its_full_length() -> None:
    pause = (local(2026, 1, 8, 15), local(2026, 1, 11, 9))
    due = compute_due(FORTY_EIGHT_HOURS, local(2026, 1, 8, 10), CALENDAR, [pause])
    assert due == local(2026, 1, 10, 10) + timedelta(hours=66)


def test_overlapping_pauses_count_once() -> None:
    opened = local(2026, 1, 8, 10)
    overlapping = [
        (local(2026, 1, 8, 12), local(2026, 1, 8, 16)),
        (local(2026, 1, 8, 14), local(2026, 1, 8, 18)),
    ]
    union = [(local(2026, 1, 8, 12), local(2026, 1, 8, 18))]
    assert compute_due(FORTY_EIGHT_HOURS, opened, CALENDAR, overlapping) == compute_due(
        FORTY_EIGHT_HOURS, opened, CALENDAR, union
    )


def test_while_paused_the_due_date_is_unknown_and_the_clock_is_frozen() -> None:
    clock = SlaClock(
        FORTY_EIGHT_HOURS, local(2026, 1, 4, 9), CALENDAR, [(local(2026, 1, 4, 21), None)]
    )
    assert clock.is_paused
    assert clock.due_at is None
    assert clock.remaining(local(2026, 1, 4, 22)) == timedelta(hours=36)
    assert clock.remaining(local(2026, 2, 20)) == timedelta(hours=36)
    assert not clock.is_breached(local(2026, 2, 20))


def test_projected_due_date_adds_the_pause_up_to_resumption() -> None:
    clock = SlaClock(
        FORTY_EIGHT_HOURS, local(2026, 1, 4, 9), CALENDAR, [(local(2026, 1, 4, 21), None)]
    )
    assert clock.projected_due_at(local(2026, 1, 5, 9)) == local(2026, 1, 6, 21)


def test_a_pause_started_after_the_deadline_does_not_hide_the_breach() -> None:
    clock = SlaClock(
        FORTY_EIGHT_HOURS, local(2026, 1, 4, 9), CALENDAR, [(local(2026, 1, 7, 9), None)]
    )
    assert clock.due_at == local(2026, 1, 6, 9)
    assert clock.is_breached(local(2026, 1, 8))


@pytest.mark.parametrize(
    "pauses",
    [
        [(local(2026, 1, 5), None), (local(2026, 1, 6), None)],
        [(local(2026, 1, 5), None), (local(2026, 1, 6), local(2026, 1, 7))],
        [(local(2026, 1, 6), local(2026, 1, 5))],
    ],
    ids=["two-running", "finished-after-running", "ends-before-start"],
)
def test_inconsistent_pauses_are_rejected(pauses: list[tuple[datetime, datetime | None]]) -> None:
    with pytest.raises(ValueError, match="pause"):
        SlaClock(FORTY_EIGHT_HOURS, local(2026, 1, 4, 9), CALENDAR, pauses)


# --- Consumption, escalation point and breach --------------------------------------------------


def test_a_48_hour_ticket_reaches_75_percent_after_36_hours() -> None:
    clock = SlaClock(FORTY_EIGHT_HOURS, local(2026, 1, 4, 9), CALENDAR)
    assert clock.reached_at(0.75) == local(2026, 1, 5, 21)
    assert clock.elapsed_fraction(local(2026, 1, 5, 21)) == 0.75
    assert clock.elapsed_fraction(local(2026, 1, 5, 20, 59)) < 0.75


def test_the_75_percent_point_moves_with_a_pause_before_it() -> None:
    pause = (local(2026, 1, 4, 12), local(2026, 1, 4, 14))
    clock = SlaClock(FORTY_EIGHT_HOURS, local(2026, 1, 4, 9), CALENDAR, [pause])
    assert clock.reached_at(0.75) == local(2026, 1, 5, 23)


def test_finishing_exactly_at_the_due_date_is_on_time_and_a_moment_later_is_a_breach() -> None:
    clock = SlaClock(FORTY_EIGHT_HOURS, local(2026, 1, 4, 9), CALENDAR)
    assert not clock.is_breached(local(2026, 1, 6, 9))
    assert clock.is_breached(local(2026, 1, 6, 9) + timedelta(microseconds=1))


def test_remaining_time_counts_down_and_goes_negative_once_overdue() -> None:
    clock = SlaClock(FORTY_EIGHT_HOURS, local(2026, 1, 4, 9), CALENDAR)
    assert clock.remaining(local(2026, 1, 4, 21)) == timedelta(hours=36)
    assert clock.remaining(local(2026, 1, 6, 12)) == timedelta(hours=-3)
    assert clock.elapsed_fraction(local(2026, 1, 6, 21)) == 1.25


def test_working_clock_counts_nothing_outside_business_hours() -> None:
    clock = SlaClock(FOUR_WORKING_HOURS, local(2026, 2, 5, 15), CALENDAR)  # Thursday
    assert clock.consumed(local(2026, 2, 7, 12)) == timedelta(hours=1, minutes=30)
    assert clock.due_at == local(2026, 2, 8, 10, 30)


def test_working_clock_breaches_after_closing_even_though_no_time_is_left_to_count() -> None:
    clock = SlaClock(FOUR_WORKING_HOURS, local(2026, 2, 8, 12, 30), CALENDAR)
    assert clock.due_at == local(2026, 2, 8, 16, 30)
    assert clock.remaining(local(2026, 2, 8, 20)) == timedelta(0)
    assert clock.is_breached(local(2026, 2, 8, 20))


def test_working_days_budget_is_the_business_time_to_closing_of_the_last_day() -> None:
    clock = SlaClock(SEVEN_WORKING_DAYS, local(2026, 2, 1, 10), CALENDAR)
    assert clock.budget == timedelta(hours=6, minutes=30) + 7 * timedelta(hours=8, minutes=30)


# --- Time zones ----------------------------------------------------------------------------------


NAIVE = datetime(2026, 1, 5, 10)


@pytest.mark.parametrize(
    "pause",
    [(NAIVE, local(2026, 1, 5, 11)), (local(2026, 1, 5, 9), NAIVE)],
    ids=["start", "end"],
)
def test_naive_pause_bounds_are_rejected(pause: tuple[datetime, datetime]) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SlaClock(FORTY_EIGHT_HOURS, local(2026, 1, 4, 9), CALENDAR, [pause])


def test_a_naive_opening_time_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        compute_due(FORTY_EIGHT_HOURS, NAIVE, CALENDAR)


@pytest.mark.parametrize("question", ["is_breached", "remaining", "elapsed_fraction"])
def test_a_naive_instant_is_rejected_when_asking_the_clock(question: str) -> None:
    clock = SlaClock(FORTY_EIGHT_HOURS, local(2026, 1, 4, 9), CALENDAR)
    with pytest.raises(ValueError, match="timezone-aware"):
        getattr(clock, question)(NAIVE)


def test_due_dates_are_utc_plus_one_in_summer_too() -> None:
    due = compute_due(FOUR_WORKING_HOURS, local(2026, 7, 12, 9), CALENDAR)
    assert due == local(2026, 7, 12, 13)
    assert due is not None and due.utcoffset() == timedelta(hours=1)


def test_48_hours_across_the_european_clock_change_stay_48_real_hours() -> None:
    opened = local(2026, 3, 28, 10)  # Europe moves its clocks on Sunday 29 March
    due = compute_due(FORTY_EIGHT_HOURS, opened, CALENDAR)
    assert due == local(2026, 3, 30, 10)


def test_instants_given_in_a_daylight_saving_zone_are_measured_in_real_hours() -> None:
    paris = ZoneInfo("Europe/Paris")
    opened = datetime(2026, 3, 28, 10, tzinfo=paris)  # Paris moves to UTC+2 on 29 March
    clock = SlaClock(FORTY_EIGHT_HOURS, opened, CALENDAR)
    assert clock.due_at == local(2026, 3, 30, 10)
    assert clock.elapsed_fraction(datetime(2026, 3, 30, 11, tzinfo=paris)) == 1


def test_an_utc_opening_time_gives_the_same_due_date_as_its_algiers_equivalent() -> None:
    in_utc = datetime(2026, 5, 21, 18, tzinfo=UTC)  # 19:00 in Algiers
    assert compute_due(SEVEN_WORKING_DAYS, in_utc, CALENDAR) == local(2026, 6, 4, 16, 30)


def test_working_commitment_running_past_the_seeded_years_is_refused() -> None:
    with pytest.raises(CalendarCoverageError):
        compute_due(SEVEN_WORKING_DAYS, local(2027, 12, 28, 10), CALENDAR)
    assert compute_due(FORTY_EIGHT_HOURS, local(2027, 12, 31, 10), CALENDAR) == local(
        2028, 1, 2, 10
    )


# --- Policies -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "priority", "resolution"),
    [
        (TicketCategory.TECHNICAL, TicketPriority.CRITICAL, Duration.calendar_hours(24)),
        (TicketCategory.TECHNICAL, TicketPriority.HIGH, Duration.calendar_hours(48)),
        (TicketCategory.TECHNICAL, TicketPriority.NORMAL, Duration.calendar_hours(48)),
        (TicketCategory.TECHNICAL, TicketPriority.LOW, Duration.calendar_hours(72)),
        (TicketCategory.TECHNICAL, None, Duration.calendar_hours(48)),
        (TicketCategory.ADMINISTRATIVE, TicketPriority.HIGH, Duration.working_days(7)),
        (TicketCategory.COMMERCIAL, None, Duration.working_days(5)),
    ],
)
def test_default_resolution_commitments(
    category: TicketCategory, priority: TicketPriority | None, resolution: Duration
) -> None:
    policy = select_policy(default_policies(), category=category, priority=priority)
    assert policy.resolution == resolution


def test_default_first_responses() -> None:
    def first_response(category: TicketCategory) -> Duration:
        return select_policy(default_policies(), category=category).first_response

    assert first_response(TicketCategory.TECHNICAL) == Duration.working_hours(4)
    assert first_response(TicketCategory.ADMINISTRATIVE) == Duration.working_days(1)
    assert first_response(TicketCategory.COMMERCIAL) == Duration.working_days(1)


def _policy(subcategory: str | None, priority: TicketPriority | None, days: int) -> SlaPolicy:
    return SlaPolicy(
        category=TicketCategory.ADMINISTRATIVE,
        subcategory=subcategory,
        priority=priority,
        first_response=Duration.working_days(1),
        resolution=Duration.working_days(days),
    )


SPECIFICITY_TABLE = [
    _policy(None, None, 7),
    _policy(None, TicketPriority.HIGH, 5),
    _policy("billing", None, 4),
    _policy("billing", TicketPriority.HIGH, 2),
]


@pytest.mark.parametrize(
    ("subcategory", "priority", "expected_days"),
    [
        ("billing", TicketPriority.HIGH, 2),
        ("billing", TicketPriority.LOW, 4),
        ("address", TicketPriority.HIGH, 5),
        ("address", None, 7),
        (None, None, 7),
    ],
)
def test_the_most_specific_policy_wins(
    subcategory: str | None, priority: TicketPriority | None, expected_days: int
) -> None:
    for table in (SPECIFICITY_TABLE, SPECIFICITY_TABLE[::-1]):
        policy = select_policy(
            table,
            category=TicketCategory.ADMINISTRATIVE,
            subcategory=subcategory,
            priority=priority,
        )
        assert policy.resolution == Duration.working_days(expected_days)


def test_a_subcategory_policy_outranks_a_priority_policy() -> None:
    table = [_policy(None, TicketPriority.HIGH, 5), _policy("billing", None, 4)]
    for ordered in (table, table[::-1]):
        policy = select_policy(
            ordered,
            category=TicketCategory.ADMINISTRATIVE,
            subcategory="billing",
            priority=TicketPriority.HIGH,
        )
        assert policy.resolution == Duration.working_days(4)


def test_a_ticket_no_policy_covers_is_reported() -> None:
    with pytest.raises(NoPolicyError):
        select_policy(SPECIFICITY_TABLE, category=TicketCategory.TECHNICAL)


def test_a_table_with_two_policies_for_the_same_key_is_refused() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        select_policy(
            [_policy("billing", None, 4), _policy("billing", None, 3)],
            category=TicketCategory.ADMINISTRATIVE,
        )


@pytest.mark.parametrize("amount", [0, -1, True])
def test_a_commitment_must_be_a_positive_whole_amount(amount: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        Duration(amount, ClockKind.WORKING_DAYS)


# --- Properties ----------------------------------------------------------------------------------

instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2026, 10, 31), timezones=st.just(ALGIERS)
)
durations = st.one_of(
    st.integers(1, 96).map(Duration.calendar_hours),
    st.integers(1, 60).map(Duration.working_hours),
    st.integers(1, 15).map(Duration.working_days),
)
Span = tuple[timedelta, timedelta]  # offset from opening, length
pause_spans = st.tuples(
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=10)),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=5)),
)


def _pauses_from(opened_at: datetime, spans: list[Span]) -> list[Pause]:
    return [Pause(opened_at + offset, opened_at + offset + length) for offset, length in spans]


@settings(deadline=None, max_examples=150)
@given(duration=durations, opened_at=instants, spans=st.lists(pause_spans, max_size=3))
def test_due_date_is_never_before_opening(
    duration: Duration, opened_at: datetime, spans: list[Span]
) -> None:
    due = compute_due(duration, opened_at, CALENDAR, _pauses_from(opened_at, spans))
    assert due is not None
    assert due >= opened_at


@settings(deadline=None, max_examples=150)
@given(
    duration=durations,
    opened_at=instants,
    spans=st.lists(pause_spans, max_size=2),
    extra=pause_spans,
)
def test_adding_a_pause_never_brings_the_due_date_earlier(
    duration: Duration, opened_at: datetime, spans: list[Span], extra: Span
) -> None:
    before = compute_due(duration, opened_at, CALENDAR, _pauses_from(opened_at, spans))
    after = compute_due(duration, opened_at, CALENDAR, _pauses_from(opened_at, [*spans, extra]))
    assert before is not None and after is not None
    assert after >= before


@settings(deadline=None, max_examples=150)
@given(
    duration=durations,
    opened_at=instants,
    spans=st.lists(pause_spans, max_size=3),
    first=st.timedeltas(min_value=timedelta(hours=-2), max_value=timedelta(days=20)),
    gap=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=5)),
)
def test_elapsed_fraction_never_decreases_with_time(
    duration: Duration,
    opened_at: datetime,
    spans: list[Span],
    first: timedelta,
    gap: timedelta,
) -> None:
    clock = SlaClock(duration, opened_at, CALENDAR, _pauses_from(opened_at, spans))
    earlier = opened_at + first
    assert clock.elapsed_fraction(earlier) <= clock.elapsed_fraction(earlier + gap)


@settings(deadline=None, max_examples=100)
@given(duration=durations, opened_at=instants)
def test_elapsed_fraction_is_exactly_one_at_the_due_date(
    duration: Duration, opened_at: datetime
) -> None:
    clock = SlaClock(duration, opened_at, CALENDAR)
    assert clock.due_at is not None
    assert clock.elapsed_fraction(clock.due_at) == 1


@settings(deadline=None, max_examples=100)
@given(days=st.integers(1, 15), opened_at=instants)
def test_unpaused_working_days_are_due_at_closing_time_on_a_working_day(
    days: int, opened_at: datetime
) -> None:
    due = compute_due(Duration.working_days(days), opened_at, CALENDAR)
    assert due is not None
    assert CALENDAR.is_working_day(due.date())
    assert (due.hour, due.minute) == (16, 30)
