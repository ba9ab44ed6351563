"""Partner webhooks to a real HTTP server on 127.0.0.1 that checks Standard Webhooks signatures."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from sila_common.settings import PlatformSettings
from sila_notify.domain.webhook_signature import WebhookVerificationError, verify
from tests.integration.platform.kafka_tools import events_of, read_topic
from tests.integration.simulators.servers import serve
from tests.support import LiveService, bearer, eventually, problem_of

from .conftest import NewCustomer, Publish, partner_token
from .test_sms_and_inbox import opened


@dataclass
class Partner:
    """A partner's endpoint: answers each path with the planned statuses, then 200."""

    secrets: dict[str, list[str]] = field(default_factory=dict)
    plans: dict[str, list[int]] = field(default_factory=dict)
    received: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    async def receive(self, request: Request) -> Response:
        name = request.path_params["name"]
        body = await request.body()
        headers = dict(request.headers)
        verified = []
        for secret in self.secrets.get(name, []):
            try:
                verify(secret, headers, body)
                verified.append(secret)
            except WebhookVerificationError:
                pass
        self.received.setdefault(name, []).append(
            {"headers": headers, "body": body, "verified_with": verified}
        )
        plan = self.plans.get(name, [])
        status = plan.pop(0) if plan else 200
        return PlainTextResponse("ok", status_code=status if verified else 401)


@pytest.fixture(scope="module")
async def partner_server() -> AsyncIterator[tuple[Partner, str]]:
    partner = Partner()
    app = Starlette(routes=[Route("/hooks/{name}", partner.receive, methods=["POST"])])
    async with serve(app) as url:
        yield partner, url


