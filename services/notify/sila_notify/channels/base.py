"""What every channel adapter offers the dispatcher: send one message, or say why not."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class OutgoingMessage:
    """One message as a channel sends it; ``id`` is stable across retries and restarts."""

    id: str
    attempt_id: str
    customer_id: str
    channel: str
    # Where to: a phone number, an e-mail address, or the customer's device tokens.
    destinations: tuple[str, ...]
    subject: str | None
    body: str
    language: str
    event_type: str = ""
    callback_token: str | None = None


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str | None
    # True when the channel itself is the proof of delivery (the in-app inbox).
    delivered: bool = False
    # Device tokens the provider said are gone, to forget.
    dead_destinations: tuple[str, ...] = ()


class ChannelError(Exception):
    def __init__(self, reason: str, *, dead_destinations: tuple[str, ...] = ()) -> None:
        super().__init__(reason)
        self.reason = reason[:1000]
        self.dead_destinations = dead_destinations


class TemporaryFailure(ChannelError):
    """Worth trying again later (throttled, unavailable, timed out)."""


class PermanentFailure(ChannelError):
    """Trying again changes nothing (a refused number, a dead device, a bad address)."""


class Channel(Protocol):
    name: str

    async def send(self, message: OutgoingMessage) -> SendResult: ...

    async def close(self) -> None: ...
