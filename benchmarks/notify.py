"""Notify: messages per second through the SMS path, and a million-customer campaign planned
and sent while one-time codes keep arriving.

Everything runs in this process, as one notify instance would: notify's consumers, relay and
background job (dispatcher, campaign planner) and its HTTP app on a real port for the SMS
centre's delivery reports, plus the Kannel-compatible SMS centre simulator (in-process,
uvicorn on a loopback port). PostgreSQL and the broker are the harness's.

- SMS path: one-time-code events (``identity.otp.requested``) put on the broker in one burst;
  each goes broker → consumer → ``messages`` → OTP lane → ``GET /cgi-bin/sendsms`` →
  recorded ``sent`` (and then ``delivered`` by the report). Sizes: 5,000 (quick 1,000).
- Campaign: recipients with marketing consent for SMS seeded with COPY
  (``SILA_BENCH_NOTIFY_RECIPIENTS``, default 200,000 to stay within ten minutes on two cores,
  with the million extrapolated from the planning rate; quick 50,000), a campaign over all of
  them, planned by the background job while OTP events arrive at 5/s; OTP latency then is
  compared with the same rate on an idle service.

Quiet hours are switched off (a benchmark runs at any hour; otherwise the campaign's slots
would move to 08:00). Each scenario first moves notify's consumer groups to the end of the
topics, so events other benchmark modules left on the shared broker are not replayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from typing import Any

import asyncpg
import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import func, select

from benchmarks.harness import BenchEnv, Row, median, percentile
from sila_common.app import create_app
from sila_common.events import CloudEvent, topic_for
from sila_common.geography import reference as geography
from sila_common.otp_transport import TransportKey
from sila_common.service import Runtime
from sila_local.processes import free_port
from sila_notify.handlers import MESSAGES, WEBHOOKS
from sila_notify.service import definition
from sila_notify.settings import NotifySettings, get_settings
from sila_notify.tables import campaign_sends, messages
from sila_simulators.smsc import SmscSimulatorConfig, create_smsc_app

OTP = "identity.otp.requested"
OTP_RATE_PER_SECOND = 5.0
STARTUP_DEADLINE_SECONDS = 60.0

WILAYAS = sorted(geography().wilayas)


def _phone(n: int) -> str:
    # The simulator fails numbers ending 0000 (for good) and 9999 (at first): avoid both.
    number = f"+21366{n % 10_000_000:07d}"
    return number[:-1] + "1" if number.endswith(("0000", "9999")) else number


# The transport key notify is configured with (SILA_OTP_TRANSPORT_KEY, or the dev default).
_TRANSPORT_KEY = TransportKey.from_secret(get_settings().otp_transport_key.get_secret_value())


def _otp_event(n: int, key: TransportKey | None = None) -> CloudEvent:
    """A one-time-code event as identity publishes it, sealed with ``key`` (default: the
    key this process's notify settings name)."""
    key = key or _TRANSPORT_KEY
    customer_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    return CloudEvent(
        id=str(uuid.uuid4()),
        source="/sila/identity",
        type=OTP,
        time=now,
        subject=customer_id,
        dataschema=f"https://schemas.sila.algerietelecom.dz/events/{OTP}.v1.json",
        customerid=customer_id,
        data={
            "customer_id": customer_id,
            "phone": _phone(n),
            # Sealed for notify as identity seals it (notify opens it when it plans the SMS).
            "sealed_code": key.seal(
                f"{random.randrange(1_000_000):06d}",  # noqa: S311 - not a real code
                customer_id=customer_id,
                phone=_phone(n),
            ),
            "key_id": key.key_id,
            "expires_at": (now + timedelta(minutes=5)).isoformat(),
            "language": ("fr", "ar", "en")[n % 3],
        },
    )


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


# -- running notify ------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _serve(app: Any, port: int) -> AsyncIterator[str]:
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the server stopped before it started")
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            await asyncio.sleep(0.05)
        bound = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{bound}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 60)


