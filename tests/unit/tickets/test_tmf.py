"""TMF621 words over our tickets: statuses, severities, types, list queries, the hub."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sila_tickets.domain.lifecycle import Status
from sila_tickets.domain.sla import TicketCategory, TicketPriority
from sila_tickets.domain.tmf import (
    HUB_EVENT_TYPES,
    STATUS_OF_TMF,
    TMF_STATUS,
    TmfRequestError,
    category_of,
    check_callback,
    hub_event_types,
    parse_query,
    priority_of,
    select_fields,
    status_of,
)


def test_every_status_has_one_tmf_name_and_back() -> None:
    assert set(TMF_STATUS) == set(Status)
    assert {STATUS_OF_TMF[name] for name in TMF_STATUS.values()} == set(Status)
    assert TMF_STATUS[Status.PENDING_CUSTOMER] == "pending"
    assert status_of("inProgress") is Status.IN_PROGRESS


def test_an_unknown_tmf_status_is_refused_naming_the_field() -> None:
    with pytest.raises(TmfRequestError) as caught:
        status_of("in_progress")
    assert caught.value.field == "status"


@pytest.mark.parametrize(
    ("severity", "priority"),
    [
        ("Critical", TicketPriority.CRITICAL),
        ("urgent", TicketPriority.CRITICAL),
        ("Major", TicketPriority.HIGH),
        ("Minor", TicketPriority.NORMAL),
        (" low ", TicketPriority.LOW),
    ],
)
def test_severity_words_set_the_priority(severity: str, priority: TicketPriority) -> None:
    assert priority_of(severity) is priority


def test_ticket_type_is_our_category_with_usual_synonyms() -> None:
    assert category_of("fault") is TicketCategory.TECHNICAL
    assert category_of("Billing") is TicketCategory.ADMINISTRATIVE
    assert category_of("commercial") is TicketCategory.COMMERCIAL
    with pytest.raises(TmfRequestError):
        category_of("weather")


def test_a_list_query_maps_filters_onto_our_columns() -> None:
    query = parse_query(
        [
            ("status", "acknowledged,inProgress"),
            ("severity", "Major"),
            ("ticketType", "technical"),
            ("relatedParty.id", "c-1"),
            ("creationDate.gt", "2026-01-01T00:00:00Z"),
            ("lastUpdate.lte", "2026-02-01T00:00:00+01:00"),
            ("fields", "status, severity"),
            ("offset", "20"),
            ("limit", "10"),
        ]
    )
    assert query.equals == {
        "status": ["acknowledged", "in_progress"],
        "priority": ["high"],
        "category": ["technical"],
        "customer_id": ["c-1"],
    }
    assert query.ranges[0] == ("opened_at", "gt", datetime(2026, 1, 1, tzinfo=UTC))
    assert query.ranges[1][:2] == ("updated_at", "lte")
    assert (query.fields, query.offset, query.limit) == (["status", "severity"], 20, 10)


@pytest.mark.parametrize(
    "params",
    [
        [("colour", "blue")],
        [("creationDate.gt", "yesterday")],
        [("creationDate.gt", "2026-01-01T00:00:00")],
        [("limit", "0")],
        [("limit", "5000")],
        [("offset", "-1")],
        [("status", "open")],
    ],
)
def test_a_bad_list_query_is_refused(params: list[tuple[str, str]]) -> None:
    with pytest.raises(TmfRequestError):
        parse_query(params)


def test_attribute_selection_keeps_the_named_ones_and_always_id_href_type() -> None:
    resource = {"id": "1", "href": "h", "@type": "TroubleTicket", "status": "x", "note": []}
    assert select_fields(resource, ["status"]) == {
        "id": "1",
        "href": "h",
        "@type": "TroubleTicket",
        "status": "x",
    }
    assert "note" in select_fields(resource, ["note.text"])
    assert select_fields(resource, None) == resource


def test_an_empty_hub_query_listens_to_every_event() -> None:
    assert hub_event_types(None) == list(HUB_EVENT_TYPES)
    assert hub_event_types("") == list(HUB_EVENT_TYPES)


def test_a_hub_query_selects_event_types() -> None:
    assert hub_event_types("eventType=TroubleTicketResolvedEvent,TroubleTicketCreateEvent") == [
        "TroubleTicketResolvedEvent",
        "TroubleTicketCreateEvent",
    ]
    with pytest.raises(TmfRequestError):
        hub_event_types("eventType=TroubleTicketDeleteEvent")
    with pytest.raises(TmfRequestError):
        hub_event_types("severity=Critical")


def test_a_callback_must_be_https_outside_loopback() -> None:
    assert check_callback("https://partner.example.dz/tmf", allow_loopback=False)
    with pytest.raises(TmfRequestError):
        check_callback("http://partner.example.dz/tmf", allow_loopback=False)
    with pytest.raises(TmfRequestError):
        check_callback("ftp://partner.example.dz/tmf", allow_loopback=True)
    with pytest.raises(TmfRequestError):
        check_callback("https://user:pw@partner.example.dz/tmf", allow_loopback=False)


def test_a_loopback_callback_is_accepted_only_in_dev_and_test() -> None:
    assert check_callback("http://127.0.0.1:9000/cb", allow_loopback=True)
    assert check_callback("http://localhost/cb", allow_loopback=True)
    assert check_callback("http://[::1]:8080/cb", allow_loopback=True)
    with pytest.raises(TmfRequestError):
        check_callback("https://127.0.0.1/cb", allow_loopback=False)
    with pytest.raises(TmfRequestError):
        check_callback("https://localhost/cb", allow_loopback=False)


def test_a_private_address_is_never_a_callback() -> None:
    for url in ("https://10.0.0.5/cb", "https://192.168.1.2/cb", "https://169.254.169.254/x"):
        with pytest.raises(TmfRequestError):
            check_callback(url, allow_loopback=True)
