"""Reading topics back in tests, with deadlines."""

from __future__ import annotations

import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from sila_common.events import CloudEvent
from sila_common.settings import PlatformSettings


async def read_topic(
    platform: PlatformSettings, topic: str, *, expect: int, timeout: float = 20.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topic`` from the start, once at least ``expect`` have arrived."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=platform.kafka_bootstrap,
        group_id=f"test-reader-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        metadata_max_age_ms=1000,
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < expect and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for partition_records in batch.values():
                records.extend(partition_records)
        # One more short poll: anything beyond ``expect`` (a duplicate) must show too.
        batch = await consumer.getmany(timeout_ms=300)
        for partition_records in batch.values():
            records.extend(partition_records)
    finally:
        await consumer.stop()
    assert len(records) >= expect, f"{topic}: {len(records)} of {expect} records arrived"
    return records


def events_of(records: list[ConsumerRecord[bytes, bytes]]) -> list[CloudEvent]:
    return [CloudEvent.from_bytes(r.value or b"") for r in records]


async def produce(
    platform: PlatformSettings, topic: str, values: list[tuple[bytes, bytes]]
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=platform.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in values:
            await producer.send_and_wait(topic, value=value, key=key)
    finally:
        await producer.stop()
