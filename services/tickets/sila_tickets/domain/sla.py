"""Commitments (SLA): which policy applies to a ticket, and the clock that turns it into a due date.

Pure arithmetic on the working calendar; storing clocks and escalating is the service's job.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from sila_tickets.domain.calendar import (
    Interval,
    WorkingCalendar,
    advance,
    duration_between,
    require_aware,
)

# The end of a clock that never closes (calendar hours); never returned, only compared.
_END_OF_TIME = datetime.max.replace(tzinfo=UTC)


class TicketCategory(enum.StrEnum):
    COMMERCIAL = "commercial"
    TECHNICAL = "technical"
    ADMINISTRATIVE = "administrative"


class TicketPriority(enum.StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class ClockKind(enum.StrEnum):
    """What time counts towards a commitment.

    - CALENDAR_HOURS: every hour, night, weekend and holiday included (faults: 24-72 h).
    - WORKING_HOURS: only business hours of working days.
    - WORKING_DAYS: whole working days, closing at end of business; see `SlaClock`.
    """

    CALENDAR_HOURS = "calendar_hours"
    WORKING_HOURS = "working_hours"
    WORKING_DAYS = "working_days"


@dataclass(frozen=True)
class Duration:
    """A commitment's length: a positive whole number of hours or days on one kind of clock."""

    amount: int
    kind: ClockKind

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or self.amount <= 0:
            raise ValueError(f"a commitment must be a positive whole amount, got {self.amount!r}")

    @classmethod
    def calendar_hours(cls, amount: int) -> Duration:
        return cls(amount, ClockKind.CALENDAR_HOURS)

    @classmethod
    def working_hours(cls, amount: int) -> Duration:
        return cls(amount, ClockKind.WORKING_HOURS)

    @classmethod
    def working_days(cls, amount: int) -> Duration:
        return cls(amount, ClockKind.WORKING_DAYS)

    def __str__(self) -> str:
        return f"{self.amount} {self.kind.value.replace('_', ' ')}"


@dataclass(frozen=True, kw_only=True)
class SlaPolicy:
    """The commitments for tickets of a category, optionally narrowed by subcategory/priority.

    None in `subcategory` or `priority` means "any". See `select_policy` for precedence.
    """

    category: TicketCategory
    subcategory: str | None = None
    priority: TicketPriority | None = None
    first_response: Duration
    resolution: Duration

    @property
    def key(self) -> tuple[TicketCategory, str | None, TicketPriority | None]:
        return (self.category, self.subcategory, self.priority)

    @property
    def specificity(self) -> int:
        """Higher wins: subcategory+priority 3, subcategory 2, priority 1, category alone 0."""
        return 2 * (self.subcategory is not None) + (self.priority is not None)

    def applies_to(
        self,
        category: TicketCategory,
        subcategory: str | None,
        priority: TicketPriority | None,
    ) -> bool:
        return (
            self.category == category
            and self.subcategory in (None, subcategory)
            and self.priority in (None, priority)
        )


class NoPolicyError(LookupError):
    """No policy in the table covers the ticket (the table lacks a category-wide fallback)."""


def default_policies() -> tuple[SlaPolicy, ...]:
    """The commitments Algérie Télécom announces, as a policy table.

    - Technical (faults, "dérangements"): resolved within 24-72 calendar hours by priority,
      critical 24 h, high and normal 48 h (the quoted commitment, also used when no priority
      is given), low 72 h; first response within 4 working hours.
    - Administrative (address, bills, contract): resolved within 7 working days; first
      response within 1 working day. Assumption: a dispute follows the same 7 working days
      until the business says its "7 days" are calendar days.
    - Commercial (subscriptions, promotions): assumption, no commitment is published:
      resolved within 5 working days, first response within 1 working day.
    """
    technical_first_response = Duration.working_hours(4)
    one_working_day = Duration.working_days(1)

    def technical(priority: TicketPriority | None, hours: int) -> SlaPolicy:
        return SlaPolicy(
            category=TicketCategory.TECHNICAL,
            priority=priority,
            first_response=technical_first_response,
            resolution=Duration.calendar_hours(hours),
        )

    return (
        technical(None, 48),
        technical(TicketPriority.CRITICAL, 24),
        technical(TicketPriority.HIGH, 48),
        technical(TicketPriority.NORMAL, 48),
        technical(TicketPriority.LOW, 72),
        SlaPolicy(
            category=TicketCategory.ADMINISTRATIVE,
            first_response=one_working_day,
            resolution=Duration.working_days(7),
        ),
        SlaPolicy(
            category=TicketCategory.COMMERCIAL,
            first_response=one_working_day,
            resolution=Duration.working_days(5),
        ),
    )