async def _skip_to_end_of_topics(env: BenchEnv) -> None:
    """Commit notify's consumer groups at the end of their topics (no replay of old events)."""
    for spec in (MESSAGES, WEBHOOKS):
        consumer = AIOKafkaConsumer(
            *spec.topics,
            bootstrap_servers=env.platform.kafka_bootstrap,
            group_id=spec.name,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            metadata_max_age_ms=1_000,
        )
        await consumer.start()
        try:
            deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
            while not consumer.assignment() and time.monotonic() < deadline:
                await consumer.getmany(timeout_ms=200)
            assigned = consumer.assignment()
            if assigned:
                await consumer.seek_to_end(*assigned)
                await consumer.commit({tp: await consumer.position(tp) for tp in assigned})
        finally:
            await consumer.stop()


@dataclass
class Notify:
    runtime: Runtime[Any]
    producer: AIOKafkaProducer

    async def publish(self, event: CloudEvent) -> None:
        await self.producer.send(
            topic_for("identity"), value=event.to_bytes(), key=event.customerid.encode()
        )

    async def otp_latencies(self, event_times: dict[str, datetime]) -> tuple[list[float], ...]:
        """(event → sent, queued → sent) in ms for the given OTP events that were sent."""
        async with self.runtime.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(messages.c.event_id, messages.c.created_at, messages.c.sent_at).where(
                        messages.c.event_type == OTP, messages.c.sent_at.is_not(None)
                    )
                )
            ).all()
        end_to_end, queued = [], []
        for event_id, created_at, sent_at in rows:
            if event_id in event_times:
                end_to_end.append((sent_at - event_times[event_id]).total_seconds() * 1000)
                queued.append((sent_at - created_at).total_seconds() * 1000)
        return end_to_end, queued

    async def otp_sent_count(self) -> int:
        async with self.runtime.engine.connect() as conn:
            count = await conn.scalar(
                select(func.count()).where(
                    messages.c.event_type == OTP, messages.c.sent_at.is_not(None)
                )
            )
        return int(count or 0)

    async def wait_for_otps(self, count: int, deadline_seconds: float) -> int:
        deadline = time.monotonic() + deadline_seconds
        sent = await self.otp_sent_count()
        while sent < count and time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            sent = await self.otp_sent_count()
        return sent


@contextlib.asynccontextmanager
async def running_notify(env: BenchEnv, database_url: str) -> AsyncIterator[Notify]:
    """Notify with its workers, its HTTP app on a real port, and the SMS centre simulator."""
    await _skip_to_end_of_topics(env)
    smsc = create_smsc_app(SmscSimulatorConfig(dlr_delay_seconds=0.05))
    async with _serve(smsc, 0) as smsc_url:
        port = free_port()
        settings = NotifySettings(
            database_url=database_url,
            sms_url=f"{smsc_url}/cgi-bin/sendsms",
            public_base_url=f"http://127.0.0.1:{port}",
            quiet_hours_start=clock_time(0, 0),
            quiet_hours_end=clock_time(0, 0),
        )
        app = create_app(definition, with_workers=True, platform=env.platform, settings=settings)
        async with _serve(app, port):
            producer = AIOKafkaProducer(
                bootstrap_servers=env.platform.kafka_bootstrap, acks="all", linger_ms=5
            )
            await producer.start()
            try:
                notify = Notify(runtime=app.state.runtime, producer=producer)
                # Steady state starts once the consumer holds its partitions and sends.
                await notify.publish(_otp_event(0))
                await producer.flush()
                if await notify.wait_for_otps(1, STARTUP_DEADLINE_SECONDS) < 1:
                    raise RuntimeError("notify did not send the warm-up code")
                yield notify
            finally:
                await producer.stop()


async def _otps_at_steady_rate(
    notify: Notify, seconds: float, start: int, stop: asyncio.Event | None = None
) -> dict[str, datetime]:
    """OTP events at OTP_RATE_PER_SECOND for ``seconds`` (or until ``stop``); their times."""
    sent: dict[str, datetime] = {}
    interval = 1 / OTP_RATE_PER_SECOND
    began = time.perf_counter()
    n = 0
    while time.perf_counter() - began < seconds and not (stop is not None and stop.is_set()):
        event = _otp_event(start + n)
        await notify.publish(event)
        sent[event.id] = event.time
        n += 1
        delay = began + n * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    await notify.producer.flush()
    return sent


# -- (a) the SMS path ------------------------------------------------------------------------------


