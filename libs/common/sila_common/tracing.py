"""Distributed tracing with OpenTelemetry: one trace from an HTTP request, through the events
it causes, to the consumers that handle them in other services (and the events those cause).

- Each process has a tracer provider named after its service (resource ``service.name`` =
  ``sila-<service>``). Spans are exported over OTLP/HTTP when the standard
  ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set, and
  sampled as ``OTEL_TRACES_SAMPLER`` says (the SDK reads the standard variables; parent-based,
  always on, by default). ``OTEL_SDK_DISABLED=true`` turns tracing off.
- HTTP: the FastAPI instrumentation opens a server span per request and continues the
  caller's W3C ``traceparent``; health probes and metrics scrapes are not traced.
- Events: the outbox writes the current span's W3C ``traceparent`` into the CloudEvent (the
  CloudEvents Distributed Tracing extension), so it survives the relay, the broker and any
  replay; each consumer handles an event inside a consumer span that continues it.
- Logs carry ``trace_id`` and ``span_id`` next to the correlation id.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from sila_common.events import CloudEvent

if TYPE_CHECKING:
    from fastapi import FastAPI

_PROPAGATOR = TraceContextTextMapPropagator()
UNTRACED_URLS = "health/live,health/ready,metrics"
URL_ATTRIBUTES = ("http.url", "url.full", "http.target")
REDACTED = "[redacted]"
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


def make_tracer_provider(
    service: str, environ: Mapping[str, str] = os.environ
) -> TracerProvider | None:
    """The process's tracer provider, exporting over OTLP when an endpoint is configured;
    None when tracing is disabled.
    """
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": f"sila-{service}"}))
    if any(environ.get(name) for name in ENDPOINT_VARIABLES):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def tracer_of(provider: TracerProvider | None) -> Tracer:
    """A tracer of the provider; without one, a tracer that records nothing but still carries
    the incoming trace context to the events written.
    """
    if provider is None:
        return trace.NoOpTracer()
    return provider.get_tracer("sila")


def instrument_app(app: FastAPI, provider: TracerProvider | None) -> None:
    """A server span per request (W3C traceparent honoured), probes and metrics excluded,
    no spans for the ASGI send/receive steps, and no query string kept (it holds phone
    numbers and names: ``?phone=``, ``?q=``).
    """
    if provider is not None:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(
            app,
            tracer_provider=provider,
            excluded_urls=UNTRACED_URLS,
            exclude_spans=["receive", "send"],
            server_request_hook=_without_query,
        )


def _without_query(span: Span, scope: dict[str, Any]) -> None:
    """Rewrites the URL attributes the instrumentation recorded, without the query string."""
    if not span.is_recording() or not scope.get("query_string"):
        return
    attributes = getattr(span, "attributes", None) or {}
    for name in URL_ATTRIBUTES:
        value = attributes.get(name)
        if isinstance(value, str):
            span.set_attribute(name, value.split("?", 1)[0])
    if "url.query" in attributes:
        span.set_attribute("url.query", REDACTED)


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span, for an event written now; None outside a trace."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


def _consumer_attributes(event: CloudEvent, consumer: str) -> dict[str, str]:
    return {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.consumer.group.name": consumer,
        "messaging.message.id": event.id,
        "cloudevents.event_id": event.id,
        "cloudevents.event_type": event.type,
        "cloudevents.event_source": event.source,
    }


@contextmanager
def consuming(tracer: Tracer, event: CloudEvent, *, consumer: str) -> Iterator[Span]:
    """The span of one event's handling by a consumer group, continuing the event's trace."""
    parent = _PROPAGATOR.extract({"traceparent": event.traceparent}) if event.traceparent else None
    with tracer.start_as_current_span(
        f"{event.type} process",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes=_consumer_attributes(event, consumer),
    ) as span:
        yield span


@contextmanager
def consuming_many(
    tracer: Tracer, events: list[CloudEvent], *, consumer: str
) -> Iterator[list[Span]]:
    """One span per event handled together in one call (a batch handler), each continuing
    its own event's trace; none is made current (a batch handler writes no events)."""
    spans = [
        tracer.start_span(
            f"{event.type} process",
            context=(
                _PROPAGATOR.extract({"traceparent": event.traceparent})
                if event.traceparent
                else Context()
            ),
            kind=SpanKind.CONSUMER,
            attributes=_consumer_attributes(event, consumer),
        )
        for event in events
    ]
    try:
        yield spans
    except Exception as exc:
        for span in spans:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, str(exc)[:200]))
        raise
    finally:
        for span in spans:
            span.end()


def current_trace_ids() -> tuple[str, str] | None:
    """(trace id, span id) of the current span in hex, for the logs; None outside a trace."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")
