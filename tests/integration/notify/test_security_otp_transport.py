"""A one-time code never travels in clear (docs/security.md, "One-time codes on the broker").

Identity seals the code for notify (AES-256-GCM under SILA_OTP_TRANSPORT_KEY) in
``identity.otp.requested``: the raw record on the broker and identity's outbox row hold no
code; the SMS centre gets it in clear and it logs the customer in. A sealed code that was
altered, moved to another number or sealed with a key notify lacks is never sent, fails its
message with a clear reason (no code in it, nor in the log), and the consumer goes on.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import select

from sila_common.events import CloudEvent, topic_for
from sila_common.logging import configure_logging
from sila_common.otp_transport import TransportKey
from sila_common.settings import PlatformSettings
from sila_identity.tables import messaging as identity_messaging
from sila_notify.tables import messages
from tests.integration.security_support import new_agent, new_customer
from tests.support import LiveService, bearer, eventually, otp_event_data, random_mobile

from .conftest import NewCustomer, Publish, Simulator

OTP = "identity.otp.requested"
OTP_GRANT = "urn:sila:params:oauth:grant-type:otp"


def shows(code: str, text: str) -> bool:
    """The code as a token of its own in ``text`` (not digits inside an id or a base64 run)."""
    return re.search(rf"(?<![0-9A-Za-z]){code}(?![0-9A-Za-z])", text) is not None


async def raw_records(
    platform: PlatformSettings, topic: str, key: str, *, timeout: float = 15.0
) -> list[bytes]:
    """Every raw record value keyed ``key`` on ``topic``, read from the start, as anyone with
    read access to the topic (or a dump of it) would read them."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=platform.kafka_bootstrap, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    found: list[bytes] = []
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            await consumer.client.force_metadata_update()
            partitions = [
                TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()
            ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)
            for records in batch.values():
                found.extend(r.value or b"" for r in records if r.key == key.encode())
            positions = {tp: await consumer.position(tp) for tp in partitions}
            if all(positions[tp] >= ends[tp] for tp in partitions):
                break
    finally:
        await consumer.stop()
    return found


async def otp_rows(notify: LiveService, customer_id: str) -> list[Any]:
    async with notify.runtime.session_factory() as session:
        return list(
            (
                await session.execute(
                    select(messages).where(
                        messages.c.customer_id == customer_id, messages.c.lane == "otp"
                    )
                )
            ).all()
        )


async def test_the_code_is_sealed_on_the_broker_and_in_the_outbox_and_the_sms_still_logs_in(
    notify: LiveService,
    identity: LiveService,
    smsc: Simulator,
    platform: PlatformSettings,
    admin_token: str,
) -> None:
    agent = await new_agent(identity, admin_token, ["agent"], ["15"])
    phone = random_mobile()
    customer = await new_customer(identity, agent, phone=phone)

    # The customer asks for a code, as the app does.
    asked = await identity.client.post("/v1/auth/otp", json={"phone": "0" + phone[4:]})
    assert asked.status_code == 202, asked.text

    async def sms() -> list[dict[str, Any]]:
        return [m for m in await smsc.messages() if m["to"] == phone]

    text = (await eventually(sms, timeout=20, what="the code's SMS"))[0]["text"]
    found = re.search(r"\b(\d{6})\b", text)
    assert found is not None, text
    code = found.group(1)

    # Identity's outbox row: the event, with the code sealed, never in clear.
    outbox = identity_messaging.outbox
    async with identity.runtime.session_factory() as session:
        envelopes = list(
            (
                await session.execute(
                    select(outbox.c.envelope).where(
                        outbox.c.message_key == customer["id"], outbox.c.event_type == OTP
                    )
                )
            ).scalars()
        )
    assert len(envelopes) == 1
    stored = envelopes[0]
    assert "code" not in stored["data"]
    assert stored["data"]["key_id"] == identity.runtime.settings.transport_key().key_id
    assert stored["data"]["sealed_code"].startswith("v1.")
    assert not shows(code, json.dumps(stored)), stored

    # The raw record on the topic, read with a plain Kafka client: the same, sealed.
    async def on_topic() -> list[bytes]:
        raws = await raw_records(platform, topic_for("identity"), customer["id"])
        return [r for r in raws if json.loads(r)["type"] == OTP]

    [raw] = await eventually(on_topic, what="the code request on sila.identity")
    event = CloudEvent.from_bytes(raw)
    assert set(event.data) == {
        "customer_id",
        "phone",
        "sealed_code",
        "key_id",
        "expires_at",
        "language",
    }
    assert event.data["sealed_code"] == stored["data"]["sealed_code"]
    assert not shows(code, raw.decode()), raw

    # Notify's rows never held it either (sealed under notify's own key until sent).
    for row in await otp_rows(notify, customer["id"]):
        held = " ".join(str(getattr(row, c) or "") for c in ("body", "subject", "sealed_body"))
        assert not shows(code, held), held

    # The code the phone received logs the customer in.
    login = await identity.client.post(
        "/v1/oauth/token", data={"grant_type": OTP_GRANT, "phone": phone, "code": code}
    )
    assert login.status_code == 200, login.text
    assert login.json()["access_token"]


def tampered(sealed: str) -> str:
    """``sealed`` with one bit of its ciphertext flipped."""
    prefix, _, payload = sealed.partition(".")
    raw = bytearray(base64.urlsafe_b64decode(payload))
    raw[20] ^= 0x01
    return f"{prefix}.{base64.urlsafe_b64encode(bytes(raw)).decode()}"


