"""Choosing an agent, and what the scheduler owes a ticket."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sila_tickets.domain.escalation import EscalationLevel, escalation_due
from sila_tickets.domain.routing import (
    AssignmentStrategy,
    Candidate,
    choose_agent,
    queue_for,
    serves,
)
from sila_tickets.domain.sla import TicketCategory

T0 = datetime(2026, 3, 10, 9, tzinfo=UTC)


def test_each_category_has_its_department_queue() -> None:
    assert queue_for(TicketCategory.TECHNICAL) == "technical"
    assert queue_for(TicketCategory.ADMINISTRATIVE) == "billing"
    assert queue_for(TicketCategory.COMMERCIAL) == "commercial"


def test_a_national_member_serves_every_wilaya_a_local_one_only_its_own() -> None:
    assert serves("*", "15")
    assert serves("15", "15")
    assert not serves("16", "15")


def test_round_robin_gives_the_ticket_to_who_waited_longest_never_assigned_first() -> None:
    candidates = [
        Candidate("a", 0, T0),
        Candidate("b", 9, T0 - timedelta(hours=1)),
        Candidate("c", 0, None),
    ]
    chosen = choose_agent(candidates, AssignmentStrategy.ROUND_ROBIN)
    assert chosen is not None and chosen.agent_id == "c"
    chosen = choose_agent(candidates[:2], AssignmentStrategy.ROUND_ROBIN)
    assert chosen is not None and chosen.agent_id == "b"


def test_least_loaded_picks_the_fewest_open_tickets_then_the_longest_waiting() -> None:
    candidates = [
        Candidate("a", 3, None),
        Candidate("b", 1, T0),
        Candidate("c", 1, T0 - timedelta(minutes=5)),
    ]
    chosen = choose_agent(candidates, AssignmentStrategy.LEAST_LOADED)
    assert chosen is not None and chosen.agent_id == "c"


def test_manual_queue_or_no_agent_means_no_automatic_choice() -> None:
    assert choose_agent([Candidate("a", 0, None)], AssignmentStrategy.MANUAL) is None
    assert choose_agent([], AssignmentStrategy.ROUND_ROBIN) is None


def due(now: datetime, *, warned: bool = False, breached: bool = False) -> EscalationLevel | None:
    return escalation_due(
        now=now,
        warn_at=T0 + timedelta(hours=36),
        due_at=T0 + timedelta(hours=48),
        warned=warned,
        breached=breached,
    )


def test_nothing_is_owed_before_three_quarters_of_the_time() -> None:
    assert due(T0 + timedelta(hours=35, minutes=59)) is None


def test_at_three_quarters_the_supervisor_is_warned_once() -> None:
    assert due(T0 + timedelta(hours=36)) is EscalationLevel.WARNING
    assert due(T0 + timedelta(hours=40), warned=True) is None


def test_past_the_due_date_the_ticket_is_breached_once_even_if_never_warned() -> None:
    assert due(T0 + timedelta(hours=48, seconds=1)) is EscalationLevel.BREACHED
    assert due(T0 + timedelta(hours=60), warned=True) is EscalationLevel.BREACHED
    assert due(T0 + timedelta(hours=60), warned=True, breached=True) is None


def test_finishing_exactly_at_the_due_date_is_not_a_breach() -> None:
    assert due(T0 + timedelta(hours=48), warned=True) is None


def test_a_paused_clock_is_never_escalated() -> None:
    assert (
        escalation_due(
            now=T0 + timedelta(days=30), warn_at=None, due_at=None, warned=False, breached=False
        )
        is None
    )
