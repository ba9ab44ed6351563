"""The ticket lifecycle: allowed moves per actor, reasons, reopening, SLA pauses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sila_tickets.domain.lifecycle import (
    Actor,
    ReasonRequiredError,
    Status,
    StatusSpan,
    TransitionError,
    allowed_transitions,
    check_transition,
    is_first_contact_resolution,
    pauses_from_history,
)

NOW = datetime(2026, 3, 10, 10, tzinfo=UTC)


def check(
    current: Status,
    target: Status,
    *,
    actor: Actor = Actor.STAFF,
    resolved_at: datetime | None = None,
    reason: str | None = "why",
) -> None:
    check_transition(current, target, actor=actor, resolved_at=resolved_at, now=NOW, reason=reason)


def test_staff_may_take_an_acknowledged_ticket_into_progress() -> None:
    check(Status.ACKNOWLEDGED, Status.IN_PROGRESS, reason=None)


def test_closed_ticket_cannot_move_and_says_nothing_is_allowed() -> None:
    with pytest.raises(TransitionError) as refused:
        check(Status.CLOSED, Status.IN_PROGRESS)
    assert refused.value.allowed == ()


def test_illegal_transition_lists_what_is_allowed_instead() -> None:
    with pytest.raises(TransitionError) as refused:
        check(Status.PENDING_CUSTOMER, Status.REJECTED)
    assert set(refused.value.allowed) == {
        Status.IN_PROGRESS,
        Status.HELD,
        Status.RESOLVED,
        Status.CANCELLED,
    }


def test_customer_may_cancel_but_not_resolve() -> None:
    check(Status.IN_PROGRESS, Status.CANCELLED, actor=Actor.CUSTOMER)
    with pytest.raises(TransitionError) as refused:
        check(Status.IN_PROGRESS, Status.RESOLVED, actor=Actor.CUSTOMER)
    assert refused.value.allowed == (Status.CANCELLED,)


@pytest.mark.parametrize("target", [Status.REJECTED, Status.CANCELLED, Status.HELD])
def test_rejecting_cancelling_or_holding_needs_a_reason(target: Status) -> None:
    with pytest.raises(ReasonRequiredError):
        check(Status.ACKNOWLEDGED, target, reason="  ")


def test_reopening_within_seven_days_of_resolution_is_allowed_with_a_reason() -> None:
    check(
        Status.RESOLVED,
        Status.IN_PROGRESS,
        resolved_at=NOW - timedelta(days=7),
        actor=Actor.CUSTOMER,
    )
    with pytest.raises(ReasonRequiredError):
        check(Status.RESOLVED, Status.IN_PROGRESS, resolved_at=NOW - timedelta(days=1), reason=None)


def test_reopening_after_seven_days_is_refused_and_only_closing_remains() -> None:
    resolved_at = NOW - timedelta(days=7, seconds=1)
    with pytest.raises(TransitionError) as refused:
        check(Status.RESOLVED, Status.IN_PROGRESS, resolved_at=resolved_at)
    assert "7 days" in str(refused.value)
    assert allowed_transitions(
        Status.RESOLVED, actor=Actor.STAFF, resolved_at=resolved_at, now=NOW
    ) == (Status.CLOSED,)


def at(hours: float) -> datetime:
    return NOW + timedelta(hours=hours)


def test_waiting_on_the_customer_is_a_pause_that_ends_when_work_resumes() -> None:
    history = [
        StatusSpan(Status.ACKNOWLEDGED, at(0)),
        StatusSpan(Status.PENDING_CUSTOMER, at(1)),
        StatusSpan(Status.IN_PROGRESS, at(5)),
        StatusSpan(Status.PENDING_CUSTOMER, at(6)),
    ]
    assert pauses_from_history(history) == [(at(1), at(5)), (at(6), None)]


def test_held_does_not_stop_the_clock_but_a_resolution_until_reopening_does() -> None:
    history = [
        StatusSpan(Status.ACKNOWLEDGED, at(0)),
        StatusSpan(Status.HELD, at(1)),
        StatusSpan(Status.RESOLVED, at(2)),
        StatusSpan(Status.IN_PROGRESS, at(30)),
    ]
    assert pauses_from_history(history) == [(at(2), at(30))]


def test_pending_then_resolved_is_one_continuous_pause() -> None:
    history = [
        StatusSpan(Status.ACKNOWLEDGED, at(0)),
        StatusSpan(Status.PENDING_CUSTOMER, at(1)),
        StatusSpan(Status.RESOLVED, at(2)),
    ]
    assert pauses_from_history(history) == [(at(1), None)]


def test_first_contact_resolution_is_resolved_straight_from_opening_and_never_reopened() -> None:
    straight = [StatusSpan(Status.ACKNOWLEDGED, at(0)), StatusSpan(Status.RESOLVED, at(0.2))]
    assert is_first_contact_resolution(straight)
    worked = [
        StatusSpan(Status.ACKNOWLEDGED, at(0)),
        StatusSpan(Status.IN_PROGRESS, at(1)),
        StatusSpan(Status.RESOLVED, at(2)),
    ]
    assert not is_first_contact_resolution(worked)
    reopened = [
        *straight,
        StatusSpan(Status.IN_PROGRESS, at(3)),
        StatusSpan(Status.RESOLVED, at(4)),
    ]
    assert not is_first_contact_resolution(reopened)