async def sms_throughput(env: BenchEnv) -> list[Row]:
    count = 1_000 if env.quick else 5_000
    url = await env.database("notify")
    async with running_notify(env, url) as notify:
        events = [_otp_event(n) for n in range(1, count + 1)]
        started = time.perf_counter()
        first_publish = datetime.now(UTC)
        for start in range(0, count, 500):
            batch = events[start : start + 500]
            await asyncio.gather(
                *[
                    await notify.producer.send(
                        topic_for("identity"), value=e.to_bytes(), key=e.customerid.encode()
                    )
                    for e in batch
                ]
            )
        published_seconds = time.perf_counter() - started
        sent = await notify.wait_for_otps(count + 1, 120 + count / 20)
        end_to_end, queued = await notify.otp_latencies({e.id: e.time for e in events})
        async with notify.runtime.engine.connect() as conn:
            last_sent = await conn.scalar(
                select(func.max(messages.c.sent_at)).where(messages.c.event_type == OTP)
            )
    seconds = (last_sent - first_publish).total_seconds() if last_sent else float("nan")
    note = f"{count:,} OTP events in one burst (published in {published_seconds:.1f} s)"
    return [
        Row("SMS path throughput", len(end_to_end) / seconds, "msgs/s", note),
        Row("SMS path sent", (sent - 1) / count * 100, "%", note),
        Row("SMS event→sent p50", median(end_to_end), "ms", "burst: includes the backlog"),
        Row("SMS event→sent p99", percentile(end_to_end, 99), "ms", "burst: includes the backlog"),
        Row("SMS queued→sent p50", median(queued), "ms", "row created → recorded sent"),
        Row("SMS queued→sent p99", percentile(queued, 99), "ms", "row created → recorded sent"),
    ]


# -- (b) a campaign to a million, with OTP alongside -----------------------------------------------


async def _seed_recipients(database_url: str, count: int) -> float:
    """``count`` active SMS recipients, all with marketing consent for SMS; returns seconds."""
    started = time.perf_counter()
    conn = await asyncpg.connect(_asyncpg_dsn(database_url))
    now = datetime.now(UTC)
    try:
        for start in range(0, count, 100_000):
            ids = [str(uuid.uuid4()) for _ in range(start, min(count, start + 100_000))]
            await conn.copy_records_to_table(
                "recipients",
                records=[
                    (
                        cid,
                        _phone(start + i),
                        None,
                        ("fr", "ar", "en")[i % 3],
                        WILAYAS[i % len(WILAYAS)],
                        "Client Idoom",
                        "active",
                        '["sms", "in_app"]',
                        False,
                        now,
                        now,
                    )
                    for i, cid in enumerate(ids)
                ],
                columns=[
                    "customer_id",
                    "phone",
                    "email",
                    "language",
                    "wilaya_code",
                    "display_name",
                    "status",
                    "channel_order",
                    "erased",
                    "source_time",
                    "updated_at",
                ],
            )
            await conn.copy_records_to_table(
                "consents",
                records=[(cid, "marketing", "sms", True, "bench", now, now) for cid in ids],
                columns=[
                    "customer_id",
                    "purpose",
                    "channel",
                    "granted",
                    "captured_via",
                    "source_time",
                    "updated_at",
                ],
            )
        await conn.execute("ANALYZE recipients")
        await conn.execute("ANALYZE consents")
    finally:
        await conn.close()
    return time.perf_counter() - started


async def _start_campaign(runtime: Runtime[Any], rate_per_second: float) -> str:
    """The row ``POST /v1/campaign-sends`` writes, for every consenting customer."""
    campaign_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    async with runtime.engine.begin() as conn:
        await conn.execute(
            campaign_sends.insert().values(
                id=campaign_id,
                name="Bench: Idoom Fibre",
                event_type="campaign.offer",
                channel="sms",
                segment={},
                variables={"offer": "Idoom Fibre 300 Mb/s a 2 999 DA"},
                state="planning",
                rate_per_second=rate_per_second,
                cursor=None,
                targeted=0,
                skipped=0,
                next_slot=now,
                created_by="agent:bench",
                created_at=now,
                planned_at=None,
            )
        )
    return campaign_id


