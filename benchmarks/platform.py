"""Platform figures: publish-to-timeline latency, relay throughput against a bare producer,
timeline read latency for a small and a very large customer history."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from benchmarks.harness import BenchEnv, Row, median, percentile
from sila_common.db import make_engine, make_session_factory
from sila_common.events import CloudEvent
from sila_common.outbox import Outbox
from sila_common.relay import RELAY_BATCH_BYTES
from sila_common.runtime import make_consumers, open_runtime
from sila_identity.service import definition as identity_definition
from sila_identity.settings import IdentitySettings
from sila_identity.tables import timeline_entries
from sila_tickets.events import TICKET_OPENED, TicketOpened
from sila_tickets.settings import TicketsSettings
from sila_tickets.tables import messaging as tickets_messaging


async def _record_opened(
    outbox: Outbox, session: AsyncSession, customer: str, n: int
) -> CloudEvent:
    """Ticket n's "opened" event in the outbox, as tickets records it."""
    return await outbox.record(
        session, TICKET_OPENED, subject=f"t{n}", customer_id=customer, data=_opened(customer, n)
    )


def _opened(customer: str, n: int) -> TicketOpened:
    return TicketOpened(
        ticket_id=str(uuid.uuid4()),
        number=f"TT-2026-{n:06d}",
        customer_id=customer,
        category="technical",
        subcategory="slow_line",
        priority="normal",
        channel="app",
        subject="Débit faible",
        queue="technical",
        status="acknowledged",
        due_at=datetime.now(UTC),
        first_response_due_at=None,
    )


async def publish_to_timeline(env: BenchEnv) -> list[Row]:
    """Events written at a steady rate; time from the outbox commit to the timeline row."""
    rate, seconds = (100, 5) if env.quick else (200, 15)
    tickets_url, identity_url = await env.database("tickets"), await env.database("identity")
    tickets_engine = make_engine(tickets_url)
    stop = asyncio.Event()
    async with open_runtime(
        identity_definition,
        platform=env.platform,
        settings=IdentitySettings(database_url=identity_url),
    ) as identity:
        relay = make_relay_for_tickets(env, tickets_url)
        tasks = [asyncio.create_task(relay.run(stop))]
        tasks += [asyncio.create_task(c.run(stop)) for c in make_consumers(identity)]
        factory = make_session_factory(tickets_engine)
        outbox = Outbox(tickets_messaging.outbox)
        customers = [f"bench-{uuid.uuid4().hex[:8]}" for _ in range(100)]
        committed: dict[str, datetime] = {}
        # Warm up: the steady state starts once the consumer holds its partitions.
        warm = "bench-warmup"
        async with factory() as session, session.begin():
            await outbox.record(
                session, TICKET_OPENED, subject="warm", customer_id=warm, data=_opened(warm, 0)
            )
        warm_deadline = time.monotonic() + 60
        while time.monotonic() < warm_deadline:
            async with identity.engine.connect() as conn:
                if await conn.scalar(
                    select(func.count()).where(timeline_entries.c.customer_id == warm)
                ):
                    break
            await asyncio.sleep(0.1)
        interval = 1 / rate
        started = time.perf_counter()
        for n in range(rate * seconds):
            customer = customers[n % len(customers)]
            async with factory() as session, session.begin():
                event = await _record_opened(outbox, session, customer, n)
            committed[event.id] = datetime.now(UTC)
            delay = started + (n + 1) * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        deadline = time.monotonic() + 60
        rows: list[tuple[str, datetime]] = []
        while time.monotonic() < deadline:
            async with identity.engine.connect() as conn:
                rows = [
                    (r.event_id, r.recorded_at)
                    for r in await conn.execute(
                        select(timeline_entries.c.event_id, timeline_entries.c.recorded_at).where(
                            timeline_entries.c.customer_id.in_(customers)
                        )
                    )
                ]
            if len(rows) >= len(committed):
                break
            await asyncio.sleep(0.2)
        stop.set()
        await asyncio.gather(*tasks)
    await tickets_engine.dispose()
    latencies = [(recorded - committed[eid]).total_seconds() * 1000 for eid, recorded in rows]
    note = f"{rate} events/s for {seconds} s, relay + consumer in one process"
    return [
        Row("publish→timeline p50", median(latencies), "ms", note),
        Row("publish→timeline p99", percentile(latencies, 99), "ms", note),
        Row("publish→timeline delivered", len(rows) / len(committed) * 100, "%", note),
    ]


