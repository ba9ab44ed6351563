"""The Algerian working calendar: public holidays, business hours and working-time arithmetic.

Commitments that count "working hours" or "working days" are measured on this calendar.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from holidays.countries.algeria import Algeria as AlgerianHolidays

ALGIERS = ZoneInfo("Africa/Algiers")

Interval = tuple[datetime, datetime]


class Weekday(enum.IntEnum):
    """Days of the week, numbered like `date.weekday()`."""

    MONDAY = 0
    TUESDAY = 1
    WEDNESDAY = 2
    THURSDAY = 3
    FRIDAY = 4
    SATURDAY = 5
    SUNDAY = 6


class CalendarCoverageError(ValueError):
    """The arithmetic needs a day of a year whose holidays the calendar was not given.

    Answering "no holiday" for an unseeded year would silently give wrong due dates, so the
    calendar refuses instead: seed the coming year before it is needed.
    """


def require_aware(value: datetime, what: str) -> None:
    """Reject naive datetimes: a due date is only meaningful at a known instant."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {value.isoformat()}")


@dataclass(frozen=True)
class DailyWindow:
    """The local opening and closing times of one business day (a single, unbroken window)."""

    opens: time
    closes: time

    def __post_init__(self) -> None:
        if self.opens.tzinfo is not None or self.closes.tzinfo is not None:
            raise ValueError("business hours are local wall-clock times, without a time zone")
        if self.opens >= self.closes:
            raise ValueError(f"a business day must open before it closes: {self}")

    @property
    def length(self) -> timedelta:
        return datetime.combine(date.min, self.closes) - datetime.combine(date.min, self.opens)


_STANDARD_WINDOW = DailyWindow(time(8, 0), time(16, 30))
_STANDARD_OPEN_DAYS = (
    Weekday.SUNDAY,
    Weekday.MONDAY,
    Weekday.TUESDAY,
    Weekday.WEDNESDAY,
    Weekday.THURSDAY,
)


@dataclass(frozen=True)
class BusinessHours:
    """When work happens in a week: one window per open weekday, none on the weekend.

    `windows[d]` is the window of weekday `d` (Monday = 0) or None when closed.
    Build it with `BusinessHours.standard()` or `BusinessHours.weekly({...})`.
    """

    windows: tuple[DailyWindow | None, ...]

    def __post_init__(self) -> None:
        if len(self.windows) != len(Weekday):
            raise ValueError("business hours need exactly one entry per weekday")
        if all(window is None for window in self.windows):
            raise ValueError("business hours must open at least one day a week")

    @classmethod
    def weekly(cls, windows: Mapping[Weekday, DailyWindow]) -> BusinessHours:
        """Hours from a mapping of open weekdays; weekdays left out are closed."""
        return cls(tuple(windows.get(day) for day in Weekday))

    @classmethod
    def standard(cls) -> BusinessHours:
        """Algérie Télécom's usual hours: Sunday to Thursday, 08:00 to 16:30."""
        return cls.weekly(dict.fromkeys(_STANDARD_OPEN_DAYS, _STANDARD_WINDOW))

    def window_on(self, weekday: int) -> DailyWindow | None:
        return self.windows[weekday]


