"""The outbox relay against real PostgreSQL and the real broker."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any, cast

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaTimeoutError
from aiokafka.partitioner import DefaultPartitioner
from pydantic import BaseModel
from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from sila_common.db import make_engine
from sila_common.events import CloudEvent, EventSpec
from sila_common.outbox import EVENT_MAX_BYTES, EventTooLarge, Outbox, row_for, shard_of
from sila_common.relay import OutboxRelay
from sila_common.settings import PlatformSettings, ServiceSettings
from sila_local.broker import start_broker
from sila_local.processes import free_port
from sila_tickets.settings import TicketsSettings
from sila_tickets.tables import messaging
from tests.integration.platform.kafka_tools import events_of, read_topic
from tests.support import eventually, plan_nodes


class Probe(BaseModel):
    sequence: int


PROBE = EventSpec(type="tickets.probe.emitted", payload=Probe, description="test event")


def probe_row(topic: str, customer: str, sequence: int) -> dict[str, Any]:
    event = PROBE.envelope(subject=customer, customer_id=customer, data=Probe(sequence=sequence))
    return row_for(event, topic)


async def broker_of_its_own(platform: PlatformSettings) -> tuple[int, Any, PlatformSettings]:
    """A memory-only broker for one test (which may stop it, losing everything, and start it
    again on the same port), and the platform settings that point at it."""
    port = free_port()
    broker = await start_broker(port)
    return port, broker, platform.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{port}"})


async def write_probes(
    engine: AsyncEngine, topic: str, customers: list[str], sequences: range
) -> None:
    """Probe events of ``sequences``, dealt over ``customers`` in turn, in one transaction."""
    async with engine.begin() as conn:
        await conn.execute(
            insert(messaging.outbox),
            [probe_row(topic, customers[n % len(customers)], n) for n in sequences],
        )


def relay_for(engine: AsyncEngine, platform: PlatformSettings, **settings: Any) -> OutboxRelay:
    service_settings: ServiceSettings = TicketsSettings(**settings)
    return OutboxRelay(
        engine=engine, tables=messaging, platform=platform, settings=service_settings
    )


def sequences_by_customer(events: list[CloudEvent]) -> dict[str, list[int]]:
    """Each customer's probe sequences in the order read (one key, one partition: offset
    order)."""
    by_customer: dict[str, list[int]] = {}
    for event in events:
        by_customer.setdefault(event.customerid, []).append(int(event.data["sequence"]))
    return by_customer


def first_copies(events: list[CloudEvent]) -> list[CloudEvent]:
    """Each event the first time it arrives (what an idempotent consumer acts on)."""
    return list({event.id: event for event in events}.values())  # a key keeps its first place


@pytest.fixture
async def outbox_engine(scratch_database: Callable[[str], Any]) -> Any:
    url = await scratch_database("tickets")
    engine = make_engine(url)
    yield engine
    await engine.dispose()


async def pending(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        count = await conn.scalar(select(func.count()).select_from(messaging.pending))
    return int(count or 0)


async def test_an_event_whose_transaction_commits_after_a_later_one_is_still_published(
    outbox_engine: AsyncEngine, platform: PlatformSettings
) -> None:
    topic = f"test.idgap.{uuid.uuid4().hex[:8]}"
    relay = relay_for(outbox_engine, platform)
    await relay.start()
    try:
        async with outbox_engine.connect() as slow, outbox_engine.connect() as fast:
            slow_tx = await slow.begin()
            # The slow transaction takes the lower id first...
            await slow.execute(insert(messaging.outbox).values(probe_row(topic, "c-slow", 1)))
            async with fast.begin():
                await fast.execute(insert(messaging.outbox).values(probe_row(topic, "c-fast", 2)))
            # ...the later id commits and is published while the lower one is in flight.
            await relay.hold_shards()
            assert await relay.publish_batch() == 1
            await slow_tx.commit()
        # A relay that remembered "published up to id N" would now skip the slow event.
        assert await relay.publish_batch() == 1
        assert await pending(outbox_engine) == 0
    finally:
        await relay.stop()
    events = events_of(await read_topic(platform, topic, expect=2))
    assert sorted(e.data["sequence"] for e in events) == [1, 2]


async def test_each_event_goes_out_whole_with_its_headers_in_its_keys_partition(
    outbox_engine: AsyncEngine, platform: PlatformSettings
) -> None:
    """The record is the envelope, its correlation id and trace context are copied into
    headers, and each customer's records are in the partition the
    producer's default partitioner (Java's too) gives their key: the relay partitions its
    producer batches itself."""
    topic = f"test.written.{uuid.uuid4().hex[:8]}"
    trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    rows = [
        row_for(
            PROBE.envelope(
                subject="s",
                customer_id=f"customer-{n}",
                data=Probe(sequence=n),
                correlation_id=f"corr-{n}",
                traceparent=trace,
            ),
            topic,
        )
        for n in range(40)
    ]
    async with outbox_engine.begin() as conn:
        await conn.execute(insert(messaging.outbox), rows)
    relay = relay_for(outbox_engine, platform)
    await relay.start()
    try:
        await relay.hold_shards()
        assert await relay.publish_pending() == 40
    finally:
        await relay.stop()
    records = await read_topic(platform, topic, expect=40)
    producer = AIOKafkaProducer(bootstrap_servers=platform.kafka_bootstrap)
    await producer.start()
    try:
        partitions = sorted(await producer.partitions_for(topic))
    finally:
        await producer.stop()
    written = {row["message_key"]: row for row in rows}
    for record in records:
        key = (record.key or b"").decode()
        row = written[key]
        assert json.loads(record.value or b"") == row["envelope"], "the envelope, whole"
        assert dict(record.headers) == {
            "content-type": b"application/cloudevents+json",
            "correlationid": str(row["correlationid"]).encode(),
            "traceparent": trace.encode(),
        }
        assert record.partition == DefaultPartitioner()(record.key, partitions, partitions)
    assert len({record.partition for record in records}) > 1, "spread over partitions"


async def test_two_relays_share_the_shards_and_keep_each_customers_order(
    outbox_engine: AsyncEngine, platform: PlatformSettings
) -> None:
    topic = f"test.shards.{uuid.uuid4().hex[:8]}"
    customers = [f"customer-{i}" for i in range(20)]
    async with outbox_engine.begin() as conn:
        for sequence in range(300):
            customer = customers[sequence % len(customers)]
            await conn.execute(
                insert(messaging.outbox).values(probe_row(topic, customer, sequence))
            )
    first = relay_for(outbox_engine, platform, relay_max_shards=8, relay_batch_size=37)
    second = relay_for(outbox_engine, platform, relay_max_shards=8, relay_batch_size=37)
    await first.start()
    await second.start()
    try:
        await first.hold_shards()
        await second.hold_shards()
        assert first.owned_shards.isdisjoint(second.owned_shards)
        assert len(first.owned_shards | second.owned_shards) == 16
        while await pending(outbox_engine):
            published = await first.publish_batch() + await second.publish_batch()
            assert published > 0
    finally:
        await first.stop()
        await second.stop()
    events = events_of(await read_topic(platform, topic, expect=300))
    assert len(events) == 300, "each event exactly once when nothing crashed"
    by_customer = sequences_by_customer(events)
    for customer, sequences in by_customer.items():
        assert sequences == sorted(sequences), f"{customer}'s events out of order"


async def test_pipelined_batches_publish_each_event_once_in_each_customers_order(
    outbox_engine: AsyncEngine, platform: PlatformSettings
) -> None:
    """Two relays, each reading its next batch while the previous one's acks are in flight."""
    topic = f"test.pipeline.{uuid.uuid4().hex[:8]}"
    customers = [f"customer-{i}" for i in range(20)]
    async with outbox_engine.begin() as conn:
        for sequence in range(400):
            customer = customers[sequence % len(customers)]
            await conn.execute(
                insert(messaging.outbox).values(probe_row(topic, customer, sequence))
            )
    first = relay_for(outbox_engine, platform, relay_max_shards=8, relay_batch_size=23)
    second = relay_for(outbox_engine, platform, relay_max_shards=8, relay_batch_size=23)
    await first.start()
    await second.start()
    try:
        await first.hold_shards()
        await second.hold_shards()
        # Few batches per call, so that both relays take turns mid-way.
        published = [
            await first.publish_pending(max_batches=3),
            await second.publish_pending(max_batches=3),
        ]
        assert all(count > 23 for count in published), "each call published several batches"
        while await pending(outbox_engine):
            assert await first.publish_pending() + await second.publish_pending() > 0
    finally:
        await first.stop()
        await second.stop()
    events = events_of(await read_topic(platform, topic, expect=400))
    assert len(events) == 400, "each event exactly once when nothing crashed"
    assert len({event.id for event in events}) == 400
    by_customer = sequences_by_customer(events)
    assert len(by_customer) == len(customers)
    for customer, sequences in by_customer.items():
        assert sequences == sorted(sequences), f"{customer}'s events out of order"


