"""The command line every service shares: ``python -m sila_<service> <role>``.

Roles: ``api`` (HTTP), ``relay`` (outbox to Kafka), ``consume`` (event handlers),
``serve`` (all three in one process, for development), ``migrate`` (Alembic to head),
``demo-data`` (the dev profile's demo accounts), ``replay`` (republish the history),
``reset-consumer <name>`` (empty a read model before a replay rebuilds it), and the
service's own operator commands (``ServiceDefinition.commands``, e.g. ``apply-reform``).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn
from prometheus_client import start_http_server

from sila_common.logging import configure_logging
from sila_common.migrations import upgrade
from sila_common.rebuild import reset_consumer
from sila_common.runtime import freeze_startup_heap, make_relay, open_runtime, run_workers
from sila_common.service import ServiceDefinition
from sila_common.settings import PlatformSettings


def main(definition: ServiceDefinition[Any], argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m sila_{definition.name}")
    parser.add_argument(
        "role",
        choices=[
            "api",
            "serve",
            "relay",
            "consume",
            "migrate",
            "demo-data",
            "replay",
            "reset-consumer",
            *definition.commands,
        ],
    )
    parser.add_argument("consumer", nargs="?", help="reset-consumer: the consumer group")
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--since-hours", type=float, default=None, help="replay: how far back")
    args = parser.parse_args(argv)

    platform = PlatformSettings()
    settings = definition.settings_factory()
    configure_logging(
        service=definition.name, level=platform.log_level, json_output=platform.log_json
    )

    if args.role == "migrate":
        upgrade(definition.migrations_dir, settings.resolved_database_url())
        return
    if args.role in ("api", "serve"):
        from sila_common.app import create_app

        app = create_app(
            definition,
            with_workers=args.role == "serve",
            platform=platform,
            settings=settings,
            freeze_heap=True,
        )
        uvicorn.run(
            app,
            host=args.host or settings.host,
            port=args.port or settings.port,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=10,
        )
        return
    asyncio.run(_run_role(definition, platform, args.role, args.since_hours, args.consumer))


async def _run_role(
    definition: ServiceDefinition[Any],
    platform: PlatformSettings,
    role: str,
    since_hours: float | None,
    consumer: str | None = None,
) -> None:
    async with open_runtime(definition, platform=platform) as runtime:
        if role == "demo-data":
            if definition.load_demo_data is not None:
                await definition.load_demo_data(runtime)
            return
        if role in definition.commands:
            await definition.commands[role](runtime)
            return
        if role == "reset-consumer":
            if not consumer:
                raise SystemExit("reset-consumer needs the consumer's name")
            await reset_consumer(runtime, consumer)
            print(f"{consumer}: read model emptied; now replay the services that feed it")
            return
        if role == "replay":
            since = datetime.now(UTC) - timedelta(hours=since_hours) if since_hours else None
            count = await make_relay(runtime).replay(reason="operator", since=since)
            print(f"{count} events marked for republication")
            return
        if runtime.settings.metrics_port:
            start_http_server(runtime.settings.metrics_port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        freeze_startup_heap()
        await run_workers(runtime, stop, relay=role == "relay", consumers=role == "consume")
