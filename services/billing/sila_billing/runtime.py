"""Billing's runtime and event-handler context, typed with billing's own settings."""

from __future__ import annotations

from sila_billing.settings import BillingSettings
from sila_common.consumer import HandlerContext
from sila_common.service import Runtime

BillingRuntime = Runtime[BillingSettings]
BillingContext = HandlerContext[BillingSettings]