async def campaign_with_otp(env: BenchEnv) -> list[Row]:
    recipients = (
        50_000 if env.quick else int(os.environ.get("SILA_BENCH_NOTIFY_RECIPIENTS", "200000"))
    )
    rate = float(os.environ.get("SILA_BENCH_NOTIFY_CAMPAIGN_RATE", "1000"))
    idle_seconds, tail_seconds = (10.0, 10.0) if env.quick else (20.0, 30.0)
    url = await env.database("notify")
    seed_seconds = await _seed_recipients(url, recipients)
    async with running_notify(env, url) as notify:
        idle = await _otps_at_steady_rate(notify, idle_seconds, start=1)
        await notify.wait_for_otps(len(idle) + 1, 30)

        stop_otps = asyncio.Event()
        busy_task = asyncio.create_task(
            _otps_at_steady_rate(notify, 3600, start=len(idle) + 1, stop=stop_otps)
        )
        campaign_id = await _start_campaign(notify.runtime, rate)
        started = time.perf_counter()
        state, targeted = "planning", 0
        deadline = started + (60 if env.quick else 540)
        while state == "planning" and time.perf_counter() < deadline:
            await asyncio.sleep(0.5)
            async with notify.runtime.engine.connect() as conn:
                row = (
                    await conn.execute(
                        select(campaign_sends.c.state, campaign_sends.c.targeted).where(
                            campaign_sends.c.id == campaign_id
                        )
                    )
                ).one()
            state, targeted = str(row.state), int(row.targeted)
        planning_seconds = time.perf_counter() - started
        await asyncio.sleep(tail_seconds)
        stop_otps.set()
        busy = await busy_task
        await notify.wait_for_otps(len(idle) + len(busy) + 1, 30)
        idle_latency, idle_queued = await notify.otp_latencies(idle)
        busy_latency, busy_queued = await notify.otp_latencies(busy)
        async with notify.runtime.engine.connect() as conn:
            sent_row = (
                await conn.execute(
                    select(
                        func.count(), func.min(messages.c.sent_at), func.max(messages.c.sent_at)
                    ).where(messages.c.campaign_id == campaign_id, messages.c.sent_at.is_not(None))
                )
            ).one()
    campaign_sent, first_sent, last_sent = sent_row
    send_seconds = (last_sent - first_sent).total_seconds() if first_sent else float("nan")
    planned = "planned" if state == "planned" else f"NOT finished: {targeted:,} queued"
    size = f"{recipients:,} consenting recipients"
    during = f"{OTP_RATE_PER_SECOND:g}/s while the campaign is planned and sent"
    return [
        Row("campaign recipients seeded (COPY)", recipients / seed_seconds, "rows/s", size),
        Row("campaign planning time", planning_seconds, "s", f"{size}, {planned}"),
        Row(
            "campaign planning rate",
            targeted / planning_seconds,
            "msgs/s",
            f"chunks of {NotifySettings().campaign_chunk_size}",
        ),
        Row(
            "campaign planning time for 1,000,000",
            1_000_000 / (targeted / planning_seconds),
            "s",
            "extrapolated linearly from the planning rate above",
        ),
        Row(
            "campaign send rate reached",
            campaign_sent / send_seconds if send_seconds else float("nan"),
            "msgs/s",
            f"configured {rate:g}/s; {campaign_sent:,} sent in {send_seconds:.0f} s",
        ),
        Row("OTP event→sent p50 (idle)", median(idle_latency), "ms", f"{OTP_RATE_PER_SECOND:g}/s"),
        Row("OTP event→sent p99 (idle)", percentile(idle_latency, 99), "ms", ""),
        Row("OTP event→sent p50 (campaign)", median(busy_latency), "ms", during),
        Row("OTP event→sent p99 (campaign)", percentile(busy_latency, 99), "ms", during),
        Row("OTP queued→sent p50 (idle)", median(idle_queued), "ms", ""),
        Row("OTP queued→sent p99 (idle)", percentile(idle_queued, 99), "ms", ""),
        Row("OTP queued→sent p50 (campaign)", median(busy_queued), "ms", during),
        Row("OTP queued→sent p99 (campaign)", percentile(busy_queued, 99), "ms", during),
        Row(
            "OTP sent during campaign",
            len(busy_latency) / max(len(busy), 1) * 100,
            "%",
            f"{len(busy)} codes",
        ),
    ]


async def run(env: BenchEnv) -> list[Row]:
    return [*await sms_throughput(env), *await campaign_with_otp(env)]
