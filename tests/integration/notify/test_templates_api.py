"""Templates: versions with typed variables checked on save, previews with SMS cost, routes."""

from __future__ import annotations

import uuid

from tests.support import LiveService, bearer, problem_of

from .conftest import NewCustomer


async def test_a_template_with_an_undeclared_or_ill_typed_placeholder_is_refused(
    notify: LiveService, admin_token: str
) -> None:
    answer = await notify.client.post(
        "/v1/templates",
        headers=bearer(admin_token),
        json={
            "event_type": "tickets.ticket.opened",
            "language": "fr",
            "channel": "sms",
            "body": "Réclamation {number} due le {due_at:time} pour {nom}",
            "variables": {"number": "int", "due_at": "date"},
        },
    )
    assert answer.status_code == 422
    problem = problem_of(answer)
    codes = {e["type"] for e in problem["errors"]}
    assert {"unknown_placeholder", "bad_format_spec"} <= codes


async def test_saving_a_template_makes_a_new_version_that_the_next_message_uses(
    notify: LiveService, admin_token: str
) -> None:
    event_type = f"loyalty.test_{uuid.uuid4().hex[:6]}.granted"
    body = {
        "event_type": event_type,
        "language": "en",
        "channel": "sms",
        "body": "Thanks {name}, {points} points added.",
        "variables": {"name": "str", "points": "int"},
    }
    first = await notify.client.post("/v1/templates", headers=bearer(admin_token), json=body)
    second = await notify.client.post(
        "/v1/templates",
        headers=bearer(admin_token),
        json={**body, "body": "Merci {name} : +{points} points."},
    )
    assert (first.status_code, second.status_code) == (201, 201), second.text
    assert [first.json()["version"], second.json()["version"]] == [1, 2]
    listed = await notify.client.get(
        "/v1/templates", params={"event_type": event_type}, headers=bearer(admin_token)
    )
    assert [t["version"] for t in listed.json()["items"]] == [2]
    every = await notify.client.get(
        "/v1/templates",
        params={"event_type": event_type, "all_versions": True},
        headers=bearer(admin_token),
    )
    assert sorted(t["version"] for t in every.json()["items"]) == [1, 2]
    preview = await notify.client.post(
        "/v1/templates/preview",
        headers=bearer(admin_token),
        json={
            "event_type": event_type,
            "language": "en",
            "channel": "sms",
            "values": {"name": "Amel", "points": 50},
        },
    )
    assert preview.status_code == 200, preview.text
    assert preview.json()["body"] == "Merci Amel : +50 points." and preview.json()["version"] == 2


async def test_preview_counts_arabic_sms_as_ucs2_segments(
    notify: LiveService, admin_token: str
) -> None:
    preview = await notify.client.post(
        "/v1/templates/preview",
        headers=bearer(admin_token),
        json={
            "event_type": "tickets.ticket.opened",
            "language": "ar",
            "channel": "sms",
            "values": {"number": "TT-2026-000123", "due_at": "2026-01-14T15:00:00+00:00"},
        },
    )
    assert preview.status_code == 200, preview.text
    sms = preview.json()["sms"]
    assert sms["encoding"] == "UCS-2" and sms["per_segment"] in (67, 70)
    assert sms["segments"] >= 1
    french = await notify.client.post(
        "/v1/templates/preview",
        headers=bearer(admin_token),
        json={"body": "Code {code}", "variables": {"code": "str"}, "values": {"code": "1234"}},
    )
    assert french.json()["sms"] == {
        "encoding": "GSM-7",
        "units": 9,
        "segments": 1,
        "per_segment": 160,
        "remaining_in_segment": 151,
    }


async def test_preview_with_a_value_of_the_wrong_type_is_a_problem_not_a_crash(
    notify: LiveService, admin_token: str
) -> None:
    answer = await notify.client.post(
        "/v1/templates/preview",
        headers=bearer(admin_token),
        json={
            "body": "Montant {amount}",
            "variables": {"amount": "money_centimes"},
            "values": {"amount": "beaucoup"},
        },
    )
    assert answer.status_code == 422
    assert problem_of(answer)["errors"][0]["type"] == "bad_value"


async def test_customers_cannot_touch_templates_and_every_default_is_seeded(
    notify: LiveService, new_customer: NewCustomer, admin_token: str
) -> None:
    customer = await new_customer()
    assert (await notify.client.get("/v1/templates", headers=customer.auth)).status_code == 403
    seeded = (
        await notify.client.get(
            "/v1/templates",
            params={"event_type": "identity.otp.requested"},
            headers=bearer(admin_token),
        )
    ).json()["items"]
    assert {(t["language"], t["channel"]) for t in seeded} >= {
        ("ar", "sms"),
        ("fr", "sms"),
        ("en", "sms"),
    }
    routes = (await notify.client.get("/v1/templates/routes", headers=bearer(admin_token))).json()
    otp = next(r for r in routes if r["event_type"] == "identity.otp.requested")
    assert otp["lane"] == "otp" and otp["urgent"] is True


async def test_an_event_can_be_silenced_by_its_route(notify: LiveService, admin_token: str) -> None:
    event_type = f"billing.test_{uuid.uuid4().hex[:6]}.issued"
    answer = await notify.client.put(
        f"/v1/templates/routes/{event_type}",
        headers=bearer(admin_token),
        json={"lane": "service", "channels": ["sms", "in_app"], "enabled": False},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["enabled"] is False
    bad = await notify.client.put(
        "/v1/templates/routes/NOT A TYPE",
        headers=bearer(admin_token),
        json={"lane": "service", "channels": ["sms"]},
    )
    assert bad.status_code == 422
