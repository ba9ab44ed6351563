"""The idempotent consumer against real PostgreSQL and the real broker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.consumer import EventConsumer, HandlerContext, describe_dlq_record
from sila_common.db import make_engine, make_session_factory
from sila_common.events import CloudEvent, EventSpec
from sila_common.outbox import Outbox
from sila_common.settings import PlatformSettings
from sila_identity.settings import IdentitySettings
from sila_identity.tables import messaging, timeline_entries
from sila_identity.timeline.projection import project
from tests.integration.platform.kafka_tools import produce, read_topic
from tests.support import eventually


class Note(BaseModel):
    text: str


NOTE = EventSpec(type="tickets.note.added", payload=Note, description="test event")
POISON = EventSpec(type="tickets.note.poisoned", payload=Note, description="always fails")


async def always_fails(_session: AsyncSession, _event: CloudEvent, _context: Any) -> None:
    raise RuntimeError("this handler cannot cope")


def encoded(event: CloudEvent) -> tuple[bytes, bytes]:
    return event.customerid.encode(), event.to_bytes()


@pytest.fixture
async def timeline_db(scratch_database: Callable[[str], Any]) -> Any:
    engine = make_engine(await scratch_database("identity"))
    yield engine
    await engine.dispose()


async def test_duplicates_are_applied_once_and_bad_records_go_to_the_dlq_without_stopping(
    timeline_db: Any, platform: PlatformSettings
) -> None:
    topic = f"test.consumer.{uuid.uuid4().hex[:8]}"
    customer = f"customer-{uuid.uuid4().hex[:6]}"
    first = NOTE.envelope(subject="n1", customer_id=customer, data=Note(text="first"))
    poison = POISON.envelope(subject="n2", customer_id=customer, data=Note(text="poison"))
    after = NOTE.envelope(subject="n3", customer_id=customer, data=Note(text="after"))
    await produce(
        platform,
        topic,
        [
            encoded(first),
            encoded(first),  # redelivered
            (customer.encode(), b"{not json"),  # malformed
            encoded(poison),
            encoded(after),
        ],
    )
    consumer = EventConsumer(
        name=f"test-{uuid.uuid4().hex[:6]}",
        topics=[topic],
        handlers={NOTE.type: project, POISON.type: always_fails},
        session_factory=make_session_factory(timeline_db),
        tables=messaging,
        context=HandlerContext(
            settings=IdentitySettings(consumer_max_attempts=3, consumer_backoff_seconds=0.01),
            platform=platform,
            outbox=Outbox(messaging.outbox),
        ),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))

    async def entries() -> list[str]:
        async with make_session_factory(timeline_db)() as session:
            rows = await session.execute(
                select(timeline_entries.c.event_id).where(
                    timeline_entries.c.customer_id == customer
                )
            )
            return [r.event_id for r in rows]

    try:
        applied = await eventually(
            lambda: _when(entries, lambda ids: after.id in ids), what="the record after the poison"
        )
    finally:
        stop.set()
        await task
    assert sorted(applied) == sorted([first.id, after.id])

    dead = await read_topic(platform, f"{topic}.dlq", expect=2)
    assert len(dead) == 2
    by_error = {describe_dlq_record(list(r.headers))["sila-error"]: r for r in dead}
    malformed = next(r for e, r in by_error.items() if e.startswith("malformed"))
    assert malformed.value == b"{not json"
    failing = next(r for e, r in by_error.items() if "cannot cope" in e)
    headers = describe_dlq_record(list(failing.headers))
    assert headers["sila-attempts"] == "3"
    assert headers["sila-original-topic"] == topic
    assert CloudEvent.from_bytes(failing.value or b"").id == poison.id

    async with make_session_factory(timeline_db)() as session:
        inbox_count = await session.scalar(
            select(func.count()).where(messaging.inbox.c.consumer == consumer.name)
        )
    assert inbox_count == 2


async def _when(probe: Callable[[], Any], condition: Callable[[Any], bool]) -> Any:
    value = await probe()
    return value if condition(value) else None


async def test_an_event_applied_by_one_instance_is_a_duplicate_for_another(
    timeline_db: Any, platform: PlatformSettings
) -> None:
    customer = f"customer-{uuid.uuid4().hex[:6]}"
    event = NOTE.envelope(subject="n1", customer_id=customer, data=Note(text="once"))
    factory = make_session_factory(timeline_db)
    settings = IdentitySettings()

    def instance() -> EventConsumer[Any]:
        return EventConsumer(
            name="test-shared-group",
            topics=["unused"],
            handlers={NOTE.type: project},
            session_factory=factory,
            tables=messaging,
            context=HandlerContext(
                settings=settings, platform=platform, outbox=Outbox(messaging.outbox)
            ),
        )

    outcomes = await asyncio.gather(
        instance().apply(event, project), instance().apply(event, project)
    )
    assert sorted(outcomes) == ["applied", "duplicate"]
    async with factory() as session:
        count = await session.scalar(
            select(func.count()).where(timeline_entries.c.customer_id == customer)
        )
    assert count == 1


async def test_fetches_of_any_size_apply_each_event_once_across_batches_and_instances(
    timeline_db: Any, platform: PlatformSettings
) -> None:
    # The batch path: one inbox statement whatever the fetch's size says which events are
    # new; those applied by an earlier fetch, or by another instance at the same time, are
    # not handed to the handler again.
    customer = f"customer-{uuid.uuid4().hex[:6]}"
    events = [
        NOTE.envelope(subject=f"n{i}", customer_id=customer, data=Note(text=str(i)))
        for i in range(12)
    ]
    handled: list[str] = []

    async def counting(session: AsyncSession, event: CloudEvent, context: Any) -> None:
        handled.append(event.id)
        await project(session, event, context)

    factory = make_session_factory(timeline_db)

    def instance() -> EventConsumer[Any]:
        return EventConsumer(
            name="test-batch-group",
            topics=["unused"],
            handlers={NOTE.type: counting},
            session_factory=factory,
            tables=messaging,
            context=HandlerContext(
                settings=IdentitySettings(), platform=platform, outbox=Outbox(messaging.outbox)
            ),
        )

    def records(batch: list[CloudEvent]) -> list[ConsumerRecord[bytes, bytes]]:
        return [
            ConsumerRecord(
                topic="unused",
                partition=0,
                offset=n,
                timestamp=0,
                timestamp_type=0,
                key=event.customerid.encode(),
                value=event.to_bytes(),
                checksum=None,
                serialized_key_size=0,
                serialized_value_size=0,
                headers=(),
            )
            for n, event in enumerate(batch)
        ]

    first = instance()
    await first.process_batch(records(events[:1]))
    await first.process_batch(records(events[:5]))  # one seen, four new
    await asyncio.gather(  # two instances, overlapping fetches, at once
        first.process_batch(records(events[3:9] + events[3:4])),
        instance().process_batch(records(events[5:12])),
    )
    assert sorted(handled) == sorted(event.id for event in events)
    async with factory() as session:
        entries = await session.scalar(
            select(func.count()).where(timeline_entries.c.customer_id == customer)
        )
        inbox = await session.scalar(
            select(func.count()).where(
                messaging.inbox.c.consumer == "test-batch-group",
                messaging.inbox.c.event_id.in_([event.id for event in events]),
            )
        )
    assert (entries, inbox) == (12, 12)


async def test_a_stopped_consumer_has_committed_the_offsets_of_everything_it_applied(
    timeline_db: Any, platform: PlatformSettings
) -> None:
    # Offsets are committed while the next fetch is applied; stopping waits for the last.
    topic = f"test.offsets.{uuid.uuid4().hex[:8]}"
    customer = f"customer-{uuid.uuid4().hex[:6]}"
    events = [
        NOTE.envelope(subject=f"n{i}", customer_id=customer, data=Note(text=str(i)))
        for i in range(30)
    ]
    await produce(platform, topic, [encoded(event) for event in events])
    group = f"test-{uuid.uuid4().hex[:6]}"
    consumer = EventConsumer(
        name=group,
        topics=[topic],
        handlers={NOTE.type: project},
        session_factory=make_session_factory(timeline_db),
        tables=messaging,
        context=HandlerContext(
            settings=IdentitySettings(), platform=platform, outbox=Outbox(messaging.outbox)
        ),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))

    async def projected() -> int | None:
        async with make_session_factory(timeline_db)() as session:
            count = await session.scalar(
                select(func.count()).where(timeline_entries.c.customer_id == customer)
            )
        return count if count == len(events) else None

    try:
        await eventually(projected, what="every event projected")
    finally:
        stop.set()
        await task
    reader = AIOKafkaConsumer(
        bootstrap_servers=platform.kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await reader.start()
    try:
        await reader.topics()  # the cluster's metadata, this topic's partitions included
        partitions = reader.partitions_for_topic(topic) or set()
        committed = [await reader.committed(TopicPartition(topic, p)) for p in partitions]
    finally:
        await reader.stop()
    assert sum(offset or 0 for offset in committed) == len(events)
