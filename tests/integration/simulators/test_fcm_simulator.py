"""The FCM HTTP v1 push simulator, over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sila_simulators.fcm import FcmSimulatorConfig, create_fcm_app

from .servers import serve

PROJECT = "sila-test"
SEND_PATH = f"/v1/projects/{PROJECT}/messages:send"
ACCESS_TOKEN = "ya29.test-access-token"
AUTH = {"Authorization": f"Bearer {ACCESS_TOKEN}"}


def push(token: str = "device-token-1", **extra: Any) -> dict[str, Any]:
    return {
        "message": {
            "token": token,
            "notification": {"title": "Idoom", "body": "Votre réclamation est traitée."},
            "data": {"ticket_id": "TT-2026-000123"},
            **extra,
        }
    }


def fcm_error_code(response: httpx.Response) -> str | None:
    for detail in response.json()["error"].get("details", []):
        if detail["@type"] == "type.googleapis.com/google.firebase.fcm.v1.FcmError":
            code: str = detail["errorCode"]
            return code
    return None


@pytest.fixture
def fcm_config() -> FcmSimulatorConfig:
    return FcmSimulatorConfig(access_tokens=frozenset({ACCESS_TOKEN}), project_id=PROJECT)


@pytest.fixture
async def fcm(fcm_config: FcmSimulatorConfig) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(create_fcm_app(fcm_config)) as url, httpx.AsyncClient(base_url=url) as client:
        yield client


async def sent_messages(fcm: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await fcm.get("/_sim/messages")
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()
    return result


async def test_valid_push_answers_its_message_name_and_is_recorded(
    fcm: httpx.AsyncClient,
) -> None:
    response = await fcm.post(SEND_PATH, json=push(), headers=AUTH)

    assert response.status_code == 200
    name = response.json()["name"]
    assert name.startswith(f"projects/{PROJECT}/messages/")
    [sent] = await sent_messages(fcm)
    assert sent["name"] == name
    assert sent["message"]["token"] == "device-token-1"
    assert sent["message"]["data"] == {"ticket_id": "TT-2026-000123"}


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {ACCESS_TOKEN}"}]
)
async def test_push_without_a_valid_bearer_token_is_unauthenticated(
    fcm: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await fcm.post(SEND_PATH, json=push(), headers=headers)

    assert response.status_code == 401
    assert response.json()["error"]["status"] == "UNAUTHENTICATED"
    assert await sent_messages(fcm) == []


async def test_push_to_another_project_is_permission_denied(fcm: httpx.AsyncClient) -> None:
    response = await fcm.post("/v1/projects/other/messages:send", json=push(), headers=AUTH)
    assert response.status_code == 403
    assert response.json()["error"]["status"] == "PERMISSION_DENIED"


async def test_dead_token_is_unregistered_with_fcms_404_body(fcm: httpx.AsyncClient) -> None:
    response = await fcm.post(SEND_PATH, json=push("dead-phone"), headers=AUTH)

    assert response.status_code == 404
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (404, "NOT_FOUND")
    assert fcm_error_code(response) == "UNREGISTERED"


async def test_non_string_data_value_is_an_invalid_argument(fcm: httpx.AsyncClient) -> None:
    body = push()
    body["message"]["data"] = {"amount_centimes": 123450}
    response = await fcm.post(SEND_PATH, json=body, headers=AUTH)

    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert fcm_error_code(response) == "INVALID_ARGUMENT"
    [bad_request] = [
        detail
        for detail in response.json()["error"]["details"]
        if detail["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    ]
    [violation] = bad_request["fieldViolations"]
    assert violation["field"] == "message.data"
    assert "TYPE_STRING" in violation["description"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"message": {"notification": {"title": "x"}}},
        {"message": {"token": "a", "topic": "news"}},
        {"message": {"token": ""}},
        {"message": {"token": "a", "data": {"from": "x"}}},
        {"message": {"token": "a"}, "unexpected": 1},
    ],
    ids=["no-message", "no-target", "two-targets", "empty-token", "reserved-key", "unknown-field"],
)
async def test_malformed_message_is_an_invalid_argument(
    fcm: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    response = await fcm.post(SEND_PATH, json=body, headers=AUTH)

    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert await sent_messages(fcm) == []


async def test_body_that_is_not_json_is_an_invalid_argument(fcm: httpx.AsyncClient) -> None:
    response = await fcm.post(SEND_PATH, content=b"{not json", headers=AUTH)
    assert (response.status_code, response.json()["error"]["status"]) == (400, "INVALID_ARGUMENT")


@pytest.mark.parametrize(
    "fcm_config",
    [FcmSimulatorConfig(quota_max_messages=1, quota_period_seconds=3600, retry_after_seconds=30)],
)
async def test_sends_above_the_quota_are_refused_with_retry_after(fcm: httpx.AsyncClient) -> None:
    first = await fcm.post(SEND_PATH, json=push(), headers=AUTH)
    second = await fcm.post(SEND_PATH, json=push(), headers=AUTH)

    assert first.status_code == 200
    assert second.status_code == 429
    assert second.headers["Retry-After"] == "30"
    assert second.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert fcm_error_code(second) == "QUOTA_EXCEEDED"


@pytest.mark.parametrize("fcm_config", [FcmSimulatorConfig(temporary_failures_before_success=2)])
async def test_flaky_token_is_unavailable_its_first_attempts(fcm: httpx.AsyncClient) -> None:
    attempts = [await fcm.post(SEND_PATH, json=push("flaky-phone"), headers=AUTH) for _ in range(3)]

    assert [a.status_code for a in attempts] == [503, 503, 200]
    assert fcm_error_code(attempts[0]) == "UNAVAILABLE"
    assert len(await sent_messages(fcm)) == 1


async def test_validate_only_checks_without_sending(fcm: httpx.AsyncClient) -> None:
    response = await fcm.post(SEND_PATH, json={**push(), "validate_only": True}, headers=AUTH)

    assert response.status_code == 200
    assert response.json()["name"] == f"projects/{PROJECT}/messages/fake_message_id"
    assert await sent_messages(fcm) == []


async def test_reset_forgets_sent_messages(fcm: httpx.AsyncClient) -> None:
    await fcm.post(SEND_PATH, json=push(), headers=AUTH)
    assert (await fcm.delete("/_sim/messages")).status_code == 204
    assert await sent_messages(fcm) == []
