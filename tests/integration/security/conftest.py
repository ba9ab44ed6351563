"""The five services on fresh databases, each on a real loopback port, for attack tests.

``stack`` runs identity, tickets, billing, loyalty and notify in this process (API only: no
relays or consumers, so what the fuzzers write never reaches the shared broker topics), on
their own scratch databases, with an admin agent made the way every other test makes one and
a token from the real password grant. The fuzzers call the services over real HTTP from a
process of their own (``in_a_fuzzer_process``) while this event loop serves them.

Why a process, not a thread: Hypothesis owns the global ``random`` while it draws (it seeds
it, and checks that a draw left it as it found it). In this process the services, the other
tests' services still running (consumers, relays) and the tracer (span ids) draw from that
same ``random`` on the event loop's thread, so a fuzzer in a worker thread saw its state
move mid-draw: "Do not use the `random` module inside strategies" (a
HypothesisDeprecationWarning per example), and its seeding made the services' span ids
repeat. ``busy_neighbours`` reproduces that neighbourhood on purpose.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import warnings
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn

from sila_common.auth import JwksKeySource
from sila_common.migrations import upgrade_async
from sila_common.settings import PlatformSettings, ServiceSettings
from sila_local.services import SERVICES
from tests.conftest import (
    ADMIN_PASSWORD,
    RUN_ID,
    create_agent,
    create_database,
    drop_database,
    token_for,
)
from tests.support import LiveService, live_service, wait_until

STACK_SERVICES = ("identity", "tickets", "billing", "loyalty", "notify")
T = TypeVar("T")


def _with_hypothesis_warnings_as_errors(function: Callable[..., T], *args: Any) -> T:
    """In the fuzzer's process: a Hypothesis deprecation fails the run there too (the
    process does not inherit pytest's warning filters)."""
    from hypothesis.errors import HypothesisDeprecationWarning

    warnings.simplefilter("error", HypothesisDeprecationWarning)
    return function(*args)


async def in_a_fuzzer_process(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` (a module-level function, picklable arguments) in a fresh process
    of its own, whose global ``random`` nothing else draws from, while this event loop keeps
    serving the stack."""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as fuzzer:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            fuzzer, _with_hypothesis_warnings_as_errors, function, *args
        )


@asynccontextmanager
async def busy_neighbours() -> AsyncIterator[None]:
    """What a full run has beside the fuzzers: code on this event loop drawing from the
    global ``random`` all along (a consumer's fetch shuffles its partitions, the tracer makes
    span ids), here on purpose so the isolation is tested even when run alone."""
    stop = asyncio.Event()

    async def draw() -> None:
        while not stop.is_set():
            random.getrandbits(64)
            await asyncio.sleep(0.005)  # the neighbour's pace (the behaviour), not a wait

    task = asyncio.create_task(draw())
    try:
        yield
    finally:
        stop.set()
        await task


@dataclass
class Stack:
    services: dict[str, LiveService]
    urls: dict[str, str]
    admin_token: str


async def serve_on_socket(app: object, stack: AsyncExitStack) -> str:
    """Serve an app whose lifespan already ran on a free loopback port; its base URL."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning")  # type: ignore[arg-type]
    )
    task = asyncio.create_task(server.serve())
    await wait_until(lambda: server.started or task.done(), what="the server started")

    async def stop() -> None:
        server.should_exit = True
        await asyncio.wait_for(task, 10)

    stack.push_async_callback(stop)
    port = server.servers[0].sockets[0].getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def _fresh_database(service: str) -> str:
    url = await create_database(f"sila_test_{RUN_ID}_stack_{service}")
    definition = next(s for s in SERVICES if s.name == service).definition()
    await upgrade_async(definition.migrations_dir, url)
    return url


@pytest.fixture(scope="session")
async def stack(
    platform: PlatformSettings,
    settings_for: Callable[..., ServiceSettings],
) -> AsyncIterator[Stack]:
    async with AsyncExitStack() as exits:
        for name in STACK_SERVICES:
            exits.push_async_callback(drop_database, f"sila_test_{RUN_ID}_stack_{name}")
        database_urls = {name: await _fresh_database(name) for name in STACK_SERVICES}
        services: dict[str, LiveService] = {}
        urls: dict[str, str] = {}
        jwks_client: httpx.AsyncClient | None = None
        for name in STACK_SERVICES:
            definition = next(s for s in SERVICES if s.name == name).definition()
            overrides: dict[str, object] = {"database_url": database_urls[name]}
            if name == "identity":
                # As deployed behind the edge (compose, k8s): the address is the edge's
                # X-Forwarded-For entry. Slowing kept short so the attack tests stay fast.
                overrides |= {"trust_forwarded_for": True, "login_slowdown_seconds": 0.05}
            if name in ("tickets", "notify", "billing"):
                overrides["identity_url"] = urls["identity"]
            settings = settings_for(name, **overrides)
            key_source = None
            if name != "identity":
                assert jwks_client is not None
                key_source = JwksKeySource(
                    f"{urls['identity']}/.well-known/jwks.json", client=jwks_client
                )
            service = await exits.enter_async_context(
                live_service(
                    definition,
                    platform=platform,
                    settings=settings,
                    with_workers=False,
                    key_source=key_source,
                )
            )
            services[name] = service
            urls[name] = await serve_on_socket(service.app, exits)
            if name == "identity":
                jwks_client = await exits.enter_async_context(httpx.AsyncClient())
        username = f"fuzz-admin-{RUN_ID}"
        await create_agent(
            services["identity"], username, ADMIN_PASSWORD, ["agent", "supervisor", "admin"], ["*"]
        )
        token = await token_for(services["identity"], username, ADMIN_PASSWORD)
        yield Stack(services=services, urls=urls, admin_token=token)
