"""When a message may go out: quiet hours for non-urgent messages and per-customer frequency caps.

Both rules only ever postpone a message, never drop it; the caller decides what is urgent (a
one-time code or an outage notice is, a new offer is not).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

ALGIERS = ZoneInfo("Africa/Algiers")


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")


@dataclass(frozen=True, slots=True)
class QuietHoursWindow:
    """Quiet from `start` (included) to `end` (excluded), local time; start > end spans midnight.

    A window whose start equals its end is empty: no quiet hours at all.
    """

    start: time = time(21, 0)
    end: time = time(8, 0)
    zone: ZoneInfo = field(default=ALGIERS)

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("start and end are wall-clock times in the window's zone")

    @property
    def crosses_midnight(self) -> bool:
        return self.start > self.end

    def is_quiet(self, moment: datetime) -> bool:
        _require_aware(moment, "moment")
        local = moment.astimezone(self.zone).time().replace(tzinfo=None)
        if self.crosses_midnight:
            return local >= self.start or local < self.end
        return self.start <= local < self.end


DEFAULT_QUIET_HOURS = QuietHoursWindow()


def next_allowed_send(
    now: datetime, window: QuietHoursWindow = DEFAULT_QUIET_HOURS, urgent: bool = False
) -> datetime:
    """`now` if a message may go now, else the end of the current quiet period (window's zone)."""
    _require_aware(now, "now")
    if urgent or not window.is_quiet(now):
        return now
    local = now.astimezone(window.zone)
    end_day = local.date()
    if window.crosses_midnight and local.time().replace(tzinfo=None) >= window.start:
        end_day += timedelta(days=1)
    return datetime.combine(end_day, window.end, tzinfo=window.zone)


@dataclass(frozen=True, slots=True)
class FrequencyCap:
    """At most `max_messages` in any sliding period of length `per`."""

    max_messages: int
    per: timedelta

    def __post_init__(self) -> None:
        if self.max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        if self.per <= timedelta(0):
            raise ValueError("per must be a positive duration")

    def _counted(self, sent_times: Sequence[datetime], now: datetime) -> list[datetime]:
        # Sends stamped after `now` (clock skew between workers) still count: capping too
        # much is a delay, capping too little is a customer flooded with messages.
        _require_aware(now, "now")
        for sent in sent_times:
            _require_aware(sent, "sent_times")
        return sorted(sent for sent in sent_times if sent > now - self.per)

    def allows(self, sent_times: Sequence[datetime], now: datetime) -> bool:
        return len(self._counted(sent_times, now)) < self.max_messages

    def next_slot(self, sent_times: Sequence[datetime], now: datetime) -> datetime:
        """`now` if allowed, else the moment the oldest send that still blocks leaves the period."""
        counted = self._counted(sent_times, now)
        if len(counted) < self.max_messages:
            return now
        blocking = counted[len(counted) - self.max_messages]
        return max(now, blocking + self.per)


def earliest_send_time(
    now: datetime,
    *,
    urgent: bool,
    window: QuietHoursWindow = DEFAULT_QUIET_HOURS,
    cap: FrequencyCap | None = None,
    sent_times: Sequence[datetime] = (),
) -> datetime:
    """Both rules together; urgent messages skip both.

    The cap first: once a cap allows a moment it allows every later one (no new send is
    made in between), so postponing past quiet hours afterwards cannot break it.
    """
    if urgent:
        return now
    candidate = cap.next_slot(sent_times, now) if cap is not None else now
    return next_allowed_send(candidate, window, urgent=False)