async def subscribe(notify: LiveService, token: str, url: str, types: list[str]) -> dict[str, Any]:
    answer = await notify.client.post(
        "/v1/webhook-subscriptions",
        headers=bearer(token),
        json={"url": url, "event_types": types, "description": "test"},
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def deliveries(notify: LiveService, token: str, sub_id: str) -> list[dict[str, Any]]:
    answer = await notify.client.get(
        f"/v1/webhook-subscriptions/{sub_id}/deliveries", headers=bearer(token)
    )
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def test_a_subscribed_event_arrives_signed_and_is_logged(
    notify: LiveService,
    identity: LiveService,
    platform: PlatformSettings,
    publish: Publish,
    new_customer: NewCustomer,
    partner_server: tuple[Partner, str],
) -> None:
    partner, base = partner_server
    pid = f"partner-{uuid.uuid4().hex[:6]}"
    token = await partner_token(identity, platform, pid)
    name = uuid.uuid4().hex[:8]
    sub = await subscribe(notify, token, f"{base}/hooks/{name}", ["tickets.*"])
    assert sub["secret"].startswith("whsec_")
    partner.secrets[name] = [sub["secret"]]
    customer = await new_customer()
    event = await publish(
        "tickets.ticket.opened", customer.id, opened(customer.id) | {"partner_id": pid}
    )

    async def arrived() -> list[dict[str, Any]]:
        return partner.received.get(name, [])

    request = (await eventually(arrived, what="the webhook"))[0]
    assert request["verified_with"] == [sub["secret"]]
    assert b'"type":"tickets.ticket.opened"' in request["body"]
    assert event.id.encode() in request["body"]

    async def logged() -> list[dict[str, Any]]:
        return [d for d in await deliveries(notify, token, sub["id"]) if d["state"] == "succeeded"]

    delivery = (await eventually(logged, what="the delivery logged"))[0]
    assert request["headers"]["webhook-id"] == delivery["id"]
    assert delivery["attempt_log"][0]["status_code"] == 200
    listed = await notify.client.get("/v1/webhook-subscriptions", headers=bearer(token))
    assert [s["id"] for s in listed.json()] == [sub["id"]]
    assert "secret" not in listed.json()[0]


async def test_failures_are_retried_with_the_same_webhook_id_until_the_partner_accepts(
    notify: LiveService,
    identity: LiveService,
    platform: PlatformSettings,
    publish: Publish,
    new_customer: NewCustomer,
    partner_server: tuple[Partner, str],
) -> None:
    partner, base = partner_server
    pid = f"partner-{uuid.uuid4().hex[:6]}"
    token = await partner_token(identity, platform, pid)
    name = uuid.uuid4().hex[:8]
    partner.plans[name] = [500, 503]
    sub = await subscribe(notify, token, f"{base}/hooks/{name}", ["tickets.ticket.opened"])
    partner.secrets[name] = [sub["secret"]]
    customer = await new_customer()
    await publish("tickets.ticket.opened", customer.id, opened(customer.id) | {"partner_id": pid})

    async def succeeded() -> list[dict[str, Any]]:
        return [d for d in await deliveries(notify, token, sub["id"]) if d["state"] == "succeeded"]

    delivery = (await eventually(succeeded, what="the delivery after retries"))[0]
    assert delivery["attempts"] == 3
    assert [a["status_code"] for a in delivery["attempt_log"]] == [500, 503, 200]
    ids = {r["headers"]["webhook-id"] for r in partner.received[name]}
    assert ids == {delivery["id"]}


async def test_an_endpoint_failing_for_good_is_disabled_the_partner_told_and_replay_works_again(
    notify: LiveService,
    identity: LiveService,
    platform: PlatformSettings,
    publish: Publish,
    new_customer: NewCustomer,
    partner_server: tuple[Partner, str],
) -> None:
    partner, base = partner_server
    pid = f"partner-{uuid.uuid4().hex[:6]}"
    token = await partner_token(identity, platform, pid)
    name = uuid.uuid4().hex[:8]
    partner.plans[name] = [500] * 4  # the first attempt and the 3 scheduled retries
    sub = await subscribe(notify, token, f"{base}/hooks/{name}", ["tickets.ticket.opened"])
    partner.secrets[name] = [sub["secret"]]
    customer = await new_customer()
    await publish("tickets.ticket.opened", customer.id, opened(customer.id) | {"partner_id": pid})

    async def disabled() -> dict[str, Any] | None:
        answer = await notify.client.get(
            f"/v1/webhook-subscriptions/{sub['id']}", headers=bearer(token)
        )
        body: dict[str, Any] = answer.json()
        return body if body["state"] == "disabled" else None

    state = await eventually(disabled, what="the endpoint disabled")
    assert "HTTP 500" in state["disabled_reason"]
    [failed] = await deliveries(notify, token, sub["id"])
    assert failed["state"] == "failed" and failed["attempts"] == 4
    records = await read_topic(platform, "sila.notify", expect=1)
    told = [
        e
        for e in events_of(records)
        if e.type == "notify.webhook_subscription.disabled"
        and e.data["subscription_id"] == sub["id"]
    ]
    assert len(told) == 1

    refused = await notify.client.post(
        f"/v1/webhook-subscriptions/{sub['id']}/deliveries/{failed['id']}/replay",
        headers=bearer(token),
    )
    assert refused.status_code == 422
    enabled = await notify.client.patch(
        f"/v1/webhook-subscriptions/{sub['id']}", json={"state": "active"}, headers=bearer(token)
    )
    assert enabled.status_code == 200 and enabled.json()["state"] == "active"
    replay = await notify.client.post(
        f"/v1/webhook-subscriptions/{sub['id']}/deliveries/{failed['id']}/replay",
        headers=bearer(token),
    )
    assert replay.status_code == 202

    async def redelivered() -> list[dict[str, Any]]:
        return [d for d in await deliveries(notify, token, sub["id"]) if d["state"] == "succeeded"]

    await eventually(redelivered, what="the replayed delivery")


async def test_after_rotation_both_secrets_verify_for_the_overlap(
    notify: LiveService,
    identity: LiveService,
    platform: PlatformSettings,
    publish: Publish,
    new_customer: NewCustomer,
    partner_server: tuple[Partner, str],
) -> None:
    partner, base = partner_server
    pid = f"partner-{uuid.uuid4().hex[:6]}"
    token = await partner_token(identity, platform, pid)
    name = uuid.uuid4().hex[:8]
    sub = await subscribe(notify, token, f"{base}/hooks/{name}", ["tickets.ticket.opened"])
    rotated = await notify.client.post(
        f"/v1/webhook-subscriptions/{sub['id']}/rotate-secret", headers=bearer(token)
    )
    assert rotated.status_code == 200
    new_secret = rotated.json()["secret"]
    assert new_secret != sub["secret"]
    partner.secrets[name] = [sub["secret"], new_secret]
    customer = await new_customer()
    await publish("tickets.ticket.opened", customer.id, opened(customer.id) | {"partner_id": pid})

    async def arrived() -> list[dict[str, Any]]:
        return partner.received.get(name, [])

    request = (await eventually(arrived, what="the webhook after rotation"))[0]
    assert sorted(request["verified_with"]) == sorted([sub["secret"], new_secret])
    assert len(request["headers"]["webhook-signature"].split(" ")) == 2


async def test_subscriptions_are_checked_and_private_to_their_partner(
    notify: LiveService,
    identity: LiveService,
    platform: PlatformSettings,
    partner_server: tuple[Partner, str],
    new_customer: NewCustomer,
) -> None:
    _, base = partner_server
    alice = await partner_token(identity, platform, f"alice-{uuid.uuid4().hex[:6]}")
    bob = await partner_token(identity, platform, f"bob-{uuid.uuid4().hex[:6]}")
    sub = await subscribe(notify, alice, f"{base}/hooks/alice", ["billing.*"])
    hidden = await notify.client.get(f"/v1/webhook-subscriptions/{sub['id']}", headers=bearer(bob))
    assert hidden.status_code == 404
    private = await notify.client.post(
        "/v1/webhook-subscriptions",
        headers=bearer(alice),
        json={"url": "http://10.0.0.7/hook", "event_types": ["billing.*"]},
    )
    assert private.status_code == 422
    assert problem_of(private)["type"].endswith("webhook-destination-refused")
    otp = await notify.client.post(
        "/v1/webhook-subscriptions",
        headers=bearer(alice),
        json={"url": f"{base}/hooks/x", "event_types": ["identity.otp.requested"]},
    )
    assert otp.status_code == 422
    customer = await new_customer()
    forbidden = await notify.client.get("/v1/webhook-subscriptions", headers=customer.auth)
    assert forbidden.status_code == 403
