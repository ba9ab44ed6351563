"""One trace from an agent's request in tickets, through the broker, to identity's timeline."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import select

from tests.support import LiveService, bearer, eventually, random_mobile


@contextmanager
def recorded_spans(service: LiveService) -> Iterator[InMemorySpanExporter]:
    provider = service.runtime.tracer_provider
    assert provider is not None, "tracing is on by default"
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        yield exporter
    finally:
        exporter.shutdown()  # the provider keeps the processor; a shut exporter keeps nothing


def of_trace(exporter: InMemorySpanExporter, trace_id: str) -> list[ReadableSpan]:
    return [
        span
        for span in exporter.get_finished_spans()
        if format(span.context.trace_id, "032x") == trace_id
    ]


async def test_a_ticket_opened_in_a_trace_is_handled_by_identity_in_the_same_trace(
    identity: LiveService, tickets: LiveService, admin_token: str
) -> None:
    trace_id = secrets.token_hex(16)
    caller = {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
    phone = random_mobile()
    created = await identity.client.post(
        "/v1/customers",
        headers=bearer(admin_token),
        json={"first_name": "Nadia", "last_name": "Haddad", "phone": phone, "wilaya_code": "31"},
    )
    assert created.status_code == 201, created.text
    customer_id = created.json()["id"]

    with recorded_spans(identity) as identity_spans, recorded_spans(tickets) as tickets_spans:

        async def open_ticket() -> str | None:
            answer = await tickets.client.post(
                "/v1/tickets",
                headers=bearer(admin_token) | caller,
                json={
                    "customer_id": customer_id,
                    "category": "technical",
                    "subcategory": "no_connection",
                    "channel": "call_centre",
                    "subject": "Plus de connexion depuis l'orage",
                },
            )
            if answer.status_code == 422 and "unknown-customer" in answer.json()["type"]:
                return None
            assert answer.status_code == 201, answer.text
            return str(answer.json()["id"])

        ticket_id = await eventually(open_ticket, what="tickets knowing the customer")

        async def handled_by_identity() -> list[ReadableSpan]:
            return [
                span
                for span in of_trace(identity_spans, trace_id)
                if span.name == "tickets.ticket.opened process"
            ]

        [consumed] = await eventually(handled_by_identity, what="identity's consumer span")

        # A lookup by phone is traced without the phone number in the span.
        looked_up = await identity.client.get(
            "/v1/customers", headers=bearer(admin_token) | caller, params={"phone": phone}
        )
        assert looked_up.status_code == 200, looked_up.text
        lookups = [s for s in of_trace(identity_spans, trace_id) if s.kind is SpanKind.SERVER]

    outbox = tickets.runtime.definition.tables.outbox
    async with tickets.runtime.session_factory() as session:
        envelopes = (
            await session.scalars(
                select(outbox.c.envelope).where(outbox.c.event_type == "tickets.ticket.opened")
            )
        ).all()
    [envelope] = [e for e in envelopes if e["subject"] == ticket_id]
    _, written_trace, written_span, _ = envelope["traceparent"].split("-")
    assert written_trace == trace_id

    # The event was written inside the request's server span (the one that answered 201).
    [server] = [
        span
        for span in of_trace(tickets_spans, trace_id)
        if format(span.context.span_id, "016x") == written_span
    ]
    assert server.kind is SpanKind.SERVER and server.name == "POST /v1/tickets"
    assert consumed.kind is SpanKind.CONSUMER
    assert consumed.parent is not None and consumed.parent.span_id == server.context.span_id
    assert consumed.resource.attributes["service.name"] == "sila-identity"

    assert lookups, "the lookup made a server span"
    attributes = str([dict(span.attributes or {}) for span in lookups])
    assert phone.lstrip("+") not in attributes and phone[-6:] not in attributes