def select_policy(
    policies: Iterable[SlaPolicy],
    *,
    category: TicketCategory,
    subcategory: str | None = None,
    priority: TicketPriority | None = None,
) -> SlaPolicy:
    """The most specific policy for the ticket.

    Precedence: category+subcategory+priority, then category+subcategory, then
    category+priority, then category alone. Raises NoPolicyError when none applies and
    ValueError when the table holds two policies with the same key.
    """
    policies = list(policies)
    keys = [policy.key for policy in policies]
    duplicates = {key for key in keys if keys.count(key) > 1}
    if duplicates:
        raise ValueError(f"policy table has duplicate keys: {sorted(map(str, duplicates))}")
    matching = [p for p in policies if p.applies_to(category, subcategory, priority)]
    if not matching:
        raise NoPolicyError(f"no SLA policy for {category}/{subcategory}/{priority}")
    return max(matching, key=lambda policy: policy.specificity)


class Pause(NamedTuple):
    """A span while the ticket waits on the customer; `ended_at` None means still waiting."""

    started_at: datetime
    ended_at: datetime | None


PauseLike = tuple[datetime, datetime | None]


class SlaClock:
    """One commitment of one ticket: its budget, due date, consumption and breach.

    The clock counts only time of its kind (all time, or business hours) that is not inside a
    pause. The budget is fixed at opening:

    - calendar or working hours: the duration itself;
    - working days: the business time from opening to the close of business of the N-th
      working day after the day the ticket is deemed received. That day (day 0) is the
      opening day if the ticket was opened on a working day before closing time, otherwise
      the next working day. So, 7 working days for a complaint opened Thursday evening:
      day 0 is Sunday, due at 16:30 on the 7th working day after it. Without pauses the due
      date is always a closing time; a pause pushes it by the business time it swallowed,
      so a due date can then fall mid-morning.

    While the last pause is still running the due date is unknown (None): the clock is
    stopped and will resume when the customer answers; `projected_due_at(resume_at)` gives
    the due date for a given resumption. If the budget ran out before that pause began the
    due date is known (and past). A ticket is breached at any instant after its due date;
    finishing exactly at the due date is on time.
    """

    def __init__(
        self,
        duration: Duration,
        opened_at: datetime,
        calendar: WorkingCalendar,
        pauses: Iterable[PauseLike] = (),
    ) -> None:
        require_aware(opened_at, "opened_at")
        self.duration = duration
        self.opened_at = opened_at
        self.calendar = calendar
        self.pauses = tuple(Pause(started, ended) for started, ended in pauses)
        self._closed_pauses, self._running_pause_start = _normalise_pauses(self.pauses)
        self.budget = self._compute_budget()
        self._due_at = self._instant_when_counted(self.budget)

    @property
    def is_paused(self) -> bool:
        return self._running_pause_start is not None

    @property
    def due_at(self) -> datetime | None:
        """When the commitment falls due, or None while paused with budget left."""
        return self._due_at

    def projected_due_at(self, resume_at: datetime) -> datetime:
        """The due date if the running pause ended at `resume_at` (the due date if not paused)."""
        require_aware(resume_at, "resume_at")
        if self._due_at is not None:
            return self._due_at
        assert self._running_pause_start is not None  # without one the budget always runs out
        if resume_at < self._running_pause_start:
            raise ValueError("a pause cannot end before it started")
        resumed = [*self._closed_pauses, (self._running_pause_start, resume_at)]
        projected = SlaClock(self.duration, self.opened_at, self.calendar, resumed).due_at
        assert projected is not None  # no running pause left, so the budget always runs out
        return projected

    def consumed(self, at: datetime) -> timedelta:
        """Clock time counted from opening until `at` (business time on working clocks)."""
        require_aware(at, "at")
        return sum(
            (duration_between(start, end) for start, end in self._active_intervals(until=at)),
            timedelta(),
        )

    def elapsed_fraction(self, at: datetime) -> float:
        """Share of the budget consumed at `at`: 0.75 is the escalation point; >1 once late."""
        return self.consumed(at) / self.budget

    def remaining(self, at: datetime) -> timedelta:
        """Budget left at `at` on this clock; negative once more than the budget has run.

        A working clock due at closing time still shows zero that evening (no business time
        has run since), so ask `is_breached` for lateness.
        """
        return self.budget - self.consumed(at)

    def is_breached(self, at: datetime) -> bool:
        require_aware(at, "at")
        return self._due_at is not None and at > self._due_at

    def reached_at(self, fraction: float) -> datetime | None:
        """When `fraction` of the budget will have been consumed (None if paused before)."""
        if fraction <= 0:
            raise ValueError("fraction must be positive")
        return self._instant_when_counted(self.budget * fraction)

    def _compute_budget(self) -> timedelta:
        if self.duration.kind is not ClockKind.WORKING_DAYS:
            return timedelta(hours=self.duration.amount)
        calendar = self.calendar
        opening_day = calendar.local_date(self.opened_at)
        window = calendar.business_window(opening_day)
        if window is not None and self.opened_at < window[1]:
            day_zero = opening_day
        else:
            day_zero = calendar.next_working_day(opening_day)
        due_day = calendar.working_days_after(day_zero, self.duration.amount)
        due_window = calendar.business_window(due_day)
        assert due_window is not None  # working_days_after only lands on working days
        return calendar.working_time_between(self.opened_at, due_window[1])

    def _counting_intervals(self) -> Iterator[Interval]:
        if self.duration.kind is ClockKind.CALENDAR_HOURS:
            yield (self.opened_at, _END_OF_TIME)
        else:
            yield from self.calendar.business_windows(self.opened_at)

    def _active_intervals(self, until: datetime | None) -> Iterator[Interval]:
        """Counting intervals minus pauses, up to `until` and never past a running pause."""
        horizon = until
        running = self._running_pause_start
        if running is not None:
            horizon = running if horizon is None else min(horizon, running)
        for start, end in self._counting_intervals():
            if horizon is not None:
                if start >= horizon:
                    return
                end = min(end, horizon)
            yield from _subtract((start, end), self._closed_pauses)

    def _instant_when_counted(self, target: timedelta) -> datetime | None:
        remaining = target
        for start, end in self._active_intervals(until=None):
            length = duration_between(start, end)
            if remaining <= length:
                return advance(start, remaining).astimezone(self.calendar.tz)
            remaining -= length
        return None


