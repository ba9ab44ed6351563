"""What a service is made of, and what is live while one of its processes runs.

Both are generic over the service's settings type: ``Runtime[TicketsSettings]`` carries
tickets' settings as that type, so no code asserts or guesses which settings it was given.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic

from fastapi import APIRouter
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from sila_common.auth import KeySource, TokenVerifier
from sila_common.collaborators import Collaborators
from sila_common.consumer import Handler, HandlerContext
from sila_common.outbox import MessagingTables, Outbox
from sila_common.settings import PlatformSettings, SettingsT


@dataclass(frozen=True)
class ConsumerSpec(Generic[SettingsT]):
    """A consumer group of this service: its name (group id), topics and handlers."""

    name: str
    topics: Sequence[str]
    handlers: Mapping[str, Handler[SettingsT]]
    # Empties the read model this consumer builds, so a replay can rebuild it from scratch.
    reset: Callable[[AsyncSession], Awaitable[None]] | None = None


BackgroundJob = Callable[["Runtime[SettingsT]", asyncio.Event], Coroutine[Any, Any, None]]
"""A periodic loop (scheduler, dispatcher) that runs until the event is set; it must be
safe with several instances running (claim work with ``FOR UPDATE SKIP LOCKED``)."""


@dataclass
class Runtime(Generic[SettingsT]):
    """The live parts of one process of a service."""

    definition: ServiceDefinition[SettingsT]
    platform: PlatformSettings
    settings: SettingsT
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    outbox: Outbox
    verifier: TokenVerifier | None = None
    # None when tracing is disabled (OTEL_SDK_DISABLED); see sila_common.tracing.
    tracer_provider: TracerProvider | None = None
    # Closed when the process stops (clients made on demand, such as the identity client).
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # The service's long-lived parts (key store, account checks, caches), one per type;
    # event handlers see them in their context.
    collaborators: Collaborators = field(default_factory=Collaborators)

    def handler_context(self) -> HandlerContext[SettingsT]:
        """What an event handler of this process is given besides the session and event."""
        return HandlerContext(
            settings=self.settings,
            platform=self.platform,
            outbox=self.outbox,
            collaborators=self.collaborators,
        )


@dataclass(frozen=True)
class ServiceDefinition(Generic[SettingsT]):
    """Everything the platform needs to run a service; each service declares one."""

    name: str
    settings_factory: Callable[[], SettingsT]
    metadata: MetaData
    tables: MessagingTables
    migrations_dir: Path
    routers: Sequence[APIRouter] = ()
    consumers: Sequence[ConsumerSpec[SettingsT]] = ()
    title: str = ""
    description: str = ""
    # Identity verifies tokens with its own keys; the others fetch identity's JWKS.
    key_source_factory: Callable[[Runtime[SettingsT]], KeySource] | None = None
    # Runs once per process after the database is reachable (e.g. seed signing keys).
    on_startup: Callable[[Runtime[SettingsT]], Awaitable[None]] | None = None
    # Periodic jobs, run next to the relay (roles ``relay`` and ``serve``).
    background_jobs: Sequence[BackgroundJob[SettingsT]] = ()
    # Loads the dev profile's demo data (make run); must be idempotent.
    load_demo_data: Callable[[Runtime[SettingsT]], Awaitable[None]] | None = None
    # Operator commands (``python -m sila_<svc> <name>``), e.g. identity's apply-reform;
    # each must be idempotent and resumable.
    commands: Mapping[str, Callable[[Runtime[SettingsT]], Awaitable[None]]] = field(
        default_factory=dict
    )