def make_relay_for_tickets(env: BenchEnv, url: str):  # type: ignore[no-untyped-def]
    from sila_common.relay import OutboxRelay

    return OutboxRelay(
        engine=make_engine(url),
        tables=tickets_messaging,
        platform=env.platform,
        settings=TicketsSettings(
            database_url=url,
            relay_batch_size=int(os.environ.get("SILA_BENCH_RELAY_BATCH", "500")),
            relay_lanes=int(os.environ.get("SILA_BENCH_RELAY_LANES", "4")),
        ),
    )


RELAY_ROUNDS = 3


async def relay_throughput(env: BenchEnv) -> list[Row]:
    """Drain N pre-written outbox rows, against two bare aiokafka producers sending the same
    N records: record by record (``send``, a future each: the plain way) and in a producer
    batch per partition (``send_batch``: what the relay does since the seventh pass).
    ``RELAY_ROUNDS`` alternating rounds, so drift on the machine falls on all three; each
    figure is the median round."""
    count = 5_000 if env.quick else 20_000
    url = await env.database("tickets")
    engine = make_engine(url)
    outbox = Outbox(tickets_messaging.outbox)
    factory = make_session_factory(engine)
    sample = b""

    async def write_outbox() -> None:
        nonlocal sample
        for start in range(0, count, 1000):
            async with factory() as session, session.begin():
                for n in range(start, start + 1000):
                    event = await _record_opened(outbox, session, f"c{n % 500}", n)
                    sample = event.to_bytes()
        # A service's outbox has statistics (autovacuum analyses it); a table filled a
        # second ago has none, and PostgreSQL then plans the claim as if a handful of rows
        # were pending (sorting all of them for each batch).
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE outbox, outbox_pending"))

    async def relay_rate() -> float:
        await write_outbox()
        relay = make_relay_for_tickets(env, url)
        await relay.start()
        await relay.hold_shards()
        started = time.perf_counter()
        while await relay.publish_pending():
            pass
        seconds = time.perf_counter() - started
        await relay.stop()
        await relay.engine.dispose()
        async with engine.connect() as conn:
            left = await conn.scalar(select(func.count()).select_from(tickets_messaging.pending))
        assert left == 0
        return count / seconds

    rates: dict[str, list[float]] = {"relay": [], "send": [], "send_batch": []}
    for _ in range(RELAY_ROUNDS):
        rates["relay"].append(await relay_rate())
        rates["send"].append(await _bare_producer_rate(env, count, sample, batched=False))
        rates["send_batch"].append(await _bare_producer_rate(env, count, sample, batched=True))
    await engine.dispose()
    relay, send, send_batch = (median(rates[name]) for name in ("relay", "send", "send_batch"))
    spread = ", ".join(f"{name} {min(v):,.0f}–{max(v):,.0f}" for name, v in rates.items())
    note = f"{count} events of {len(sample)} bytes, batches of 500, acks=all; {spread}"
    return [
        Row("relay throughput", relay, "events/s", note),
        Row("bare aiokafka producer, send", send, "records/s", "same records, same batching"),
        Row("bare aiokafka producer, send_batch", send_batch, "records/s", "a batch a partition"),
        Row("relay / bare producer (send)", relay / send, "ratio", "includes PostgreSQL work"),
        Row("relay / bare producer (send_batch)", relay / send_batch, "ratio", "the same API"),
    ]


