"""Trace context: written into events, continued by consumers, named in the logs."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import structlog
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from sila_common.events import CloudEvent
from sila_common.logging import configure_logging
from sila_common.tracing import (
    consuming,
    current_trace_ids,
    current_traceparent,
    make_tracer_provider,
)

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN_ID = "00f067aa0ba902b7"


def recording() -> tuple[TracerProvider, InMemorySpanExporter]:
    provider = make_tracer_provider("test", environ={})
    assert provider is not None
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def event(traceparent: str | None) -> CloudEvent:
    return CloudEvent(
        id="e-1",
        source="/sila/tickets",
        type="tickets.ticket.opened",
        time=datetime.now(UTC),
        subject="t-1",
        dataschema="https://example.invalid/schema.json",
        customerid="c-1",
        traceparent=traceparent,
        data={},
    )


def test_tracing_is_off_when_the_sdk_is_disabled_and_named_after_the_service_otherwise() -> None:
    assert make_tracer_provider("tickets", environ={"OTEL_SDK_DISABLED": "true"}) is None
    provider = make_tracer_provider("tickets", environ={})
    assert provider is not None
    assert provider.resource.attributes["service.name"] == "sila-tickets"


def test_an_event_written_inside_a_span_carries_that_span_as_its_traceparent() -> None:
    assert current_traceparent() is None
    provider, _ = recording()
    with provider.get_tracer("t").start_as_current_span("request") as span:
        context = span.get_span_context()
        assert current_traceparent() == (
            f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
        )


def test_a_consumer_continues_the_trace_of_the_event_it_handles() -> None:
    provider, exporter = recording()
    tracer = provider.get_tracer("t")
    with consuming(tracer, event(f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"), consumer="identity"):
        # An event the handler writes continues the same trace.
        assert (current_traceparent() or "").split("-")[1] == TRACE_ID
    [span] = exporter.get_finished_spans()
    assert span.kind is SpanKind.CONSUMER
    assert span.name == "tickets.ticket.opened process"
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert span.parent is not None and format(span.parent.span_id, "016x") == PARENT_SPAN_ID
    assert span.attributes is not None
    assert span.attributes["messaging.consumer.group.name"] == "identity"


def test_an_event_without_trace_context_starts_a_new_trace() -> None:
    provider, exporter = recording()
    with consuming(provider.get_tracer("t"), event(None), consumer="notify"):
        pass
    [span] = exporter.get_finished_spans()
    assert span.parent is None


def test_a_malformed_traceparent_is_refused_by_the_envelope() -> None:
    with pytest.raises(ValueError, match="traceparent"):
        event("not-a-trace")


def test_log_lines_inside_a_span_carry_its_trace_and_span_ids(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(service="test", level="INFO", json_output=True)
    provider, _ = recording()
    with provider.get_tracer("t").start_as_current_span("request"):
        ids = current_trace_ids()
        structlog.get_logger("t").info("ticket.opened")
    assert ids is not None
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert (line["trace_id"], line["span_id"]) == ids
    assert current_trace_ids() is None
