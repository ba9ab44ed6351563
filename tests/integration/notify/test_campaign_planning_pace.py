"""Planning a campaign chunk keeps the process responsive, so one-time codes still go out.

The planner shares its process (and event loop) with the OTP sender; a chunk that holds the
loop for a second delays every code by as much. Found by benchmarks/notify.py.
"""

from __future__ import annotations

import asyncio
import gc
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from datetime import time as clock_time

from sqlalchemy import insert, select

from sila_common.runtime import open_runtime
from sila_common.settings import PlatformSettings
from sila_notify.flows.campaigns import CampaignPlanner
from sila_notify.service import definition
from sila_notify.settings import NotifySettings
from sila_notify.tables import campaign_sends, consents, messages, recipients

CHUNK = 1_000  # the default chunk size
# A chunk of 1,000 held the loop for about 0.7 s of CPU before the fix, about 0.1 s after.
# Measured as the thread's CPU time, not the clock's: other processes on a loaded machine
# stretch the wall time between two turns of the loop, not the work done in them.
LONGEST_ACCEPTABLE_STALL_SECONDS = 0.35


async def test_planning_a_chunk_of_a_thousand_never_holds_the_event_loop_long(
    platform: PlatformSettings, scratch_database: Callable[[str], Awaitable[str]]
) -> None:
    url = await scratch_database("notify")
    settings = NotifySettings(
        database_url=url,
        campaign_chunk_size=CHUNK,
        quiet_hours_start=clock_time(0, 0),
        quiet_hours_end=clock_time(0, 0),
    )
    async with open_runtime(definition, platform=platform, settings=settings) as runtime:
        now = datetime.now(UTC)
        ids = sorted(str(uuid.uuid4()) for _ in range(CHUNK))
        campaign_id = str(uuid.uuid4())
        async with runtime.session_factory() as session, session.begin():
            await session.execute(
                insert(recipients),
                [
                    {
                        "customer_id": cid,
                        "phone": f"+21366{n:07d}",
                        "email": None,
                        "language": ("fr", "ar")[n % 2],
                        "wilaya_code": "16",
                        "display_name": None,
                        "status": "active",
                        "channel_order": ["sms", "in_app"],
                        "erased": False,
                        "source_time": now,
                        "updated_at": now,
                    }
                    for n, cid in enumerate(ids)
                ],
            )
            await session.execute(
                insert(consents),
                [
                    {
                        "customer_id": cid,
                        "purpose": "marketing",
                        "channel": "sms",
                        "granted": True,
                        "captured_via": "test",
                        "source_time": now,
                        "updated_at": now,
                    }
                    for cid in ids
                ],
            )
            await session.execute(
                insert(campaign_sends).values(
                    id=campaign_id,
                    name="Fibre",
                    event_type="campaign.offer",
                    channel="sms",
                    segment={},
                    variables={"offer": "Idoom Fibre"},
                    state="planning",
                    rate_per_second=1000.0,
                    cursor=None,
                    targeted=0,
                    skipped=0,
                    next_slot=now,
                    created_by="test",
                    created_at=now,
                    planned_at=None,
                )
            )
        planner = CampaignPlanner(session_factory=runtime.session_factory, settings=settings)
        stalls: list[float] = []
        # The heap frozen as the relay role freezes it after start-up (sila_common.runtime): a
        # full collection of this test process's heap (every service and fixture of the
        # run) took 0.48 s of CPU in one turn of the loop, the planner's work none of it.
        gc.collect()
        gc.freeze()
        try:
            planning = asyncio.create_task(planner.run_once())
            while not planning.done():
                before = time.thread_time()
                await asyncio.sleep(0)  # one turn of the loop: what is measured
                stalls.append(time.thread_time() - before)
            assert await planning == CHUNK
        finally:
            gc.unfreeze()

        async with runtime.session_factory() as session:
            campaign = (
                await session.execute(
                    select(campaign_sends).where(campaign_sends.c.id == campaign_id)
                )
            ).one()
            queued = (
                await session.execute(
                    select(messages.c.customer_id).where(messages.c.campaign_id == campaign_id)
                )
            ).scalars()
            assert sorted(queued) == ids
        assert (campaign.targeted, campaign.skipped) == (CHUNK, 0)
        assert max(stalls) < LONGEST_ACCEPTABLE_STALL_SECONDS


async def test_a_customer_already_queued_for_the_campaign_is_counted_skipped_not_twice(
    platform: PlatformSettings, scratch_database: Callable[[str], Awaitable[str]]
) -> None:
    url = await scratch_database("notify")
    settings = NotifySettings(
        database_url=url, quiet_hours_start=clock_time(0, 0), quiet_hours_end=clock_time(0, 0)
    )
    async with open_runtime(definition, platform=platform, settings=settings) as runtime:
        now = datetime.now(UTC)
        ids = sorted(str(uuid.uuid4()) for _ in range(3))
        campaign_id = str(uuid.uuid4())
        planner = CampaignPlanner(session_factory=runtime.session_factory, settings=settings)
        async with runtime.session_factory() as session, session.begin():
            for n, cid in enumerate(ids):
                await session.execute(
                    insert(recipients).values(
                        customer_id=cid,
                        phone=f"+21377{n:07d}",
                        language="fr",
                        wilaya_code="16",
                        status="active",
                        channel_order=["sms"],
                        erased=False,
                        updated_at=now,
                    )
                )
                await session.execute(
                    insert(consents).values(
                        customer_id=cid,
                        purpose="marketing",
                        channel="sms",
                        granted=True,
                        updated_at=now,
                    )
                )
            await session.execute(
                insert(campaign_sends).values(
                    id=campaign_id,
                    name="Fibre",
                    event_type="campaign.offer",
                    channel="sms",
                    segment={},
                    variables={"offer": "Idoom Fibre"},
                    state="planning",
                    rate_per_second=10.0,
                    targeted=0,
                    skipped=0,
                    next_slot=now,
                    created_by="test",
                    created_at=now,
                )
            )
        # A planner that died after its insert but before moving the cursor left one queued.
        async with runtime.session_factory() as session, session.begin():
            campaign = (
                await session.execute(
                    select(campaign_sends).where(campaign_sends.c.id == campaign_id)
                )
            ).one()
            await planner.plan_chunk(session, campaign)
            await session.execute(
                campaign_sends.update()
                .where(campaign_sends.c.id == campaign_id)
                .values(cursor=None, targeted=0, skipped=0, state="planning", planned_at=None)
            )
            await session.execute(
                messages.delete().where(
                    messages.c.campaign_id == campaign_id, messages.c.customer_id != ids[0]
                )
            )
        await planner.run_once()

        async with runtime.session_factory() as session:
            campaign = (
                await session.execute(
                    select(campaign_sends).where(campaign_sends.c.id == campaign_id)
                )
            ).one()
            per_customer = (
                await session.execute(
                    select(messages.c.customer_id).where(messages.c.campaign_id == campaign_id)
                )
            ).scalars()
            assert sorted(per_customer) == ids
        assert (campaign.targeted, campaign.skipped, campaign.state) == (2, 1, "planned")
