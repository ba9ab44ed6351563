"""aiokafka producers and consumers configured the same way everywhere.

Nothing here is specific to the embedded broker: point ``SILA_KAFKA_BOOTSTRAP`` at an
Apache Kafka cluster and set ``SILA_KAFKA_IDEMPOTENCE=true``.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from sila_common.settings import PlatformSettings


def make_producer(
    platform: PlatformSettings, *, client_id: str, max_batch_size: int = 16_384
) -> AIOKafkaProducer:
    # acks=all: a record counts as published only once every in-sync replica has it.
    # aiokafka keeps one batch in flight per partition, so per-key order survives retries.
    # No linger: the relay hands a whole batch over before awaiting its acks, so records
    # are already batched; a linger only delayed each batch's last request (5 ms of
    # publish-to-timeline latency, and slower drains: docs/benchmarks.md).
    return AIOKafkaProducer(
        bootstrap_servers=platform.kafka_bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=platform.kafka_idempotence,
        linger_ms=0,
        request_timeout_ms=15_000,
        # aiokafka's default; the relay builds its own batches, up to RELAY_BATCH_BYTES.
        max_batch_size=max_batch_size,
    )


def make_consumer(
    platform: PlatformSettings,
    *topics: str,
    group_id: str | None,
    client_id: str,
    session_timeout_ms: int = 10_000,
    fetch_max_wait_ms: int = 100,
) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=platform.kafka_bootstrap,
        group_id=group_id,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=session_timeout_ms,
        heartbeat_interval_ms=max(session_timeout_ms // 4, 500),
        max_poll_records=500,
        # Bounds the broker-side wait of a fetch (ServiceSettings.consumer_fetch_max_wait_ms).
        fetch_max_wait_ms=fetch_max_wait_ms,
        metadata_max_age_ms=5_000,
    )
