"""Sends and delivery reports recorded many at a time keep the one-by-one rules.

The dispatcher records the sends that finish together in one transaction, and delivery reports
that arrive together share one too (benchmarks/notify.py: a transaction per message was most of
the SMS path's cost). Each message is still recorded once, under its own attempt, with its event.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from sila_common.runtime import open_runtime
from sila_common.service import Runtime
from sila_common.settings import PlatformSettings
from sila_notify.channels.sms_kannel import KannelSmsChannel
from sila_notify.flows.delivery import records
from sila_notify.flows.delivery.dispatcher import Dispatcher
from sila_notify.flows.delivery.reports import (
    DLR_DELIVERED,
    DLR_FAILED,
    DeliveryReport,
    DeliveryReports,
)
from sila_notify.flows.delivery.wakeup import wakeups_of
from sila_notify.service import definition
from sila_notify.settings import NotifySettings
from sila_notify.tables import messages, metadata
from tests.integration.notify.conftest import Simulator

outbox = metadata.tables["outbox"]


@pytest.fixture
async def runtime(
    platform: PlatformSettings, scratch_database: Callable[[str], Awaitable[str]]
) -> AsyncIterator[Runtime[Any]]:
    settings = NotifySettings(
        database_url=await scratch_database("notify"),
        quiet_hours_start=clock_time(0, 0),
        quiet_hours_end=clock_time(0, 0),
    )
    async with open_runtime(definition, platform=platform, settings=settings) as opened:
        yield opened


async def sending(runtime: Runtime[Any], count: int, *, lane: str = "otp") -> tuple[list[Any], str]:
    """``count`` SMS messages claimed by one attempt (state ``sending``), as the dispatcher does."""
    attempt_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = [
        {
            "id": str(uuid.uuid4()),
            "event_id": f"test-{uuid.uuid4()}",
            "event_type": "identity.otp.requested",
            "channel": "sms",
            "customer_id": str(uuid.uuid4()),
            "lane": lane,
            "lane_rank": 0,
            "urgent": True,
            "language": "fr",
            "template": "identity.otp.requested",
            "variant": "",
            "render_data": {},
            "template_version": 1,
            "destination": f"+21366{n:07d}",
            "subject": None,
            "body": "Votre code Idoom : 123456",
            "state": "sending",
            "scheduled_for": now,
            "attempts": 1,
            "attempt_id": attempt_id,
            "sending_since": now,
            "callback_token": f"token-{n:02d}-" + "x" * 24,
            "failover": [],
            "created_at": now,
        }
        for n in range(count)
    ]
    async with runtime.session_factory() as session, session.begin():
        await session.execute(insert(messages), rows)
        loaded = (
            await session.execute(
                select(messages)
                .where(messages.c.id.in_([r["id"] for r in rows]))
                .order_by(messages.c.destination)
            )
        ).all()
    return list(loaded), attempt_id


async def states(runtime: Runtime[Any], rows: list[Any]) -> list[str]:
    async with runtime.session_factory() as session:
        found = dict(
            (
                await session.execute(
                    select(messages.c.id, messages.c.state).where(
                        messages.c.id.in_([r.id for r in rows])
                    )
                )
            ).all()
        )
    return [str(found[r.id]) for r in rows]


async def events_about(runtime: Runtime[Any], rows: list[Any]) -> list[tuple[str, str]]:
    """(event type, message id) of every outbox event about these messages."""
    ids = {r.id for r in rows}
    async with runtime.session_factory() as session:
        found = (await session.execute(select(outbox.c.event_type, outbox.c.envelope))).all()
    return sorted(
        (str(e.event_type), str(e.envelope["data"]["message_id"]))
        for e in found
        if e.envelope["data"].get("message_id") in ids
    )


async def test_a_batch_of_sends_is_recorded_once_each_with_its_event_and_the_code_redacted(
    runtime: Runtime[Any],
) -> None:
    rows, attempt_id = await sending(runtime, 5)
    # The third message was reconciled meanwhile (its sender was thought dead): not this attempt.
    async with runtime.session_factory() as session, session.begin():
        await session.execute(
            update(messages).where(messages.c.id == rows[2].id).values(attempt_id="another")
        )
    sends = [
        records.Sent(row=r, attempt_id=attempt_id, provider_message_id=None, delivered=False)
        for r in rows
    ]

    async with runtime.session_factory() as session, session.begin():
        recorded = await records.mark_sent_many(session, runtime.outbox, sends)
    async with runtime.session_factory() as session, session.begin():
        again = await records.mark_sent_many(session, runtime.outbox, sends)

    assert recorded == {r.id for n, r in enumerate(rows) if n != 2}
    assert again == set()
    assert await states(runtime, rows) == ["sent", "sent", "sending", "sent", "sent"]
    assert await events_about(runtime, rows) == sorted(
        ("notify.message.sent", r.id) for n, r in enumerate(rows) if n != 2
    )
    async with runtime.session_factory() as session:
        bodies = set(
            (
                await session.execute(
                    select(messages.c.body).where(messages.c.id.in_([rows[0].id, rows[1].id]))
                )
            ).scalars()
        )
    assert bodies == {records.REDACTED}


async def test_reports_arriving_together_are_each_applied_once_and_a_wrong_token_is_refused(
    runtime: Runtime[Any],
) -> None:
    settings = runtime.settings
    assert isinstance(settings, NotifySettings)
    rows, _ = await sending(runtime, 4)
    reports = DeliveryReports(
        session_factory=runtime.session_factory, outbox=runtime.outbox, settings=settings
    )
    wanted = [
        DeliveryReport(rows[0].id, rows[0].callback_token, DLR_DELIVERED),
        DeliveryReport(rows[0].id, rows[0].callback_token, DLR_DELIVERED),  # Kannel resends
        DeliveryReport(rows[1].id, rows[1].callback_token, DLR_DELIVERED),
        DeliveryReport(rows[1].id, rows[1].callback_token, DLR_FAILED, "late"),  # after: no-op
        DeliveryReport(rows[2].id, rows[2].callback_token, DLR_FAILED, "UNDELIV"),
        DeliveryReport(rows[3].id, "a-guessed-token-of-the-right-size", DLR_DELIVERED),
        DeliveryReport(str(uuid.uuid4()), "no-such-message", DLR_DELIVERED),
    ]

    answers = await asyncio.gather(*(reports.record(r) for r in wanted))

    assert answers == [True, True, True, True, True, False, False]
    assert await states(runtime, rows) == ["delivered", "delivered", "failed", "sending"]
    # A report overtaking the sender's record announces the send too, once.
    assert await events_about(runtime, rows) == sorted(
        [
            ("notify.message.sent", rows[0].id),
            ("notify.message.delivered", rows[0].id),
            ("notify.message.sent", rows[1].id),
            ("notify.message.delivered", rows[1].id),
            ("notify.message.failed", rows[2].id),
        ]
    )


async def test_a_report_repeated_after_it_was_recorded_changes_nothing_and_is_still_answered(
    runtime: Runtime[Any],
) -> None:
    settings = runtime.settings
    assert isinstance(settings, NotifySettings)
    rows, _ = await sending(runtime, 1)
    reports = DeliveryReports(
        session_factory=runtime.session_factory, outbox=runtime.outbox, settings=settings
    )
    report = DeliveryReport(rows[0].id, rows[0].callback_token, DLR_DELIVERED)

    first = await reports.record(report)
    # Kannel sends a report again when our answer was lost: its own transaction, later.
    again = await reports.record(report)
    late_failure = await reports.record(
        DeliveryReport(rows[0].id, rows[0].callback_token, DLR_FAILED, "late")
    )

    assert (first, again, late_failure) == (True, True, True)
    assert await states(runtime, rows) == ["delivered"]
    assert await events_about(runtime, rows) == sorted(
        [("notify.message.sent", rows[0].id), ("notify.message.delivered", rows[0].id)]
    )


async def test_a_batch_of_retries_queues_each_message_again_only_under_its_own_attempt(
    runtime: Runtime[Any],
) -> None:
    rows, attempt_id = await sending(runtime, 3)
    async with runtime.session_factory() as session, session.begin():
        await session.execute(
            update(messages).where(messages.c.id == rows[1].id).values(attempt_id="another")
        )
    at = datetime.now(UTC) + timedelta(seconds=8)
    retries = [
        records.Retry(message_id=r.id, attempt_id=attempt_id, reason=f"sms centre 503: {n}", at=at)
        for n, r in enumerate(rows)
    ]

    async with runtime.session_factory() as session, session.begin():
        queued = await records.retry_many(session, retries)

    assert queued == {rows[0].id, rows[2].id}
    async with runtime.session_factory() as session:
        found = {
            row.id: row
            for row in (
                await session.execute(
                    select(messages).where(messages.c.id.in_([r.id for r in rows]))
                )
            ).all()
        }
    assert [found[r.id].state for r in rows] == ["queued", "sending", "queued"]
    assert found[rows[0].id].provider_reason == "sms centre 503: 0"
    assert found[rows[0].id].scheduled_for == at
    assert found[rows[0].id].sending_since is None
    assert found[rows[1].id].provider_reason is None


async def test_a_batch_the_sms_centre_partly_refuses_records_each_message_under_its_attempt(
    runtime: Runtime[Any], smsc: Simulator
) -> None:
    """One claim sent concurrently through the aiohttp channel: the accepted messages are
    sent once each, the temporarily refused one is queued again with its backoff, the one
    refused for good fails with the SMS centre's reason; each attempt counted once."""
    base = runtime.settings
    assert isinstance(base, NotifySettings)
    settings = base.model_copy(
        update={
            "sms_url": f"{smsc.url}/cgi-bin/sendsms",
            # Nobody listens there: the reports are not what this test is about.
            "public_base_url": "http://127.0.0.1:9",
        }
    )
    prefix = f"+2136{uuid.uuid4().int % 10**4:04d}"
    numbers = [f"{prefix}{n:04d}" for n in (1, 2, 3, 4)] + [f"{prefix}9999", "+213-not-a-number"]
    rows = await queued(runtime, numbers)
    dispatcher = Dispatcher(
        session_factory=runtime.session_factory,
        outbox=runtime.outbox,
        settings=settings,
        channels={"sms": KannelSmsChannel(settings)},
        wakeups=wakeups_of(runtime),
    )
    started = datetime.now(UTC)
    try:
        assert await dispatcher.run_once("service") == len(numbers)
    finally:
        await dispatcher.close()

    async with runtime.session_factory() as session:
        found = {
            row.destination: row
            for row in (
                await session.execute(
                    select(messages).where(messages.c.id.in_([r.id for r in rows]))
                )
            ).all()
        }
    accepted = numbers[:4]
    assert {n: found[n].state for n in accepted} == dict.fromkeys(accepted, "sent")
    assert {found[n].attempts for n in numbers} == {1}
    flaky = found[f"{prefix}9999"]
    assert flaky.state == "queued"
    assert flaky.provider_reason == "sms centre 503: Temporal failure, try again later."
    assert flaky.scheduled_for >= started + timedelta(seconds=settings.retry_base_seconds)
    refused = found["+213-not-a-number"]
    assert refused.state == "failed"
    assert refused.provider_reason == (
        "sms centre 400: Number(s) has/have been denied by white- and/or black-lists."
    )
    received = [m["to"] for m in await smsc.messages() if m["to"].startswith(prefix)]
    assert sorted(received) == accepted
    assert await events_about(runtime, rows) == sorted(
        [("notify.message.sent", found[n].id) for n in accepted]
        + [("notify.message.failed", refused.id)]
    )


async def queued(runtime: Runtime[Any], numbers: list[str]) -> list[Any]:
    """One queued service SMS per number, due now."""
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = [
        {
            "id": str(uuid.uuid4()),
            "event_id": f"test-{uuid.uuid4()}",
            "event_type": "tickets.ticket.opened",
            "channel": "sms",
            "customer_id": str(uuid.uuid4()),
            "lane": "service",
            "lane_rank": 1,
            "urgent": True,
            "language": "fr",
            "template": "tickets.ticket.opened",
            "variant": "",
            "render_data": {},
            "template_version": 1,
            "destination": number,
            "subject": None,
            "body": "Votre ticket est ouvert.",
            "state": "queued",
            "scheduled_for": now,
            "attempts": 0,
            "callback_token": "c" * 32,
            "failover": [],
            "created_at": now,
        }
        for number in numbers
    ]
    async with runtime.session_factory() as session, session.begin():
        await session.execute(insert(messages), rows)
        return list(
            (
                await session.execute(
                    select(messages).where(messages.c.id.in_([r["id"] for r in rows]))
                )
            ).all()
        )