@dataclass(frozen=True)
class HoursPeriod:
    """Other business hours on a run of days, both ends included (Ramadan: 09:00 to 15:00)."""

    first_day: date
    last_day: date
    hours: BusinessHours
    label: str = ""

    def __post_init__(self) -> None:
        if self.last_day < self.first_day:
            raise ValueError(f"a period cannot end before it starts: {self}")

    def covers(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day


def check_no_overlap(periods: Iterable[HoursPeriod]) -> None:
    """Raise ValueError when two periods share a day: which hours apply would be ambiguous."""
    ordered = sorted(periods, key=lambda period: period.first_day)
    for earlier, later in pairwise(ordered):
        if later.first_day <= earlier.last_day:
            raise ValueError(
                f"periods {earlier.label or earlier.first_day} and "
                f"{later.label or later.first_day} overlap"
            )


@dataclass(frozen=True)
class Holiday:
    """One public holiday on one day; `estimated` marks an Islamic date not yet confirmed."""

    day: date
    name: str
    estimated: bool = False


class OverrideAction(enum.StrEnum):
    ADD = "add"
    REMOVE = "remove"


@dataclass(frozen=True)
class HolidayOverride:
    """An administrator's correction to the seeded holidays, applied in the order given.

    ADD declares a confirmed holiday (replacing a same-named entry that day, which is how an
    estimated date is confirmed). REMOVE drops the named holiday of that day, or every
    holiday of that day when `name` is None. Moving an Eid by one day is a REMOVE of its
    first day plus an ADD of the day after its last.
    """

    day: date
    action: OverrideAction
    name: str | None = None

    def __post_init__(self) -> None:
        if self.action is OverrideAction.ADD and not self.name:
            raise ValueError("adding a holiday needs its name")

    @classmethod
    def add(cls, day: date, name: str) -> HolidayOverride:
        return cls(day, OverrideAction.ADD, name)

    @classmethod
    def remove(cls, day: date, name: str | None = None) -> HolidayOverride:
        return cls(day, OverrideAction.REMOVE, name)


def apply_overrides(
    seeded: Iterable[Holiday], overrides: Iterable[HolidayOverride]
) -> list[Holiday]:
    """The holidays after applying the overrides in order, sorted by day then name."""
    entries = {(holiday.day, holiday.name): holiday for holiday in seeded}
    for override in overrides:
        if override.action is OverrideAction.ADD:
            assert override.name is not None  # guaranteed by HolidayOverride.__post_init__
            entries[(override.day, override.name)] = Holiday(override.day, override.name)
        else:
            for key in [key for key in entries if key[0] == override.day]:
                if override.name is None or key[1] == override.name:
                    del entries[key]
    return sorted(entries.values(), key=lambda holiday: (holiday.day, holiday.name))


def algerian_holidays(years: Iterable[int], *, language: str = "en_US") -> list[Holiday]:
    """The public holidays of Algeria for these years, from the `holidays` package.

    Names come without the library's "(estimated)" suffix; the flag carries it instead, so an
    administrator confirming the date keeps the same name. Languages: ar, en_US, fr, kab.
    """
    years = sorted(set(years))
    labelled = AlgerianHolidays(years=years, language=language)
    plain = AlgerianHolidays(years=years, language=language, islamic_show_estimated=False)
    seeded = []
    for day in sorted(plain):
        labelled_names = labelled.get_list(day)
        for name in plain.get_list(day):
            seeded.append(Holiday(day, name, estimated=name not in labelled_names))
    return seeded


class WorkingCalendar:
    """Which local days are working days, when they open and close, and working-time sums.

    A working day is a weekday with business hours that is not a public holiday. All
    datetimes taken must be timezone-aware; those returned are in the calendar's zone.
    """

    def __init__(
        self,
        holidays: Iterable[Holiday],
        *,
        hours: BusinessHours | None = None,
        periods: Iterable[HoursPeriod] = (),
        years: Iterable[int] | None = None,
        tz: ZoneInfo = ALGIERS,
    ) -> None:
        """`years` are the years whose holidays are complete; None trusts the list for all.

        `periods` replace the weekly `hours` on the days they cover; they must not overlap.
        """
        self.hours = hours or BusinessHours.standard()
        self.periods = tuple(sorted(periods, key=lambda period: period.first_day))
        check_no_overlap(self.periods)
        self.tz = tz
        self.years = frozenset(years) if years is not None else None
        by_day: dict[date, list[Holiday]] = {}
        for holiday in holidays:
            by_day.setdefault(holiday.day, []).append(holiday)
        self._holidays = {day: tuple(entries) for day, entries in by_day.items()}

    @classmethod
    def algeria(
        cls,
        years: Iterable[int],
        overrides: Iterable[HolidayOverride] = (),
        *,
        hours: BusinessHours | None = None,
        language: str = "en_US",
    ) -> WorkingCalendar:
        """The Algerian calendar for `years`: library holidays, then the overrides on top."""
        years = frozenset(years)
        holidays = apply_overrides(algerian_holidays(years, language=language), overrides)
        return cls(holidays, hours=hours, years=years)

    def with_hours(
        self, hours: BusinessHours, periods: Iterable[HoursPeriod] = ()
    ) -> WorkingCalendar:
        """The same holidays with other business hours (an agency with its own opening).

        `periods` are date ranges with their own hours (an agency's Ramadan hours).
        """
        holidays = [holiday for entries in self._holidays.values() for holiday in entries]
        return WorkingCalendar(holidays, hours=hours, periods=periods, years=self.years, tz=self.tz)

    def hours_on(self, day: date) -> BusinessHours:
        """The business hours in force on this day: a period's, else the weekly ones."""
        for period in self.periods:
            if period.covers(day):
                return period.hours
        return self.hours

    @property
    def holidays(self) -> list[Holiday]:
        return [holiday for day in sorted(self._holidays) for holiday in self._holidays[day]]

    def holidays_on(self, day: date) -> tuple[Holiday, ...]:
        self._check_covered(day)
        return self._holidays.get(day, ())

    def is_holiday(self, day: date) -> bool:
        return bool(self.holidays_on(day))

    def is_working_day(self, day: date) -> bool:
        return self.hours_on(day).window_on(day.weekday()) is not None and not self.is_holiday(day)

    def business_window(self, day: date) -> Interval | None:
        """The opening and closing instants of this local day, or None if it is not worked."""
        window = self.hours_on(day).window_on(day.weekday())
        if window is None or self.is_holiday(day):
            return None
        return (
            datetime.combine(day, window.opens, tzinfo=self.tz),
            datetime.combine(day, window.closes, tzinfo=self.tz),
        )

    def local_date(self, instant: datetime) -> date:
        require_aware(instant, "instant")
        return instant.astimezone(self.tz).date()

    def is_open(self, instant: datetime) -> bool:
        window = self.business_window(self.local_date(instant))
        return window is not None and window[0] <= instant < window[1]

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after `day`."""
        candidate = day + timedelta(days=1)
        while not self.is_working_day(candidate):
            candidate += timedelta(days=1)
        return candidate

    def working_days_after(self, day: date, count: int) -> date:
        """The `count`-th working day after `day` (`day` itself need not be worked)."""
        if count < 0:
            raise ValueError("count must not be negative")
        for _ in range(count):
            day = self.next_working_day(day)
        return day

    def business_windows(self, start: datetime) -> Iterator[Interval]:
        """Working intervals from `start` onwards, in order, the first clipped to `start`.

        Endless: the consumer stops (or the calendar's coverage runs out).
        """
        require_aware(start, "start")
        day = self.local_date(start)
        while True:
            window = self.business_window(day)
            if window is not None and window[1] > start:
                yield (max(window[0], start), window[1])
            day += timedelta(days=1)

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Business time in [start, end); zero when end is not after start."""
        require_aware(end, "end")
        total = timedelta()
        for opens, closes in self.business_windows(start):
            if opens >= end:
                break
            total += duration_between(opens, min(closes, end))
        return total

    def add_working_time(self, start: datetime, amount: timedelta) -> datetime:
        """The instant when `amount` of business time has passed since `start`.

        Landing exactly on a closing time returns that closing time, not the next opening.
        """
        if amount < timedelta():
            raise ValueError("amount must not be negative")
        remaining = amount
        for opens, closes in self.business_windows(start):
            length = duration_between(opens, closes)
            if remaining <= length:
                return advance(opens, remaining)
            remaining -= length
        raise AssertionError("business_windows never ends")  # pragma: no cover

    def _check_covered(self, day: date) -> None:
        if self.years is not None and day.year not in self.years:
            raise CalendarCoverageError(
                f"no holidays known for {day.year}; calendar covers {sorted(self.years)}"
            )


def duration_between(start: datetime, end: datetime) -> timedelta:
    """Real time elapsed from start to end (negative if end is earlier)."""
    # Subtracting in UTC: same-zone aware subtraction uses wall clocks, wrong across offsets.
    return end.astimezone(UTC) - start.astimezone(UTC)


def advance(instant: datetime, amount: timedelta) -> datetime:
    """The instant `amount` of real time after `instant`, in the same zone."""
    return (instant.astimezone(UTC) + amount).astimezone(instant.tzinfo)
