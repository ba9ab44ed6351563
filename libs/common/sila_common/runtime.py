"""Building a service's runtime and running its relay and consumers."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from opentelemetry.sdk.trace import TracerProvider

from sila_common.auth import JwksKeySource, KeySource, TokenVerifier
from sila_common.consumer import EventConsumer
from sila_common.db import make_engine, make_session_factory
from sila_common.outbox import Outbox
from sila_common.relay import OutboxRelay
from sila_common.service import Runtime, ServiceDefinition
from sila_common.settings import PlatformSettings, SettingsT
from sila_common.tracing import make_tracer_provider, tracer_of

log = structlog.get_logger(__name__)


def freeze_startup_heap() -> None:
    """Leave what the process built to start (the service's modules, models, tables and
    runtime: most of its objects) out of every later garbage collection. A full collection
    walks every object tracked: in identity's consumer it took 100-390 ms of a 5 s burst of
    events, and every event waiting behind it waited that long; an API's requests wait
    behind it the same way (docs/benchmarks.md)."""
    gc.collect()
    gc.freeze()


@asynccontextmanager
async def open_runtime(
    definition: ServiceDefinition[SettingsT],
    *,
    platform: PlatformSettings | None = None,
    settings: SettingsT | None = None,
    key_source: KeySource | None = None,
    tracer_provider: TracerProvider | None = None,
) -> AsyncIterator[Runtime[SettingsT]]:
    """The process's live parts; a tracer provider is made unless one is given (the API's,
    already instrumenting its routes), and flushed on the way out.
    """
    platform = platform or PlatformSettings()
    settings = settings or definition.settings_factory()
    engine = make_engine(settings.resolved_database_url())
    runtime = Runtime(
        definition=definition,
        platform=platform,
        settings=settings,
        engine=engine,
        session_factory=make_session_factory(engine),
        outbox=Outbox(definition.tables.outbox),
        tracer_provider=tracer_provider or make_tracer_provider(definition.name),
    )
    if key_source is None:
        key_source = (
            definition.key_source_factory(runtime)
            if definition.key_source_factory
            else JwksKeySource(platform.jwks_url, max_age=platform.jwks_max_age_seconds)
        )
    runtime.verifier = TokenVerifier(
        key_source, issuer=platform.jwt_issuer, audience=platform.jwt_audience
    )
    try:
        if definition.on_startup is not None:
            await definition.on_startup(runtime)
        yield runtime
    finally:
        for close in runtime.closers:
            await close()
        await engine.dispose()
        if runtime.tracer_provider is not None:
            runtime.tracer_provider.shutdown()


def make_relay(runtime: Runtime[SettingsT]) -> OutboxRelay:
    return OutboxRelay(
        engine=runtime.engine,
        tables=runtime.definition.tables,
        platform=runtime.platform,
        settings=runtime.settings,
    )


def make_consumers(runtime: Runtime[SettingsT]) -> list[EventConsumer[SettingsT]]:
    context = runtime.handler_context()
    return [
        EventConsumer(
            name=spec.name,
            topics=list(spec.topics),
            handlers=spec.handlers,
            session_factory=runtime.session_factory,
            tables=runtime.definition.tables,
            context=context,
            tracer=tracer_of(runtime.tracer_provider),
        )
        for spec in runtime.definition.consumers
    ]


async def run_workers(
    runtime: Runtime[SettingsT], stop: asyncio.Event, *, relay: bool = True, consumers: bool = True
) -> None:
    """Run the relay (with the background jobs) and/or the consumers until ``stop`` is set."""
    tasks: list[asyncio.Task[None]] = []
    if relay:
        tasks.append(asyncio.create_task(make_relay(runtime).run(stop), name="relay"))
        for job in runtime.definition.background_jobs:
            name = getattr(job, "__name__", "job")
            tasks.append(asyncio.create_task(job(runtime, stop), name=f"job:{name}"))
    if consumers:
        for consumer in make_consumers(runtime):
            tasks.append(asyncio.create_task(consumer.run(stop), name=f"consumer:{consumer.name}"))
    if not tasks:
        return
    log.info("workers.started", tasks=[t.get_name() for t in tasks])
    await asyncio.gather(*tasks)
