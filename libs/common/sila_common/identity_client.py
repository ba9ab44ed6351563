"""Asking identity about one customer, as one of Sila's services.

Tickets and notify keep their own copy of the customer directory, fed by identity's events.
A customer registered a moment ago is not in it yet (the event is ~100 ms behind), so when a
copy lacks a customer the service asks identity with this client and keeps the answer. The
client logs in with the real ``client_credentials`` grant (``SILA_IDENTITY_SERVICE_CLIENTS``
on identity's side; a ``service`` token with ``customers:read``), keeps the token until a
little before it expires, and reads ``GET /v1/customers/{id}``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from sila_common.problems import ServiceUnavailable
from sila_common.service import Runtime

# A token is renewed this long before it expires, so a request never carries a stale one.
TOKEN_MARGIN_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class IdentityCustomer:
    """What identity says of a customer (its ``CustomerRead``, the fields services keep)."""

    id: str
    kind: str | None
    status: str
    display_name: str | None
    phone: str | None
    email: str | None
    wilaya_code: str
    commune: str | None
    language: str
    updated_at: datetime
    erased_at: datetime | None

    @property
    def erased(self) -> bool:
        return self.erased_at is not None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> IdentityCustomer:
        erased_at = body.get("erased_at")
        return cls(
            id=str(body["id"]),
            kind=body.get("kind"),
            status=str(body.get("status") or "active"),
            display_name=body.get("display_name"),
            phone=body.get("phone"),
            email=body.get("email"),
            wilaya_code=str(body["wilaya_code"]),
            commune=body.get("commune"),
            language=str(body.get("language") or "fr"),
            updated_at=datetime.fromisoformat(str(body["updated_at"])),
            erased_at=datetime.fromisoformat(str(erased_at)) if erased_at else None,
        )


class IdentityUnavailable(ServiceUnavailable):
    """Identity could not answer: the caller cannot tell whether the customer exists."""


class IdentityClient:
    """``customer(id)``: identity's answer, or None when identity knows no such customer."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        timeout_seconds: float = 3.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self._client = client or httpx.AsyncClient(timeout=timeout_seconds)
        self._token: tuple[str, float] | None = None
        self._token_lock = asyncio.Lock()

    async def customer(self, customer_id: str) -> IdentityCustomer | None:
        """Identity's customer, None when identity knows none by this id. Identity's ids are
        UUIDs: anything else is known to be nobody without asking (and never becomes part
        of the URL)."""
        try:
            customer_id = str(uuid.UUID(customer_id))
        except ValueError:
            return None
        try:
            answer = await self._get(f"/v1/customers/{customer_id}")
            if answer.status_code == 401:  # the key rotated or the token was refused: once more
                self._token = None
                answer = await self._get(f"/v1/customers/{customer_id}")
        except httpx.HTTPError as error:
            raise self._unavailable(type(error).__name__) from error
        if answer.status_code == 404:
            return None
        if answer.status_code != 200:
            raise self._unavailable(f"HTTP {answer.status_code}")
        return IdentityCustomer.from_json(answer.json())

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _get(self, path: str) -> httpx.Response:
        token = await self._access_token()
        return await self._client.get(
            f"{self.base_url}{path}", headers={"Authorization": f"Bearer {token}"}
        )

    async def _access_token(self) -> str:
        async with self._token_lock:
            if self._token is not None and time.monotonic() < self._token[1]:
                return self._token[0]
            answer = await self._client.post(
                f"{self.base_url}/v1/oauth/token",
                data={"grant_type": "client_credentials", "scope": "customers:read"},
                auth=(self.client_id, self.client_secret),
            )
            if answer.status_code != 200:
                raise self._unavailable(f"log-in refused (HTTP {answer.status_code})")
            body = answer.json()
            expires = float(body.get("expires_in", 60))
            lifetime = max(expires - TOKEN_MARGIN_SECONDS, expires / 2)
            self._token = (str(body["access_token"]), time.monotonic() + lifetime)
            return self._token[0]

    @staticmethod
    def _unavailable(reason: str) -> IdentityUnavailable:
        return IdentityUnavailable(
            f"Identity could not confirm the customer ({reason}); try again in a moment.",
            headers={"Retry-After": "2"},
        )


def identity_client_of(runtime: Runtime[Any]) -> IdentityClient:
    """The process's identity client (a collaborator made on first use, closed with the
    runtime)."""
    client = runtime.collaborators.find(IdentityClient)
    if client is None:
        settings = runtime.settings
        client = IdentityClient(
            settings.identity_url, settings.service_name, settings.identity_secret()
        )
        runtime.collaborators.add(client)
        runtime.closers.append(client.aclose)
    return client
