"""The outbox relay: publishes committed outbox rows to Kafka, in order, at least once.

- Polls the pending rows (``outbox_pending``, written with each outbox row by a trigger),
  so a transaction that commits after a later id was published is still picked up on
  the next poll (no id-gap loss). Publishing deletes them; the outbox rows themselves
  are written once and stay as the history.
- Rows are sharded by customer id; on PostgreSQL each relay instance holds an advisory
  lock per shard it serves, so one customer's events are published by one relay, in id
  order, while several relays share the shards (and take over a dead one's at once).
  Claimed rows are also locked ``FOR UPDATE SKIP LOCKED``.
- A relay deals its shards into ``relay_lanes`` lanes drained at once, one batch in flight
  per lane: batches in flight never share a customer, so a failed one cannot let a
  customer's later event reach the broker first. Running, each lane follows its shards on
  its own: it claims again as soon as its batch is marked, and polls less and less often,
  down to ``relay_poll_interval_seconds``, once it finds nothing pending.
- Publishes with acks=all, then deletes the rows' pending entries; a crash in between
  republishes them and the idempotent consumers absorb the duplicates.
- Remembers the last offset per partition: when the broker answers with an offset
  lower than that (it lost its data, e.g. a restarted memory-only broker) the relay
  republishes its retention window of history.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError, OffsetOutOfRangeError
from aiokafka.partitioner import murmur2
from sqlalchemy import delete, exists, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from sila_common.aio import wait_or_timeout
from sila_common.db import pooled_driver, rows_affected
from sila_common.kafka import make_producer
from sila_common.metrics import OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE, OUTBOX_PUBLISHED, OUTBOX_REPLAYS
from sila_common.outbox import SHARD_COUNT, MessagingTables
from sila_common.settings import PlatformSettings, ServiceSettings

if TYPE_CHECKING:
    import asyncpg

log = structlog.get_logger(__name__)

ADVISORY_NAMESPACE = 0x5117A  # "sila": keeps our advisory locks apart from anyone else's
BROKER_CHECK_SECONDS = 10.0
BROKER_PROBE_SECONDS = 3.0
PURGE_EVERY_SECONDS = 600.0
# Batches published per lane of shards and per call of ``publish_pending``.
PIPELINE_MAX_BATCHES = 10
# How long the running relay's lanes follow their shards before the relay looks at its
# shards, the broker and the history again.
FOLLOW_SECONDS = 1.0
# A lane that found nothing pending looks again after this, then after twice as long each
# time, up to ``relay_poll_interval_seconds``: right after a batch more events are likely.
IDLE_FIRST_PAUSE_SECONDS = 0.002
# The most a claim hands over per partition, in one producer batch (one record may be
# larger): well under the 1 MiB a broker takes in one batch by default
# (``message.max.bytes``), and room for the 500 rows of a claim of ordinary events.
RELAY_BATCH_BYTES = 512 * 1024


class OutboxRelay:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        tables: MessagingTables,
        platform: PlatformSettings,
        settings: ServiceSettings,
    ) -> None:
        self.engine = engine
        self.tables = tables
        self.platform = platform
        self.settings = settings
        self.service = settings.service_name
        self.producer: AIOKafkaProducer | None = None
        self._lock_conn: AsyncConnection | None = None
        self.owned_shards: set[int] = set()
        self._last_broker_check = 0.0
        self._last_purge = 0.0
        # The highest offset known handed out per partition: read from the database when a
        # call starts publishing, then raised by each batch this relay publishes (one round
        # trip per call instead of one per batch).
        self._known: dict[tuple[str, int], int] = {}

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        producer = make_producer(
            self.platform, client_id=f"{self.service}-relay", max_batch_size=RELAY_BATCH_BYTES
        )
        await producer.start()
        self.producer = producer

    async def stop(self) -> None:
        if self.producer is not None:
            await self.producer.stop()
            self.producer = None
        await self._release_shards()

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until ``stop`` is set; survives broker and database outages."""
        while not stop.is_set():
            try:
                if self.producer is None:
                    await self.start()
                await self.hold_shards()
                await self.follow(stop, seconds=FOLLOW_SECONDS)
                await self._maybe_check_broker()
            except (KafkaError, OSError, ConnectionError) as exc:
                log.warning("relay.broker_unavailable", error=str(exc))
                await self._reset_producer()
                await wait_or_timeout(stop, 1.0)
            except Exception as exc:  # database outage or anything unexpected: keep going
                log.exception("relay.cycle_failed", error=str(exc))
                await wait_or_timeout(stop, 1.0)
        await self.stop()

    async def _reset_producer(self) -> None:
        if self.producer is not None:
            try:
                await self.producer.stop()
            except Exception:  # noqa: S110 - a broken producer is discarded either way
                pass
        self.producer = None

    # -- shard ownership ---------------------------------------------------------------
    async def hold_shards(self) -> None:
        """Hold advisory locks on up to ``relay_max_shards`` shards."""
        try:
            if self._lock_conn is None:
                self._lock_conn = await self.engine.connect()
                await self._lock_conn.execution_options(isolation_level="AUTOCOMMIT")
                self.owned_shards = set()
            conn = self._lock_conn
            await conn.execute(select(1))
            for shard in range(SHARD_COUNT):
                if len(self.owned_shards) >= self.settings.relay_max_shards:
                    break
                if shard in self.owned_shards:
                    continue
                got = await conn.scalar(
                    select(func.pg_try_advisory_lock(ADVISORY_NAMESPACE, shard))
                )
                if got:
                    self.owned_shards.add(shard)
        except Exception:
            # Lost the lock connection: its locks are gone, so we own nothing any more.
            await self._release_shards()
            raise

    async def _release_shards(self) -> None:
        self.owned_shards = set()
        if self._lock_conn is not None:
            conn, self._lock_conn = self._lock_conn, None
            try:
                # Invalidate, not close: a pooled connection would keep the locks alive.
                await conn.invalidate()
            except Exception:  # noqa: S110 - closing a dead connection may fail; locks die with it
                pass

    # -- publishing ----------------------------------------------------------------------
    async def publish_batch(self) -> int:
        """Publish one batch of pending rows; returns how many were published."""
        await self._read_known_offsets()
        batch = await self._send_batch(self.owned_shards)
        if batch is None:
            return 0
        published, lost = await self._finish_batch(batch)
        if lost:
            await self.replay(reason="offsets_went_backwards")
        return published

    async def publish_pending(self, *, max_batches: int = PIPELINE_MAX_BATCHES) -> int:
        """Publish batches until none is pending (or ``max_batches`` a lane), lanes at once.

        The relay's shards are dealt into ``relay_lanes`` lanes, each drained batch after
        batch (claim, send, acks, mark) while the other lanes' batches are at other steps:
        one lane's database round trips overlap the others' records on the wire. A
        customer's events are all in one shard, so the batches in flight never hold events
        of the same customer: when one fails (a broker away longer than the producer's
        timeout) while another reaches the broker, no customer's later event is on the
        broker before an earlier one. A failed batch is rolled back and goes out again
        (duplicates of what reached the broker, absorbed by the idempotent consumers; never
        a loss); the other lanes are stopped and theirs rolled back too.
        """

        async def drain(shards: list[int], publish: _LaneBatch) -> None:
            for _ in range(max_batches):
                if not await publish(shards, False):
                    return

        return await self._in_lanes(drain)

    async def follow(self, stop: asyncio.Event, *, seconds: float) -> int:
        """Publish for ``seconds`` (or until ``stop``), each lane on its own: a lane claims
        again as soon as its batch is marked, and when it finds nothing it looks again
        after a pause that doubles from ``IDLE_FIRST_PAUSE_SECONDS`` up to the poll interval.
        So a busy lane never waits for a slower one, an event written while its lane is
        busy goes out in the lane's next batch, and an idle relay polls no more often than
        the poll interval. Failures as in ``publish_pending``."""
        longest = self.settings.relay_poll_interval_seconds
        if not self.owned_shards:  # a standby: tries for the shards again after the interval
            await wait_or_timeout(stop, longest)
            return 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds

        async def follow_lane(shards: list[int], publish: _LaneBatch) -> None:
            pause = min(IDLE_FIRST_PAUSE_SECONDS, longest)
            idle = False
            while not stop.is_set() and loop.time() < deadline:
                if await publish(shards, idle):
                    pause = min(IDLE_FIRST_PAUSE_SECONDS, longest)
                    idle = False
                    continue
                idle = True
                await wait_or_timeout(stop, min(pause, max(deadline - loop.time(), 0.0)))
                pause = min(pause * 2, longest)

        return await self._in_lanes(follow_lane)

    async def _in_lanes(
        self, work: Callable[[list[int], _LaneBatch], Coroutine[Any, Any, None]]
    ) -> int:
        """Run ``work`` on each lane of shards at once, given a function that publishes one
        batch of a lane's shards (returning how many events). Returns how many were
        published; when the broker handed out offsets it had handed out before, the other
        lanes are stopped and the history goes out again before anything newer."""
        await self._read_known_offsets()
        published = 0
        lost = False

        async def publish(shards: list[int], probe: bool) -> int:
            nonlocal published, lost
            batch = await self._send_batch(shards, probe=probe)
            if batch is None:
                return 0
            count, lost_here = await self._finish_batch(batch)
            published += count
            if lost_here:
                lost = True
                raise _BrokerLostData  # stops the other lanes: nothing newer goes first
            return count

        failure: BaseException | None = None
        try:
            async with asyncio.TaskGroup() as group:
                for lane in _lanes(self.owned_shards, self.settings.relay_lanes):
                    group.create_task(work(lane, publish))
        except BaseExceptionGroup as failed:
            # The other lanes were cancelled and their batches rolled back.
            failure = next(
                (e for e in failed.exceptions if not isinstance(e, _BrokerLostData)), None
            )
        if lost:  # what the broker lost goes out again before anything newer
            await self.replay(reason="offsets_went_backwards")
        if failure is not None:
            raise failure  # the first failure, as from a plain call
        return published

    async def _send_batch(self, shards: Iterable[int], *, probe: bool = False) -> _Batch | None:
        """Claim the next pending rows of ``shards`` in a transaction left open, and send
        them. With ``probe`` (a lane that found nothing last time), first look whether any
        row is pending, outside a transaction: one round trip instead of the claim's three
        (begin, claim, roll back) for each look of an idle lane."""
        shards = sorted(shards)
        if not shards:
            return None
        producer = self.producer
        if producer is None:
            raise RuntimeError("relay not started")
        batch = _Batch(pooled_driver(self.engine))
        try:
            conn = await batch.open()
            if probe and not await conn.fetchval(self._pending_statement, shards):
                await batch.abandon()
                return None
            await conn.execute("BEGIN")
            rows = await conn.fetch(self._claim_statement, shards)
            if not rows:
                await batch.abandon()
                return None
            # Taken before sending (a copy: other lanes raise it meanwhile): any offset the
            # broker hands out afterwards must be higher.
            batch.known = dict(self._known)
            batch.lane = shards[0]
            batch.ids = await _send_records(producer, rows, batch.acks)
        except BaseException:
            await batch.abandon()
            raise
        return batch

    async def _finish_batch(self, batch: _Batch) -> tuple[int, bool]:
        """Wait for the batch's acks, then mark its rows and remember the offsets: one
        statement, one commit. Returns how many were published and whether the broker handed
        out an offset it had handed out before (it lost data: the history must go again)."""
        try:
            delivered = await asyncio.gather(*(sent.delivery for sent in batch.acks))
            highest: dict[tuple[str, int], int] = {}
            lowest: dict[tuple[str, int], int] = {}
            for sent, first in zip(batch.acks, delivered, strict=True):
                # A producer batch's records have consecutive offsets from its first's.
                tp = (first.topic, first.partition)
                highest[tp] = max(highest.get(tp, -1), first.offset + sent.records - 1)
                lowest[tp] = min(lowest.get(tp, first.offset), first.offset)
            known = batch.known
            suspect = [tp for tp in lowest if tp in known and lowest[tp] <= known[tp]]
            if suspect:
                # Confirmed by what the relays recorded (which only rises, but for a replay
                # that empties it): when another relay has replayed since this one read its
                # copy, the offsets it recorded since are below the copy's, and the history
                # is going out already.
                recorded = {
                    (row["topic"], row["partition"]): row["last_offset"]
                    for row in await batch.conn.fetch(self._offsets_statement)
                }
                suspect = [tp for tp in suspect if recorded.get(tp, -1) >= known[tp]]
                if not suspect:
                    self._known = recorded
            lost = bool(suspect)
            for tp, offset in highest.items():
                self._known[tp] = max(self._known.get(tp, -1), offset)
            # Sorted, so that relays writing the same partitions lock their rows in one order.
            ordered = sorted(highest.items())
            await batch.conn.execute(
                self._mark_statement,
                batch.ids,
                datetime.now(UTC),
                [t for (t, _), _ in ordered],
                [p for (_, p), _ in ordered],
                [o for _, o in ordered],
                batch.lane,
            )
            await batch.conn.execute("COMMIT")
        finally:
            await batch.abandon()
        OUTBOX_PUBLISHED.labels(self.service).inc(len(batch.ids))
        return len(batch.ids), lost

    @functools.cached_property
    def _claim_statement(self) -> str:
        """The next ``relay_batch_size`` pending entries of the shards ($1), locked, oldest
        first, each with its event read by its primary key: the envelope as the database's
        text (no JSON decoding and re-encoding per row in Python) and the two attributes
        copied into headers, from their columns. The ``LIMIT 1`` keeps that read a lookup
        per entry: joined plainly, the plan PostgreSQL keeps for the prepared statement
        hashed the whole outbox for each claim (8.6 ms with 3,500 rows, growing with the
        history). An entry whose event is gone comes back without one."""
        outbox, pending = self.tables.outbox.name, self.tables.pending.name
        return (
            f"WITH claimed AS MATERIALIZED (SELECT id FROM {pending}"  # noqa: S608 - table names
            f" WHERE shard = ANY($1::smallint[])"
            f" ORDER BY id LIMIT {int(self.settings.relay_batch_size)} FOR UPDATE SKIP LOCKED)"
            f" SELECT claimed.id, o.topic, o.message_key, o.body, o.correlationid, o.traceparent"
            f" FROM claimed LEFT JOIN LATERAL (SELECT topic, message_key,"
            f" envelope::text AS body, correlationid, traceparent"
            f" FROM {outbox} WHERE {outbox}.id = claimed.id LIMIT 1) AS o ON true"
            f" ORDER BY claimed.id"
        )

    @functools.cached_property
    def _pending_statement(self) -> str:
        """Whether any entry of the shards ($1) is pending."""
        pending = self.tables.pending.name
        return f"SELECT EXISTS (SELECT 1 FROM {pending} WHERE shard = ANY($1::smallint[]))"  # noqa: S608 - table name

    @functools.cached_property
    def _mark_statement(self) -> str:
        """Delete the published rows' pending entries ($1) and keep the highest offset seen
        per partition ($3, $4, $5 at $2) in the lane's own rows ($6, its first shard: no
        other batch in flight writes them, so marks never wait on each other), in one
        round trip."""
        pending = self.tables.pending.name
        offsets = self.tables.lane_offsets.name
        return (
            f"WITH published AS (DELETE FROM {pending} WHERE id = ANY($1::bigint[]))"  # noqa: S608 - table names
            f" INSERT INTO {offsets} (topic, partition, lane, last_offset, updated_at)"
            f" SELECT t, p, $6::smallint, o, $2::timestamptz FROM unnest($3::varchar[],"
            f" $4::integer[], $5::bigint[]) AS u(t, p, o)"
            f" ON CONFLICT (topic, partition, lane) DO UPDATE SET"
            f" last_offset = greatest({offsets}.last_offset, excluded.last_offset),"
            f" updated_at = excluded.updated_at"
        )

    @functools.cached_property
    def _offsets_statement(self) -> str:
        """The highest offset recorded per partition, over the lanes' rows and those of the
        one-row-per-partition table they replaced (which relays of the previous version
        may still be writing)."""
        lanes, before = self.tables.lane_offsets.name, self.tables.partition_offsets.name
        return (
            "SELECT topic, partition, max(last_offset) AS last_offset FROM"  # noqa: S608 - table names
            f" (SELECT topic, partition, last_offset FROM {lanes}"
            f" UNION ALL SELECT topic, partition, last_offset FROM {before}) AS recorded"
            " GROUP BY topic, partition"
        )

    async def _read_known_offsets(self) -> None:
        """The offsets every relay recorded (this one's batches included: each is marked
        before the call that published it returns); a replay by any relay empties them."""
        async with self.engine.connect() as conn:
            self._known = await self._known_offsets(conn)

    async def _known_offsets(self, conn: AsyncConnection) -> dict[tuple[str, int], int]:
        return {
            (row.topic, row.partition): row.last_offset
            for row in (await conn.execute(text(self._offsets_statement))).all()
        }

    # -- broker data loss ----------------------------------------------------------------
    async def _maybe_check_broker(self) -> None:
        loop_time = asyncio.get_running_loop().time()
        if loop_time - self._last_purge >= PURGE_EVERY_SECONDS:
            self._last_purge = loop_time
            purged = await self.purge_history()
            if purged:
                log.info("relay.history_purged", events=purged)
        if loop_time - self._last_broker_check < BROKER_CHECK_SECONDS:
            return
        self._last_broker_check = loop_time
        if await self.broker_lost_data():
            await self.replay(reason="broker_lost_data")

    async def broker_lost_data(self) -> bool:
        """True when the last record we published to some partition is no longer there.

        Reading the record back is exact on any broker; comparing end offsets is not
        (the embedded broker reports a partition's end as its last batch's base + 1).
        """
        async with self.engine.connect() as conn:
            known = {
                TopicPartition(topic, partition): last
                for (topic, partition), last in (await self._known_offsets(conn)).items()
            }
        if not known:
            return False
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.platform.kafka_bootstrap,
            client_id=f"{self.service}-check",
            enable_auto_commit=False,
            auto_offset_reset="none",
        )
        await consumer.start()
        try:
            consumer.assign(list(known))
            for tp, last in known.items():
                consumer.seek(tp, last)
            found: set[TopicPartition] = set()
            deadline = asyncio.get_running_loop().time() + BROKER_PROBE_SECONDS
            while len(found) < len(known) and asyncio.get_running_loop().time() < deadline:
                batch = await consumer.getmany(timeout_ms=200)
                for tp, records in batch.items():
                    if any(record.offset == known[tp] for record in records):
                        found.add(tp)
                        consumer.pause(tp)
        except OffsetOutOfRangeError:
            return True
        except KafkaError as exc:
            log.warning("relay.broker_check_failed", error=str(exc))
            return False
        finally:
            await consumer.stop()
        return len(found) < len(known)

    async def replay(self, *, reason: str, since: datetime | None = None) -> int:
        """Make the retained history pending again so it goes out again, in id order."""
        window_start = since or datetime.now(UTC) - timedelta(
            hours=self.settings.outbox_retention_hours
        )
        outbox, pending = self.tables.outbox, self.tables.pending
        async with self.engine.begin() as conn:
            # Waits for the batches in flight (any relay's) and holds new claims and writes
            # until this commits: an entry claimed now would be deleted by its batch after
            # this put it back (``DO NOTHING`` does not wait for a claim's row lock), and its
            # event, lost by the broker, would not go out again.
            await conn.execute(text(f"LOCK TABLE {pending.name} IN EXCLUSIVE MODE"))
            result = await conn.execute(
                pg_insert(pending)
                .from_select(
                    ["id", "shard"],
                    select(outbox.c.id, outbox.c.shard).where(outbox.c.created_at >= window_start),
                )
                .on_conflict_do_nothing(index_elements=["id"])
            )
            await conn.execute(delete(self.tables.lane_offsets))
            await conn.execute(delete(self.tables.partition_offsets))
        self._known = {}
        count = rows_affected(result)
        OUTBOX_REPLAYS.labels(self.service, reason).inc()
        log.warning("relay.replay", reason=reason, events=count)
        return count

    async def purge_history(self) -> int:
        """Forget published events older than the retention window."""
        cutoff = datetime.now(UTC) - timedelta(hours=self.settings.outbox_retention_hours)
        outbox, pending = self.tables.outbox, self.tables.pending
        async with self.engine.begin() as conn:
            result = await conn.execute(
                delete(outbox).where(
                    outbox.c.created_at < cutoff,
                    ~exists().where(pending.c.id == outbox.c.id),
                )
            )
        return rows_affected(result)


