"""The idempotent consumer: one way to react to another service's events.

For every record: the handler's writes and an inbox row (consumer, event id) commit in
one transaction, so an event delivered twice is applied once; offsets are committed to
Kafka only after the database. A failing record is retried with backoff, then sent to
``<topic>.dlq`` with the error and the original record, and the partition moves on; a
malformed record goes to the DLQ at once.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from opentelemetry import trace
from opentelemetry.trace import Tracer
from pydantic import ValidationError
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sila_common.aio import wait_or_timeout
from sila_common.collaborators import Collaborators
from sila_common.correlation import set_correlation_id
from sila_common.events import CloudEvent, dlq_topic
from sila_common.kafka import make_consumer, make_producer
from sila_common.metrics import CONSUMER_LAG, CONSUMER_PROCESSED, DLQ_COUNT
from sila_common.outbox import MessagingTables, Outbox
from sila_common.settings import PlatformSettings, SettingsT
from sila_common.tracing import consuming, consuming_many

log = structlog.get_logger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class HandlerContext(Generic[SettingsT]):
    """What a handler is given besides the session and the event: the service's settings
    (as its own type), the clock, the outbox and the service's collaborators.
    """

    settings: SettingsT
    platform: PlatformSettings
    outbox: Outbox
    clock: Callable[[], datetime] = utc_now
    collaborators: Collaborators = field(default_factory=Collaborators)


Handler = Callable[[AsyncSession, CloudEvent, HandlerContext[SettingsT]], Awaitable[None]]
BatchHandler = Callable[
    [AsyncSession, list[CloudEvent], HandlerContext[SettingsT]], Awaitable[None]
]
"""Applies one event inside the caller's transaction; raising means 'retry'."""

ANY_TYPE = "*"


