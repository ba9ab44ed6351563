"""Tickets: creation throughput over the API, and the incident storm.

(a) N concurrent clients open tickets through ``POST /v1/tickets`` as fast as they can.
(b) An incident is declared over a wilaya with thousands of directory customers; that
    area then opens tickets at a high rate (the storm) while ordinary tickets from other
    wilayas arrive at a steady low rate. Ordinary-ticket latency is compared with and
    without the storm.

Both apps run in this process over ``httpx.ASGITransport`` against fresh PostgreSQL
databases (the load generator shares the event loop and the CPU with the API). The relay
does not run here: in production it is its own process.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import insert

from benchmarks.harness import BenchEnv, Row, median, percentile
from sila_common.app import create_app
from sila_common.auth import JwksKeySource
from sila_identity.auth.keys import KeyStore
from sila_identity.auth.tokens import issue_access_token
from sila_identity.service import definition as identity_definition
from sila_identity.settings import IdentitySettings
from sila_tickets.service import definition as tickets_definition
from sila_tickets.settings import TicketsSettings
from sila_tickets.tables import known_customers, queue_agents

STORM_WILAYA = "15"
ISSUE_STORM_PER_HOUR = 20_000
OTHER_WILAYAS = ["16", "31", "06", "09", "19", "25"]
SUBJECTS = {
    "technical": ("no_connection", "Pas de connexion ADSL"),
    "administrative": (None, "Contestation de facture"),
    "commercial": (None, "Changement d'offre"),
}


@dataclass
class Bench:
    client: httpx.AsyncClient
    app: FastAPI
    headers: dict[str, str]


@asynccontextmanager
async def running_tickets(env: BenchEnv) -> AsyncIterator[Bench]:
    """Identity (for the keys) and tickets, in process, with an all-wilaya admin token."""
    identity_app = create_app(
        identity_definition,
        platform=env.platform,
        settings=IdentitySettings(database_url=await env.database("identity")),
    )
    async with identity_app.router.lifespan_context(identity_app):
        jwks = httpx.AsyncClient(transport=httpx.ASGITransport(app=identity_app))
        keys = JwksKeySource("http://identity/.well-known/jwks.json", client=jwks)
        app = create_app(
            tickets_definition,
            platform=env.platform,
            settings=TicketsSettings(database_url=await env.database("tickets")),
            key_source=keys,
        )
        async with app.router.lifespan_context(app):
            token = await issue_access_token(
                identity_app.state.runtime.collaborators.get(KeyStore),
                env.platform,
                subject=str(uuid.uuid4()),
                kind="agent",
                ttl_seconds=3600,
                roles=["agent", "supervisor", "admin"],
                extra={"wilayas": ["*"]},
            )
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://tickets", timeout=120
            ) as client:
                yield Bench(client, app, {"Authorization": f"Bearer {token}"})
        await jwks.aclose()


async def seed(bench: Bench, counts: dict[str, int]) -> dict[str, list[str]]:
    """Directory customers per wilaya (inserted directly), and five agents per queue."""
    now = datetime.now(UTC)
    made: dict[str, list[str]] = {}
    async with bench.app.state.runtime.engine.begin() as conn:
        for wilaya, count in counts.items():
            made[wilaya] = [str(uuid.uuid4()) for _ in range(count)]
            for start in range(0, count, 5000):
                await conn.execute(
                    insert(known_customers),
                    [
                        {
                            "customer_id": cid,
                            "wilaya_code": wilaya,
                            "language": "fr",
                            "status": "active",
                            "updated_at": now,
                            "display_name": "Client Bench",
                            "phone": "+213661000000",
                        }
                        for cid in made[wilaya][start : start + 5000]
                    ],
                )
        await conn.execute(
            insert(queue_agents),
            [
                {
                    "queue": queue,
                    "wilaya_code": "*",
                    "agent_id": str(uuid.uuid4()),
                    "last_assigned_at": None,
                    "added_by": "bench",
                    "added_at": now,
                }
                for queue in ("technical", "billing", "commercial")
                for _ in range(5)
            ],
        )
        await conn.exec_driver_sql("ANALYZE known_customers")
    return made


async def open_one(bench: Bench, customer_id: str, category: str) -> float:
    """Open a ticket; the latency in milliseconds."""
    subcategory, subject = SUBJECTS[category]
    body: dict[str, Any] = {
        "customer_id": customer_id,
        "category": category,
        "channel": "call_centre",
        "subject": subject,
    }
    if subcategory:
        body["subcategory"] = subcategory
    if category == "technical":
        body["service"] = "adsl"
    started = time.perf_counter()
    answer = await bench.client.post("/v1/tickets", json=body, headers=bench.headers)
    elapsed = (time.perf_counter() - started) * 1000
    if answer.status_code != 201:
        raise RuntimeError(f"ticket creation failed: {answer.status_code} {answer.text[:200]}")
    return elapsed


async def closed_loop(
    clients: int, total: int, make: Callable[[int], Awaitable[float]]
) -> tuple[list[float], float]:
    """``clients`` workers sharing ``total`` requests back to back; (latencies, seconds)."""
    latencies: list[float] = []
    counter = iter(range(total))

    async def worker() -> None:
        for n in counter:
            latencies.append(await make(n))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies, time.perf_counter() - started


async def steady(
    rate: float, until: Callable[[], bool], make: Callable[[int], Coroutine[Any, Any, float]]
) -> list[float]:
    """Open-loop arrivals at ``rate`` per second until ``until()``; each on its own task."""
    tasks: list[asyncio.Task[float]] = []
    started = time.perf_counter()
    n = 0
    while not until():
        tasks.append(asyncio.create_task(make(n)))
        n += 1
        delay = started + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    return list(await asyncio.gather(*tasks))


async def creation_throughput(env: BenchEnv) -> list[Row]:
    clients, total = (8, 400) if env.quick else (32, 4000)
    rng = random.Random(1)  # noqa: S311 - reproducible load, not secrets
    categories = ["technical"] * 6 + ["administrative"] * 3 + ["commercial"]
    async with running_tickets(env) as bench:
        made = await seed(bench, dict.fromkeys(OTHER_WILAYAS, 200))
        pool = [c for ids in made.values() for c in ids]

        async def make(_: int) -> float:
            return await open_one(bench, rng.choice(pool), rng.choice(categories))

        await closed_loop(4, 40, make)  # warm up: pools, caches, plans
        latencies, seconds = await closed_loop(clients, total, make)
    note = f"{total} tickets, {clients} concurrent clients, auto-assignment on, PostgreSQL"
    return [
        Row("ticket creation throughput", total / seconds, "tickets/s", note),
        Row("ticket creation p50", median(latencies), "ms", note),
        Row("ticket creation p99", percentile(latencies, 99), "ms", note),
    ]


async def incident_storm(env: BenchEnv) -> list[Row]:
    affected = 2_000 if env.quick else 20_000
    storm_tickets = 1_000 if env.quick else 5_000
    storm_clients = 16
    ordinary_rate = 10.0
    baseline_seconds = 5.0 if env.quick else 15.0
    rng = random.Random(2)  # noqa: S311 - reproducible load, not secrets
    async with running_tickets(env) as bench:
        made = await seed(bench, {STORM_WILAYA: affected, **dict.fromkeys(OTHER_WILAYAS, 200)})
        area = made[STORM_WILAYA]
        others = [c for w in OTHER_WILAYAS for c in made[w]]

        async def ordinary(_: int) -> float:
            return await open_one(
                bench, rng.choice(others), rng.choice(["technical", "administrative"])
            )

        async def storm(n: int) -> float:
            return await open_one(bench, area[n % len(area)], "technical")

        await closed_loop(4, 40, ordinary)  # warm up
        deadline = time.monotonic() + baseline_seconds
        quiet = await steady(ordinary_rate, lambda: time.monotonic() > deadline, ordinary)

        started = time.perf_counter()
        declared = await bench.client.post(
            "/v1/incidents",
            headers=bench.headers,
            json={
                "service": "adsl",
                "area": {"kind": "wilaya", "value": STORM_WILAYA},
                "estimated_end_at": (datetime.now(UTC) + timedelta(hours=6)).isoformat(),
                "area_label": "Wilaya de Tizi Ouzou",
            },
        )
        declare_ms = (time.perf_counter() - started) * 1000
        if declared.status_code != 201 or declared.json()["affected_count"] != affected:
            raise RuntimeError(f"incident declaration failed: {declared.text[:200]}")

        # The issue's storm: 20,000 tickets an hour (5.6/s) on the incident, open loop,
        # beside the ordinary flow.
        deadline = time.monotonic() + baseline_seconds
        hourly_storm, at_rate = await asyncio.gather(
            steady(ISSUE_STORM_PER_HOUR / 3600, lambda: time.monotonic() > deadline, storm),
            steady(ordinary_rate, lambda: time.monotonic() > deadline, ordinary),
        )

        # Then a saturating storm: as many tickets from the area as the service takes.
        done = asyncio.Event()
        storm_task = asyncio.create_task(closed_loop(storm_clients, storm_tickets, storm))
        storm_task.add_done_callback(lambda _: done.set())
        during = await steady(ordinary_rate, done.is_set, ordinary)
        storm_latencies, storm_seconds = await storm_task
    note = f"{ordinary_rate:.0f} ordinary tickets/s from {len(OTHER_WILAYAS)} other wilayas"
    storm_note = (
        f"{storm_tickets} tickets from wilaya {STORM_WILAYA}, {storm_clients} concurrent "
        f"clients, all linked to the incident"
    )
    return [
        Row(
            "incident declaration",
            declare_ms,
            "ms",
            f"{affected:,} affected customers, {affected:,} events in one transaction",
        ),
        Row(
            "ordinary ticket p50, storm of 20,000/hour",
            median(at_rate),
            "ms",
            f"{note}, {len(at_rate)} tickets, {len(hourly_storm)} storm tickets at 5.6/s",
        ),
        Row("ordinary ticket p99, storm of 20,000/hour", percentile(at_rate, 99), "ms", note),
        Row("storm ticket p50 at 20,000/hour", median(hourly_storm), "ms", "open loop"),
        Row("saturating storm throughput", storm_tickets / storm_seconds, "tickets/s", storm_note),
        Row("saturating storm ticket p50", median(storm_latencies), "ms", storm_note),
        Row("saturating storm ticket p99", percentile(storm_latencies, 99), "ms", storm_note),
        Row("ordinary ticket p50, no storm", median(quiet), "ms", f"{note}, {len(quiet)} tickets"),
        Row("ordinary ticket p99, no storm", percentile(quiet, 99), "ms", note),
        Row(
            "ordinary ticket p50, during the saturating storm",
            median(during),
            "ms",
            f"{note}, {len(during)} tickets",
        ),
        Row("ordinary ticket p99, during the saturating storm", percentile(during, 99), "ms", note),
    ]


async def run(env: BenchEnv) -> list[Row]:
    return [*await creation_throughput(env), *await incident_storm(env)]