async def refresh_outbox_gauges(engine: AsyncEngine, tables: MessagingTables, service: str) -> None:
    """Backlog and oldest pending age, read from the database at scrape time."""
    outbox, pending = tables.outbox, tables.pending
    oldest_id = select(func.min(pending.c.id)).scalar_subquery()
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(
                    select(func.count()).select_from(pending).scalar_subquery(),
                    select(outbox.c.created_at).where(outbox.c.id == oldest_id).scalar_subquery(),
                )
            )
        ).one()
    OUTBOX_BACKLOG.labels(service).set(row[0])
    oldest = row[1]
    OUTBOX_OLDEST_AGE.labels(service).set(
        (datetime.now(UTC) - oldest).total_seconds() if oldest else 0
    )


_LaneBatch = Callable[[list[int], bool], Awaitable[int]]
"""Publishes one batch of the given shards' pending events; returns how many. With True
(the lane found nothing last time), looks whether any is pending before claiming."""


class _BrokerLostData(Exception):
    """A lane saw the broker hand out offsets it had handed out before."""


def _lanes(shards: Iterable[int], count: int) -> list[list[int]]:
    """The shards dealt into ``count`` lanes (fewer when there are fewer shards)."""
    ordered = sorted(shards)
    return [lane for lane in (ordered[i::count] for i in range(count)) if lane]


