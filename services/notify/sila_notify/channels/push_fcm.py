"""Push through Firebase Cloud Messaging's HTTP v1 API, to each of the customer's devices.

Each notification is tagged with the message id, so a resend after a crash replaces the
first on the device rather than showing twice.
"""

from __future__ import annotations

from typing import Any

import httpx

from sila_notify.channels.base import (
    OutgoingMessage,
    PermanentFailure,
    SendResult,
    TemporaryFailure,
)
from sila_notify.settings import NotifySettings

PERMANENT_CODES = frozenset({"UNREGISTERED", "INVALID_ARGUMENT", "SENDER_ID_MISMATCH"})


def _error_code(response: httpx.Response) -> str:
    try:
        error = response.json().get("error", {})
    except ValueError:
        return f"HTTP {response.status_code}"
    for detail in error.get("details", []):
        if "errorCode" in detail:
            return str(detail["errorCode"])
    return str(error.get("status") or f"HTTP {response.status_code}")


def fcm_body(message: OutgoingMessage, token: str) -> dict[str, Any]:
    return {
        "message": {
            "token": token,
            "notification": {"title": message.subject or "Idoom", "body": message.body},
            "data": {"message_id": message.id},
            "android": {"collapse_key": message.id, "notification": {"tag": message.id}},
            "apns": {"headers": {"apns-collapse-id": message.id[:64]}},
        }
    }


class FcmPushChannel:
    name = "push"

    def __init__(self, settings: NotifySettings, client: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self.client = client or httpx.AsyncClient(timeout=settings.provider_timeout_seconds)

    async def send(self, message: OutgoingMessage) -> SendResult:
        if not message.destinations:
            raise PermanentFailure("no registered device")
        url = (
            f"{self.settings.fcm_url.rstrip('/')}/v1/projects/"
            f"{self.settings.fcm_project}/messages:send"
        )
        headers = {"Authorization": f"Bearer {self.settings.fcm_access_token.get_secret_value()}"}
        accepted: list[str] = []
        dead: list[str] = []
        temporary: list[str] = []
        permanent: list[str] = []
        for token in message.destinations:
            try:
                response = await self.client.post(
                    url, json=fcm_body(message, token), headers=headers
                )
            except httpx.HTTPError as error:
                temporary.append(f"fcm unreachable: {type(error).__name__}")
                continue
            if response.status_code == 200:
                accepted.append(str(response.json().get("name", "")))
                continue
            code = _error_code(response)
            if code == "UNREGISTERED":
                dead.append(token)
            if code in PERMANENT_CODES:
                permanent.append(f"fcm {code}")
            else:
                temporary.append(f"fcm {code}")
        if accepted:
            return SendResult(provider_message_id=accepted[0], dead_destinations=tuple(dead))
        if temporary:
            raise TemporaryFailure("; ".join(temporary), dead_destinations=tuple(dead))
        raise PermanentFailure("; ".join(permanent), dead_destinations=tuple(dead))

    async def close(self) -> None:
        await self.client.aclose()
