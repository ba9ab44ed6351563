"""A customer's journey through identity, over the real broker: registered at the agency,
logs in to My Idoom with the SMS code (read from the topic as notify reads it), follows
their timeline in Arabic, then has their data erased."""

from __future__ import annotations

import time
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer

from sila_common.events import CloudEvent, topic_for
from sila_common.settings import PlatformSettings
from sila_identity.api.auth import OTP_GRANT
from tests.conftest import create_agent, token_for
from tests.support import LiveService, bearer, eventually, otp_code_of, random_mobile

PASSWORD = "agency front desk password"


async def identity_event(
    platform: PlatformSettings, customer_id: str, type_: str, timeout: float = 15.0
) -> CloudEvent:
    """The first event of ``type_`` about the customer on sila.identity."""
    consumer = AIOKafkaConsumer(
        topic_for("identity"),
        bootstrap_servers=platform.kafka_bootstrap,
        group_id=f"journey-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    event = CloudEvent.from_bytes(record.value or b"")
                    if event.customerid == customer_id and event.type == type_:
                        return event
    finally:
        await consumer.stop()
    raise AssertionError(f"no {type_} for {customer_id} on the topic within {timeout}s")


async def test_a_customer_logs_in_by_sms_code_follows_their_timeline_and_is_erased(
    identity: LiveService, platform: PlatformSettings
) -> None:
    desk = f"desk-{uuid.uuid4().hex[:6]}"
    await create_agent(identity, desk, PASSWORD, ["agent", "supervisor"], ["15"])
    agent = bearer(await token_for(identity, desk, PASSWORD))
    phone = random_mobile()
    registered = await identity.client.post(
        "/v1/customers",
        headers=agent,
        json={
            "first_name": "Yasmina",
            "last_name": "Benali",
            "first_name_ar": "ياسمينة",
            "last_name_ar": "بن علي",
            "phone": phone,
            "wilaya_code": "15",
            "language": "ar",
        },
    )
    assert registered.status_code == 201, registered.text
    customer_id = registered.json()["id"]
    contract = await identity.client.post(
        f"/v1/customers/{customer_id}/contracts",
        headers=agent,
        json={"offer_code": "IDOOM_FIBRE_100M"},
    )
    number = contract.json()["number"]

    # My Idoom: the code goes out as an event; notify would send it by SMS.
    asked = await identity.client.post("/v1/auth/otp", json={"phone": "0" + phone[4:]})
    assert asked.status_code == 202
    sms = await identity_event(platform, customer_id, "identity.otp.requested")
    assert sms.data["phone"] == phone
    code = otp_code_of(sms.data, identity.runtime.settings)
    login = await identity.client.post(
        "/v1/oauth/token", data={"grant_type": OTP_GRANT, "phone": phone, "code": code}
    )
    assert login.status_code == 200, login.text
    tokens = login.json()
    me = bearer(tokens["access_token"])

    async def my_timeline() -> list[dict[str, Any]] | None:
        page = await identity.client.get(f"/v1/customers/{customer_id}/timeline", headers=me)
        assert page.status_code == 200, page.text
        items: list[dict[str, Any]] = page.json()["items"]
        types = {i["type"] for i in items}
        wanted = {"identity.customer.registered", "identity.contract.signed"}
        return items if wanted <= types else None

    items = await eventually(my_timeline, what="registration and contract on the timeline")
    contract_entry = next(i for i in items if i["type"] == "identity.contract.signed")
    # The offer by its name in the customer's language, never its code.
    assert contract_entry["summary"] == (
        f"تم إبرام العقد {number} (إيدوم الألياف البصرية بسرعة 100 ميغابت/ثا)"
    )
    occurred = [i["occurred_at"] for i in items]
    assert occurred == sorted(occurred, reverse=True)

    renewed = await identity.client.post(
        "/v1/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    )
    assert renewed.status_code == 200
    out = await identity.client.post(
        "/v1/auth/logout", headers=me, json={"refresh_token": renewed.json()["refresh_token"]}
    )
    assert out.status_code == 204

    erased = await identity.client.post(f"/v1/customers/{customer_id}/erasure", headers=agent)
    assert erased.status_code == 200, erased.text
    notice = await identity_event(platform, customer_id, "identity.customer.erased")
    assert notice.data == {"customer_id": customer_id, "erased_at": notice.data["erased_at"]}

    async def scrubbed_timeline() -> list[dict[str, Any]] | None:
        page = await identity.client.get(f"/v1/customers/{customer_id}/timeline", headers=agent)
        items: list[dict[str, Any]] = page.json()["items"]
        return items if items and items[0]["type"] == "identity.customer.erased" else None

    for item in await eventually(scrubbed_timeline, what="the erasure on the timeline"):
        assert phone not in str(item), item
        assert "Yasmina" not in str(item), item
