"""Issue 12's table: every hot path over real HTTP (or the real broker) with its bare anchor
measured in the same run, so each figure is also a ratio that survives a noisy machine.

- Lookup by phone, timeline first page (50,000-entry customer), ticket creation: identity
  and tickets run as production runs them (``python -m sila_<name> api``, ``SILA_PROFILE=
  prod``, PostgreSQL, the broker), the bare FastAPI + asyncpg app (``benchmarks.bare``) in
  its own uvicorn process on its own copy of the data; wrk drives both from its own
  process at 1 and 16 concurrent clients. Tokens come from identity's password grant.
- A second API process: the phone lookup at 16 clients with identity under
  ``uvicorn --workers 2`` (one socket, two processes), against one process.
- Outbox relay against bare aiokafka producers (same records, same batching): record by
  record (`send`, the goal's anchor) and a batch per partition (`send_batch`, the relay's API).
- Publish → timeline: tickets' relay and identity's consumer in their own processes
  (``python -m sila_tickets relay``, ``python -m sila_identity consume``), events committed
  to tickets' outbox at a fixed rate by this process.
- SMS path: notify's production roles in their own processes (api for the delivery
  reports, relay with the dispatcher, consume), the SMS centre simulator in its own; a
  burst of one-time-code events on the broker; against the simulator's own ceiling (wrk
  sending straight to it).

``SILA_BENCH_QUICK=1``: 20,000 customers, 4 s per measure (a run of a few minutes);
otherwise 200,000 customers (``SILA_BENCH_FAST_CUSTOMERS``) and 15 s per measure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import statistics
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx

from benchmarks import identity as identity_bench
from benchmarks.harness import BenchEnv, Row, median, percentile
from benchmarks.served import (
    BENCH_OTP_TRANSPORT_KEY,
    LoadResult,
    Request,
    Served,
    cpu_seconds,
    load,
    pid_cpu_seconds,
    profile_pid,
    serve_bare,
    serve_factory,
    serve_service,
    serve_worker,
)
from sila_common.otp_transport import TransportKey
from sila_identity.auth.passwords import hash_password

ROUNDS = 3
WILAYAS = ["16", "31", "06", "09", "19", "25", "15"]
SUBJECTS = {
    "technical": ("no_connection", "Pas de connexion ADSL"),
    "administrative": (None, "Contestation de facture"),
    "commercial": (None, "Changement d'offre"),
}


@dataclass(frozen=True)
class Sizes:
    customers: int
    seconds: float
    warm_seconds: float
    known_customers: int


def sizes(env: BenchEnv) -> Sizes:
    if env.quick:
        return Sizes(customers=20_000, seconds=6, warm_seconds=1, known_customers=2_000)
    customers = int(os.environ.get("SILA_BENCH_FAST_CUSTOMERS", "200000"))
    return Sizes(customers=customers, seconds=15, warm_seconds=3, known_customers=20_000)


def dsn_of(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def seed_identity(url: str, count: int) -> tuple[list[tuple[str, str, str]], str]:
    """Customers and contracts (COPY), a 50,000-entry timeline, the bench agent; returns the
    sample of (id, phone, contract) and the big-timeline customer's id."""
    conn = await asyncpg.connect(dsn_of(url))
    try:
        _, sample = await identity_bench._seed(conn, count)
        hot, _ = await identity_bench._seed_timeline(conn)
        await conn.execute("ANALYZE")
        await seed_bench_agent(conn)
    finally:
        await conn.close()
    return sample, hot


async def seed_bench_agent(conn: asyncpg.Connection) -> None:
    """The agent whose token every request carries (all roles, every wilaya)."""
    await conn.execute(
        "INSERT INTO agents (id, username, display_name, password_hash, roles, wilayas, "
        "agency, disabled, created_at) VALUES ($1, 'bench', 'Bench', $2, $3, $4, NULL, "
        "false, now())",
        str(uuid.uuid4()),
        hash_password(identity_bench.PASSWORD),
        json.dumps(["agent", "supervisor", "admin"]),
        json.dumps(["*"]),
    )


