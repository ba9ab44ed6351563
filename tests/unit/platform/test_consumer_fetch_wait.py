"""How long a consumer lets the broker hold an empty fetch: its service's setting."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sila_common import consumer as consumer_module
from sila_common.consumer import EventConsumer, HandlerContext
from sila_common.outbox import Outbox
from sila_common.settings import PlatformSettings, ServiceSettings
from sila_identity.settings import IdentitySettings
from sila_identity.tables import messaging


class _Asked(Exception):
    """Stops the consumer once it asked for its Kafka consumer."""


def _fetch_wait_asked(settings: ServiceSettings, monkeypatch: pytest.MonkeyPatch) -> int:
    asked: dict[str, Any] = {}

    def make_consumer(*_args: Any, **kwargs: Any) -> Any:
        asked.update(kwargs)
        raise _Asked

    monkeypatch.setattr(consumer_module, "make_consumer", make_consumer)
    consumer = EventConsumer(
        name="test",
        topics=["test.topic"],
        handlers={},
        session_factory=None,  # type: ignore[arg-type]  # never reached
        tables=messaging,
        context=HandlerContext(
            settings=settings, platform=PlatformSettings(), outbox=Outbox(messaging.outbox)
        ),
    )
    with pytest.raises(_Asked):
        asyncio.run(consumer.run(asyncio.Event()))
    return int(asked["fetch_max_wait_ms"])


def test_a_consumer_fetches_with_its_services_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = ServiceSettings(consumer_fetch_max_wait_ms=35)
    assert _fetch_wait_asked(settings, monkeypatch) == 35


def test_identitys_timeline_consumer_waits_less_than_the_other_consumers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # With the embedded broker a record waits up to half the fetch wait: the timeline's
    # publish-to-timeline goal (p99 < 100 ms) needs it short; the others keep the default.
    identity = _fetch_wait_asked(IdentitySettings(), monkeypatch)
    others = _fetch_wait_asked(ServiceSettings(), monkeypatch)
    assert identity == 20
    assert others == 100
