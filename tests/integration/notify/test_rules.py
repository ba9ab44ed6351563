"""Consent, preferences, quiet hours and caps, as the planner applies them on PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select

from sila_common.events import CloudEvent
from sila_common.outbox import row_for
from sila_notify.flows.planning import plan_event
from sila_notify.settings import NotifySettings
from sila_notify.tables import messages, messaging
from tests.support import LiveService, bearer, eventually, otp_event_data, problem_of

from .conftest import NewCustomer, Publish
from .test_sms_and_inbox import opened

ALGIERS = ZoneInfo("Africa/Algiers")


def event(event_type: str, customer_id: str, data: dict[str, Any]) -> CloudEvent:
    return CloudEvent(
        id=str(uuid.uuid4()),
        source=f"/sila/{event_type.split('.')[0]}",
        type=event_type,
        time=datetime.now(UTC),
        subject=customer_id,
        dataschema="x",
        customerid=customer_id,
        data=data,
    )


def notify_settings(notify: LiveService) -> NotifySettings:
    """The settings the running notify was started with."""
    settings: NotifySettings = notify.runtime.settings
    return settings


def quiet_now(notify: LiveService) -> NotifySettings:
    """Settings whose quiet hours cover the present moment, whatever the clock says."""
    local = datetime.now(ALGIERS)
    start = (local - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (local + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    return notify_settings(notify).model_copy(
        update={"quiet_hours_start": start, "quiet_hours_end": end}
    )


async def plan(notify: LiveService, settings: NotifySettings, ev: CloudEvent) -> list[Any]:
    async with notify.runtime.session_factory() as session, session.begin():
        planned = await plan_event(session, settings, ev)
        rows = (
            await session.execute(select(messages).where(messages.c.id.in_(planned.message_ids)))
        ).all()
    return sorted(rows, key=lambda r: r.channel)


async def test_non_urgent_message_in_quiet_hours_is_held_until_they_end(
    notify: LiveService, new_customer: NewCustomer
) -> None:
    customer = await new_customer()
    settings = quiet_now(notify)
    rows = await plan(
        notify, settings, event("tickets.ticket.opened", customer.id, opened(customer.id))
    )
    sms = next(r for r in rows if r.channel == "sms")
    held_until = sms.scheduled_for.astimezone(ALGIERS)
    assert held_until > datetime.now(ALGIERS) + timedelta(minutes=30)
    assert held_until.time() == settings.quiet_hours_end
    # The inbox interrupts nobody: it is not held.
    inbox = next(r for r in rows if r.channel == "in_app")
    assert inbox.scheduled_for <= datetime.now(UTC)


async def test_one_time_codes_and_outage_notices_go_through_quiet_hours(
    notify: LiveService, new_customer: NewCustomer
) -> None:
    customer = await new_customer()
    settings = quiet_now(notify)
    otp = await plan(
        notify,
        settings,
        event(
            "identity.otp.requested",
            customer.id,
            otp_event_data(
                notify.runtime.settings,
                customer_id=customer.id,
                phone=customer.phone,
                code="123456",
            ),
        ),
    )
    outage = await plan(
        notify,
        settings,
        event(
            "tickets.incident.customer_affected",
            customer.id,
            {
                "incident_id": "i-1",
                "customer_id": customer.id,
                "service": "ADSL",
                "area_label": "Tizi Ouzou",
                "estimated_end_at": "2026-01-12T18:00:00+00:00",
            },
        ),
    )
    for row in [*otp, *outage]:
        assert row.scheduled_for <= datetime.now(UTC) + timedelta(seconds=1), row.channel
    assert [r.channel for r in otp] == ["sms"]


async def test_only_waiting_on_you_resolved_and_closed_status_changes_speak(
    notify: LiveService, new_customer: NewCustomer
) -> None:
    customer = await new_customer()
    settings = notify_settings(notify)
    base = {
        "ticket_id": "t",
        "number": "TT-2026-000042",
        "customer_id": customer.id,
        "from_status": "assigned",
        "reason": None,
        "due_at": None,
        "survey_url": None,
    }
    silent = await plan(
        notify,
        settings,
        event("tickets.ticket.status_changed", customer.id, {**base, "status": "in_progress"}),
    )
    assert silent == []
    resolved = await plan(
        notify,
        settings,
        event(
            "tickets.ticket.status_changed",
            customer.id,
            {**base, "status": "resolved", "survey_url": "https://sila.example/s/42"},
        ),
    )
    sms = next(r for r in resolved if r.channel == "sms")
    assert sms.template == "tickets.ticket.status_changed:resolved"
    assert "https://sila.example/s/42" in sms.body
    waiting = await plan(
        notify,
        settings,
        event("tickets.ticket.status_changed", customer.id, {**base, "status": "pending_customer"}),
    )
    assert "attend une réponse" in next(r for r in waiting if r.channel == "sms").body


async def test_a_channel_the_customer_refused_is_not_used(
    notify: LiveService, new_customer: NewCustomer
) -> None:
    customer = await new_customer()
    answer = await notify.client.put(
        f"/v1/notification-preferences/{customer.id}",
        json={"consents": [{"purpose": "service", "channel": "sms", "granted": False}]},
        headers=customer.auth,
    )
    assert answer.status_code == 200, answer.text
    rows = await plan(
        notify,
        notify_settings(notify),
        event("tickets.ticket.opened", customer.id, opened(customer.id)),
    )
    assert [r.channel for r in rows] == ["email", "in_app"]
    assert rows[0].failover == []


async def test_marketing_never_goes_without_consent_and_goes_with_it(
    notify: LiveService, new_customer: NewCustomer, publish: Publish
) -> None:
    settings = notify_settings(notify)
    customer = await new_customer()
    from sila_notify.flows.planning import plan_messages

    async def offer(event_id: str) -> list[str]:
        async with notify.runtime.session_factory() as session, session.begin():
            planned = await plan_messages(
                session,
                settings,
                event_id=event_id,
                event_type="campaign.offer",
                variant="",
                customer_id=customer.id,
                data={"offer": "Fibre"},
                lane="marketing",
                urgent=False,
                route_channels=["sms"],
                now=datetime.now(UTC),
            )
        return planned.message_ids

    assert await offer(str(uuid.uuid4())) == []
    await publish(
        "identity.consent.changed",
        customer.id,
        {
            "customer_id": customer.id,
            "purpose": "marketing",
            "channel": "sms",
            "granted": True,
            "captured_via": "agency",
        },
    )

    async def granted() -> bool:
        prefs = (
            await notify.client.get(
                f"/v1/notification-preferences/{customer.id}", headers=customer.auth
            )
        ).json()
        return any(c["purpose"] == "marketing" and c["granted"] for c in prefs["consents"])

    await eventually(granted, what="the marketing consent recorded")
    assert len(await offer(str(uuid.uuid4()))) == 1


async def test_marketing_over_the_frequency_cap_is_postponed(
    notify: LiveService, new_customer: NewCustomer
) -> None:
    customer = await new_customer()
    settings = notify_settings(notify).model_copy(update={"marketing_cap_messages": 1})
    from sila_notify.flows.planning import plan_messages

    async with notify.runtime.session_factory() as session, session.begin():
        from sila_notify.directory import record_consent

        await record_consent(
            session,
            customer_id=customer.id,
            purpose="marketing",
            channel="any",
            granted=True,
            captured_via="test",
            at=datetime.now(UTC),
        )
    times = []
    for _ in range(2):
        async with notify.runtime.session_factory() as session, session.begin():
            planned = await plan_messages(
                session,
                settings,
                event_id=str(uuid.uuid4()),
                event_type="campaign.offer",
                variant="",
                customer_id=customer.id,
                data={"offer": "Fibre"},
                lane="marketing",
                urgent=False,
                route_channels=["sms"],
                now=datetime.now(UTC),
            )
            times.append(
                await session.scalar(
                    select(messages.c.scheduled_for).where(messages.c.id == planned.message_ids[0])
                )
            )
    assert times[0] is not None and times[1] is not None
    assert times[1] - times[0] >= timedelta(hours=settings.cap_period_hours) - timedelta(seconds=5)


async def test_preferences_are_the_customers_own_and_agents_need_the_wilaya(
    notify: LiveService, new_customer: NewCustomer, identity: LiveService, admin_token: str
) -> None:
    from tests.conftest import create_agent, token_for

    customer, other = await new_customer(wilaya_code="15"), await new_customer()
    mine = await notify.client.get(
        f"/v1/notification-preferences/{customer.id}", headers=customer.auth
    )
    assert mine.status_code == 200 and mine.json()["reachable"]["sms"] is True
    assert (
        await notify.client.get(f"/v1/notification-preferences/{customer.id}", headers=other.auth)
    ).status_code == 404

    name = f"oran-{uuid.uuid4().hex[:6]}"
    await create_agent(identity, name, "pw-oran-agent-1", ["agent"], ["31"])
    oran = bearer(await token_for(identity, name, "pw-oran-agent-1"))
    refused = await notify.client.get(f"/v1/notification-preferences/{customer.id}", headers=oran)
    # Outside the agent's wilayas the customer does not exist for them (docs/security.md).
    assert refused.status_code == 404
    admin = await notify.client.put(
        f"/v1/notification-preferences/{customer.id}",
        json={"channel_order": ["email", "sms"]},
        headers=bearer(admin_token),
    )
    assert admin.status_code == 200 and admin.json()["channel_order"] == ["email", "sms"]
    bad = await notify.client.put(
        f"/v1/notification-preferences/{customer.id}",
        json={"channel_order": ["pigeon"]},
        headers=customer.auth,
    )
    assert bad.status_code == 422
    assert problem_of(bad)["errors"]


async def test_an_older_update_never_overwrites_a_newer_one_and_erasure_stops_everything(
    notify: LiveService, new_customer: NewCustomer, publish: Publish, admin_token: str
) -> None:
    customer = await new_customer()
    fields = {
        "customer_id": customer.id,
        "kind": "residential",
        "status": "active",
        "wilaya_code": "15",
        "channel": "agency",
        "display_name": "K",
        "commune": None,
        "email": None,
    }
    await publish(
        "identity.customer.updated",
        customer.id,
        {**fields, "language": "ar", "phone": "+213661000001"},
    )
    await publish(
        "identity.customer.updated",
        customer.id,
        {**fields, "language": "en", "phone": "+213661000002"},
        time=datetime.now(UTC) - timedelta(hours=1),
    )

    async def arabic() -> bool:
        prefs = await notify.client.get(
            f"/v1/notification-preferences/{customer.id}", headers=bearer(admin_token)
        )
        return bool(prefs.json()["language"] == "ar")

    await eventually(arabic, what="the newer update applied")
    # An event notify published about them earlier, still in its retained history.
    history = notify.runtime.outbox.table
    past = row_for(event("tickets.ticket.opened", customer.id, opened(customer.id)), "sila.notify")
    async with notify.runtime.session_factory() as session, session.begin():
        written = await session.scalar(insert(history).values(**past).returning(history.c.id))
        # Published: its pending entry is gone, as the relay leaves it.
        await session.execute(delete(messaging.pending).where(messaging.pending.c.id == written))
    await publish("identity.customer.erased", customer.id, {"customer_id": customer.id})

    async def gone() -> bool:
        answer = await notify.client.get(
            f"/v1/notification-preferences/{customer.id}", headers=bearer(admin_token)
        )
        return answer.status_code == 404

    await eventually(gone, what="the customer erased")
    async with notify.runtime.session_factory() as session:
        kept = await session.scalar(
            select(func.count()).where(history.c.event_id == past["event_id"])
        )
    assert kept == 0, "the erased customer's published history is deleted"
    assert (
        await plan(
            notify,
            notify_settings(notify),
            event("tickets.ticket.opened", customer.id, opened(customer.id)),
        )
    ) == []
