"""A relay and a consumer SIGKILLed mid-stream lose no event and double none.

Real processes (``python -m sila_tickets relay``, ``python -m sila_identity consume``), a
broker of the test's own, fresh PostgreSQL databases.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import exists, func, select

from sila_common.db import make_engine, make_session_factory
from sila_common.outbox import Outbox
from sila_identity.tables import timeline_entries
from sila_local.broker import start_broker
from sila_local.processes import Child, free_port, python_command
from sila_tickets.events import TICKET_OPENED, TicketOpened
from sila_tickets.tables import messaging as tickets_messaging
from tests.integration.platform.kafka_tools import read_topic
from tests.support import eventually

EVENTS = 1000
CUSTOMERS = 50


def opened(number: int, customer: str) -> TicketOpened:
    return TicketOpened(
        ticket_id=str(uuid.uuid4()),
        number=f"TT-2026-{number:06d}",
        customer_id=customer,
        category="technical",
        subcategory="no_connection",
        priority="normal",
        channel="app",
        subject="Pas de connexion",
        queue="technical",
        status="acknowledged",
        due_at=datetime.now(UTC),
        first_response_due_at=None,
    )


async def test_every_event_reaches_the_timeline_exactly_once_across_crashes(
    scratch_database: Callable[[str], Any], tmp_path: Any
) -> None:
    port = free_port()
    broker = await start_broker(port)
    bootstrap = f"127.0.0.1:{port}"
    tickets_url = await scratch_database("tickets")
    identity_url = await scratch_database("identity")
    env = {
        "SILA_PROFILE": "test",
        "SILA_KAFKA_BOOTSTRAP": bootstrap,
        "SILA_LOG_LEVEL": "WARNING",
        "SILA_TICKETS_DATABASE_URL": tickets_url,
        "SILA_TICKETS_RELAY_BATCH_SIZE": "50",
        "SILA_IDENTITY_DATABASE_URL": identity_url,
        "SILA_IDENTITY_CONSUMER_SESSION_TIMEOUT_MS": "6000",
    }

    def relay() -> Child:
        return Child(
            "relay", python_command("-m", "sila_tickets", "relay"), env, tmp_path / "relay.log"
        )

    def consumer() -> Child:
        return Child(
            "consumer",
            python_command("-m", "sila_identity", "consume"),
            env,
            tmp_path / "consumer.log",
        )

    tickets_engine = make_engine(tickets_url)
    identity_engine = make_engine(identity_url)
    customers = [f"crash-{uuid.uuid4().hex[:8]}" for _ in range(CUSTOMERS)]
    outbox = Outbox(tickets_messaging.outbox)
    written: list[str] = []
    crashed = asyncio.Event()

    async def write_stream() -> None:
        # Half the stream, then (while the crashes happen) the other half.
        factory = make_session_factory(tickets_engine)
        for batch_start in range(0, EVENTS, 10):
            if batch_start == EVENTS // 2:
                await crashed.wait()
            async with factory() as session, session.begin():
                for number in range(batch_start, batch_start + 10):
                    customer = customers[number % CUSTOMERS]
                    event = await outbox.record(
                        session,
                        TICKET_OPENED,
                        subject=f"t{number}",
                        customer_id=customer,
                        data=opened(number, customer),
                    )
                    written.append(event.id)

    async def published() -> int:
        async with tickets_engine.connect() as conn:
            count = await conn.scalar(
                select(func.count())
                .select_from(tickets_messaging.outbox)
                .where(
                    ~exists().where(tickets_messaging.pending.c.id == tickets_messaging.outbox.c.id)
                )
            )
        return int(count or 0)

    async def on_timeline() -> int:
        async with identity_engine.connect() as conn:
            count = await conn.scalar(
                select(func.count()).where(timeline_entries.c.customer_id.in_(customers))
            )
        return int(count or 0)

    relay_process, consumer_process = relay(), consumer()
    try:
        await relay_process.start()
        await consumer_process.start()
        writer = asyncio.create_task(write_stream())

        await eventually(lambda: _at_least(published, 300), timeout=60, what="300 published")
        await relay_process.kill()
        await eventually(lambda: _at_least(on_timeline, 200), timeout=60, what="200 projected")
        await consumer_process.kill()
        assert not writer.done(), "the stream must still be flowing when the crashes happen"
        crashed.set()

        relay_process, consumer_process = relay(), consumer()
        await relay_process.start()
        await consumer_process.start()
        await writer
        await eventually(lambda: _at_least(on_timeline, EVENTS), timeout=90, what="all projected")

        async with identity_engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(timeline_entries.c.event_id).where(
                        timeline_entries.c.customer_id.in_(customers)
                    )
                )
            ).all()
        projected = [row.event_id for row in rows]
        assert len(projected) == EVENTS
        assert set(projected) == set(written)
        records = await read_topic(
            env_platform(bootstrap), "sila.tickets", expect=EVENTS, timeout=30
        )
        # At least once on the wire (a crash between send and mark republishes), once on
        # the timeline: that is the guarantee.
        assert len(records) >= EVENTS
    finally:
        await relay_process.stop()
        await consumer_process.stop()
        await tickets_engine.dispose()
        await identity_engine.dispose()
        await broker.stop()


async def _at_least(probe: Callable[[], Any], target: int) -> int | None:
    value: int = await probe()
    return value if value >= target else None


def env_platform(bootstrap: str) -> Any:
    from sila_common.settings import PlatformSettings

    return PlatformSettings(kafka_bootstrap=bootstrap)
