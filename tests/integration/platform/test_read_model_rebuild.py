"""The event history rebuilds a read model from scratch: reset, replay, and it is whole again."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, insert, select

from sila_common.consumer import ANY_TYPE, EventConsumer, HandlerContext
from sila_common.db import make_engine, make_session_factory
from sila_common.events import EventSpec
from sila_common.outbox import Outbox, row_for
from sila_common.rebuild import reset_consumer
from sila_common.relay import OutboxRelay
from sila_common.service import ConsumerSpec, Runtime
from sila_common.settings import PlatformSettings
from sila_identity.service import definition as identity_definition
from sila_identity.settings import IdentitySettings
from sila_identity.tables import messaging as identity_messaging
from sila_identity.tables import timeline_entries
from sila_identity.timeline.projection import project, reset
from sila_tickets.settings import TicketsSettings
from sila_tickets.tables import messaging as tickets_messaging
from tests.support import eventually


class Happened(BaseModel):
    sequence: int


HAPPENED = EventSpec(type="tickets.thing.happened", payload=Happened, description="test")


async def test_a_reset_timeline_is_rebuilt_whole_by_replaying_the_history(
    scratch_database: Callable[[str], Any], platform: PlatformSettings
) -> None:
    tickets_engine = make_engine(await scratch_database("tickets"))
    identity_url = await scratch_database("identity")
    identity_engine = make_engine(identity_url)
    topic = f"test.rebuild.{uuid.uuid4().hex[:8]}"
    customer = f"rebuild-{uuid.uuid4().hex[:8]}"
    async with tickets_engine.begin() as conn:
        for n in range(25):
            event = HAPPENED.envelope(
                subject=f"s{n}", customer_id=customer, data=Happened(sequence=n)
            )
            await conn.execute(insert(tickets_messaging.outbox).values(row_for(event, topic)))

    consumer_name = f"test-timeline-{uuid.uuid4().hex[:6]}"
    spec = ConsumerSpec(
        name=consumer_name, topics=[topic], handlers={ANY_TYPE: project}, reset=reset
    )
    identity_settings = IdentitySettings(database_url=identity_url)
    consumer = EventConsumer(
        name=consumer_name,
        topics=[topic],
        handlers=spec.handlers,
        session_factory=make_session_factory(identity_engine),
        tables=identity_messaging,
        context=HandlerContext(
            settings=identity_settings, platform=platform, outbox=Outbox(identity_messaging.outbox)
        ),
    )
    relay = OutboxRelay(
        engine=tickets_engine,
        tables=tickets_messaging,
        platform=platform,
        settings=TicketsSettings(),
    )
    stop = asyncio.Event()
    consuming = asyncio.create_task(consumer.run(stop))

    async def entries() -> int | None:
        async with identity_engine.connect() as conn:
            count = await conn.scalar(
                select(func.count()).where(timeline_entries.c.customer_id == customer)
            )
        return int(count or 0) if count == 25 else None

    try:
        await relay.start()
        await relay.hold_shards()
        assert await relay.publish_batch() == 25
        await eventually(entries, timeout=30, what="the timeline built")

        runtime = Runtime(
            definition=_with_consumer(spec),
            platform=platform,
            settings=identity_settings,
            engine=identity_engine,
            session_factory=make_session_factory(identity_engine),
            outbox=None,  # type: ignore[arg-type]
        )
        await reset_consumer(runtime, consumer_name)
        async with identity_engine.connect() as conn:
            assert (
                await conn.scalar(
                    select(func.count()).where(timeline_entries.c.customer_id == customer)
                )
                == 0
            )

        assert await relay.replay(reason="rebuild") == 25
        assert await relay.publish_batch() == 25
        await eventually(entries, timeout=30, what="the timeline rebuilt")
    finally:
        stop.set()
        await consuming
        await relay.stop()
        await tickets_engine.dispose()
        await identity_engine.dispose()


def _with_consumer(spec: ConsumerSpec[Any]) -> Any:
    from dataclasses import replace

    return replace(identity_definition, consumers=[spec])
