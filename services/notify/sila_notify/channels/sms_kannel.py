"""SMS through Kannel's HTTP send-SMS interface, with delivery reports to our callback.

The dlr-url names the message and carries its unguessable callback token, so that the
unauthenticated callback can only move a message its SMS centre was actually given. The
message id also goes out as ``msg-id`` (an aggregator's client reference): an SMS centre
that deduplicates on it, as our simulator does, sends a message retried after a crash once.
"""

from __future__ import annotations

import asyncio
import ssl
from urllib.parse import urlencode

import httpx

from sila_notify.channels.base import (
    OutgoingMessage,
    PermanentFailure,
    SendResult,
    TemporaryFailure,
)
from sila_notify.domain.sms import encoding_for
from sila_notify.settings import NotifySettings

# Kannel dlr-mask bits: delivered (1), failed (2), SMSC reject (16).
DLR_MASK = 1 | 2 | 16
DLR_CALLBACK_PATH = "/v1/callbacks/sms-dlr"


def dlr_url(base_url: str, message_id: str, token: str) -> str:
    query = urlencode({"message_id": message_id, "token": token})
    # %d (report type) and %A (the SMSC's answer) are Kannel escapes, expanded on callback.
    return f"{base_url.rstrip('/')}{DLR_CALLBACK_PATH}?{query}&type=%d&answer=%A"


class KannelSmsChannel:
    name = "sms"

    def __init__(self, settings: NotifySettings, client: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        # One kept-alive connection per send in flight, each in a client of its own, lent to
        # one send at a time: httpcore's pool looks at every connection and every waiting
        # request on each request (35 % of the dispatcher's CPU with 35 connections in one
        # pool); a pool of one does that for one.
        self.client = client
        self._idle: asyncio.LifoQueue[httpx.AsyncClient] = asyncio.LifoQueue()
        self._clients: list[httpx.AsyncClient] = []
        self._max_clients = settings.dispatcher_concurrency + settings.marketing_concurrency
        # One TLS context for all of them (building one took 22 % of a burst's first seconds).
        self._tls: ssl.SSLContext | None = None

    def _lend(self) -> httpx.AsyncClient | None:
        try:
            return self._idle.get_nowait()
        except asyncio.QueueEmpty:
            if len(self._clients) >= self._max_clients:
                return None
        if self._tls is None:
            self._tls = httpx.create_ssl_context()
        client = httpx.AsyncClient(
            verify=self._tls,
            timeout=self.settings.provider_timeout_seconds,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )
        self._clients.append(client)
        return client

    async def _get(self, params: dict[str, str]) -> httpx.Response:
        if self.client is not None:
            return await self.client.get(self.settings.sms_url, params=params)
        client = self._lend() or await self._idle.get()
        try:
            return await client.get(self.settings.sms_url, params=params)
        finally:
            self._idle.put_nowait(client)

    async def send(self, message: OutgoingMessage) -> SendResult:
        if not message.destinations:
            raise PermanentFailure("no phone number")
        ucs2 = encoding_for(message.body) == "UCS-2"
        params = {
            "username": self.settings.sms_username,
            "password": self.settings.sms_password.get_secret_value(),
            "from": self.settings.sms_sender,
            "to": message.destinations[0],
            "text": message.body,
            "charset": "UTF-8",
            "coding": "2" if ucs2 else "0",
            "dlr-mask": str(DLR_MASK),
            "dlr-url": dlr_url(
                self.settings.public_base_url, message.id, message.callback_token or ""
            ),
            "msg-id": message.id,
        }
        try:
            response = await self._get(params)
        except httpx.HTTPError as error:
            raise TemporaryFailure(f"sms centre unreachable: {type(error).__name__}") from error
        answer = response.text.strip()[:300]
        if response.status_code in (200, 202):
            return SendResult(provider_message_id=None)
        if response.status_code >= 500 or response.status_code in (403, 429):
            # 403 is our credentials: an operator fixes it, the queue waits.
            raise TemporaryFailure(f"sms centre {response.status_code}: {answer}")
        raise PermanentFailure(f"sms centre {response.status_code}: {answer}")

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()
        for client in self._clients:
            await client.aclose()
        self._clients = []