async def test_a_sealed_code_that_does_not_open_is_never_sent_and_the_consumer_goes_on(
    notify: LiveService,
    smsc: Simulator,
    publish: Publish,
    new_customer: NewCustomer,
    capfd: pytest.CaptureFixture[str],
) -> None:
    settings = notify.runtime.settings
    victim = await new_customer()
    attacker_phone = random_mobile()
    cases: dict[str, tuple[str, dict[str, Any]]] = {}

    altered = otp_event_data(settings, customer_id=victim.id, phone=victim.phone, code="314159")
    altered["sealed_code"] = tampered(altered["sealed_code"])
    cases["altered"] = ("314159", altered)
    # A code sealed for the victim's number, moved into an event naming another number.
    moved = otp_event_data(settings, customer_id=victim.id, phone=victim.phone, code="271828")
    moved["phone"] = attacker_phone
    cases["moved"] = ("271828", moved)
    # Sealed with a key notify does not hold (an attacker's own, or a rotation done wrong).
    foreign = TransportKey.from_secret(f"someone-else-{uuid.uuid4()}")
    cases["foreign"] = (
        "161803",
        otp_event_data(settings, customer_id=victim.id, phone=victim.phone, code="161803")
        | {
            "sealed_code": foreign.seal("161803", customer_id=victim.id, phone=victim.phone),
            "key_id": foreign.key_id,
        },
    )
    # An event of the old shape, the code in clear: never used (only a sealed code is sent).
    cases["clear"] = (
        "141421",
        {
            "customer_id": victim.id,
            "phone": victim.phone,
            "code": "141421",
            "expires_at": "2026-01-12T13:35:00+00:00",
            "language": "fr",
        },
    )
    configure_logging(service="security-test", level="INFO")
    try:
        published = {name: await publish(OTP, victim.id, data) for name, (_, data) in cases.items()}
        # Then a good one: the consumer is still there and sends it.
        good = await publish(
            OTP,
            victim.id,
            otp_event_data(settings, customer_id=victim.id, phone=victim.phone, code="577215"),
        )

        async def good_sent() -> list[dict[str, Any]]:
            return [m for m in await smsc.messages() if "577215" in m["text"]]

        await eventually(good_sent, timeout=20, what="the good code after the bad ones")

        async def all_failed() -> dict[str, Any] | None:
            rows = {r.event_id: r for r in await otp_rows(notify, victim.id)}
            if all(rows.get(e.id) is not None for e in published.values()):
                return rows
            return None

        rows = await eventually(all_failed, what="the bad codes' messages recorded")
    finally:
        configure_logging(service="security-test", level="WARNING")
    assert rows[good.id].state in ("sending", "sent", "delivered")
    texts = [m["text"] + " " + m["to"] for m in await smsc.messages()]
    logged = capfd.readouterr()
    for name, event in published.items():
        code = cases[name][0]
        row = rows[event.id]
        assert row.state == "failed", (name, row.state)
        assert row.sealed_body is None and row.sent_at is None
        assert str(row.provider_reason).startswith("code: cannot open the sealed code"), name
        columns = ("body", "subject", "provider_reason")
        stored = " ".join(str(getattr(row, c) or "") for c in columns)
        assert code not in stored, (name, stored)
        assert not any(code in t for t in texts), name
        assert f'"event_id": "{event.id}"' in logged.err, name
        assert code not in logged.err + logged.out, name
    assert not any(attacker_phone in t for t in texts)
    assert "notify.otp_code_unreadable" in logged.err
    assert "which this service lacks" in logged.err  # the foreign key is named by its id


async def test_a_code_goes_by_sms_in_the_otp_lane_whatever_an_editor_makes_of_its_route(
    notify: LiveService, identity: LiveService, smsc: Simulator, admin_token: str
) -> None:
    """Marketing edits routes (content): sending the code to the inbox or e-mail in the
    service lane would keep it in clear in the rows agents read. The route is overridden."""
    marketing = await new_agent(identity, admin_token, ["marketing"], ["15"])
    agent = await new_agent(identity, admin_token, ["agent"], ["15"])
    route = f"/v1/templates/routes/{OTP}"
    original = (await notify.client.get("/v1/templates/routes", headers=marketing.auth)).json()
    before = next(r for r in original if r["event_type"] == OTP)
    changed = await notify.client.put(
        route,
        headers=marketing.auth,
        json={"lane": "service", "urgent": False, "channels": ["in_app", "email", "sms"]},
    )
    assert changed.status_code == 200, changed.text
    try:
        phone = random_mobile()
        customer = await new_customer(identity, agent, phone=phone)
        asked = await identity.client.post("/v1/auth/otp", json={"phone": phone})
        assert asked.status_code == 202, asked.text

        async def sms() -> list[dict[str, Any]]:
            return [m for m in await smsc.messages() if m["to"] == phone]

        text = (await eventually(sms, timeout=20, what="the code's SMS"))[0]["text"]
        found = re.search(r"\b(\d{6})\b", text)
        assert found is not None, text

        async def recorded() -> list[Any] | None:
            async with notify.runtime.session_factory() as session:
                rows = list(
                    (
                        await session.execute(
                            select(messages).where(messages.c.customer_id == customer["id"])
                        )
                    ).all()
                )
            return rows if rows and all(r.state in ("sent", "delivered") for r in rows) else None

        rows = await eventually(recorded, what="the code's message recorded sent")
    finally:
        restored = await notify.client.put(
            route,
            headers=bearer(admin_token),
            json={k: before[k] for k in ("lane", "urgent", "channels", "condition", "enabled")},
        )
        assert restored.status_code == 200, restored.text
    assert [(r.channel, r.lane) for r in rows] == [("sms", "otp")]
    assert rows[0].render_data == {}
    assert not shows(found.group(1), f"{rows[0].body} {rows[0].subject}")
