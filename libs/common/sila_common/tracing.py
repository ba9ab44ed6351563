"""Distributed tracing with OpenTelemetry: one trace from an HTTP request, through the events
it causes, to the consumers that handle them in other services (and the events those cause).

- Each process has a tracer provider named after its service (resource ``service.name`` =
  ``sila-<service>``). Spans are exported over OTLP/HTTP when the standard
  ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set, and
  sampled as ``OTEL_TRACES_SAMPLER`` says (the SDK reads the standard variables; parent-based,
  always on, by default). ``OTEL_SDK_DISABLED=true`` turns tracing off.
- HTTP: the FastAPI instrumentation opens a server span per request and continues the
  caller's W3C ``traceparent``; health probes and metrics scrapes are not traced. While
  nothing receives the provider's spans (no exporter, no processor), a request gets the
  same trace context (the caller's trace, or a new one, and a span id of its own) without
  the instrumentation: its ids for the logs and events are all a span would have been for.
- Events: the outbox writes the current span's W3C ``traceparent`` into the CloudEvent (the
  CloudEvents Distributed Tracing extension), so it survives the relay, the broker and any
  replay; each consumer handles an event inside a consumer span that continues it.
- Logs carry ``trace_id`` and ``span_id`` next to the correlation id.
"""

from __future__ import annotations

import os
import re
import types
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    Tracer,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Receive, Scope, Send

from sila_common.events import CloudEvent

if TYPE_CHECKING:
    from fastapi import FastAPI

_PROPAGATOR = TraceContextTextMapPropagator()
UNTRACED_URLS = "health/live,health/ready,metrics"
URL_ATTRIBUTES = ("http.url", "url.full", "http.target")
REDACTED = "[redacted]"
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


_TRACE_HEADERS = {b"traceparent": "traceparent", b"tracestate": "tracestate"}


class SilaTracerProvider(TracerProvider):
    """The SDK's provider, knowing whether anything receives its spans: an exporter, or a
    processor added later (tests add an in-memory one to a running service)."""

    receiving = False

    def add_span_processor(self, span_processor: SpanProcessor) -> None:
        super().add_span_processor(span_processor)
        self.receiving = True


def make_tracer_provider(
    service: str, environ: Mapping[str, str] = os.environ
) -> SilaTracerProvider | None:
    """The process's tracer provider, exporting over OTLP when an endpoint is configured;
    None when tracing is disabled.
    """
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    provider = SilaTracerProvider(resource=Resource.create({"service.name": f"sila-{service}"}))
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

    With a ``SilaTracerProvider`` that nothing receives spans from, requests take the plain
    middleware stack under ``TraceContextOnly`` instead: the instrumentation (its span, its
    attributes, its route lookup, its wrapped ``send``) was a third of a phone lookup's
    request path with every span thrown away (docs/benchmarks.md, "identity's reads").
    The choice is made per request, so a processor added to a running service is served
    at once.
    """
    if provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    build_plain = app.build_middleware_stack
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls=UNTRACED_URLS,
        exclude_spans=["receive", "send"],
        server_request_hook=_without_query,
    )
    if not isinstance(provider, SilaTracerProvider):
        return
    build_traced = app.build_middleware_stack

    def build_middleware_stack(_app: Any) -> ASGIApp:
        return TraceContextOnly(build_plain(), traced=build_traced(), provider=provider)

    # Starlette builds the stack on the first request, after this.
    setattr(app, "build_middleware_stack", types.MethodType(build_middleware_stack, app))  # noqa: B010


class TraceContextOnly:
    """Pure ASGI: while nothing receives the provider's spans, the request's trace context
    (the caller's ``traceparent`` continued, else a new trace; a span id of its own; the
    provider's sampler deciding the flags) is made current around the plain stack, without
    a span. Once something receives spans, the request goes to the instrumented stack."""

    def __init__(self, app: ASGIApp, *, traced: ASGIApp, provider: SilaTracerProvider) -> None:
        self.app = app
        self.traced = traced
        self.provider = provider
        # The instrumentation's exclusion (any of them found in the path), searched with the
        # pattern itself: its ``url_disabled`` goes through ``re.search`` and re's cache.
        self.untraced = re.compile("|".join(UNTRACED_URLS.split(",")))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.provider.receiving or scope["type"] != "http":
            await self.traced(scope, receive, send)
            return
        if self.untraced.search(scope["path"]):
            await self.app(scope, receive, send)
            return
        token = otel_context.attach(self.server_context(scope))
        try:
            await self.app(scope, receive, send)
        finally:
            otel_context.detach(token)

    def server_context(self, scope: Scope) -> Context:
        """The context a server span of this request would have made current."""
        carrier = {
            _TRACE_HEADERS[name]: value.decode("latin-1")
            for name, value in scope["headers"]
            if name in _TRACE_HEADERS
        }
        parent = _PROPAGATOR.extract(carrier) if carrier else Context()
        remote = trace.get_current_span(parent).get_span_context()
        ids = self.provider.id_generator
        trace_id = remote.trace_id if remote.is_valid else ids.generate_trace_id()
        decision = self.provider.sampler.should_sample(
            parent, trace_id, f"{scope['method']} request", SpanKind.SERVER
        )
        sampled = decision.decision is Decision.RECORD_AND_SAMPLE
        flags = TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT
        random = remote.trace_flags.random_trace_id if remote.is_valid else ids.is_trace_id_random()
        if random:
            flags |= TraceFlags.RANDOM_TRACE_ID
        span = SpanContext(
            trace_id,
            ids.generate_span_id(),
            is_remote=False,
            trace_flags=TraceFlags(flags),
            trace_state=decision.trace_state,
        )
        return trace.set_span_in_context(NonRecordingSpan(span), parent)


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
