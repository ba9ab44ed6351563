"""The CloudEvents envelope and the registry's rules."""

from __future__ import annotations

from collections import namedtuple
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel, ValidationError

from sila_common.events import CloudEvent, EventSpec, declare_event
from sila_common.inputs import decode_time_cursor
from sila_common.outbox import SHARD_COUNT, shard_of
from sila_common.pagination import decode_cursor, encode_cursor, next_time_cursor
from sila_common.problems import Unprocessable


class Payload(BaseModel):
    value: int


def test_an_envelope_carries_every_cloudevents_attribute_and_sila_extensions() -> None:
    spec = EventSpec(type="tickets.thing.happened", payload=Payload, description="d")
    event = spec.envelope(subject="s1", customer_id="c1", data=Payload(value=3))
    wire = event.model_dump(mode="json")
    assert wire["specversion"] == "1.0"
    assert wire["source"] == "/sila/tickets"
    assert wire["type"] == "tickets.thing.happened"
    assert wire["customerid"] == "c1"
    assert wire["datacontenttype"] == "application/json"
    assert wire["dataschema"].endswith("tickets.thing.happened.v1.json")
    assert wire["data"] == {"value": 3}
    assert CloudEvent.from_bytes(event.to_bytes()) == event


def test_an_envelope_refuses_a_payload_of_another_type() -> None:
    spec = EventSpec(type="tickets.thing.happened", payload=Payload, description="d")

    class Other(BaseModel):
        value: int

    with pytest.raises(TypeError):
        spec.envelope(subject="s", customer_id="c", data=Other(value=1))


def test_event_names_must_be_service_entity_verb() -> None:
    with pytest.raises(ValueError, match="past-tense"):
        declare_event("TicketOpened", Payload, "bad")
    with pytest.raises(ValueError, match="past-tense"):
        declare_event("payments.payment.made", Payload, "unknown service")


def test_a_record_without_the_required_attributes_is_malformed() -> None:
    with pytest.raises(ValidationError):
        CloudEvent.from_bytes(b'{"specversion": "1.0", "id": "x"}')


def test_one_customer_always_lands_on_the_same_shard() -> None:
    shards = {shard_of("customer-1") for _ in range(10)}
    assert len(shards) == 1
    assert all(0 <= shard_of(f"c{i}") < SHARD_COUNT for i in range(1000))
    assert len({shard_of(f"c{i}") for i in range(1000)}) == SHARD_COUNT


def test_cursors_round_trip_and_forgeries_are_a_clear_error() -> None:
    cursor = encode_cursor(["2026-11-26T10:00:00+00:00", "event-9"])
    assert decode_cursor(cursor, size=2) == ["2026-11-26T10:00:00+00:00", "event-9"]
    with pytest.raises(Unprocessable):
        decode_cursor("not-a-cursor!!", size=2)
    with pytest.raises(Unprocessable):
        decode_cursor(encode_cursor(["only-one"]), size=2)


def test_the_next_page_starts_after_the_last_row_shown_and_the_last_page_has_no_cursor() -> None:
    Row = namedtuple("Row", "created_at id")
    rows = [Row(datetime(2026, 11, 26, 10, i, tzinfo=UTC), f"m{i}") for i in (3, 2, 1)]
    assert next_time_cursor(rows, 3, "created_at") is None
    cursor = next_time_cursor(rows, 2, "created_at")
    assert cursor is not None
    assert decode_time_cursor(cursor) == (rows[1].created_at, "m2")


def test_a_field_error_names_the_field_and_repeats_its_message_as_the_detail() -> None:
    body = Unprocessable.at("body.phone", "not a phone number", kind="phone").body()
    assert body["status"] == 422 and body["detail"] == "not a phone number"
    assert body["errors"] == [
        {"field": "body.phone", "message": "not a phone number", "type": "phone"}
    ]
    other = Unprocessable.at("query.from", "out of range", detail="Too long.", slug="too-long")
    assert other.body()["detail"] == "Too long." and other.body()["type"].endswith("/too-long")
    assert other.body()["errors"] == [{"field": "query.from", "message": "out of range"}]
