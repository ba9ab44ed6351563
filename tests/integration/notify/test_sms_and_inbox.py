"""A ticket opened for a customer reaches them by SMS (with its delivery report) and in My Idoom."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sila_common.settings import PlatformSettings
from tests.integration.platform.kafka_tools import events_of, read_topic
from tests.support import (
    FastApiSolving,
    LiveService,
    eventually,
    problem_of,
    without_correlation,
)

from .conftest import NewCustomer, Publish, Simulator

DUE_AT = "2026-01-14T15:00:00+00:00"


def opened(customer_id: str, number: str = "TT-2026-000123") -> dict[str, Any]:
    return {
        "ticket_id": "t-" + customer_id[:8],
        "number": number,
        "customer_id": customer_id,
        "category": "technical",
        "subcategory": "no_connection",
        "priority": "normal",
        "channel": "call_centre",
        "subject": "Pas de connexion",
        "queue": "technical",
        "status": "acknowledged",
        "due_at": DUE_AT,
        "first_response_due_at": None,
        "incident_id": None,
        "estimated_end_at": None,
    }


async def messages_of(notify: LiveService, customer, **params: Any) -> list[dict[str, Any]]:
    answer = await notify.client.get(
        "/v1/notifications", params={"customer_id": customer.id, **params}, headers=customer.auth
    )
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def test_ticket_opened_goes_by_sms_in_french_with_number_and_due_date_then_is_delivered(
    notify: LiveService,
    smsc: Simulator,
    publish: Publish,
    new_customer: NewCustomer,
    platform: PlatformSettings,
) -> None:
    customer = await new_customer()
    event = await publish("tickets.ticket.opened", customer.id, opened(customer.id))

    async def sms_delivered() -> dict[str, Any] | None:
        items = await messages_of(notify, customer)
        sms = [m for m in items if m["channel"] == "sms"]
        return sms[0] if sms and sms[0]["state"] == "delivered" else None

    message = await eventually(sms_delivered, what="the SMS delivered")
    assert message["event_id"] == event.id
    assert message["template"] == "tickets.ticket.opened"
    assert message["sent_at"] is not None and message["delivered_at"] is not None
    received = [m for m in await smsc.messages() if m["to"] == customer.phone]
    assert len(received) == 1
    # 15:00 UTC is 16:00 in Algiers.
    assert "TT-2026-000123" in received[0]["text"]
    assert "14/01/2026 16:00" in received[0]["text"]
    assert received[0]["encoding"] == "GSM-7" or received[0]["coding"] == 2
    assert not received[0]["lossy"]

    records = await read_topic(platform, "sila.notify", expect=1)
    mine = [e for e in events_of(records) if e.data.get("message_id") == message["id"]]
    assert {e.type for e in mine} >= {"notify.message.sent", "notify.message.delivered"}


async def test_arabic_speaking_customer_gets_an_arabic_sms_sent_as_ucs2(
    notify: LiveService, smsc: Simulator, publish: Publish, new_customer: NewCustomer
) -> None:
    customer = await new_customer(language="ar")
    await publish("tickets.ticket.opened", customer.id, opened(customer.id, "TT-2026-000777"))

    async def received() -> list[dict[str, Any]]:
        return [m for m in await smsc.messages() if m["to"] == customer.phone]

    sms = (await eventually(received, what="the Arabic SMS"))[0]
    assert "الشكوى" in sms["text"] or "شكواكم" in sms["text"]
    assert sms["coding"] == 2 and sms["encoding"] == "UCS-2" and not sms["lossy"]


async def test_the_same_ticket_also_lands_in_the_inbox_with_an_unread_count_until_read(
    notify: LiveService, publish: Publish, new_customer: NewCustomer
) -> None:
    customer = await new_customer()
    await publish("tickets.ticket.opened", customer.id, opened(customer.id, "TT-2026-000555"))

    async def inbox() -> dict[str, Any] | None:
        answer = await notify.client.get("/v1/inbox", headers=customer.auth)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body if body["items"] else None

    page = await eventually(inbox, what="the inbox item")
    assert page["unread_count"] == 1
    item = page["items"][0]
    assert "TT-2026-000555" in item["body"] and item["read_at"] is None

    read = await notify.client.post(f"/v1/inbox/{item['id']}/read", headers=customer.auth)
    assert read.status_code == 200 and read.json()["read_at"] is not None
    after = (await notify.client.get("/v1/inbox", headers=customer.auth)).json()
    assert after["unread_count"] == 0


async def test_a_customer_cannot_read_or_mark_another_customers_inbox(
    notify: LiveService, publish: Publish, new_customer: NewCustomer
) -> None:
    owner, other = await new_customer(), await new_customer()
    await publish("tickets.ticket.opened", owner.id, opened(owner.id))

    async def item_id() -> str | None:
        items = (await notify.client.get("/v1/inbox", headers=owner.auth)).json()["items"]
        return str(items[0]["id"]) if items else None

    target = await eventually(item_id, what="the owner's inbox item")
    stolen = await notify.client.post(f"/v1/inbox/{target}/read", headers=other.auth)
    assert stolen.status_code == 404
    problem_of(stolen)
    foreign = await notify.client.get(
        "/v1/notifications", params={"customer_id": owner.id}, headers=other.auth
    )
    assert foreign.status_code == 404


async def test_a_delivery_report_without_the_message_token_is_refused_and_changes_nothing(
    notify: LiveService, publish: Publish, new_customer: NewCustomer
) -> None:
    customer = await new_customer()
    await publish("tickets.ticket.opened", customer.id, opened(customer.id))

    async def sent_sms() -> dict[str, Any] | None:
        sms = [m for m in await messages_of(notify, customer) if m["channel"] == "sms"]
        return sms[0] if sms and sms[0]["state"] in ("sent", "delivered") else None

    message = await eventually(sent_sms, what="the SMS sent")
    forged = await notify.client.get(
        "/v1/callbacks/sms-dlr",
        params={"message_id": message["id"], "token": "guessed", "type": 2, "answer": "x"},
    )
    assert forged.status_code == 404
    problem_of(forged)
    again = next(m for m in await messages_of(notify, customer) if m["id"] == message["id"])
    assert again["state"] in ("sent", "delivered")


async def test_a_plain_delivery_report_answers_as_the_same_report_solved_by_fastapi(
    notify: LiveService,
    publish: Publish,
    new_customer: NewCustomer,
    smsc: Simulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A report as Kannel sends it is given its arguments directly (DeliveryReportRoute);
    # with any other parameter FastAPI solves it. Same answers, same problems.
    customer = await new_customer()
    await publish("tickets.ticket.opened", customer.id, opened(customer.id))

    async def delivered_sms() -> dict[str, Any] | None:
        sms = [m for m in await messages_of(notify, customer) if m["channel"] == "sms"]
        return sms[0] if sms and sms[0]["state"] == "delivered" else None

    message = await eventually(delivered_sms, what="the SMS delivered")
    (report_url,) = [
        m["dlr_url"]
        for m in await smsc.messages()
        if parse_qs(urlsplit(m["dlr_url"]).query).get("message_id") == [message["id"]]
    ]
    token = parse_qs(urlsplit(report_url).query)["token"][0]
    solving = FastApiSolving(monkeypatch)

    async def both(query: dict[str, str], *, direct: bool) -> tuple[httpx.Response, ...]:
        before = solving.count
        plain = await notify.client.get("/v1/callbacks/sms-dlr", params=query)
        assert solving.count == before + (0 if direct else 1)
        general = await notify.client.get(
            "/v1/callbacks/sms-dlr", params={**query, "ts": "1764590000"}
        )
        assert solving.count == before + (1 if direct else 2), "unknown parameter: FastAPI"
        assert plain.status_code == general.status_code
        return plain, general

    report = {
        "message_id": message["id"],
        "token": token,
        "type": "1",
        "answer": "id:1 stat:DELIVRD",
    }
    plain, general = await both(report, direct=True)
    assert plain.status_code == 200
    assert plain.text == general.text == "OK"
    for query, direct, status in (
        ({**report, "token": "guessed"}, True, 404),
        ({**report, "token": "clé"}, True, 404),  # not ASCII: still a plain 404
        ({**report, "type": "08"}, True, 200),  # an int as FastAPI reads it
        ({**report, "type": "64"}, False, 422),  # out of bounds: FastAPI's problem
        ({**report, "type": "+1"}, False, 200),
        ({**report, "message_id": "x" * 37}, False, 422),
        ({"message_id": message["id"], "token": token}, False, 422),  # no type
    ):
        plain, general = await both(query, direct=direct)
        assert plain.status_code == status, query
        if status >= 400:
            assert without_correlation(problem_of(plain)) == without_correlation(
                problem_of(general)
            )
    again = next(m for m in await messages_of(notify, customer) if m["id"] == message["id"])
    assert again["state"] == "delivered"


async def test_a_ticket_opened_through_the_real_services_reaches_the_inbox_and_the_timeline(
    notify: LiveService, identity: LiveService, tickets: LiveService, admin_token: str
) -> None:
    from tests.support import bearer, random_mobile

    auth = bearer(admin_token)
    created = await identity.client.post(
        "/v1/customers",
        headers=auth,
        json={
            "first_name": "Amel",
            "last_name": "Haddad",
            "phone": random_mobile(),
            "wilaya_code": "15",
            "language": "fr",
            "channel": "agency",
        },
    )
    assert created.status_code == 201, created.text
    customer_id = created.json()["id"]

    async def open_ticket() -> dict[str, Any] | None:
        answer = await tickets.client.post(
            "/v1/tickets",
            headers=auth,
            json={
                "customer_id": customer_id,
                "category": "technical",
                "subcategory": "no_connection",
                "channel": "call_centre",
                "subject": "Pas de connexion ADSL",
            },
        )
        if answer.status_code == 422:
            return None
        assert answer.status_code == 201, answer.text
        body: dict[str, Any] = answer.json()
        return body

    ticket = await eventually(open_ticket, what="tickets knowing the customer")

    async def inbox_item() -> list[dict[str, Any]]:
        answer = await notify.client.get(
            "/v1/inbox", params={"customer_id": customer_id}, headers=auth
        )
        items: list[dict[str, Any]] = answer.json().get("items", [])
        return items

    items = await eventually(inbox_item, what="the ticket in the inbox")
    assert str(ticket["number"]) in items[0]["body"]

    async def on_timeline() -> list[str]:
        page = await identity.client.get(f"/v1/customers/{customer_id}/timeline", headers=auth)
        types = [item["type"] for item in page.json()["items"]]
        return types if "notify.message.sent" in types else []

    # Identity's timeline consumer may be catching up on the backlog earlier tests left on
    # sila.notify (campaigns): a longer deadline, the same condition.
    await eventually(on_timeline, timeout=45, what="the message on the customer's timeline")
