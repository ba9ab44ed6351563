"""The SMS channel's HTTP client, httpx against aiohttp, on the same sendsms requests in the
same run: CPU of this process per request (the SMS centre simulator runs in its own process,
so only the client's side is counted), 32 requests in flight, alternated three times.

``python -m benchmarks sms_client``. The aiohttp side is notify's channel itself
(``KannelSmsChannel.send``); the httpx side is the channel as it was before the fourth pass
(one-connection clients lent to one send at a time, the query given as ``params``).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

import httpx

from benchmarks.harness import BenchEnv, Row, median
from benchmarks.served import serve_factory
from sila_notify.channels.base import OutgoingMessage
from sila_notify.channels.sms_kannel import DLR_MASK, KannelSmsChannel, dlr_url
from sila_notify.settings import NotifySettings

IN_FLIGHT = 32
ROUNDS = 3


def message(n: int) -> OutgoingMessage:
    return OutgoingMessage(
        id=str(uuid.uuid4()),
        attempt_id="bench",
        customer_id="bench",
        channel="sms",
        destinations=(f"+21366{n % 10**7:07d}",),
        subject=None,
        body=f"Votre code Idoom est {n % 10**6:06d}. Il expire dans 5 minutes.",
        language="fr",
        callback_token="t" * 32,
    )


class HttpxSender:
    """The channel's request as httpx made it (before the fourth pass)."""

    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings
        self.idle: asyncio.LifoQueue[httpx.AsyncClient] = asyncio.LifoQueue()
        for _ in range(IN_FLIGHT):
            self.idle.put_nowait(
                httpx.AsyncClient(
                    limits=httpx.Limits(max_connections=1, max_keepalive_connections=1)
                )
            )

    async def send(self, sms: OutgoingMessage) -> None:
        params = {
            "username": self.settings.sms_username,
            "password": self.settings.sms_password.get_secret_value(),
            "from": self.settings.sms_sender,
            "to": sms.destinations[0],
            "text": sms.body,
            "charset": "UTF-8",
            "coding": "0",
            "dlr-mask": str(DLR_MASK),
            "dlr-url": dlr_url(self.settings.public_base_url, sms.id, sms.callback_token or ""),
            "msg-id": sms.id,
        }
        client = await self.idle.get()
        try:
            response = await client.get(self.settings.sms_url, params=params)
            response.raise_for_status()
        finally:
            self.idle.put_nowait(client)

    async def close(self) -> None:
        while not self.idle.empty():
            await self.idle.get_nowait().aclose()


Send = Callable[[OutgoingMessage], Awaitable[object]]


async def cpu_per_request(send: Send, count: int) -> float:
    """Milliseconds of this process's CPU per request, ``IN_FLIGHT`` at a time."""
    limit = asyncio.Semaphore(IN_FLIGHT)

    async def one(n: int) -> None:
        async with limit:
            await send(message(n))

    await asyncio.gather(*(one(n) for n in range(200)))  # connections opened, code warm
    started = time.process_time()
    await asyncio.gather(*(one(n) for n in range(count)))
    return 1000 * (time.process_time() - started) / count


async def run(env: BenchEnv) -> list[Row]:
    count = 3_000 if env.quick else 10_000
    results: dict[str, list[float]] = {"httpx": [], "aiohttp": []}
    async with serve_factory("benchmarks.apps:smsc_app") as smsc:
        settings = NotifySettings(
            sms_url=f"{smsc.url}/cgi-bin/sendsms", public_base_url="http://127.0.0.1:9"
        )
        for _ in range(ROUNDS):
            before = HttpxSender(settings)
            try:
                results["httpx"].append(await cpu_per_request(before.send, count))
            finally:
                await before.close()
            channel = KannelSmsChannel(settings)
            try:
                results["aiohttp"].append(await cpu_per_request(channel.send, count))
            finally:
                await channel.close()
    note = f"{count:,} sendsms requests × {ROUNDS}, {IN_FLIGHT} in flight; client process CPU"
    return [
        Row(
            f"SMS client CPU per request, {name}",
            median(values),
            "ms",
            f"{note}; rounds {', '.join(f'{v:.3f}' for v in values)}",
        )
        for name, values in results.items()
    ]