async def _bare_producer_rate(env: BenchEnv, count: int, sample: bytes, *, batched: bool) -> float:
    """Records a second from a bare producer configured as the relay's (acks=all, no
    linger), in batches of 500 awaited as the relay awaits its. Batched, its batches are
    as large as the relay's (``RELAY_BATCH_BYTES``); record by record, aiokafka's default
    16 KiB (the per-record path's fastest: 65,700–70,700 records/s with 1 MiB against
    78,800–84,100, docs/benchmarks.md "Seventh pass")."""
    producer = AIOKafkaProducer(
        bootstrap_servers=env.platform.kafka_bootstrap,
        acks="all",
        linger_ms=0,
        max_batch_size=RELAY_BATCH_BYTES if batched else 16_384,
    )
    await producer.start()
    topic = f"bench.bare.{uuid.uuid4().hex[:6]}"
    await producer.send_and_wait(topic, sample, key=b"c0")  # the topic exists before timing
    partitions = sorted(await producer.partitions_for(topic))
    choose = DefaultPartitioner()
    started = time.perf_counter()
    for start in range(0, count, 500):
        keys = [f"c{n % 500}".encode() for n in range(start, start + 500)]
        if not batched:
            await asyncio.gather(*[await producer.send(topic, sample, key=key) for key in keys])
            continue
        builders: dict[int, Any] = {}
        deliveries = []
        for key in keys:
            partition = choose(key, partitions, partitions)
            builder = builders.setdefault(partition, producer.create_batch())
            if builder.append(timestamp=None, key=key, value=sample) is None:
                deliveries.append(await producer.send_batch(builder, topic, partition=partition))
                builder = builders[partition] = producer.create_batch()
                builder.append(timestamp=None, key=key, value=sample)
        for partition, builder in builders.items():
            deliveries.append(await producer.send_batch(builder, topic, partition=partition))
        await asyncio.gather(*deliveries)
    seconds = time.perf_counter() - started
    await producer.stop()
    return count / seconds


async def timeline_reads(env: BenchEnv) -> list[Row]:
    """First pages and deep pages for a 5-entry and a 50,000-entry customer, through the API."""
    big_size = 10_000 if env.quick else 50_000
    url = await env.database("identity")
    from benchmarks.identity import _agent_token
    from sila_common.app import create_app

    settings = IdentitySettings(database_url=url)
    app = create_app(identity_definition, platform=env.platform, settings=settings)
    rows: list[Row] = []
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        small, big = str(uuid.uuid4()), str(uuid.uuid4())
        now = datetime.now(UTC)
        from sila_identity.tables import customers

        async with runtime.engine.begin() as conn:
            for cid, phone in ((small, "+213661000001"), (big, "+213661000002")):
                await conn.execute(
                    insert(customers).values(
                        id=cid,
                        kind="residential",
                        status="active",
                        first_name="B",
                        last_name="Bench",
                        phone=phone,
                        wilaya_code="16",
                        language="fr",
                        created_at=now,
                        updated_at=now,
                    )
                )
            for cid, size in ((small, 5), (big, big_size)):
                for start in range(0, size, 5000):
                    await conn.execute(
                        insert(timeline_entries),
                        [
                            {
                                "customer_id": cid,
                                "event_id": str(uuid.uuid4()),
                                "occurred_at": now - timedelta(seconds=n),
                                "event_type": "tickets.ticket.opened",
                                "source_service": "tickets",
                                "channel": "app",
                                "subject": f"t{n}",
                                "resource": None,
                                "data": {"number": f"TT-2026-{n:06d}", "subject": "Débit faible"},
                                "recorded_at": now,
                            }
                            for n in range(start, min(size, start + 5000))
                        ],
                    )
            await conn.exec_driver_sql("ANALYZE timeline_entries")
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://identity"
        ) as client:
            headers = {"Authorization": f"Bearer {await _agent_token(app, client)}"}
            for label, cid in (("5 entries", small), (f"{big_size:,} entries", big)):
                first, deep = [], []
                cursor = None
                for _ in range(200):
                    t0 = time.perf_counter()
                    answer = await client.get(
                        f"/v1/customers/{cid}/timeline", params={"limit": 50}, headers=headers
                    )
                    first.append((time.perf_counter() - t0) * 1000)
                    assert answer.status_code == 200
                for _ in range(200):
                    params: dict[str, str | int] = {"limit": 50}
                    if cursor:
                        params["cursor"] = cursor
                    t0 = time.perf_counter()
                    answer = await client.get(
                        f"/v1/customers/{cid}/timeline", params=params, headers=headers
                    )
                    deep.append((time.perf_counter() - t0) * 1000)
                    cursor = answer.json()["next_cursor"]
                rows += [
                    Row(f"timeline first page p50 ({label})", median(first), "ms"),
                    Row(f"timeline first page p99 ({label})", percentile(first, 99), "ms"),
                    Row(
                        f"timeline walking pages p50 ({label})",
                        median(deep),
                        "ms",
                        "200 successive pages by cursor",
                    ),
                    Row(f"timeline walking pages p99 ({label})", percentile(deep, 99), "ms"),
                ]
    return rows


async def run(env: BenchEnv) -> list[Row]:
    return [
        *await publish_to_timeline(env),
        *await relay_throughput(env),
        *await timeline_reads(env),
    ]