def compute_due(
    duration: Duration,
    start: datetime,
    calendar: WorkingCalendar,
    pauses: Iterable[PauseLike] = (),
) -> datetime | None:
    """The due date of a commitment; None while the last pause is still running."""
    return SlaClock(duration, start, calendar, pauses).due_at


def _normalise_pauses(
    pauses: Sequence[Pause],
) -> tuple[list[Interval], datetime | None]:
    """Finished pauses sorted by start (in UTC) and the start of the running one, if any."""
    spans: list[tuple[datetime, datetime | None]] = []
    for started, ended in pauses:
        require_aware(started, "pause start")
        if ended is not None:
            require_aware(ended, "pause end")
            if ended < started:
                raise ValueError(f"pause ends before it starts: {started} > {ended}")
        spans.append((started.astimezone(UTC), ended.astimezone(UTC) if ended else None))
    spans.sort(key=lambda span: (span[0], span[1] is None))
    running = [span for span in spans if span[1] is None]
    if len(running) > 1:
        raise ValueError("only one pause can still be running")
    if running and spans[-1][1] is not None:
        raise ValueError("no pause can start after the one still running")

    finished = [(started, ended) for started, ended in spans if ended is not None]
    return finished, running[0][0] if running else None


def _subtract(interval: Interval, pauses: Sequence[Interval]) -> Iterator[Interval]:
    """The parts of `interval` outside the pauses, which are sorted by start and may overlap."""
    start, end = interval
    for pause_start, pause_end in pauses:
        if pause_end <= start:
            continue
        if pause_start >= end:
            break
        if pause_start > start:
            yield (start, pause_start)
        start = pause_end
        if start >= end:
            return
    if start < end:
        yield (start, end)
