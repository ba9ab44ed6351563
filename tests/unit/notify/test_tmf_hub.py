"""TMF621 hub events built from tickets' events, and which listeners hear them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sila_notify.domain.tmf_hub import (
    CREATE,
    HUB_EVENT_TYPES,
    INFORMATION_REQUIRED,
    RESOLVED,
    STATUS_CHANGE,
    hears,
    tmf_events,
)

AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
BASE = "https://api.sila.dz"


def opened(**extra: Any) -> dict[str, Any]:
    return {
        "ticket_id": "t-1",
        "number": "TT-2026-000123",
        "customer_id": "c-1",
        "category": "technical",
        "subcategory": "no_connection",
        "priority": "high",
        "channel": "partner",
        "subject": "No connection since this morning",
        "queue": "technical",
        "status": "acknowledged",
        "due_at": "2026-03-04T09:30:00+01:00",
        "first_response_due_at": None,
        "partner_id": "p-1",
        "external_id": "EXT-9",
        **extra,
    }


def changed(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "ticket_id": "t-1",
        "number": "TT-2026-000123",
        "customer_id": "c-1",
        "from_status": "in_progress",
        "status": status,
        "reason": "line repaired",
        "due_at": "2026-03-04T09:30:00+01:00",
        "public_status": status,
        "actor_kind": "agent",
        "partner_id": "p-1",
        "external_id": None,
        **extra,
    }


def test_an_opened_ticket_becomes_one_create_event_with_the_tmf_resource() -> None:
    [event] = tmf_events(
        event_type="tickets.ticket.opened",
        event_id="ce-1",
        time=AT,
        data=opened(),
        public_base_url=BASE + "/",
    )
    assert event.event_type == CREATE
    assert event.event_id == "ce-1:TroubleTicketCreateEvent"
    body = event.body
    assert body["eventId"] == "ce-1:TroubleTicketCreateEvent"
    assert body["eventType"] == CREATE
    assert body["eventTime"] == body["timeOcurred"] == "2026-03-02T09:30:00+00:00"
    assert body["correlationId"] == "ce-1"
    assert body["event"]["troubleTicket"] == {
        "id": "t-1",
        "href": f"{BASE}/tmf-api/troubleTicket/v4/troubleTicket/t-1",
        "@type": "TroubleTicket",
        "externalId": "EXT-9",
        "status": "acknowledged",
        "severity": "Major",
        "ticketType": "technical",
        "name": "No connection since this morning",
        "creationDate": "2026-03-02T09:30:00+00:00",
        "expectedResolutionDate": "2026-03-04T09:30:00+01:00",
        "relatedParty": [{"id": "c-1", "role": "customer"}],
    }


def test_priorities_map_to_tmf_severities() -> None:
    severities = {
        priority: tmf_events(
            event_type="tickets.ticket.opened",
            event_id="ce",
            time=AT,
            data=opened(priority=priority),
            public_base_url=BASE,
        )[0].body["event"]["troubleTicket"]["severity"]
        for priority in ("critical", "high", "normal", "low")
    }
    assert severities == {"critical": "Critical", "high": "Major", "normal": "Minor", "low": "Low"}


def test_a_resolution_is_a_status_change_and_a_resolved_event_with_distinct_ids() -> None:
    events = tmf_events(
        event_type="tickets.ticket.status_changed",
        event_id="ce-2",
        time=AT,
        data=changed("resolved"),
        public_base_url=BASE,
    )
    assert [e.event_type for e in events] == [STATUS_CHANGE, RESOLVED]
    assert [e.event_id for e in events] == [
        "ce-2:TroubleTicketStatusChangeEvent",
        "ce-2:TroubleTicketResolvedEvent",
    ]
    ticket = events[0].body["event"]["troubleTicket"]
    assert ticket["status"] == "resolved"
    assert ticket["statusChangeReason"] == "line repaired"
    assert ticket["statusChangeDate"] == "2026-03-02T09:30:00+00:00"
    assert ticket["expectedResolutionDate"] == "2026-03-04T09:30:00+01:00"
    assert "externalId" not in ticket  # absent values are left out, not sent as null
    assert events[1].body["event"] == events[0].body["event"]


def test_waiting_on_the_customer_also_asks_for_information_with_the_tmf_status_pending() -> None:
    events = tmf_events(
        event_type="tickets.ticket.status_changed",
        event_id="ce-3",
        time=AT,
        data=changed("pending_customer"),
        public_base_url=BASE,
    )
    assert [e.event_type for e in events] == [STATUS_CHANGE, INFORMATION_REQUIRED]
    assert events[0].body["event"]["troubleTicket"]["status"] == "pending"


def test_an_internal_move_is_only_a_status_change_in_tmf_words() -> None:
    [event] = tmf_events(
        event_type="tickets.ticket.status_changed",
        event_id="ce-4",
        time=AT,
        data=changed("in_progress"),
        public_base_url=BASE,
    )
    assert event.event_type == STATUS_CHANGE
    assert event.body["event"]["troubleTicket"]["status"] == "inProgress"


def test_other_events_become_no_tmf_event() -> None:
    assert (
        tmf_events(
            event_type="tickets.ticket.assigned",
            event_id="ce-5",
            time=AT,
            data=changed("in_progress"),
            public_base_url=BASE,
        )
        == []
    )


def test_an_own_reach_listener_hears_only_its_partners_tickets() -> None:
    def own(ticket_partner: str | None) -> bool:
        return hears(
            reach="own",
            listener_partner_id="p-1",
            wanted=[CREATE],
            ticket_partner_id=ticket_partner,
            tmf_type=CREATE,
        )

    assert own("p-1")
    assert not own("p-2")
    assert not own(None)


def test_an_all_reach_listener_hears_every_ticket_but_only_the_types_it_chose() -> None:
    def everything(tmf_type: str, wanted: list[str]) -> bool:
        return hears(
            reach="all",
            listener_partner_id="admin-1",
            wanted=wanted,
            ticket_partner_id=None,
            tmf_type=tmf_type,
        )

    assert everything(RESOLVED, [RESOLVED])
    assert not everything(STATUS_CHANGE, [RESOLVED])
    assert all(everything(t, []) for t in HUB_EVENT_TYPES)  # no selection: all four