async def seed_tickets(url: str, customers: list[str]) -> None:
    """Directory entries spread over a few wilayas and five agents per queue."""
    conn = await asyncpg.connect(dsn_of(url))
    try:
        now = datetime.now(UTC)
        await conn.copy_records_to_table(
            "known_customers",
            records=[
                (cid, WILAYAS[n % len(WILAYAS)], "fr", "active", now, "Client Bench")
                for n, cid in enumerate(customers)
            ],
            columns=[
                "customer_id",
                "wilaya_code",
                "language",
                "status",
                "updated_at",
                "display_name",
            ],
        )
        await conn.executemany(
            "INSERT INTO queue_agents (queue, wilaya_code, agent_id, last_assigned_at, "
            "added_by, added_at) VALUES ($1, '*', $2, NULL, 'bench', $3)",
            [
                (queue, str(uuid.uuid4()), now)
                for queue in ("technical", "billing", "commercial")
                for _ in range(5)
            ],
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def agent_token(identity: Served) -> str:
    async with httpx.AsyncClient(base_url=identity.url) as client:
        answer = await client.post(
            "/v1/oauth/token",
            data={
                "grant_type": "password",
                "username": "bench",
                "password": identity_bench.PASSWORD,
            },
        )
        answer.raise_for_status()
        return str(answer.json()["access_token"])


def ticket_bodies(customers: list[str], count: int) -> list[Request]:
    rng = random.Random(5)  # noqa: S311 - reproducible load, not secrets
    categories = ["technical"] * 6 + ["administrative"] * 3 + ["commercial"]
    out = []
    for _ in range(count):
        category = rng.choice(categories)
        subcategory, subject = SUBJECTS[category]
        body: dict[str, Any] = {
            "customer_id": rng.choice(customers),
            "category": category,
            "channel": "call_centre",
            "subject": subject,
        }
        if subcategory:
            body["subcategory"] = subcategory
        if category == "technical":
            body["service"] = "adsl"
        out.append(Request("POST", "/v1/tickets", json.dumps(body)))
    return out


def rows_for(
    label: str,
    clients: int,
    sila: LoadResult,
    bare: LoadResult,
    *,
    goal_p99: str = "",
    goal_rate: str = "",
    note: str = "",
) -> list[Row]:
    conditions = f"wrk, {clients} client{'s' if clients > 1 else ''}, {note}".rstrip(", ")
    errors = f"; errors {sila.errors} / {bare.errors}" if sila.errors or bare.errors else ""
    cpu = []
    if sila.cpu_seconds and bare.cpu_seconds:
        # The server process's CPU time per request: what the shared machine's load moves
        # least (the rates move with it).
        cpu.append(
            Row(
                f"{label} CPU per request @{clients}",
                sila.cpu_ms_per_request,
                "ms",
                conditions + "; the API process's user + system time",
                bare.cpu_ms_per_request,
            )
        )
    return [
        *cpu,
        Row(f"{label} p50 @{clients}", sila.p50_ms, "ms", conditions, bare.p50_ms),
        Row(f"{label} p99 @{clients}", sila.p99_ms, "ms", conditions, bare.p99_ms, goal_p99),
        Row(
            f"{label} throughput @{clients}",
            sila.rate,
            "req/s",
            conditions + errors,
            bare.rate,
            goal_rate,
        ),
    ]


async def measure_pair(
    sila_url: str,
    bare_url: str,
    sila_requests: list[Request],
    bare_requests: list[Request],
    clients: int,
    size: Sizes,
    *,
    headers: dict[str, str],
    idempotent: bool = False,
    profile: tuple[Served, str] | None = None,
    cpu_of: tuple[Served, Served] | None = None,
) -> tuple[LoadResult, LoadResult]:
    """Warm both, then Sila and the bare app in alternating slices (ROUNDS each) at the same
    concurrency, so drifting load on a shared machine falls on both alike. Rates are over
    all slices; percentiles the median of the slices'. With ``cpu_of`` (Sila's process, the
    anchor's), the CPU time each process spent in its slices is kept too."""
    for url, reqs, hdrs in ((sila_url, sila_requests, headers), (bare_url, bare_requests, {})):
        await load(
            url,
            reqs,
            connections=clients,
            seconds=size.warm_seconds,
            headers=hdrs,
            idempotent=idempotent,
        )
    slice_seconds = max(1.0, size.seconds / ROUNDS)
    sila: list[LoadResult] = []
    bare: list[LoadResult] = []
    for round_ in range(ROUNDS):
        before = cpu_seconds(cpu_of[0]) if cpu_of else 0.0
        sila.append(
            await load(
                sila_url,
                sila_requests,
                connections=clients,
                seconds=slice_seconds,
                headers=headers,
                idempotent=idempotent,
                profile=(profile[0], f"{profile[1]}-{clients}") if profile and not round_ else None,
            )
        )
        if cpu_of:
            sila[-1] = replace(sila[-1], cpu_seconds=cpu_seconds(cpu_of[0]) - before)
            before = cpu_seconds(cpu_of[1])
        # The anchor gets an Idempotency-Key too: it looks up and stores the answer as Sila does.
        bare.append(
            await load(
                bare_url,
                bare_requests,
                connections=clients,
                seconds=slice_seconds,
                idempotent=idempotent,
            )
        )
        if cpu_of:
            bare[-1] = replace(bare[-1], cpu_seconds=cpu_seconds(cpu_of[1]) - before)
    return combined(sila), combined(bare)


def combined(results: list[LoadResult]) -> LoadResult:
    return LoadResult(
        requests=sum(r.requests for r in results),
        seconds=sum(r.seconds for r in results),
        p50_ms=statistics.median(r.p50_ms for r in results),
        p99_ms=statistics.median(r.p99_ms for r in results),
        errors=sum(r.errors for r in results),
        cpu_seconds=sum(r.cpu_seconds for r in results),
    )


async def ticket_paths(env: BenchEnv) -> list[Row]:
    """Ticket creation alone (``SILA_BENCH_FAST_PARTS=tickets``): the same measure as in
    ``http``, without the identity reads and the second process."""
    return await http_paths(env, tickets_only=True)


async def http_paths(
    env: BenchEnv, *, tickets_only: bool = False, reads_only: bool = False
) -> list[Row]:
    """Identity's reads, ticket creation and a second identity API process; ``tickets_only``
    (the ``tickets`` part) or ``reads_only`` (the ``reads`` part: identity's lookup and
    timeline page alone) keep one side."""
    size = sizes(env)
    identity_url = await env.database("identity")
    tickets_url, bare_tickets_url = await env.database("tickets"), await env.database("tickets")
    if tickets_only:
        conn = await asyncpg.connect(dsn_of(identity_url))
        try:
            await seed_bench_agent(conn)
        finally:
            await conn.close()
        sample: list[tuple[str, str, str]] = []
        hot = ""
    else:
        sample, hot = await seed_identity(identity_url, size.customers)
    known = [str(uuid.uuid4()) for _ in range(size.known_customers)]
    await seed_tickets(tickets_url, known)
    await seed_tickets(bare_tickets_url, known)

    phones = [Request("GET", f"/v1/customers?phone=0{phone[4:]}") for _, phone, _ in sample]
    timeline = [Request("GET", f"/v1/customers/{hot}/timeline?limit=50")]
    tickets = ticket_bodies(known, 2_000)
    rows: list[Row] = []
    identity_extra = {"SILA_IDENTITY_AGENT_ACCESS_TOKEN_TTL_SECONDS": "3600"}
    bare_env = {
        "SILA_BARE_IDENTITY_DSN": dsn_of(identity_url),
        "SILA_BARE_TICKETS_DSN": dsn_of(bare_tickets_url),
    }
    async with (
        serve_service(env, "identity", database_url=identity_url, extra=identity_extra) as ident,
        serve_bare(bare_env) as bare,
    ):
        token = await agent_token(ident)
        auth = {"Authorization": f"Bearer {token}"}
        async with serve_service(
            env,
            "tickets",
            database_url=tickets_url,
            extra={"SILA_JWKS_URL": f"{ident.url}/.well-known/jwks.json"},
        ) as tick:
            note = f"{size.customers:,} customers"
            for clients in () if tickets_only else (1, 16):
                sila, anchor = await measure_pair(
                    ident.url,
                    bare.url,
                    phones,
                    phones,
                    clients,
                    size,
                    headers=auth,
                    profile=(ident, "lookup"),
                    cpu_of=(ident, bare),
                )
                rows += rows_for(
                    "lookup by phone",
                    clients,
                    sila,
                    anchor,
                    goal_p99="< 5 ms" if clients == 1 else "",
                    goal_rate="ratio ≥ 0.5" if clients == 16 else "",
                    note=note,
                )
            for clients in () if tickets_only else (1, 16):
                sila, anchor = await measure_pair(
                    ident.url,
                    bare.url,
                    timeline,
                    timeline,
                    clients,
                    size,
                    headers=auth,
                    profile=(ident, "timeline"),
                    cpu_of=(ident, bare),
                )
                rows += rows_for(
                    "timeline first page",
                    clients,
                    sila,
                    anchor,
                    goal_p99="< 20 ms" if clients == 16 else "",
                    note="50,000-entry customer, 50 a page",
                )
            for clients in () if reads_only else (1, 16):
                sila, anchor = await measure_pair(
                    tick.url,
                    bare.url,
                    tickets,
                    tickets,
                    clients,
                    size,
                    headers={**auth, "Content-Type": "application/json"},
                    idempotent=True,
                    profile=(tick, "tickets"),
                    cpu_of=(tick, bare),
                )
                rows += rows_for(
                    "ticket creation",
                    clients,
                    sila,
                    anchor,
                    goal_rate="ratio ≥ 0.5",
                    note="auto-assignment on, Idempotency-Key on each",
                )
    if tickets_only or reads_only:
        return rows
    # What a second API process adds on this machine: one against two, same load.
    results: dict[int, LoadResult] = {}
    for processes in (1, 2):
        async with serve_service(
            env, "identity", database_url=identity_url, extra=identity_extra, processes=processes
        ) as ident:
            await load(ident.url, phones, connections=16, seconds=size.warm_seconds, headers=auth)
            results[processes] = await load(
                ident.url, phones, connections=16, seconds=size.seconds, headers=auth
            )
    rows.append(
        Row(
            "lookup by phone throughput @16, two API processes",
            results[2].rate,
            "req/s",
            f"uvicorn --workers 2 on {os.cpu_count()} cores; anchor: one process, same run",
            results[1].rate,
        )
    )
    rows.append(
        Row(
            "lookup by phone p99 @16, two API processes",
            results[2].p99_ms,
            "ms",
            "anchor: one process",
            results[1].p99_ms,
        )
    )
    return rows


async def relay_against_producer(env: BenchEnv) -> list[Row]:
    from benchmarks.platform import relay_throughput

    relay, send, send_batch, *_ = await relay_throughput(env)
    return [
        Row(relay.name, relay.value, relay.unit, relay.note, send.value, "ratio ≥ 0.6"),
        Row(
            "relay throughput (vs send_batch)",
            relay.value,
            relay.unit,
            "the bare producer on the relay's own API",
            send_batch.value,
        ),
    ]


async def wait_for(check: Any, deadline_seconds: float, what: str, every: float = 0.1) -> None:
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(every)
    raise RuntimeError(f"{what}: not within {deadline_seconds} s")


async def start_reading(env: BenchEnv, topic: str) -> Any:
    """A consumer of every partition of ``topic`` from its end now (no group)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=env.platform.kafka_bootstrap, enable_auto_commit=False
    )
    await consumer.start()
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    for tp in partitions:
        await consumer.position(tp)  # resolved now, before the load
    return consumer


async def sent_times(reader: Any, event_ids: set[str]) -> dict[str, datetime]:
    """When the relay sent each event: its record's timestamp (the producer's create time)."""
    found: dict[str, datetime] = {}
    deadline = time.monotonic() + 60
    try:
        while len(found) < len(event_ids) and time.monotonic() < deadline:
            for records in (await reader.getmany(timeout_ms=500, max_records=5_000)).values():
                for record in records:
                    event_id = json.loads(record.value)["id"]
                    if event_id in event_ids:
                        found.setdefault(
                            event_id, datetime.fromtimestamp(record.timestamp / 1000, UTC)
                        )
    finally:
        await reader.stop()
    return found


async def publish_to_timeline(env: BenchEnv) -> list[Row]:
    """Tickets' relay and identity's timeline consumer in their own processes; this process
    commits TicketOpened events to tickets' outbox at a fixed rate (open loop) and measures
    from each commit to the moment its timeline row was recorded."""
    from benchmarks.platform import _opened
    from sila_common.outbox import NewEvent, Outbox, row_for
    from sila_tickets.events import TICKET_OPENED
    from sila_tickets.tables import messaging as tickets_messaging

    rate, seconds = (500, 5) if env.quick else (500, 15)
    tickets_url, identity_url = await env.database("tickets"), await env.database("identity")
    identity = await asyncpg.connect(dsn_of(identity_url))
    # The load: outbox rows as tickets writes them, each committed on its own by asyncpg
    # (so this process keeps the rate; the rows are built by the platform's own code).
    writer = await asyncpg.create_pool(dsn_of(tickets_url), min_size=4, max_size=8)
    outbox = Outbox(tickets_messaging.outbox)
    committed: dict[str, datetime] = {}

    async def commit(customer: str, n: int) -> None:
        event = outbox.envelope(NewEvent(TICKET_OPENED, f"t{n}", customer, _opened(customer, n)))
        row = row_for(event, TICKET_OPENED.topic)
        await writer.execute(
            "INSERT INTO outbox (event_id, topic, message_key, event_type, shard, envelope, "
            "created_at) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)",
            row["event_id"],
            row["topic"],
            row["message_key"],
            row["event_type"],
            row["shard"],
            json.dumps(row["envelope"]),
            row["created_at"],
        )
        committed[event.id] = datetime.now(UTC)

    async def count_on(customers: list[str]) -> int:
        return int(
            await identity.fetchval(
                "SELECT count(*) FROM timeline_entries WHERE customer_id = ANY($1)", customers
            )
        )

    try:
        async with (
            serve_worker(env, "tickets", "relay", database_url=tickets_url),
            serve_worker(env, "identity", "consume", database_url=identity_url),
        ):
            warm = ["bench-warmup"]
            await commit(warm[0], 0)

            async def warmed() -> bool:
                return await count_on(warm) > 0

            await wait_for(warmed, 120, "the warm-up event on the timeline")
            committed.clear()
            reader = await start_reading(env, TICKET_OPENED.topic)
            customers = [f"bench-{uuid.uuid4().hex[:8]}" for _ in range(200)]
            total = rate * seconds
            tasks = []
            started = time.perf_counter()
            for n in range(total):
                tasks.append(asyncio.create_task(commit(customers[n % len(customers)], n)))
                delay = started + (n + 1) / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            await asyncio.gather(*tasks)
            achieved = total / (time.perf_counter() - started)

            async def delivered() -> bool:
                return await count_on(customers) >= total

            await wait_for(delivered, 120, "every event on the timeline")
            found = await identity.fetch(
                "SELECT event_id, recorded_at FROM timeline_entries WHERE customer_id = ANY($1)",
                customers,
            )
            published = await sent_times(reader, set(committed))
    finally:
        await identity.close()
        await writer.close()
    latencies = [
        (row["recorded_at"] - committed[row["event_id"]]).total_seconds() * 1000 for row in found
    ]
    relayed = [
        (published[eid] - at).total_seconds() * 1000
        for eid, at in committed.items()
        if published.get(eid)
    ]
    consumed = [
        (row["recorded_at"] - published[row["event_id"]]).total_seconds() * 1000
        for row in found
        if published.get(row["event_id"])
    ]
    note = (
        f"{rate} events/s asked ({achieved:.0f} achieved) for {seconds} s; relay and consumer "
        f"in their own processes; {len(found)}/{total} delivered"
    )
    return [
        Row("publish→timeline p50", median(latencies), "ms", note),
        Row(
            "publish→timeline p99", percentile(latencies, 99), "ms", note, None, "< 100 ms at 500/s"
        ),
        Row(
            "commit→sent p50 / p99 (relay; the record's create time)",
            median(relayed),
            "ms",
            f"p99 {percentile(relayed, 99):.0f} ms",
        ),
        Row(
            "sent→timeline p50 / p99 (broker and consumer)",
            median(consumed),
            "ms",
            f"p99 {percentile(consumed, 99):.0f} ms",
        ),
    ]


def sms_dispatchers() -> int:
    """``SILA_BENCH_SMS_DISPATCHERS``: how many notify relay processes (each runs the
    dispatcher; they share the messages by SKIP LOCKED)."""
    return max(1, int(os.environ.get("SILA_BENCH_SMS_DISPATCHERS", "1")))


async def sms_path(env: BenchEnv) -> list[Row]:
    """Notify's production roles in their own processes and the SMS centre simulator in its
    own; a burst of one-time-code events on the broker, timed from the first publish to the
    last message recorded sent. The anchor: the simulator's own ceiling, wrk sending to it
    directly at 16 clients (no delivery reports asked). Also the CPU each process spent per
    message, from the first publish until every delivery report is recorded."""
    from aiokafka import AIOKafkaProducer

    from benchmarks.notify import OTP, _otp_event, _skip_to_end_of_topics
    from sila_common.events import topic_for
    from sila_local.processes import free_port

    count = 2_000 if env.quick else 10_000
    dispatchers = sms_dispatchers()
    url = await env.database("notify")
    db = await asyncpg.connect(dsn_of(url))
    size = sizes(env)
    cpu: dict[str, float] = {}
    try:
        async with serve_factory("benchmarks.apps:smsc_app") as smsc:
            ceiling = await load(
                smsc.url,
                [
                    Request(
                        "GET",
                        f"/cgi-bin/sendsms?username=sila&password=sila&from=Idoom"
                        f"&to=%2B21366{n:07d}&text=Votre+code+{n:06d}",
                    )
                    for n in range(1, 1000)
                ],
                connections=16,
                seconds=size.seconds,
            )
            await _skip_to_end_of_topics(env)
            port = free_port()
            extra = {
                "SILA_NOTIFY_SMS_URL": f"{smsc.url}/cgi-bin/sendsms",
                "SILA_NOTIFY_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
                "SILA_NOTIFY_QUIET_HOURS_START": "00:00",
                "SILA_NOTIFY_QUIET_HOURS_END": "00:00",
            }
            async with contextlib.AsyncExitStack() as stack:
                api = await stack.enter_async_context(
                    serve_service(env, "notify", database_url=url, extra=extra, port=port)
                )
                relays = [
                    await stack.enter_async_context(
                        serve_worker(env, "notify", "relay", database_url=url, extra=extra)
                    )
                    for _ in range(dispatchers)
                ]
                consume = await stack.enter_async_context(
                    serve_worker(env, "notify", "consume", database_url=url, extra=extra)
                )
                producer = AIOKafkaProducer(
                    bootstrap_servers=env.platform.kafka_bootstrap, acks="all", linger_ms=5
                )
                await producer.start()

                async def counted(column: str) -> int:
                    return int(
                        await db.fetchval(
                            f"SELECT count(*) FROM messages WHERE event_type = $1 "  # noqa: S608
                            f"AND {column} IS NOT NULL",
                            OTP,
                        )
                    )

                async def notify_backends() -> list[int]:
                    pids = await db.fetchval(
                        "SELECT array_agg(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                    return list(pids or [])

                try:
                    key = TransportKey.from_secret(BENCH_OTP_TRANSPORT_KEY)
                    warm = _otp_event(0, key)
                    await producer.send_and_wait(
                        topic_for("identity"), warm.to_bytes(), key=warm.customerid.encode()
                    )

                    async def warmed() -> bool:
                        return await counted("delivered_at") >= 1

                    await wait_for(warmed, 120, "the warm-up code sent and delivered")
                    events = [_otp_event(n, key) for n in range(1, count + 1)]
                    processes: dict[str, list[int]] = {
                        "dispatcher": [r.process.pid for r in relays if r.process is not None],
                        "api": [c.process.pid for c in api.children if c.process is not None],
                        "consume": [consume.process.pid] if consume.process is not None else [],
                        "simulator": [
                            c.process.pid for c in smsc.children if c.process is not None
                        ],
                        "postgresql": await notify_backends(),
                    }
                    before = {
                        pid: pid_cpu_seconds(pid) for pids in processes.values() for pid in pids
                    }
                    spies = [
                        profile_pid(child.process.pid, f"sms-{child.name}-{n}", 8)
                        for n, child in enumerate([*relays, consume])
                        if child.process is not None
                    ] + [
                        profile_pid(child.process.pid, f"sms-{label}", 8)
                        for label, served in (("api", api), ("smsc", smsc))
                        for child in served.children[:1]
                        if child.process is not None
                    ]
                    first = datetime.now(UTC)
                    for start in range(0, count, 500):
                        await asyncio.gather(
                            *[
                                await producer.send(
                                    topic_for("identity"), e.to_bytes(), key=e.customerid.encode()
                                )
                                for e in events[start : start + 500]
                            ]
                        )

                    async def all_sent() -> bool:
                        return await counted("sent_at") >= count + 1

                    async def all_delivered() -> bool:
                        return await counted("delivered_at") >= count + 1

                    # Looked at twice a second: each look counts the messages (8 ms of
                    # PostgreSQL on the cores measured), and the rate is read from the
                    # messages' own times, not from when the look saw them.
                    await wait_for(all_sent, 120 + count / 20, "every code sent", every=0.5)
                    await wait_for(all_delivered, 60, "every delivery report recorded", every=0.5)
                    # Backends opened during the burst (a pool growing) count from zero.
                    processes["postgresql"] = sorted(
                        set(processes["postgresql"]) | set(await notify_backends())
                    )
                    for label, pids in processes.items():
                        cpu[label] = sum(
                            pid_cpu_seconds(pid) - before.get(pid, 0.0) for pid in pids
                        )
                    await asyncio.gather(*(spy for spy in spies if spy is not None))
                finally:
                    await producer.stop()
                last = await db.fetchval(
                    "SELECT max(sent_at) FROM messages WHERE event_type = $1", OTP
                )
    finally:
        await db.close()
    rate = count / (last - first).total_seconds()
    per_message = {label: 1000 * seconds / count for label, seconds in cpu.items()}
    return [
        Row(
            "SMS path throughput",
            rate,
            "msgs/s",
            f"{count:,} OTP events in one burst; notify api + {dispatchers} relay/dispatcher + "
            "consume processes; anchor: the simulator alone under wrk, 16 clients",
            ceiling.rate,
            "≥ 1,000 msgs/s",
        ),
        Row(
            "SMS path CPU per message, all processes",
            sum(per_message.values()),
            "ms",
            "; ".join(f"{label} {ms:.2f}" for label, ms in per_message.items())
            + " (first publish → last delivery report recorded; postgresql: notify's backends)",
        ),
    ]


async def identity_reads(env: BenchEnv) -> list[Row]:
    """Identity's lookup by phone and timeline first page alone (``SILA_BENCH_FAST_PARTS=
    reads``): a quarter of the ``http`` part's time, for work on those two paths."""
    return await http_paths(env, reads_only=True)


PARTS = {
    "http": http_paths,
    "tickets": ticket_paths,
    "reads": identity_reads,
    "relay": relay_against_producer,
    "timeline": publish_to_timeline,
    "sms": sms_path,
}


async def run(env: BenchEnv) -> list[Row]:
    """Every part, or those named in SILA_BENCH_FAST_PARTS (comma-separated)."""
    chosen = os.environ.get("SILA_BENCH_FAST_PARTS", "") or ",".join(PARTS)
    rows: list[Row] = []
    for name in chosen.split(","):
        rows += await PARTS[name.strip()](env)
    return rows
