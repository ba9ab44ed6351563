"""Billing, as the platform runs it: offers, subscriptions, bills, recharges and e-payment."""

from __future__ import annotations

from pathlib import Path

from sila_billing import handlers
from sila_billing.api import catalogue, invoices, payments, reconciliation, subscriptions, vouchers
from sila_billing.flows.catalogue import seed_catalogue
from sila_billing.jobs import run_jobs
from sila_billing.settings import BillingSettings, get_settings
from sila_billing.tables import messaging, metadata
from sila_common.service import ServiceDefinition

definition = ServiceDefinition[BillingSettings](
    name="billing",
    title="Sila billing",
    description="Offers, subscriptions, bills, recharges and e-payment.",
    settings_factory=get_settings,
    metadata=metadata,
    tables=messaging,
    migrations_dir=Path(__file__).parent / "migrations",
    routers=[
        catalogue.router,
        subscriptions.router,
        invoices.router,
        payments.router,
        vouchers.router,
        reconciliation.router,
    ],
    consumers=[handlers.CONTRACTS],
    on_startup=seed_catalogue,
    # Settlement of pending payments, notices, overdue bills, reconciliation.
    background_jobs=[run_jobs],
)
