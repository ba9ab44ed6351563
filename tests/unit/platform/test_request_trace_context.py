"""A request's trace context with tracing on but nothing receiving spans (no exporter): the
caller's trace reaches the log lines and the events written, as through a real server span;
once something receives spans, the request gets its server span again."""

from __future__ import annotations

import json

import httpx
import pytest
import structlog
from fastapi import FastAPI
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from sila_common.logging import configure_logging
from sila_common.tracing import SilaTracerProvider, current_traceparent, instrument_app

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def traced_app() -> tuple[FastAPI, SilaTracerProvider]:
    provider = SilaTracerProvider()
    app = FastAPI()

    @app.get("/v1/things")
    async def things() -> dict[str, str | None]:
        structlog.get_logger("t").info("things.read")
        return {"traceparent": current_traceparent()}

    @app.get("/health/live")
    async def live() -> dict[str, str | None]:
        return {"traceparent": current_traceparent()}

    instrument_app(app, provider)
    return app, provider


async def written_traceparent(app: FastAPI, path: str, headers: dict[str, str]) -> str | None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sila") as client:
        answer = await client.get(path, headers=headers)
    assert answer.status_code == 200, answer.text
    written: str | None = answer.json()["traceparent"]
    return written


async def test_a_callers_traceparent_reaches_the_events_and_logs_without_an_exporter(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(service="test", level="INFO", json_output=True)
    app, provider = traced_app()
    assert not provider.receiving
    caller = {"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01"}

    written = await written_traceparent(app, "/v1/things", caller)

    assert written is not None
    version, trace_id, span_id, flags = written.split("-")
    assert (version, trace_id, flags) == ("00", TRACE_ID, "01")
    assert span_id != CALLER_SPAN, "the request has a span id of its own, child of the caller's"
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert (line["trace_id"], line["span_id"]) == (TRACE_ID, span_id)


async def test_a_request_without_traceparent_starts_its_own_trace_and_probes_have_none() -> None:
    app, _ = traced_app()
    first = await written_traceparent(app, "/v1/things", {})
    second = await written_traceparent(app, "/v1/things", {})
    assert first is not None and second is not None
    assert first.split("-")[1] != second.split("-")[1]
    assert first.split("-")[3] == "03", "sampled, with a random trace id, as the SDK's spans"
    assert await written_traceparent(app, "/health/live", {}) is None


async def test_a_malformed_traceparent_starts_a_new_trace() -> None:
    app, _ = traced_app()
    written = await written_traceparent(app, "/v1/things", {"traceparent": "00-zz-11-01"})
    assert written is not None and written.split("-")[1] != "zz"


async def test_once_spans_are_received_each_request_gets_its_server_span() -> None:
    app, provider = traced_app()
    await written_traceparent(app, "/v1/things", {})  # the stack is built before the exporter
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    caller = {"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01"}

    written = await written_traceparent(app, "/v1/things", caller)

    [server] = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert server.name == "GET /v1/things"
    assert format(server.context.trace_id, "032x") == TRACE_ID
    assert server.parent is not None and format(server.parent.span_id, "016x") == CALLER_SPAN
    assert written == f"00-{TRACE_ID}-{server.context.span_id:016x}-01"
