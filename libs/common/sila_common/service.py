"""What a service is made of, and what is live while one of its processes runs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from sila_common.auth import KeySource, TokenVerifier
from sila_common.consumer import Handler
from sila_common.outbox import MessagingTables, Outbox
from sila_common.settings import PlatformSettings, ServiceSettings


@dataclass(frozen=True)
class ConsumerSpec:
    """A consumer group of this service: its name (group id), topics and handlers."""

    name: str
    topics: Sequence[str]
    handlers: Mapping[str, Handler]
    # Empties the read model this consumer builds, so a replay can rebuild it from scratch.
    reset: Callable[[AsyncSession], Awaitable[None]] | None = None


BackgroundJob = Callable[["Runtime", asyncio.Event], Coroutine[Any, Any, None]]
"""A periodic loop (scheduler, dispatcher) that runs until the event is set; it must be
safe with several instances running (claim work with ``FOR UPDATE SKIP LOCKED``)."""


@dataclass
class Runtime:
    """The live parts of one process of a service."""

    definition: ServiceDefinition
    platform: PlatformSettings
    settings: ServiceSettings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    outbox: Outbox
    verifier: TokenVerifier | None = None
    # None when tracing is disabled (OTEL_SDK_DISABLED); see sila_common.tracing.
    tracer_provider: TracerProvider | None = None
    extras: dict[str, object] = field(default_factory=dict)
    # Closed when the process stops (clients made on demand, such as the identity client).
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


@dataclass(frozen=True)
class ServiceDefinition:
    """Everything the platform needs to run a service; each service declares one."""

    name: str
    settings_factory: Callable[[], ServiceSettings]
    metadata: MetaData
    tables: MessagingTables
    migrations_dir: Path
    routers: Sequence[APIRouter] = ()
    consumers: Sequence[ConsumerSpec] = ()
    title: str = ""
    description: str = ""
    # Identity verifies tokens with its own keys; the others fetch identity's JWKS.
    key_source_factory: Callable[[Runtime], KeySource] | None = None
    # Runs once per process after the database is reachable (e.g. seed signing keys).
    on_startup: Callable[[Runtime], Awaitable[None]] | None = None
    # Periodic jobs, run next to the relay (roles ``relay`` and ``serve``).
    background_jobs: Sequence[BackgroundJob] = ()
    # Loads the dev profile's demo data (make run); must be idempotent.
    load_demo_data: Callable[[Runtime], Awaitable[None]] | None = None
    # Operator commands (``python -m sila_<svc> <name>``), e.g. identity's apply-reform;
    # each must be idempotent and resumable.
    commands: Mapping[str, Callable[[Runtime], Awaitable[None]]] = field(default_factory=dict)
