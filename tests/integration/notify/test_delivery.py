"""Delivery: retries with backoff, failover to another allowed channel, exactly once, lanes."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select

from sila_common.db import make_session_factory
from sila_common.events import CloudEvent
from sila_notify.channels.sms_kannel import KannelSmsChannel
from sila_notify.flows.delivery.dispatcher import Dispatcher, due_messages
from sila_notify.flows.delivery.wakeup import Wakeups, wake_after_commit, wakeups_of
from sila_notify.flows.planning import plan_event
from sila_notify.tables import messages
from tests.support import LiveService, eventually, otp_event_data, plan_nodes

from .conftest import NewCustomer, Publish, Simulator
from .test_sms_and_inbox import messages_of, opened


async def wait_state(
    notify: LiveService, customer: Any, channel: str, *states: str
) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        found = [m for m in await messages_of(notify, customer) if m["channel"] == channel]
        return found[0] if found and found[0]["state"] in states else None

    return await eventually(probe, what=f"{channel} message in {states}")


async def put_order(notify: LiveService, customer: Any, order: list[str]) -> None:
    answer = await notify.client.put(
        f"/v1/notification-preferences/{customer.id}",
        json={"channel_order": order},
        headers=customer.auth,
    )
    assert answer.status_code == 200, answer.text


async def test_a_temporary_sms_failure_is_retried_with_backoff_until_it_goes(
    notify: LiveService, smsc: Simulator, publish: Publish, new_customer: NewCustomer
) -> None:
    # The simulator refuses numbers ending 9999 with "try again later" twice.
    customer = await new_customer(phone=f"+2136{uuid.uuid4().int % 10_000:04d}9999")
    await publish("tickets.ticket.opened", customer.id, opened(customer.id))

    message = await wait_state(notify, customer, "sms", "sent", "delivered")
    assert message["attempts"] == 3
    assert len([m for m in await smsc.messages() if m["to"] == customer.phone]) == 1


async def test_an_undeliverable_sms_fails_with_the_centres_reason_and_fails_over_to_email(
    notify: LiveService, publish: Publish, new_customer: NewCustomer, smtp: Simulator
) -> None:
    # The simulator reports numbers ending 0000 as undeliverable.
    customer = await new_customer(phone=f"+2135{uuid.uuid4().int % 10_000:04d}0000")
    await put_order(notify, customer, ["sms", "email", "in_app"])
    await publish("tickets.ticket.opened", customer.id, opened(customer.id, "TT-2026-000901"))

    failed = await wait_state(notify, customer, "sms", "failed")
    assert "UNDELIV" in failed["provider_reason"] or "report 2" in failed["provider_reason"]
    email = await wait_state(notify, customer, "email", "sent")
    assert email["event_id"] == failed["event_id"]

    async def mails() -> list[dict[str, Any]]:
        return [m for m in await smtp.messages() if str(customer.email) in m["to"]]

    received = await eventually(mails, what="the e-mail")
    assert "TT-2026-000901" in received[0]["subject"]
    assert received[0]["message_id"] == f"<{email['id']}@notify.sila>"


async def test_an_email_refused_for_good_fails_over_to_sms(
    notify: LiveService, smsc: Simulator, publish: Publish, new_customer: NewCustomer
) -> None:
    customer = await new_customer(email=f"bounce-{uuid.uuid4().hex[:6]}@example.dz")
    await put_order(notify, customer, ["email", "sms"])
    await publish("tickets.ticket.opened", customer.id, opened(customer.id))

    failed = await wait_state(notify, customer, "email", "failed")
    assert failed["provider_reason"].startswith("smtp: 550")
    await wait_state(notify, customer, "sms", "sent", "delivered")


async def test_push_reaches_each_registered_device_and_a_dead_one_is_forgotten(
    notify: LiveService, fcm: Simulator, publish: Publish, new_customer: NewCustomer
) -> None:
    customer = await new_customer()
    for token in (f"device-{customer.id}", f"dead-{customer.id}"):
        answer = await notify.client.post(
            f"/v1/notification-preferences/{customer.id}/push-tokens",
            json={"token": token, "platform": "android"},
            headers=customer.auth,
        )
        assert answer.status_code == 204, answer.text
    await put_order(notify, customer, ["push", "sms"])
    await publish("tickets.ticket.opened", customer.id, opened(customer.id, "TT-2026-000321"))

    message = await wait_state(notify, customer, "push", "sent")
    pushes = [p for p in await fcm.messages() if p["message"]["token"] == f"device-{customer.id}"]
    assert len(pushes) == 1
    assert "TT-2026-000321" in pushes[0]["message"]["notification"]["body"]
    assert pushes[0]["message"]["data"]["message_id"] == message["id"]
    prefs = await notify.client.get(
        f"/v1/notification-preferences/{customer.id}", headers=customer.auth
    )
    assert prefs.json()["devices"] == 1


async def test_the_same_event_delivered_twice_sends_once(
    notify: LiveService, smsc: Simulator, publish: Publish, new_customer: NewCustomer
) -> None:
    customer = await new_customer()
    event_id = str(uuid.uuid4())
    for _ in range(2):
        await publish("tickets.ticket.opened", customer.id, opened(customer.id), event_id=event_id)
    await wait_state(notify, customer, "sms", "delivered")

    # Planning the same event again (a redelivery after the inbox row was lost) adds nothing.
    event = CloudEvent(
        id=event_id,
        source="/sila/tickets",
        type="tickets.ticket.opened",
        time=datetime.now(UTC),
        subject=customer.id,
        dataschema="x",
        customerid=customer.id,
        data=opened(customer.id),
    )
    async with notify.runtime.session_factory() as session, session.begin():
        planned = await plan_event(session, notify.runtime.settings, event)
    assert planned.message_ids == []
    assert len([m for m in await smsc.messages() if m["to"] == customer.phone]) == 1
    assert len(await messages_of(notify, customer)) == 2  # sms + inbox


async def test_a_crash_between_sending_and_recording_does_not_send_the_sms_twice(
    notify: LiveService, smsc: Simulator, new_customer: NewCustomer
) -> None:
    customer = await new_customer()
    runtime = notify.runtime
    settings = runtime.settings
    message_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    async with runtime.session_factory() as session, session.begin():
        await session.execute(
            insert(messages).values(
                id=message_id,
                event_id=f"crash-{message_id}",
                event_type="test.crash.made",
                channel="sms",
                customer_id=customer.id,
                lane="service",
                lane_rank=1,
                urgent=True,
                language="fr",
                template="test",
                variant="",
                render_data={},
                template_version=1,
                destination=customer.phone,
                subject=None,
                body="Votre ligne est rétablie.",
                state="sending",
                scheduled_for=now,
                attempts=1,
                attempt_id=str(uuid.uuid4()),
                sending_since=now,
                provider_message_id=None,
                provider_reason=None,
                callback_token="t" * 32,
                failover=[],
                campaign_id=None,
                created_at=now,
            )
        )
    # The dying sender's call reached the SMS centre; it never recorded the outcome.
    channel = KannelSmsChannel(settings)
    dispatcher = Dispatcher(
        session_factory=runtime.session_factory,
        outbox=runtime.outbox,
        settings=settings,
        channels={"sms": channel},
        wakeups=wakeups_of(runtime),
    )
    async with runtime.session_factory() as session:
        row = (await session.execute(select(messages).where(messages.c.id == message_id))).one()
    from sila_notify.channels.base import OutgoingMessage

    await channel.send(
        OutgoingMessage(
            id=row.id,
            attempt_id=row.attempt_id,
            customer_id=row.customer_id,
            channel="sms",
            destinations=(row.destination,),
            subject=None,
            body=row.body,
            language="fr",
            callback_token=row.callback_token,
        )
    )
    await dispatcher.close()

    # The running dispatcher reconciles it after the lease and sends again with the same id.
    async def settled() -> Any:
        async with runtime.session_factory() as session:
            state = await session.scalar(
                select(messages.c.state).where(messages.c.id == message_id)
            )
        return state if state in ("sent", "delivered") else None

    await eventually(settled, timeout=10, what="the in-doubt message reconciled")
    received = [m for m in await smsc.messages() if m["to"] == customer.phone]
    assert len(received) == 1


async def test_a_campaign_backlog_never_delays_a_one_time_code(
    notify: LiveService, smsc: Simulator, publish: Publish, new_customer: NewCustomer
) -> None:
    customer = await new_customer()
    now = datetime.now(UTC)
    backlog: list[dict[str, Any]] = [
        {
            "id": str(uuid.uuid4()),
            "event_id": f"backlog-{uuid.uuid4()}",
            "event_type": "campaign.offer",
            "channel": "sms",
            "customer_id": customer.id,
            "lane": "marketing",
            "lane_rank": 2,
            "urgent": False,
            "language": "fr",
            "template": "campaign.offer",
            "variant": "",
            "render_data": {},
            "template_version": 1,
            "destination": f"+21377{i:07d}",
            "subject": None,
            "body": "Offre Fibre",
            "state": "queued",
            "scheduled_for": now,
            "attempts": 0,
            "failover": [],
            "created_at": now,
            "callback_token": "x" * 32,
        }
        for i in range(1000)
    ]
    async with notify.runtime.session_factory() as session, session.begin():
        await session.execute(insert(messages), backlog)
    started = time.monotonic()
    await publish(
        "identity.otp.requested",
        customer.id,
        otp_event_data(
            notify.runtime.settings, customer_id=customer.id, phone=customer.phone, code="482913"
        ),
    )

    async def otp() -> Any:
        return [
            m for m in await smsc.messages() if m["to"] == customer.phone and "482913" in m["text"]
        ]

    await eventually(otp, timeout=10, interval=0.01, what="the one-time code at the SMS centre")
    latency = time.monotonic() - started
    async with notify.runtime.session_factory() as session:
        waiting = await session.scalar(
            select(messages.c.id)
            .where(
                messages.c.lane == "marketing",
                messages.c.customer_id == customer.id,
                messages.c.state == "queued",
            )
            .limit(1)
        )
    assert latency < 3.0, f"the OTP took {latency:.2f}s"
    assert waiting is not None, "the marketing backlog was already drained: the test proves nothing"

    # The code is not kept once the send is recorded (a moment after the SMS centre has it).
    async def recorded_otp() -> Any:
        rows = [m for m in await messages_of(notify, customer) if m["lane"] == "otp"]
        return rows[0] if rows and rows[0]["state"] in ("sent", "delivered") else None

    otp_row = await eventually(recorded_otp, timeout=10, what="the one-time code recorded as sent")
    assert "482913" not in otp_row["body"]


async def test_a_commit_wakes_the_dispatchers_of_its_own_runtime_only(
    notify: LiveService,
) -> None:
    """Who waits for new messages lives on the runtime, not in a module: two runtimes in one
    process (another notify here, on the same database) never wake each other's lanes, and a
    rolled-back plan wakes nobody."""
    runtime = notify.runtime
    mine, theirs = asyncio.Event(), asyncio.Event()
    wakeups_of(runtime).listen("test-lane", mine)
    other_runtime_sessions = make_session_factory(runtime.engine)
    other = Wakeups()
    other.serve(other_runtime_sessions)
    other.listen("test-lane", theirs)

    async with runtime.session_factory() as session, session.begin():
        wake_after_commit(session, "test-lane")
        await session.rollback()
    assert not mine.is_set() and not theirs.is_set()
    async with runtime.session_factory() as session, session.begin():
        wake_after_commit(session, "test-lane")
        assert not mine.is_set()  # not before the commit
    assert mine.is_set() and not theirs.is_set()
    async with other_runtime_sessions() as session, session.begin():
        wake_after_commit(session, "test-lane")
    assert theirs.is_set()
    assert wakeups_of(runtime) is runtime.collaborators.get(Wakeups)


async def test_a_claim_reads_the_due_index_in_order_even_with_the_generic_plan(
    notify: LiveService,
) -> None:
    # The claim is prepared once and kept (asyncpg's cache); PostgreSQL may run it with the
    # plan it made for any parameters (the generic plan). With thousands queued (a burst of
    # codes), that plan must read the lane's due entries in order up to the limit, not sort
    # every queued message at each claim. The queue is filled in a transaction rolled back:
    # the running dispatcher never sees it.
    claim = due_messages("otp", datetime.now(UTC), 50).compile(
        dialect=notify.runtime.engine.dialect, compile_kwargs={"render_postcompile": True}
    )
    async with notify.runtime.engine.connect() as connection:
        await connection.exec_driver_sql(
            "INSERT INTO messages (id, event_id, event_type, channel, customer_id, lane,"
            " lane_rank, urgent, language, template, variant, render_data, template_version,"
            " destination, body, state, scheduled_for, attempts, failover, created_at)"
            " SELECT 'queued-' || n, 'queued-' || n, 'test.queued', 'sms', 'c' || n % 100,"
            " 'otp', 0, true, 'fr', 'test', '', '{}', 1, '+213661000000', 'code', 'queued',"
            " now() - interval '1 minute' + n * interval '1 ms', 0, '[]', now()"
            " FROM generate_series(1, 5000) AS n"
        )
        await connection.exec_driver_sql("ANALYZE messages")
        await connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
        await connection.exec_driver_sql(f"PREPARE claim AS {claim}")
        plan = (
            await connection.exec_driver_sql("EXPLAIN (FORMAT JSON) EXECUTE claim('otp', now())")
        ).scalar_one()
        await connection.exec_driver_sql("DEALLOCATE claim")
        await connection.rollback()
    nodes = plan_nodes(plan[0]["Plan"])
    assert "Sort" not in {node["Node Type"] for node in nodes}, nodes
    [scan] = [node for node in nodes if node.get("Relation Name") == "messages"]
    assert scan["Node Type"] == "Index Scan", scan
    assert scan["Index Name"] == "ix_messages_due", scan
