"""Notify names places as the map stands when it speaks: identity's `identity.geography.changed`
is laid over the shipped reference (its `geography_overlay`), and an incident event written
before a commune was renamed is sent with the new name; events about no customer (a map
edit, a reform's agency move) are taken and say nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from sila_common.geography import reference
from sila_notify.tables import geography_overlay, messages, messaging, parked_events
from tests.support import LiveService, eventually

from .conftest import NewCustomer, Publish

IN_AMENAS = "3304"


async def test_a_commune_renamed_after_the_incident_event_is_named_by_its_new_name(
    notify: LiveService, new_customer: NewCustomer, publish: Publish
) -> None:
    shipped = reference().communes[IN_AMENAS]
    customer = await new_customer(language="ar", wilaya_code="33")
    # The incident's event, written by tickets with the names it knew then...
    affected = {
        "incident_id": str(uuid.uuid4()),
        "customer_id": customer.id,
        "service": "adsl",
        "area_label": shipped.name_fr,
        "estimated_end_at": (datetime.now(UTC) + timedelta(hours=2)).isoformat(),
        "i18n": {"area_label": shipped.names()},
        "places": {"area_label": f"commune:{IN_AMENAS}"},
    }
    # ...reaches notify after identity announced the commune's new name.
    edit = await publish(
        "identity.geography.changed",
        "geography",
        {
            "kind": "commune",
            "code": IN_AMENAS,
            "change": "updated",
            "name_fr": "In Amenas Centre",
            "name_ar": "إن أمناس المركز",
            "name_en": "In Amenas Centre",
            "wilaya_code": "33",
            "daira_code": "3302",
            "postal_code": shipped.postal_code,
            "former_wilaya_code": None,
            "active": True,
        },
    )

    async def kept() -> bool:
        async with notify.runtime.session_factory() as session:
            place = await session.scalar(
                select(geography_overlay.c.place).where(
                    geography_overlay.c.kind == "commune", geography_overlay.c.code == IN_AMENAS
                )
            )
        return place is not None and place["name_fr"] == "In Amenas Centre"

    await eventually(kept, what="notify keeping the edit")
    await publish("tickets.incident.customer_affected", customer.id, affected)

    async def body() -> str | None:
        async with notify.runtime.session_factory() as session:
            found = await session.scalar(
                select(messages.c.body).where(
                    messages.c.customer_id == customer.id,
                    messages.c.event_type == "tickets.incident.customer_affected",
                )
            )
        return str(found) if found else None

    text = await eventually(body, what="the incident's message")
    assert "إن أمناس المركز" in text, text

    # The edit itself and a reform's agency move speak to nobody and wait for nobody.
    moved = await publish(
        "tickets.agency.relocated",
        "28-BS-1",
        {
            "agency_code": "28-BS-1",
            "name": "ACTEL Bou Saâda",
            "commune_code": "6401",
            "from_wilaya_code": "28",
            "wilaya_code": "64",
            "reason": "reform-2025",
            "actor": "service:tickets.reform",
        },
    )

    async def handled() -> bool:
        async with notify.runtime.session_factory() as session:
            seen = set(
                await session.scalars(
                    select(messaging.inbox.c.event_id).where(
                        messaging.inbox.c.consumer == "notify.messages",
                        messaging.inbox.c.event_id.in_([edit.id, moved.id]),
                    )
                )
            )
        return seen == {edit.id, moved.id}

    await eventually(handled, what="notify taking both events")
    async with notify.runtime.session_factory() as session:
        spoken = await session.scalar(
            select(messages.c.id).where(messages.c.customer_id.in_(["geography", "28-BS-1"]))
        )
        parked = await session.scalar(
            select(parked_events.c.event_id).where(
                parked_events.c.event_id.in_([edit.id, moved.id])
            )
        )
    assert spoken is None and parked is None