class FirstLaneExpires:
    """The real producer, except that what the first lane to send hands over never reaches
    the broker: those deliveries fail once ``after`` batches of the other lanes were
    delivered, as when a broker stays away longer than the producer's timeout while
    batches sent once it is back get through."""

    def __init__(self, producer: AIOKafkaProducer, after: int) -> None:
        self.producer = producer
        self.after = after
        self.failing_lane: asyncio.Task[Any] | None = None
        self.expiring: list[asyncio.Future[Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.producer, name)  # the rest of the producer, as it is

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> asyncio.Future[Any]:
        lane = asyncio.current_task()
        if self.failing_lane is None:
            self.failing_lane = lane
        if lane is self.failing_lane:
            expiring: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self.expiring.append(expiring)
            return expiring
        delivery: asyncio.Future[Any] = await self.producer.send_batch(
            batch, topic, partition=partition
        )
        delivery.add_done_callback(self._delivered)
        return delivery

    def _delivered(self, _: asyncio.Future[Any]) -> None:
        self.after -= 1
        if self.after == 0:
            for expiring in self.expiring:
                expiring.set_exception(KafkaTimeoutError())


async def test_a_batch_that_fails_while_another_reaches_the_broker_keeps_each_customers_order(
    outbox_engine: AsyncEngine, platform: PlatformSettings
) -> None:
    """A batch in flight fails after records sent later reached the broker: no customer
    may then have a later event on the broker before an earlier one."""
    topic = f"test.pipefail.{uuid.uuid4().hex[:8]}"
    customers = [f"customer-{i}" for i in range(20)]
    async with outbox_engine.begin() as conn:
        await conn.execute(
            insert(messaging.outbox),
            [probe_row(topic, customers[n % len(customers)], n) for n in range(200)],
        )
    relay = relay_for(outbox_engine, platform, relay_batch_size=30)
    await relay.start()
    try:
        await relay.hold_shards()
        real = relay.producer
        assert real is not None
        faulty = FirstLaneExpires(real, after=3)
        relay.producer = cast(AIOKafkaProducer, faulty)
        with pytest.raises(KafkaTimeoutError):
            await relay.publish_pending()
        assert faulty.after <= 0, "batches sent after the failed ones reached the broker first"
        relay.producer = real
        assert await pending(outbox_engine) >= 30, "the failed batch was not marked"
        while await pending(outbox_engine):
            assert await relay.publish_pending() > 0
    finally:
        await relay.stop()
    events = events_of(await read_topic(platform, topic, expect=200))
    # What an idempotent consumer sees: each event the first time it arrives.
    first = first_copies(events)
    assert len(first) == 200
    by_customer = sequences_by_customer(first)
    for customer, sequences in by_customer.items():
        assert sequences == sorted(sequences), f"{customer}'s events out of order"


async def test_an_event_too_large_for_the_broker_is_refused_where_it_is_written(
    outbox_engine: AsyncEngine,
) -> None:
    class Note(BaseModel):
        text: str

    spec = EventSpec(type="tickets.probe.noted", payload=Note, description="test event")
    outbox = Outbox(messaging.outbox)
    async with AsyncSession(outbox_engine) as session, session.begin():
        await outbox.record(
            session, spec, subject="c-1", customer_id="c-1", data=Note(text="ب" * 1000)
        )
        with pytest.raises(EventTooLarge) as refused:
            # Arabic letters are two bytes each in UTF-8: the limit is on bytes.
            await outbox.record(
                session,
                spec,
                subject="c-1",
                customer_id="c-1",
                data=Note(text="ب" * (EVENT_MAX_BYTES // 2)),
            )
    assert refused.value.status == 413
    assert f"{EVENT_MAX_BYTES:,}" in str(refused.value)
    assert await pending(outbox_engine) == 1, "the event that fits is written, the other not"


async def test_a_standby_relay_takes_over_the_shards_of_a_relay_that_died(
    outbox_engine: AsyncEngine, platform: PlatformSettings
) -> None:
    owner = relay_for(outbox_engine, platform)
    standby = relay_for(outbox_engine, platform)
    await owner.hold_shards()
    await standby.hold_shards()
    assert len(owner.owned_shards) == 16
    assert standby.owned_shards == set()
    await owner.stop()  # its database session ends, as when the process dies
    await standby.hold_shards()
    assert len(standby.owned_shards) == 16
    await standby.stop()


async def test_history_is_republished_when_the_broker_lost_its_data(
    outbox_engine: AsyncEngine, platform: PlatformSettings
) -> None:
    port, broker, own_platform = await broker_of_its_own(platform)
    topic = f"test.loss.{uuid.uuid4().hex[:8]}"
    async with outbox_engine.begin() as conn:
        for sequence in range(10):
            await conn.execute(insert(messaging.outbox).values(probe_row(topic, "c-1", sequence)))
    relay = relay_for(outbox_engine, own_platform)
    try:
        await relay.start()
        await relay.hold_shards()
        assert await relay.publish_batch() == 10
        assert not await relay.broker_lost_data()
        await relay.stop()

        await broker.stop()  # memory only: everything it held is gone
        broker = await start_broker(port)

        await relay.start()
        assert await relay.broker_lost_data()
        assert await relay.replay(reason="test") == 10
        await relay.hold_shards()
        assert await relay.publish_batch() == 10
    finally:
        await relay.stop()
    events = events_of(await read_topic(own_platform, topic, expect=10))
    assert [e.data["sequence"] for e in events] == list(range(10))
    await broker.stop()


async def test_offsets_going_backwards_in_any_lane_republish_the_history_before_newer_events(
    outbox_engine: AsyncEngine, platform: PlatformSettings
) -> None:
    port, broker, own_platform = await broker_of_its_own(platform)
    topic = f"test.backwards.{uuid.uuid4().hex[:8]}"
    customers = [f"customer-{i}" for i in range(8)]
    await write_probes(outbox_engine, topic, customers, range(40))
    relay = relay_for(outbox_engine, own_platform, relay_batch_size=5)
    async with outbox_engine.connect() as conn:
        all_ids = set((await conn.execute(select(messaging.outbox.c.event_id))).scalars())
    try:
        await relay.start()
        await relay.hold_shards()
        while await pending(outbox_engine):
            assert await relay.publish_pending() > 0
        await relay.stop()

        await broker.stop()  # memory only: everything it held is gone
        broker = await start_broker(port)
        async with outbox_engine.begin() as conn:
            await conn.execute(
                insert(messaging.outbox),
                [probe_row(topic, customers[n % 8], n) for n in range(40, 48)],
            )
        async with outbox_engine.connect() as conn:
            all_ids = set((await conn.execute(select(messaging.outbox.c.event_id))).scalars())
        await relay.start()
        await relay.hold_shards()
        # The new events get offsets the relay saw before: the history goes out again.
        await relay.publish_pending()
        assert await pending(outbox_engine) >= 40, "the history was marked for republishing"
        while await pending(outbox_engine):
            assert await relay.publish_pending() > 0
    finally:
        await relay.stop()
    events = events_of(await read_topic(own_platform, topic, expect=48))
    assert {event.id for event in events} == all_ids, "every event is on the new broker"
    # The batch that revealed the loss reached the broker before the relay could know; what
    # follows it is the whole history again, in order: each customer's last copies are.
    last = first_copies(events[::-1])[::-1]  # each event where it arrived last
    by_customer = sequences_by_customer(last)
    for customer, sequences in by_customer.items():
        assert sequences == sorted(sequences), f"{customer}'s last copies out of order"
    await broker.stop()


async def test_history_older_than_the_retention_window_is_purged(
    outbox_engine: AsyncEngine, platform: PlatformSettings
) -> None:
    # Published (no pending entry): the old one goes, the fresh one stays; an old event still
    # pending stays until it is published.
    old = probe_row("test.purge", "c-1", 1) | {"created_at": datetime(2020, 1, 1, tzinfo=UTC)}
    fresh = probe_row("test.purge", "c-1", 2)
    old_pending = probe_row("test.purge", "c-2", 3) | {
        "created_at": datetime(2020, 1, 1, tzinfo=UTC)
    }
    async with outbox_engine.begin() as conn:
        await conn.execute(insert(messaging.outbox).values([old, fresh, old_pending]))
        await conn.execute(
            delete(messaging.pending).where(
                messaging.pending.c.id.in_(
                    select(messaging.outbox.c.id).where(
                        messaging.outbox.c.event_id.in_([old["event_id"], fresh["event_id"]])
                    )
                )
            )
        )
    relay = relay_for(outbox_engine, platform)
    assert await relay.purge_history() == 1
    async with outbox_engine.connect() as conn:
        left = set((await conn.execute(select(messaging.outbox.c.event_id))).scalars())
    assert left == {fresh["event_id"], old_pending["event_id"]}


async def test_a_running_relays_lanes_each_follow_their_shards_without_waiting_for_the_others(
    outbox_engine: AsyncEngine, platform: PlatformSettings
) -> None:
    """While one lane's batch is held up, the other lane keeps publishing what is written
    to its shards; the held-up lane publishes once released."""
    topic = f"test.follow.{uuid.uuid4().hex[:8]}"
    relay = relay_for(outbox_engine, platform, relay_lanes=2)
    await relay.start()
    await relay.hold_shards()
    shards = sorted(relay.owned_shards)
    held_lane, free_lane = shards[0::2], shards[1::2]  # dealt as the relay deals them
    held = next(c for c in (f"customer-{i}" for i in range(100)) if shard_of(c) in held_lane)
    free = next(c for c in (f"customer-{i}" for i in range(100)) if shard_of(c) in free_lane)
    release = asyncio.Event()
    send_batch = relay._send_batch

    async def held_up(shards: Any, **options: Any) -> Any:
        if set(shards) == set(held_lane):
            await release.wait()
        return await send_batch(shards, **options)

    relay._send_batch = held_up  # type: ignore[method-assign]

    async def write(customer: str, sequence: int) -> str:
        row = probe_row(topic, customer, sequence)
        async with outbox_engine.begin() as conn:
            await conn.execute(insert(messaging.outbox).values(row))
        return str(row["event_id"])

    async def published(event_id: str) -> bool | None:
        async with outbox_engine.connect() as conn:
            waiting = await conn.scalar(
                select(func.count())
                .select_from(
                    messaging.pending.join(
                        messaging.outbox, messaging.outbox.c.id == messaging.pending.c.id
                    )
                )
                .where(messaging.outbox.c.event_id == event_id)
            )
        return True if waiting == 0 else None

    stop = asyncio.Event()
    following = asyncio.create_task(relay.follow(stop, seconds=60))
    try:
        waiting = await write(held, 1)
        for sequence in (2, 3):  # one batch, then another written after it went out
            await eventually(partial(published, await write(free, sequence)), what="the free lane")
        assert await published(waiting) is None
        release.set()
        await eventually(partial(published, waiting), what="the released lane")
    finally:
        release.set()
        stop.set()
        await following
        await relay.stop()


async def test_an_idle_lane_looks_again_less_and_less_often_down_to_the_poll_interval(
    outbox_engine: AsyncEngine, platform: PlatformSettings
) -> None:
    relay = relay_for(outbox_engine, platform, relay_lanes=1, relay_poll_interval_seconds=0.1)
    await relay.start()
    await relay.hold_shards()
    claims = 0
    send_batch = relay._send_batch

    async def counted(shards: Any, **options: Any) -> Any:
        nonlocal claims
        claims += 1
        return await send_batch(shards, **options)

    relay._send_batch = counted  # type: ignore[method-assign]
    try:
        assert await relay.follow(asyncio.Event(), seconds=1.0) == 0
    finally:
        await relay.stop()
    # Pauses of 2, 4, 8, ... ms, then 100 ms: at most about 15 looks in the second (fewer
    # when the database is slow to answer), never hundreds.
    assert 1 <= claims <= 20


async def test_after_one_relay_republished_a_lost_history_the_other_does_not_again(
    outbox_engine: AsyncEngine, platform: PlatformSettings
) -> None:
    """Each call reads the offsets every relay recorded (a replay empties them): what a relay
    remembers of the broker before it lost its data does not make it replay once more."""
    port, broker, own_platform = await broker_of_its_own(platform)
    topic = f"test.twice.{uuid.uuid4().hex[:8]}"
    customers = [f"customer-{i}" for i in range(16)]
    await write_probes(outbox_engine, topic, customers, range(32))
    first = relay_for(outbox_engine, own_platform, relay_max_shards=8)
    second = relay_for(outbox_engine, own_platform, relay_max_shards=8)
    try:
        for relay in (first, second):
            await relay.start()
            await relay.hold_shards()
        while await pending(outbox_engine):
            assert await first.publish_pending() + await second.publish_pending() > 0
        for relay in (first, second):
            await relay.stop()

        await broker.stop()  # memory only: everything it held is gone
        broker = await start_broker(port)
        await write_probes(outbox_engine, topic, customers, range(32, 48))
        for relay in (first, second):
            await relay.start()
            await relay.hold_shards()
        await first.publish_pending()  # sees offsets going backwards: the history again
        assert await pending(outbox_engine) >= 32
        while await pending(outbox_engine):
            assert await second.publish_pending() + await first.publish_pending() > 0
        records = await read_topic(own_platform, topic, expect=48)
        async with outbox_engine.connect() as conn:
            all_ids = set((await conn.execute(select(messaging.outbox.c.event_id))).scalars())
    finally:
        await first.stop()
        await second.stop()
        await broker.stop()
    # The history once more, after the batches that revealed the loss: not twice over.
    assert {event.id for event in events_of(records)} == all_ids
    assert len(records) < 48 + 32


async def test_a_following_relay_does_not_replay_again_after_another_relay_did(
    outbox_engine: AsyncEngine, platform: PlatformSettings
) -> None:
    """As the previous test, but the first relay is running (``follow``, as ``run``
    calls it) when the second replays: its offsets read at the start of the call are stale."""
    port, broker, own_platform = await broker_of_its_own(platform)
    topic = f"test.follow.{uuid.uuid4().hex[:8]}"
    customers = [f"customer-{i}" for i in range(16)]
    await write_probes(outbox_engine, topic, customers, range(32))
    first = relay_for(outbox_engine, own_platform, relay_max_shards=8)
    second = relay_for(outbox_engine, own_platform, relay_max_shards=8)
    replays: list[str] = []
    first_replay = first.replay

    async def spied(**kwargs: Any) -> int:
        replays.append(kwargs["reason"])
        return await first_replay(**kwargs)

    first.replay = spied  # type: ignore[method-assign]
    stop = asyncio.Event()
    try:
        for relay in (first, second):
            await relay.start()
            await relay.hold_shards()
        while await pending(outbox_engine):
            assert await first.publish_pending() + await second.publish_pending() > 0
        for relay in (first, second):
            await relay.stop()

        await broker.stop()  # memory only: everything it held is gone
        broker = await start_broker(port)
        for relay in (first, second):
            await relay.start()
            await relay.hold_shards()
        # New events for the second relay's customers only: the first idles, following.
        theirs = [c for c in customers if shard_of(c) in second.owned_shards]
        first._known = {}  # what it remembers is what the call reads (awaited below)
        following = asyncio.create_task(first.follow(stop, seconds=60.0))

        async def offsets_read() -> bool:
            return bool(first._known)

        await eventually(offsets_read, what="the first relay's call read the offsets")
        async with outbox_engine.begin() as conn:
            await conn.execute(
                insert(messaging.outbox), [probe_row(topic, theirs[0], n) for n in range(32, 40)]
            )
        await second.publish_pending()  # sees offsets going backwards: the history again

        async def drained_or_replayed() -> bool:
            await second.publish_pending()  # the second's share of the history
            return bool(replays) or await pending(outbox_engine) == 0

        await eventually(drained_or_replayed, what="drained")
        stop.set()
        await following
    finally:
        stop.set()
        await first.stop()
        await second.stop()
        await broker.stop()
    assert replays == [], "the first relay replayed the history a second time"


async def test_a_claim_reads_each_event_by_its_key_even_with_the_generic_plan(
    outbox_engine: AsyncEngine, platform: PlatformSettings
) -> None:
    # The claim is prepared once and kept (asyncpg's cache); PostgreSQL may run it with the
    # plan it made for any parameters. Even then each claimed entry's event is one lookup
    # by primary key, not a scan of the whole history. The history is written in a
    # transaction rolled back.
    relay = relay_for(outbox_engine, platform)
    async with outbox_engine.connect() as connection:
        await connection.execute(
            insert(messaging.outbox),
            [probe_row("test.plan", f"c-{n % 50}", n) for n in range(5_000)],
        )
        await connection.exec_driver_sql("ANALYZE outbox")
        await connection.exec_driver_sql("ANALYZE outbox_pending")
        await connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
        await connection.exec_driver_sql(f"PREPARE claim AS {relay._claim_statement}")
        plan = (
            await connection.exec_driver_sql(
                "EXPLAIN (FORMAT JSON) EXECUTE claim('{0,1,2,3,4,5,6,7}')"
            )
        ).scalar_one()
        await connection.exec_driver_sql("DEALLOCATE claim")
        await connection.rollback()
    reads = [node for node in plan_nodes(plan[0]["Plan"]) if node.get("Relation Name") == "outbox"]
    assert [node["Node Type"] for node in reads] == ["Index Scan"], reads
    assert reads[0]["Index Name"] == "pk_outbox", reads


async def test_a_pending_entry_whose_event_is_gone_is_dropped_not_claimed_forever(
    outbox_engine: AsyncEngine, platform: PlatformSettings
) -> None:
    # A replay racing a purge can leave an entry whose event was just deleted: the relay
    # drops it with its batch and publishes the rest.
    topic = f"test.orphan.{uuid.uuid4().hex[:8]}"
    row = probe_row(topic, "c-orphan", 1)
    async with outbox_engine.begin() as conn:
        await conn.execute(insert(messaging.outbox).values(row))
        await conn.execute(insert(messaging.pending).values(id=10**15, shard=shard_of("c-orphan")))
    relay = relay_for(outbox_engine, platform)
    await relay.start()
    await relay.hold_shards()
    try:
        while await pending(outbox_engine):
            assert await relay.publish_pending() > 0
    finally:
        await relay.stop()
    records = await read_topic(platform, topic, expect=1)
    assert [event.id for event in events_of(records)] == [row["event_id"]]


async def test_a_replay_waits_for_a_batch_in_flight_whose_events_then_go_out_again(
    outbox_engine: AsyncEngine, platform: PlatformSettings
) -> None:
    # A relay has claimed and sent a batch when another relay replays the history (the
    # broker lost it). Were the replay to go ahead, the batch would then delete the entries
    # the replay kept, and its events, lost with the broker, would not go out again.
    topic = f"test.inflight.{uuid.uuid4().hex[:8]}"
    async with outbox_engine.begin() as conn:
        await conn.execute(
            insert(messaging.outbox), [probe_row(topic, "c-inflight", n) for n in range(3)]
        )
    sending, replaying = relay_for(outbox_engine, platform), relay_for(outbox_engine, platform)
    await sending.start()
    await sending.hold_shards()
    try:
        batch = await sending._send_batch(sending.owned_shards)
        assert batch is not None and len(batch.ids) == 3
        replay = asyncio.create_task(replaying.replay(reason="test"))

        async def replay_waits_or_is_done() -> bool:
            if replay.done():
                return True
            async with outbox_engine.connect() as conn:
                return bool(
                    await conn.scalar(
                        text(
                            "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname ="
                            " current_database() AND wait_event_type = 'Lock'"
                        )
                    )
                )

        await eventually(replay_waits_or_is_done, what="the replay waiting (or done)")
        await sending._finish_batch(batch)
        await replay
    finally:
        await sending.stop()
    assert await pending(outbox_engine) == 3


async def test_a_lanes_mark_does_not_wait_for_another_lanes_mark_of_the_same_partitions(
    outbox_engine: AsyncEngine, platform: PlatformSettings
) -> None:
    """Each lane records its offsets in rows of its own: a batch is marked while another
    lane's mark of the same partitions is not yet committed (they waited on each other's
    rows, 1.4 ms a mark in the SMS burst), and what it records is the last offset the
    broker gave its records."""
    topic = f"test.lanes.{uuid.uuid4().hex[:8]}"
    await write_probes(outbox_engine, topic, ["c1"], range(3))
    relay = relay_for(outbox_engine, platform)
    await relay.start()
    try:
        await relay.hold_shards()
        async with outbox_engine.connect() as other_lane:
            await other_lane.begin()
            await other_lane.execute(
                text(
                    "INSERT INTO outbox_lane_offsets (topic, partition, lane, last_offset,"
                    " updated_at) SELECT :topic, p, 15, 0, now() FROM generate_series(0, 63) p"
                ),
                {"topic": topic},
            )
            # This relay's one lane starts at shard 0.
            assert await asyncio.wait_for(relay.publish_batch(), timeout=15) == 3
            await other_lane.rollback()
    finally:
        await relay.stop()
    records = await read_topic(platform, topic, expect=3)
    async with outbox_engine.connect() as conn:
        recorded = (
            await conn.execute(
                select(messaging.lane_offsets.c.partition, messaging.lane_offsets.c.last_offset)
                .where(messaging.lane_offsets.c.topic == topic)
                .where(messaging.lane_offsets.c.lane == 0)
            )
        ).all()
    assert [tuple(row) for row in recorded] == [
        (records[0].partition, max(record.offset for record in records))
    ]


class Bulky(BaseModel):
    sequence: int
    text: str


BULKY = EventSpec(type="tickets.probe.bulky", payload=Bulky, description="test event")


async def test_a_claim_larger_than_a_partitions_batch_goes_out_over_several_in_order(
    outbox_engine: AsyncEngine, platform: PlatformSettings
) -> None:
    """One customer's part of a claim is one producer batch (the broker appends it whole or
    not at all): what does not fit waits for the lane's next claim, in order, each event
    once, and the offsets recorded are those the broker gave."""
    topic = f"test.bulky.{uuid.uuid4().hex[:8]}"
    text_of_40k = "ع" * 20_000  # 40,000 bytes of UTF-8
    rows = [
        row_for(
            BULKY.envelope(
                subject="c1", customer_id="c1", data=Bulky(sequence=n, text=text_of_40k)
            ),
            topic,
        )
        for n in range(30)  # 1.2 MB: more than two batches of RELAY_BATCH_BYTES
    ]
    async with outbox_engine.begin() as conn:
        await conn.execute(insert(messaging.outbox), rows)
    relay = relay_for(outbox_engine, platform)
    await relay.start()
    try:
        await relay.hold_shards()
        published = []
        while await pending(outbox_engine):
            published.append(await relay.publish_batch())
    finally:
        await relay.stop()
    assert len(published) >= 3 and all(0 < count < 30 for count in published)
    assert sum(published) == 30
    records = await read_topic(platform, topic, expect=30)
    assert [int(event.data["sequence"]) for event in events_of(records)] == list(range(30))
    async with outbox_engine.connect() as conn:
        recorded = await conn.scalar(
            select(func.max(messaging.lane_offsets.c.last_offset)).where(
                messaging.lane_offsets.c.topic == topic
            )
        )
    assert recorded == max(record.offset for record in records)
