"""The dispatcher: sends due messages, one sender per priority lane, exactly once per message.

- Lanes: otp, service and marketing each have their own loop, claim and concurrency, so a
  campaign backlog of a million never sits in front of a one-time code.
- Claim: due rows are locked ``FOR UPDATE SKIP LOCKED`` (several dispatchers share the work)
  and marked ``sending`` with an attempt id, committed before the provider is called.
- After the call, the outcome is recorded only if the message is still in that attempt;
  successes that finish together are recorded in one transaction (group commit), and so are
  temporary failures (queued again, each for its own backoff).
- ``SILA_NOTIFY_LANES`` chooses the lanes a process sends (a campaign in its own process).
- A message left ``sending`` past the lease (its sender died mid-call) is reconciled: queued
  again with the same message id, which providers use to drop the duplicate (SMS ``msg-id``,
  e-mail Message-ID, push collapse tag, inbox unique key). See docs/notify.md for the edge.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Select, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sila_common.aio import wait_or_timeout
from sila_common.db import inline, rows_affected
from sila_common.outbox import Outbox
from sila_notify.channels.base import (
    Channel,
    ChannelError,
    OutgoingMessage,
    PermanentFailure,
    SendResult,
    TemporaryFailure,
)
from sila_notify.directory import device_tokens
from sila_notify.domain.routing import LANES, retry_delay_seconds
from sila_notify.domain.sealing import SealError
from sila_notify.flows.delivery import records
from sila_notify.flows.delivery.batching import GroupCommit
from sila_notify.flows.delivery.wakeup import Wakeups
from sila_notify.settings import NotifySettings
from sila_notify.tables import messages, push_tokens

log = structlog.get_logger(__name__)


def due_messages(lane: str, now: datetime, limit: int) -> Select[Any]:
    """The lane's next due messages, locked, oldest first (read in order from the due
    index: ``inline``)."""
    return (
        select(messages)
        .where(
            messages.c.state == inline("queued"),
            messages.c.lane == lane,
            messages.c.scheduled_for <= now,
        )
        .order_by(messages.c.scheduled_for)
        .limit(inline(limit))
        .with_for_update(skip_locked=True)
    )


class Dispatcher:
    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        settings: NotifySettings,
        channels: Mapping[str, Channel],
        wakeups: Wakeups,
    ) -> None:
        self.session_factory = session_factory
        # The runtime's (``wakeup.wakeups_of``): its planners wake this dispatcher's lanes.
        self._wakeups = wakeups
        self.outbox = outbox
        self.settings = settings
        self.channels = dict(channels)
        self._limits: dict[str, asyncio.Semaphore] = {
            lane: asyncio.Semaphore(self.concurrency(lane)) for lane in LANES
        }
        # Successful sends are recorded by group commit, one per lane so that a marketing
        # batch never holds an OTP's record.
        self._recorders: dict[str, GroupCommit[records.Sent, bool]] = {
            lane: GroupCommit(self._record_sends) for lane in LANES
        }
        # Temporary failures too: a throttling SMS centre refuses a whole burst at once.
        self._retriers: dict[str, GroupCommit[records.Retry, bool]] = {
            lane: GroupCommit(self._record_retries) for lane in LANES
        }
        self.wakeups: dict[str, asyncio.Event] = {}

    async def run(self, stop: asyncio.Event) -> None:
        lanes = self.settings.served_lanes()
        self.wakeups = {lane: asyncio.Event() for lane in lanes}
        for lane, event in self.wakeups.items():
            self._wakeups.listen(lane, event)
        await asyncio.gather(
            *(self._lane_loop(lane, stop) for lane in lanes), self._reconcile_loop(stop)
        )

    def concurrency(self, lane: str) -> int:
        return (
            self.settings.marketing_concurrency
            if lane == "marketing"
            else self.settings.dispatcher_concurrency
        )

    async def _lane_loop(self, lane: str, stop: asyncio.Event) -> None:
        """Keep the lane's senders busy: claim more as soon as some are free, not per batch.

        At most four times the lane's concurrency is claimed and not yet recorded, so a message
        waits in ``sending`` for a free sender only briefly (far below the lease).
        """
        woken = self.wakeups[lane]
        ahead = 4 * self.concurrency(lane)
        in_flight: set[asyncio.Task[None]] = set()
        try:
            while not stop.is_set():
                free = ahead - len(in_flight)
                if free < min(self.concurrency(lane), self.settings.dispatcher_batch):
                    # Claim in batches: a transaction per freed sender would cost more than
                    # the send.
                    await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                    continue
                woken.clear()
                try:
                    claimed = await self.claim(
                        lane, limit=min(free, self.settings.dispatcher_batch)
                    )
                except Exception as error:  # a database outage: keep the loop alive
                    log.exception("dispatcher.cycle_failed", lane=lane, error=type(error).__name__)
                    await wait_or_timeout(stop, 1.0)
                    continue
                for row, attempt_id in claimed:
                    task = asyncio.create_task(self._send_limited(lane, row, attempt_id))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                if not claimed:
                    await _first_of(stop, woken, self.settings.dispatcher_poll_seconds)
        finally:
            # Stopping: what was claimed is sent and recorded (or left to the lease).
            if in_flight:
                await asyncio.gather(*in_flight, return_exceptions=True)

    async def _reconcile_loop(self, stop: asyncio.Event) -> None:
        interval = max(self.settings.sending_lease_seconds / 4, 0.05)
        while not stop.is_set():
            try:
                await self.reconcile()
            except Exception as error:
                log.exception("dispatcher.reconcile_failed", error=type(error).__name__)
            await wait_or_timeout(stop, interval)

    async def run_once(self, lane: str) -> int:
        """Claim and send one batch of the lane's due messages; returns how many."""
        claimed = await self.claim(lane)
        await asyncio.gather(*(self._send_limited(lane, row, attempt) for row, attempt in claimed))
        return len(claimed)

    async def claim(self, lane: str, *, limit: int | None = None) -> list[tuple[Any, str]]:
        now = datetime.now(UTC)
        attempt_id = str(uuid.uuid4())
        query = due_messages(lane, now, limit or self.settings.dispatcher_batch)
        async with self.session_factory() as session, session.begin():
            rows = (await session.execute(query)).all()
            if not rows:
                return []
            result = await session.execute(
                update(messages)
                .where(messages.c.id.in_([r.id for r in rows]), messages.c.state == "queued")
                .values(
                    state="sending",
                    attempt_id=attempt_id,
                    attempts=messages.c.attempts + 1,
                    sending_since=now,
                )
                .returning(messages)
            )
            claimed = result.all()
        return [(row, attempt_id) for row in claimed]

    async def _send_limited(self, lane: str, row: Any, attempt_id: str) -> None:
        try:
            await self.send(row, attempt_id)
        except Exception as error:
            # Recorded nothing: the lease will bring the message back.
            log.exception("dispatcher.record_failed", message_id=row.id, error=type(error).__name__)

    async def send(self, row: Any, attempt_id: str) -> None:
        """Call the channel for one claimed message and record what happened."""
        channel = self.channels.get(row.channel)
        if channel is None:
            await self._record_failure(
                row, attempt_id, PermanentFailure(f"channel {row.channel} is not configured")
            )
            return
        # The lane's concurrency bounds the provider calls (and the rare failure records);
        # a success is recorded after the slot is free again, by group commit.
        async with self._limits[str(row.lane)]:
            destinations: tuple[str, ...]
            if row.channel == "push":
                async with self.session_factory() as session:
                    destinations = tuple(await device_tokens(session, row.customer_id))
            else:
                destinations = (row.destination,) if row.destination else ()
            try:
                body = self.settings.sealer().open(row.sealed_body) if row.sealed_body else row.body
            except SealError as error:
                await self._record_failure(row, attempt_id, PermanentFailure(str(error)))
                return
            outgoing = OutgoingMessage(
                id=row.id,
                attempt_id=attempt_id,
                customer_id=row.customer_id,
                channel=row.channel,
                destinations=destinations,
                subject=row.subject,
                body=body,
                language=row.language,
                event_type=row.event_type,
                callback_token=row.callback_token,
            )
            try:
                result = await channel.send(outgoing)
            except ChannelError as error:
                await self._record_failure(row, attempt_id, error)
                return
            except Exception as error:  # an adapter bug must not lose the message
                await self._record_failure(
                    row, attempt_id, TemporaryFailure(f"unexpected: {type(error).__name__}")
                )
                return
        await self._record_success(row, attempt_id, result)

    async def _record_success(self, row: Any, attempt_id: str, result: SendResult) -> None:
        if result.dead_destinations:
            async with self.session_factory() as session, session.begin():
                await _forget_devices(session, result.dead_destinations)
        sent = records.Sent(
            row=row,
            attempt_id=attempt_id,
            provider_message_id=result.provider_message_id,
            delivered=result.delivered,
        )
        recorded = await self._recorders[str(row.lane)].submit(sent)
        log.info("dispatcher.sent", message_id=row.id, channel=row.channel, recorded=recorded)

    async def _record_sends(self, sends: list[records.Sent]) -> list[bool]:
        """The sends that finished while the previous record ran: one transaction for all."""
        async with self.session_factory() as session, session.begin():
            recorded = await records.mark_sent_many(session, self.outbox, sends)
        return [str(s.row.id) in recorded for s in sends]

    async def _record_retries(self, retries: list[records.Retry]) -> list[bool]:
        async with self.session_factory() as session, session.begin():
            queued = await records.retry_many(session, retries)
        return [r.message_id in queued for r in retries]

    async def _record_failure(self, row: Any, attempt_id: str, error: ChannelError) -> None:
        attempts = int(row.attempts)
        if isinstance(error, TemporaryFailure) and attempts < self.settings.max_attempts:
            if error.dead_destinations:
                async with self.session_factory() as session, session.begin():
                    await _forget_devices(session, error.dead_destinations)
            delay = retry_delay_seconds(attempts, self.settings.retry_base_seconds)
            retry = records.Retry(
                message_id=str(row.id),
                attempt_id=attempt_id,
                reason=error.reason,
                at=datetime.now(UTC) + timedelta(seconds=delay),
            )
            queued = await self._retriers[str(row.lane)].submit(retry)
            log.info(
                "dispatcher.retry", message_id=row.id, attempts=attempts, delay=delay, queued=queued
            )
            return
        async with self.session_factory() as session, session.begin():
            await _forget_devices(session, error.dead_destinations)
            reason = error.reason
            if isinstance(error, TemporaryFailure):
                reason = f"gave up after {attempts} attempts: {reason}"
            next_channel = await records.fail(
                session,
                self.outbox,
                self.settings,
                row,
                reason=reason,
                from_states=("sending",),
                attempt_id=attempt_id,
            )
        log.info("dispatcher.failed", message_id=row.id, failover=next_channel)

    async def reconcile(self) -> int:
        """Queue again the messages whose sender died mid-call (same id: providers dedupe)."""
        cutoff = datetime.now(UTC) - timedelta(seconds=self.settings.sending_lease_seconds)
        async with self.session_factory() as session, session.begin():
            result = await session.execute(
                update(messages)
                .where(messages.c.state == inline("sending"), messages.c.sending_since < cutoff)
                .values(
                    state="queued",
                    scheduled_for=datetime.now(UTC),
                    sending_since=None,
                    provider_reason="in doubt after an interrupted send; resent with the same id",
                )
            )
        count = rows_affected(result)
        if count:
            log.warning("dispatcher.reconciled", messages=count)
        return count

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()


async def _first_of(stop: asyncio.Event, woken: asyncio.Event, timeout: float) -> None:
    """Wait until stopped, woken, or ``timeout`` seconds passed."""
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(woken.wait())]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def _forget_devices(session: AsyncSession, tokens: tuple[str, ...]) -> None:
    if tokens:
        await session.execute(delete(push_tokens).where(push_tokens.c.token.in_(tokens)))
