"""Loyalty's runtime and event-handler context, typed with loyalty's own settings."""

from __future__ import annotations

from sila_common.consumer import HandlerContext
from sila_common.service import Runtime
from sila_loyalty.settings import LoyaltySettings

LoyaltyRuntime = Runtime[LoyaltySettings]
LoyaltyContext = HandlerContext[LoyaltySettings]
