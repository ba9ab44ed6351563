"""The CloudEvents envelope and the registry's rules."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from sila_common.events import CloudEvent, EventSpec, declare_event
from sila_common.outbox import SHARD_COUNT, shard_of
from sila_common.pagination import decode_cursor, encode_cursor
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