class EventConsumer(Generic[SettingsT]):
    """A consumer group reading some topics and dispatching events by type to handlers."""

    def __init__(
        self,
        *,
        name: str,
        topics: list[str],
        handlers: Mapping[str, Handler[SettingsT]],
        session_factory: async_sessionmaker[AsyncSession],
        tables: MessagingTables,
        context: HandlerContext[SettingsT],
        tracer: Tracer | None = None,
    ) -> None:
        self.name = name
        self.tracer = tracer or trace.NoOpTracer()
        self.topics = topics
        self.handlers = dict(handlers)
        self.session_factory = session_factory
        self.tables = tables
        self.context = context
        self.platform = context.platform
        self.settings = context.settings
        self._consumer: AIOKafkaConsumer | None = None
        self._dlq: AIOKafkaProducer | None = None

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._run_once(stop)
            except (KafkaError, OSError, ConnectionError) as exc:
                log.warning("consumer.broker_unavailable", consumer=self.name, error=str(exc))
                await self._close()
                await wait_or_timeout(stop, 1.0)
        await self._close()

    async def _run_once(self, stop: asyncio.Event) -> None:
        consumer = make_consumer(
            self.platform,
            *self.topics,
            group_id=self.name,
            client_id=self.name,
            session_timeout_ms=self.settings.consumer_session_timeout_ms,
            fetch_max_wait_ms=self.settings.consumer_fetch_max_wait_ms,
        )
        self._consumer = consumer
        self._dlq = make_producer(self.platform, client_id=f"{self.name}-dlq")
        await consumer.start()
        await self._dlq.start()
        log.info("consumer.started", consumer=self.name, topics=self.topics)
        committing: asyncio.Task[None] | None = None
        try:
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=200, max_records=500)
                if not batches:
                    continue
                # Every partition's records of the fetch in one transaction, each partition's
                # in its order (a customer's events share a partition), and one offset commit:
                # a transaction and a broker round trip per partition kept the timeline
                # consumer from following 500 events/s (docs/benchmarks.md).
                await self.process_batch([r for records in batches.values() for r in records])
                # The database is the source of truth; the offset only saves re-reading, so
                # it is committed while the next fetch is applied (one commit at a time, in
                # order), not before.
                if committing is not None:
                    await committing
                committing = asyncio.create_task(
                    consumer.commit({tp: records[-1].offset + 1 for tp, records in batches.items()})
                )
                for tp, records in batches.items():
                    self._report_lag(consumer, tp, records[-1].offset)
        except BaseException:
            if committing is not None:
                committing.cancel()
            raise
        if committing is not None:
            await committing

    async def _close(self) -> None:
        for client in (self._consumer, self._dlq):
            if client is not None:
                try:
                    await client.stop()
                except Exception:  # noqa: S110 - closing after a failure is best effort
                    pass
        self._consumer = None
        self._dlq = None

    def _report_lag(self, consumer: AIOKafkaConsumer, tp: TopicPartition, last: int) -> None:
        highwater = consumer.highwater(tp)
        if highwater is not None:
            CONSUMER_LAG.labels(self.name, tp.topic, tp.partition).set(max(highwater - last - 1, 0))

    async def process_batch(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        """Apply a fetch's records in one transaction; on any failure, record by record.

        One transaction per batch instead of per record is what lets a consumer keep up with
        a busy topic; the per-record path keeps the retry and dead-letter semantics exact.
        """
        parsed: list[tuple[ConsumerRecord[bytes, bytes], CloudEvent, Handler[SettingsT]]] = []
        for record in records:
            item = await self._parse(record)
            if item is not None:
                parsed.append((record, *item))
        if not parsed:
            return
        # Each event once, at its first place (a fetch may carry a redelivery of its own).
        first: dict[str, tuple[CloudEvent, Handler[SettingsT]]] = {}
        for _, event, handler in parsed:
            first.setdefault(event.id, (event, handler))
        try:
            async with self.session_factory() as session, session.begin():
                fresh = await self._enter_inbox(session, list(first.values()))
                todo = [item for event_id, item in first.items() if event_id in fresh]
                await self._apply_all(session, todo)
        except Exception as exc:
            log.info("consumer.batch_fallback", consumer=self.name, error=str(exc)[:200])
            for record, event, handler in parsed:
                await self._process_parsed(record, event, handler)
            return
        CONSUMER_PROCESSED.labels(self.name, "applied").inc(len(todo))
        CONSUMER_PROCESSED.labels(self.name, "duplicate").inc(len(parsed) - len(todo))

    async def _enter_inbox(
        self, session: AsyncSession, items: list[tuple[CloudEvent, Handler[SettingsT]]]
    ) -> set[str]:
        """Add the events to the inbox, in the caller's transaction; returns the ids that were
        not there (the others were applied before). One statement of one text whatever the
        batch's size: PostgreSQL plans it once per connection (an ``IN`` list and a
        multi-row ``VALUES`` are a new statement for each size). A concurrent instance of
        this consumer inserting the same id makes this wait for its outcome."""
        result = await session.execute(
            self._inbox_statement,
            {
                "consumer": self.name,
                "ids": [event.id for event, _ in items],
                "types": [event.type for event, _ in items],
                "now": datetime.now(UTC),
            },
        )
        return set(result.scalars())

    @functools.cached_property
    def _inbox_statement(self) -> Any:
        inbox = self.tables.inbox.name
        return text(
            f"INSERT INTO {inbox} (consumer, event_id, event_type, processed_at)"  # noqa: S608 - table name
            f" SELECT CAST(:consumer AS varchar), e, t, CAST(:now AS timestamptz)"
            f" FROM unnest(CAST(:ids AS varchar[]), CAST(:types AS varchar[])) AS u(e, t)"
            f" ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id"
        )

    async def _apply_all(
        self, session: AsyncSession, todo: list[tuple[CloudEvent, Handler[SettingsT]]]
    ) -> None:
        """Each event to its handler, in order. A handler with a ``many`` attribute (its batch
        version, leaving what the handler would leave event by event: the per-record fallback
        calls the handler) takes each run of consecutive events it handles in one call; each
        event still gets its consumer span, in its own trace."""
        start = 0
        while start < len(todo):
            event, handler = todo[start]
            many: BatchHandler[SettingsT] | None = getattr(handler, "many", None)
            if many is None:
                set_correlation_id(event.correlationid)
                with consuming(self.tracer, event, consumer=self.name):
                    await handler(session, event, self.context)
                start += 1
                continue
            end = start
            while end < len(todo) and todo[end][1] is handler:
                end += 1
            run = [item[0] for item in todo[start:end]]
            with consuming_many(self.tracer, run, consumer=self.name):
                await many(session, run, self.context)
            start = end

    async def _parse(
        self, record: ConsumerRecord[bytes, bytes]
    ) -> tuple[CloudEvent, Handler[SettingsT]] | None:
        try:
            event = CloudEvent.from_bytes(record.value or b"")
        except (ValidationError, ValueError) as exc:
            await self._dead_letter(record, f"malformed: {exc}", attempts=0)
            return None
        handler = self.handlers.get(event.type) or self.handlers.get(ANY_TYPE)
        if handler is None:
            CONSUMER_PROCESSED.labels(self.name, "ignored").inc()
            return None
        return event, handler

    async def process(self, record: ConsumerRecord[bytes, bytes]) -> str:
        """Handle one record; returns the outcome: applied, duplicate, ignored or dead-lettered."""
        item = await self._parse(record)
        if item is None:
            return "ignored_or_dead_lettered"
        return await self._process_parsed(record, *item)

    async def _process_parsed(
        self, record: ConsumerRecord[bytes, bytes], event: CloudEvent, handler: Handler[SettingsT]
    ) -> str:
        set_correlation_id(event.correlationid)
        bound = log.bind(consumer=self.name, event_id=event.id, event_type=event.type)
        delay = self.settings.consumer_backoff_seconds
        last_error = ""
        for attempt in range(1, self.settings.consumer_max_attempts + 1):
            try:
                outcome = await self.apply(event, handler)
            except Exception as exc:
                last_error = f"{type(exc).__name__}: {exc}"
                bound.warning("consumer.handler_failed", attempt=attempt, error=last_error)
                if attempt < self.settings.consumer_max_attempts:
                    await asyncio.sleep(delay)
                    delay *= 4
                continue
            CONSUMER_PROCESSED.labels(self.name, outcome).inc()
            bound.debug("consumer.event", outcome=outcome)
            return outcome
        await self._dead_letter(record, last_error, attempts=self.settings.consumer_max_attempts)
        return "dead_lettered"

    async def apply(self, event: CloudEvent, handler: Handler[SettingsT]) -> str:
        """Handler and inbox row in one transaction; a second delivery changes nothing."""
        inbox = self.tables.inbox
        try:
            async with self.session_factory() as session, session.begin():
                seen = await session.scalar(
                    select(inbox.c.event_id).where(
                        inbox.c.consumer == self.name, inbox.c.event_id == event.id
                    )
                )
                if seen is not None:
                    return "duplicate"
                with consuming(self.tracer, event, consumer=self.name):
                    await handler(session, event, self.context)
                await session.execute(
                    insert(inbox).values(
                        consumer=self.name,
                        event_id=event.id,
                        event_type=event.type,
                        processed_at=datetime.now(UTC),
                    )
                )
        except IntegrityError:
            # Another instance of this consumer group applied it first (after a rebalance).
            async with self.session_factory() as session:
                seen = await session.scalar(
                    select(inbox.c.event_id).where(
                        inbox.c.consumer == self.name, inbox.c.event_id == event.id
                    )
                )
            if seen is not None:
                return "duplicate"
            raise
        return "applied"

    async def _dead_letter(
        self, record: ConsumerRecord[bytes, bytes], error: str, *, attempts: int
    ) -> None:
        producer = self._dlq
        if producer is None:
            raise RuntimeError("consumer not started")
        headers: list[tuple[str, bytes]] = [
            ("sila-error", error[:2000].encode()),
            ("sila-consumer", self.name.encode()),
            ("sila-attempts", str(attempts).encode()),
            ("sila-original-topic", record.topic.encode()),
            ("sila-original-partition", str(record.partition).encode()),
            ("sila-original-offset", str(record.offset).encode()),
        ]
        headers.extend((k, v) for k, v in (record.headers or ()) if not k.startswith("sila-"))
        await producer.send_and_wait(
            dlq_topic(record.topic), value=record.value, key=record.key, headers=headers
        )
        DLQ_COUNT.labels(self.name, record.topic).inc()
        log.error(
            "consumer.dead_lettered",
            consumer=self.name,
            topic=record.topic,
            offset=record.offset,
            error=error[:500],
        )


def describe_dlq_record(headers: list[tuple[str, bytes]]) -> dict[str, Any]:
    """Readable view of a DLQ record's headers (for tools and tests)."""
    return {k: v.decode(errors="replace") for k, v in headers}


__all__ = ["ANY_TYPE", "EventConsumer", "Handler", "HandlerContext", "describe_dlq_record"]
