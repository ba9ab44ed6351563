"""Loyalty's runtime and event-handler context, typed with loyalty's own settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from sila_common.consumer import HandlerContext
from sila_common.outbox import Outbox
from sila_common.service import Runtime
from sila_loyalty.settings import LoyaltySettings

LoyaltyRuntime = Runtime[LoyaltySettings]
LoyaltyContext = HandlerContext[LoyaltySettings]


class LoyaltyParts(Protocol):
    """What a use case joining its caller's transaction needs: loyalty's settings and the
    outbox. A ``LoyaltyRuntime`` (the API, the jobs) and a ``LoyaltyContext`` (a consumer's
    handler) both have them."""

    @property
    def settings(self) -> LoyaltySettings: ...

    @property
    def outbox(self) -> Outbox: ...


# Renders a use case's row as the API answers it (the API's view, passed in by the API).
Render = Callable[[Any], dict[str, Any]]