@dataclass(frozen=True)
class _Sent:
    """A producer batch handed to the producer: its delivery (the first record's metadata)
    and how many records it holds."""

    delivery: asyncio.Future[Any]
    records: int


# The partition of a key among n, as the producer's default partitioner (and Java's) picks
# it: murmur2 of the key. In pure Python, so remembered for the customers seen lately.
@functools.lru_cache(maxsize=65_536)
def _key_hash(key: bytes) -> int:
    hashed: int = murmur2(key)
    return hashed & 0x7FFFFFFF


async def _send_records(
    producer: AIOKafkaProducer, rows: list[Any], sent: list[_Sent]
) -> list[int]:
    """Hand the claimed rows to the producer in id order, one producer batch per topic
    partition, each record in the partition the default partitioner would pick for its key
    (a customer's events stay in one partition). A partition's part of a claim is one batch,
    which the broker appends whole or not at all: if it went as two, the first could fail
    while the second got through, putting a customer's later event first. So a row that
    does not fit its partition's batch (``RELAY_BATCH_BYTES``) stays pending, with every
    later row of that partition, for the lane's next claim. A batch per partition instead
    of a future per record halves the relay's CPU per event (docs/benchmarks.md, "Seventh
    pass"). Returns the ids handed over, and those of rows whose event is gone (never
    written so), dropped."""
    filling: dict[tuple[str, int], tuple[Any, int]] = {}
    full: set[tuple[str, int]] = set()
    partitions: dict[str, list[int]] = {}
    handed: list[int] = []
    for row in rows:
        topic = row["topic"]
        if topic is None:
            handed.append(row["id"])
            continue
        key = row["message_key"].encode()
        choices = partitions.get(topic)
        if choices is None:
            choices = partitions[topic] = sorted(await producer.partitions_for(topic))
        tp = (topic, choices[_key_hash(key) % len(choices)])
        if tp in full:
            continue
        headers = [("content-type", b"application/cloudevents+json")]
        # Copies of envelope attributes for tools that read only headers.
        if row["correlationid"]:
            headers.append(("correlationid", row["correlationid"].encode()))
        if row["traceparent"]:
            headers.append(("traceparent", row["traceparent"].encode()))
        builder, count = filling.get(tp) or (producer.create_batch(), 0)
        value = row["body"].encode()
        if builder.append(timestamp=None, key=key, value=value, headers=headers) is None:
            full.add(tp)  # a first record always fits: the batch holds at least one
            continue
        filling[tp] = (builder, count + 1)
        handed.append(row["id"])
    for (topic, partition), (builder, count) in filling.items():
        sent.append(_Sent(await producer.send_batch(builder, topic, partition=partition), count))
    return handed


class _Batch:
    """One claimed batch: its connection (a transaction open on it once claimed), its rows'
    ids, the producer batches awaited."""

    def __init__(self, lending: contextlib.AbstractAsyncContextManager[asyncpg.Connection]) -> None:
        self._lending = lending
        self._conn: asyncpg.Connection | None = None
        self.ids: list[int] = []
        self.acks: list[_Sent] = []
        self.known: dict[tuple[str, int], int] = {}
        self.lane = 0  # its lane's first shard: where its offsets are recorded
        self._closed = False

    async def open(self) -> asyncpg.Connection:
        self._conn = await self._lending.__aenter__()
        return self._conn

    @property
    def conn(self) -> asyncpg.Connection:
        assert self._conn is not None, "the batch's connection is open"
        return self._conn

    async def abandon(self) -> None:
        """Give the connection back, what was not committed rolled back (idempotent)."""
        if self._closed or self._conn is None:
            return
        self._closed = True
        await self._lending.__aexit__(None, None, None)
