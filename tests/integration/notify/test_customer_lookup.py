"""Notify knows a customer identity knows at once: its directory asks identity and keeps it."""

from __future__ import annotations

import uuid

from sila_notify.directory import recipient_row
from tests.support import LiveService, bearer, problem_of, random_mobile


async def test_preferences_of_a_customer_registered_this_instant_are_readable(
    identity: LiveService, notify: LiveService, admin_token: str
) -> None:
    phone = random_mobile()
    created = await identity.client.post(
        "/v1/customers",
        headers=bearer(admin_token),
        json={
            "first_name": "Lyes",
            "last_name": "Ouali",
            "phone": phone,
            "wilaya_code": "06",
            "language": "fr",
            "channel": "web",
        },
    )
    assert created.status_code == 201, created.text
    customer_id = created.json()["id"]

    answer = await notify.client.get(
        f"/v1/notification-preferences/{customer_id}", headers=bearer(admin_token)
    )
    assert answer.status_code == 200, answer.text
    async with notify.runtime.session_factory() as session:
        kept = await recipient_row(session, customer_id)
    assert (kept.phone, kept.wilaya_code, kept.erased) == (phone, "06", False)


async def test_a_customer_identity_does_not_know_is_not_found(
    notify: LiveService, admin_token: str
) -> None:
    nobody = str(uuid.uuid4())
    answer = await notify.client.get(
        f"/v1/notification-preferences/{nobody}", headers=bearer(admin_token)
    )
    assert answer.status_code == 404
    assert problem_of(answer)["type"].endswith("/not-found")
    async with notify.runtime.session_factory() as session:
        assert await recipient_row(session, nobody) is None
