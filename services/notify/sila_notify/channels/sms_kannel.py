"""SMS through Kannel's HTTP send-SMS interface, with delivery reports to our callback.

The dlr-url names the message and carries its unguessable callback token, so that the
unauthenticated callback can only move a message its SMS centre was actually given. The
message id also goes out as ``msg-id`` (an aggregator's client reference): an SMS centre
that deduplicates on it, as our simulator does, sends a message retried after a crash once.

The client is aiohttp, not httpx (the platform's client everywhere else): this is the one
HTTP call made per message on the busiest path, and aiohttp's request costs about a fifth of
httpx's CPU here (0.09 against 0.43-0.46 ms per sendsms request, measured side by side in
``benchmarks/sms_client.py``; docs/benchmarks.md, "Fourth pass").
"""

from __future__ import annotations

from urllib.parse import urlencode

import aiohttp
from yarl import URL

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

    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings
        # One pool of kept-alive connections, as many as sends can be in flight (each lane's
        # concurrency: otp and service, then marketing), so that no send waits for a
        # connection: the timeout below counts from the call, and a wait would eat it.
        self._max_connections = sum(
            settings.marketing_concurrency
            if lane == "marketing"
            else settings.dispatcher_concurrency
            for lane in settings.served_lanes()
        )
        self._session: aiohttp.ClientSession | None = None
        # What every request says the same way, encoded once.
        fixed = urlencode(
            {
                "username": settings.sms_username,
                "password": settings.sms_password.get_secret_value(),
                "from": settings.sms_sender,
                "charset": "UTF-8",
                "dlr-mask": str(DLR_MASK),
            }
        )
        separator = "&" if "?" in settings.sms_url else "?"
        self._prefix = f"{settings.sms_url}{separator}{fixed}&"

    def request_url(self, message: OutgoingMessage) -> URL:
        """The sendsms request for one message (already encoded: yarl does not parse it again)."""
        ucs2 = encoding_for(message.body) == "UCS-2"
        varying = urlencode(
            {
                "to": message.destinations[0],
                "text": message.body,
                "coding": "2" if ucs2 else "0",
                "dlr-url": dlr_url(
                    self.settings.public_base_url, message.id, message.callback_token or ""
                ),
                "msg-id": message.id,
            }
        )
        return URL(self._prefix + varying, encoded=True)

    def _client(self) -> aiohttp.ClientSession:
        # Made on first use: a session belongs to the running event loop.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections),
                timeout=aiohttp.ClientTimeout(total=self.settings.provider_timeout_seconds),
            )
        return self._session

    async def send(self, message: OutgoingMessage) -> SendResult:
        if not message.destinations:
            raise PermanentFailure("no phone number")
        try:
            async with self._client().get(self.request_url(message)) as response:
                status = response.status
                answer = (await response.read()).decode("utf-8", "replace").strip()[:300]
        except (aiohttp.ClientError, TimeoutError) as error:
            raise TemporaryFailure(f"sms centre unreachable: {type(error).__name__}") from error
        if status in (200, 202):
            return SendResult(provider_message_id=None)
        if status >= 500 or status in (403, 429):
            # 403 is our credentials: an operator fixes it, the queue waits.
            raise TemporaryFailure(f"sms centre {status}: {answer}")
        raise PermanentFailure(f"sms centre {status}: {answer}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
