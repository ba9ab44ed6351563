"""Loyalty: the rule engine's rate with 100 active campaigns against a bare consumer, and the
balance read over real HTTP against a bare asyncpg handler, each pair in the same run.

- Rule engine: 100 active campaigns on payments (offers, wilayas, minimum amounts,
  per-customer caps, budgets), 2,000 registered accounts; payment events on the broker,
  read by loyalty's consumer (``EventConsumer`` with the engine's handlers, the production
  batch path: every account of a fetch locked in id order, budgets reserved in their own
  short transactions) from a topic of the run. The bare anchor is an aiokafka consumer
  group on the same topic that writes each fetch's event ids in one asyncpg transaction
  (what any idempotent consumer must do at least). Both are timed after a warm-up batch,
  over the same records. Events and grants per second.
- Balance read: ``GET /v1/loyalty/accounts/{id}`` on loyalty as production runs it (``python
  -m sila_loyalty api``), with an agent's token from identity's password grant, against
  ``benchmarks.bare``'s same three statements, wrk at 1 and 16 clients, over the ledger
  the engine part wrote.

``SILA_BENCH_QUICK=1``: 3,000 events; otherwise 20,000. ``SILA_BENCH_PROFILE=<dir>``: py-spy
samples the bench process (where the engine's consumer runs) over the timed part, into
``<dir>/loyalty-engine.txt`` (``python -m benchmarks.flame`` summarises it).
``SILA_BENCH_LOYALTY_ENGINE_ONLY=1``: the rule engine's figures only (no balance reads).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer
from sqlalchemy import event

from benchmarks.fastpaths import dsn_of, measure_pair, rows_for, sizes
from benchmarks.harness import BenchEnv, Row
from benchmarks.served import Request, profile_dir, serve_bare, serve_service
from sila_common.consumer import EventConsumer
from sila_common.events import CloudEvent
from sila_common.kafka import make_consumer
from sila_common.runtime import open_runtime
from sila_identity.auth.passwords import hash_password
from sila_loyalty.domain.campaigns import Campaign, Caps, Conditions, Reward, default_label
from sila_loyalty.domain.ledger import RewardKind
from sila_loyalty.domain.periods import Period
from sila_loyalty.flows.campaigns import create_campaign
from sila_loyalty.handlers import ENGINE
from sila_loyalty.service import definition
from sila_loyalty.settings import LoyaltySettings
from sila_loyalty.tables import accounts, messaging

CUSTOMERS = 2_000
CAMPAIGNS = 100
WARM = 300
OFFERS = [f"offer_{n}" for n in range(10)]
WILAYAS = ["16", "31", "06", "09", "19", "25", "15"]
PASSWORD = "bench loyalty password"  # noqa: S105 - a throwaway bench agent


def campaign(n: int, now: datetime) -> Campaign:
    """Ten campaigns per offer; half also need a wilaya, a third a minimum amount; some cap
    per customer, some have a budget (large enough not to run out)."""
    kind = [RewardKind.POINTS, RewardKind.BONUS_HOURS, RewardKind.COUPON][n % 3]
    reward = Reward(kind=kind, quantity=100 if kind is not RewardKind.COUPON else 20_000, label="")
    reward = Reward(
        **{**reward.__dict__, "label": default_label(reward), "unit_cost_centimes": 100}
    )
    return Campaign(
        campaign_id="",
        name=f"Bench campaign {n}",
        trigger="billing.payment.succeeded",
        period=Period(now - timedelta(days=30), now + timedelta(days=30)),
        reward=reward,
        conditions=Conditions(
            offers=frozenset({OFFERS[n % len(OFFERS)]}),
            wilayas=frozenset({WILAYAS[n % len(WILAYAS)]}) if n % 2 else None,
            min_amount_centimes=150_000 if n % 3 == 0 else None,
        ),
        caps=Caps(
            per_customer=3 if n % 5 == 0 else None,
            budget_centimes=10**12 if n % 4 == 0 else None,
        ),
    )


async def seed(url: str, customers: list[str]) -> None:
    now = datetime.now(UTC)
    settings = LoyaltySettings(database_url=url)
    async with (
        open_runtime(definition, settings=settings) as runtime,
        runtime.session_factory() as session,
        session.begin(),
    ):
        for n in range(CAMPAIGNS):
            await create_campaign(session, campaign(n, now), created_by="bench")
        await session.execute(
            accounts.insert(),
            [
                {
                    "customer_id": customer,
                    "wilaya_code": WILAYAS[i % len(WILAYAS)],
                    "phone": None,
                    "language": "fr",
                    "registered_at": now - timedelta(days=400 + i % 900),
                    "offers": [],
                    "tier": "bronze",
                    "referral_code": f"B{i:07d}",
                    "opened_at": now,
                }
                for i, customer in enumerate(customers)
            ],
        )


def payments(customers: list[str], count: int, seed: int) -> list[CloudEvent]:
    rng = random.Random(seed)  # noqa: S311 - reproducible load, not secrets
    now = datetime.now(UTC)
    out = []
    for _ in range(count):
        customer = rng.choice(customers)
        out.append(
            CloudEvent(
                id=str(uuid.uuid4()),
                source="/sila/billing",
                type="billing.payment.succeeded",
                time=now,
                subject=customer,
                dataschema="https://schemas.sila.algerietelecom.dz/events/billing.payment.succeeded.v1.json",
                customerid=customer,
                data={
                    "customer_id": customer,
                    "payment_id": str(uuid.uuid4()),
                    "amount_centimes": rng.choice([50_000, 120_000, 180_000, 250_000]),
                    "offer_code": rng.choice(OFFERS),
                },
            )
        )
    return out


async def produce(env: BenchEnv, topic: str, events: list[CloudEvent]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=env.platform.kafka_bootstrap, acks="all", linger_ms=5
    )
    await producer.start()
    try:
        sends = [
            await producer.send(topic, value=e.to_bytes(), key=e.customerid.encode())
            for e in events
        ]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def timed(count_now: object, warm: int, total: int, deadline: float) -> tuple[float, int]:
    """Seconds from the warm-up done (``warm`` processed) to ``total`` processed, and how
    many were processed in that time (a batch may take the count past ``warm``: the
    events timed are those after the count seen when the clock starts)."""

    async def reach(target: int) -> tuple[float, int]:
        limit = time.monotonic() + deadline
        while time.monotonic() < limit:
            now = await count_now()  # type: ignore[operator]
            if now >= target:
                return time.perf_counter(), now
            await asyncio.sleep(0.02)
        raise RuntimeError(f"{target} events not processed within {deadline} s")

    started, begun = await reach(warm)
    ended, done = await reach(total)
    return ended - started, done - begun


async def profiling(label: str) -> asyncio.subprocess.Process | None:
    """With ``SILA_BENCH_PROFILE``, py-spy sampling this process (the engine's consumer runs
    here) until sent SIGINT, into ``<dir>/<label>.txt``."""
    target = profile_dir()
    if target is None:
        return None
    target.mkdir(parents=True, exist_ok=True)
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    process = await asyncio.create_subprocess_exec(
        spy, "record", "--pid", str(os.getpid()), "--rate", "200", "--format", "raw",
        "--nonblocking", "--output", str(target / f"{label}.txt"),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    await asyncio.sleep(1)  # py-spy attached
    return process


async def engine_rate(env: BenchEnv, url: str, customers: list[str]) -> list[Row]:
    count = 3_000 if env.quick else 20_000
    topic = f"bench.loyalty.{uuid.uuid4().hex[:6]}"
    await produce(env, topic, payments(customers, WARM + count, seed=7))
    settings = LoyaltySettings(database_url=url, consumer_backoff_seconds=0.05)
    name = "loyalty.engine"
    async with open_runtime(definition, platform=env.platform, settings=settings) as runtime:
        consumer = EventConsumer(
            name=name,
            topics=[topic],
            handlers=ENGINE.handlers,
            session_factory=runtime.session_factory,
            tables=messaging,
            context=runtime.handler_context(),
        )
        # The probes read through a connection of their own, so the statements counted on
        # the runtime's engine are the engine's alone.
        probe = await asyncpg.connect(dsn_of(url))

        async def applied() -> int:
            return int(
                await probe.fetchval("SELECT count(*) FROM inbox WHERE consumer = $1", name) or 0
            )

        async def granted() -> int:
            return int(await probe.fetchval("SELECT count(*) FROM ledger_entries") or 0)

        statements = batches = 0

        def counted(_conn: object, _cursor: object, statement: str, *_: object) -> None:
            nonlocal statements, batches
            statements += 1
            # The consumer's one inbox insert per fetch's transaction.
            batches += statement.startswith("INSERT INTO inbox")

        stop = asyncio.Event()
        task = asyncio.create_task(consumer.run(stop))
        try:
            await timed(applied, WARM, WARM, 120)
            spy = await profiling("loyalty-engine")
            grants_before = await granted()
            event.listen(runtime.engine.sync_engine, "before_cursor_execute", counted)
            seconds, processed = await timed(applied, 0, WARM + count, 600)
            if spy is not None:
                spy.send_signal(signal.SIGINT)  # py-spy writes what it sampled
                await spy.wait()
            event.remove(runtime.engine.sync_engine, "before_cursor_execute", counted)
            grants = await granted() - grants_before
        finally:
            stop.set()
            await task
            await probe.close()

    bare_seconds, bare_processed = await bare_consumer(env, url, topic, count)
    note = f"{processed:,} payments timed, {CAMPAIGNS} active campaigns, {CUSTOMERS:,} accounts"
    rate, bare_rate = processed / seconds, bare_processed / bare_seconds
    return [
        Row("rule engine events", rate, "events/s", note, bare_rate, "beside the bare consumer"),
        Row("rule engine grants", grants / seconds, "grants/s", f"{grants:,} grants; " + note),
        Row(
            "rule engine statements per event",
            statements / processed,
            "statements",
            f"{statements:,} sent in {batches} fetches ({statements / max(batches, 1):.1f} "
            f"each) for {processed:,} events",
        ),
        Row(
            "bare consumer (ids in one transaction per fetch)",
            bare_rate,
            "events/s",
            "same records, same broker",
        ),
    ]


async def bare_consumer(env: BenchEnv, url: str, topic: str, count: int) -> tuple[float, int]:
    """An aiokafka group on the same topic; each fetch's event ids inserted in one asyncpg
    transaction, offsets committed after."""
    conn = await asyncpg.connect(dsn_of(url))
    await conn.execute("CREATE TABLE bare_inbox (event_id text PRIMARY KEY)")
    consumer = make_consumer(
        env.platform, topic, group_id=f"bare-{uuid.uuid4().hex[:6]}", client_id="bare"
    )
    await consumer.start()
    seen = 0

    async def processed() -> int:
        return seen

    async def run() -> None:
        nonlocal seen
        while seen < WARM + count:
            batches = await consumer.getmany(timeout_ms=200, max_records=500)
            records = [r for rs in batches.values() for r in rs]
            if not records:
                continue
            ids = [json.loads(r.value or b"{}")["id"] for r in records]
            async with conn.transaction():
                await conn.executemany(
                    "INSERT INTO bare_inbox VALUES ($1) ON CONFLICT DO NOTHING", [(i,) for i in ids]
                )
            await consumer.commit({tp: rs[-1].offset + 1 for tp, rs in batches.items()})
            seen += len(records)

    task = asyncio.create_task(run())
    try:
        return await timed(processed, WARM, WARM + count, 600)
    finally:
        await task
        await consumer.stop()
        await conn.close()


async def balance_reads(env: BenchEnv, url: str, customers: list[str]) -> list[Row]:
    size = sizes(env)
    identity_url = await env.database("identity")
    conn = await asyncpg.connect(dsn_of(identity_url))
    try:
        await conn.execute(
            "INSERT INTO agents (id, username, display_name, password_hash, roles, wilayas, "
            "agency, disabled, created_at) VALUES ($1, 'bench', 'Bench', $2, $3, $4, NULL, "
            "false, now())",
            str(uuid.uuid4()),
            hash_password(PASSWORD),
            json.dumps(["agent"]),
            json.dumps(["*"]),
        )
    finally:
        await conn.close()
    reads = [Request("GET", f"/v1/loyalty/accounts/{c}") for c in customers]
    extra = {"SILA_IDENTITY_AGENT_ACCESS_TOKEN_TTL_SECONDS": "3600"}
    rows: list[Row] = []
    async with (
        serve_service(env, "identity", database_url=identity_url, extra=extra) as ident,
        serve_bare({"SILA_BARE_LOYALTY_DSN": dsn_of(url)}) as bare,
    ):
        async with httpx.AsyncClient(base_url=ident.url) as client:
            answer = await client.post(
                "/v1/oauth/token",
                data={"grant_type": "password", "username": "bench", "password": PASSWORD},
            )
            answer.raise_for_status()
            auth = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        async with serve_service(
            env,
            "loyalty",
            database_url=url,
            extra={"SILA_JWKS_URL": f"{ident.url}/.well-known/jwks.json"},
        ) as loyalty:
            async with httpx.AsyncClient() as client:
                probe = await client.get(
                    f"{loyalty.url}/v1/loyalty/accounts/{customers[0]}", headers=auth
                )
                probe.raise_for_status()
            for clients in (1, 16):
                sila, anchor = await measure_pair(
                    loyalty.url, bare.url, reads, reads, clients, size, headers=auth
                )
                rows += rows_for(
                    "loyalty balance read",
                    clients,
                    sila,
                    anchor,
                    note=f"{CUSTOMERS:,} accounts, the engine's ledger",
                )
    return rows


async def run(env: BenchEnv) -> list[Row]:
    url = await env.database("loyalty")
    customers = [str(uuid.uuid4()) for _ in range(CUSTOMERS)]
    await seed(url, customers)
    rows = await engine_rate(env, url, customers)
    if os.environ.get("SILA_BENCH_LOYALTY_ENGINE_ONLY") != "1":
        rows += await balance_reads(env, url, customers)
    return rows
