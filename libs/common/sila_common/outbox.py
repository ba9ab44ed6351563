"""The transactional outbox: events are rows written in the same transaction as the change.

The relay (``relay.py``) publishes them; published rows created within the retention
window stay as the service's event history, from which a lost broker or a new read model
is replayed.

An outbox row is written once and never changed. What is still to publish is a narrow row
in ``outbox_pending`` (id, shard), written with it by a trigger in the same statement (any
writer: the services, a bulk load, a test) and deleted by the relay once the broker has it.
Deleting a narrow row costs a sixth of rewriting the wide one (docs/benchmarks.md, "Sixth
pass"); a replay puts the ids back.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel
from pydantic_core import to_json
from sqlalchemy import (
    DDL,
    Column,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    delete,
    event,
    exists,
    insert,
)
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.correlation import current_correlation_id
from sila_common.db import BigId, JsonDoc, UtcDateTime, rows_affected
from sila_common.events import CloudEvent, EventSpec
from sila_common.problems import Problem
from sila_common.tracing import current_traceparent

# Rows are spread over shards by customer id; one relay owns a shard at a time, which
# keeps each customer's events in order while several relays share the work.
SHARD_COUNT = 16


# The largest envelope an event may have, as compact JSON. Brokers refuse a record over
# about 1 MiB (Kafka's ``message.max.bytes``, the producer's ``max_request_size``) and the
# relay sends the database's text of the envelope, which spaces JSON out (up to twice as
# long for a list of digits): an event the broker would refuse is refused where it is
# written, in its transaction, instead of stopping its shard's relay for good.
EVENT_MAX_BYTES = 512 * 1024


class EventTooLarge(Problem):
    status, slug, title = 413, "event-too-large", "Too large to record"


def shard_of(key: str) -> int:
    return zlib.crc32(key.encode()) % SHARD_COUNT


@dataclass(frozen=True)
class MessagingTables:
    outbox: Table
    pending: Table
    inbox: Table
    partition_offsets: Table
    lane_offsets: Table
    idempotency_keys: Table


def pending_trigger_ddl() -> list[str]:
    """Every row inserted into ``outbox`` is pending: a statement-level trigger inserts the
    statement's new rows' (id, shard) into ``outbox_pending`` (one more insert per
    statement: a multi-row INSERT or a COPY is one, an executemany one per row). Only
    inserts: outbox rows are never updated (an ``ON CONFLICT DO UPDATE`` on the outbox would
    leave its entry as it was)."""
    return [
        "CREATE OR REPLACE FUNCTION outbox_pending_on_insert() RETURNS trigger"
        " LANGUAGE plpgsql AS $$ BEGIN"
        " INSERT INTO outbox_pending (id, shard) SELECT id, shard FROM inserted;"
        " RETURN NULL; END $$",
        "CREATE TRIGGER outbox_pending_on_insert AFTER INSERT ON outbox"
        " REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT"
        " EXECUTE FUNCTION outbox_pending_on_insert()",
    ]


def messaging_tables(metadata: MetaData) -> MessagingTables:
    """The outbox, the consumers' inbox, the relay's offset memory and idempotency keys."""
    outbox = Table(
        "outbox",
        metadata,
        Column("id", BigId, primary_key=True, autoincrement=True),
        Column("event_id", String(64), nullable=False, unique=True),
        Column("topic", String(200), nullable=False),
        Column("message_key", String(200), nullable=False),
        Column("event_type", String(200), nullable=False),
        Column("shard", SmallInteger, nullable=False),
        Column("envelope", JsonDoc, nullable=False),
        # Two of its attributes, which the relay copies into the record's headers (read
        # here, not looked up in each envelope). Empty in rows written before they were
        # added: those went out without the two copies (their envelopes carry them).
        Column("correlationid", Text, nullable=True),
        Column("traceparent", Text, nullable=True),
        Column("created_at", UtcDateTime(), nullable=False),
        # The retention window's purge and a replay's window.
        Index("ix_outbox_created_at", "created_at"),
        # One customer's events: what an erasure deletes from the history.
        Index("ix_outbox_message_key", "message_key"),
    )
    # What the relay has still to publish; the primary key gives it in id order, the shard
    # index a lane's own entries when other shards hold a backlog (a replay, a relay away).
    pending = Table(
        "outbox_pending",
        metadata,
        Column("id", BigId, primary_key=True, autoincrement=False),
        Column("shard", SmallInteger, nullable=False),
        Index("ix_outbox_pending_shard", "shard", "id"),
    )
    for statement in pending_trigger_ddl():
        event.listen(outbox, "after_create", DDL(statement))  # type: ignore[no-untyped-call]
    inbox = Table(
        "inbox",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("event_id", String(64), primary_key=True),
        Column("event_type", String(200), nullable=False),
        Column("processed_at", UtcDateTime(), nullable=False),
    )
    # The highest offset relays saw the broker hand out per partition, before lanes kept
    # their own (``lane_offsets``): still read (the highest of both counts) and emptied by
    # a replay, no longer written.
    partition_offsets = Table(
        "outbox_partition_offsets",
        metadata,
        Column("topic", String(200), primary_key=True),
        Column("partition", Integer, primary_key=True),
        Column("last_offset", BigId, nullable=False),
        Column("updated_at", UtcDateTime(), nullable=False),
    )
    # The highest offset each lane of relays saw the broker hand out per partition, the
    # lane named by its first shard: lanes of live relays never share one, so no mark
    # waits on another's row. What the broker handed out is the highest over the lanes.
    lane_offsets = Table(
        "outbox_lane_offsets",
        metadata,
        Column("topic", String(200), primary_key=True),
        Column("partition", Integer, primary_key=True),
        Column("lane", SmallInteger, primary_key=True),
        Column("last_offset", BigId, nullable=False),
        Column("updated_at", UtcDateTime(), nullable=False),
    )
    idempotency_keys = Table(
        "idempotency_keys",
        metadata,
        Column("principal", String(100), primary_key=True),
        Column("key", String(200), primary_key=True),
        Column("request_hash", String(64), nullable=False),
        Column("status_code", Integer, nullable=False),
        Column("response", JsonDoc, nullable=False),
        Column("created_at", UtcDateTime(), nullable=False),
    )
    return MessagingTables(
        outbox=outbox,
        pending=pending,
        inbox=inbox,
        partition_offsets=partition_offsets,
        lane_offsets=lane_offsets,
        idempotency_keys=idempotency_keys,
    )


@dataclass(frozen=True)
class NewEvent:
    """An event to record: its type, subject, customer and payload."""

    spec: EventSpec
    subject: str
    customer_id: str
    data: BaseModel


class Outbox:
    """Records events into a service's outbox table inside the caller's transaction.

    Every event carries the correlation id and the trace context of the code writing it.
    """

    # Rows per INSERT when recording many events (a network incident's are thousands).
    CHUNK = 1000

    def __init__(self, table: Table) -> None:
        self.table = table
        # One statement object, rows as parameters: its compiled form is cached.
        self._insert = insert(table)

    def envelope(self, event: NewEvent, *, event_id: str | None = None) -> CloudEvent:
        return event.spec.envelope(
            subject=event.subject,
            customer_id=event.customer_id,
            data=event.data,
            correlation_id=current_correlation_id(),
            traceparent=current_traceparent(),
            event_id=event_id,
        )

    async def record(
        self,
        session: AsyncSession,
        spec: EventSpec,
        *,
        subject: str,
        customer_id: str,
        data: BaseModel,
        event_id: str | None = None,
    ) -> CloudEvent:
        event = self.envelope(NewEvent(spec, subject, customer_id, data), event_id=event_id)
        await session.execute(self._insert, row_for(event, spec.topic))
        return event

    async def record_many(self, session: AsyncSession, events: Sequence[NewEvent]) -> None:
        """Several events in bulk inserts of CHUNK rows, in their order (ids ascending)."""
        rows = [row_for(self.envelope(event), event.spec.topic) for event in events]
        for start in range(0, len(rows), self.CHUNK):
            await session.execute(self._insert, rows[start : start + self.CHUNK])


async def forget_customer_history(
    session: AsyncSession, tables: MessagingTables, customer_id: str
) -> int:
    """Deletes the published history of a customer's events, inside the caller's erasure
    transaction (law 18-07): the retained history holds their personal data (names, phone
    numbers, texts) for the retention window and would be replayed after a broker loss.
    Events not yet published stay and go out in order; the retention purge removes them
    later. Returns how many were deleted.
    """
    outbox, pending = tables.outbox, tables.pending
    published = ~exists().where(pending.c.id == outbox.c.id)
    result = await session.execute(
        delete(outbox).where(outbox.c.message_key == customer_id, published)
    )
    return rows_affected(result)


def row_for(event: CloudEvent, topic: str) -> dict[str, object]:
    envelope = event.model_dump(mode="json")
    size = len(to_json(envelope))
    if size > EVENT_MAX_BYTES:
        raise EventTooLarge(
            f"The change would publish a {event.type} event of {size:,} bytes; the limit is"
            f" {EVENT_MAX_BYTES:,}. Send less text or fewer items at once."
        )
    return {
        "event_id": event.id,
        "topic": topic,
        "message_key": event.customerid,
        "event_type": event.type,
        "shard": shard_of(event.customerid),
        "envelope": envelope,
        "correlationid": event.correlationid,
        "traceparent": event.traceparent,
        "created_at": datetime.now(UTC),
    }


__all__ = [
    "EVENT_MAX_BYTES",
    "SHARD_COUNT",
    "EventTooLarge",
    "MessagingTables",
    "NewEvent",
    "Outbox",
    "forget_customer_history",
    "messaging_tables",
    "shard_of",
]
