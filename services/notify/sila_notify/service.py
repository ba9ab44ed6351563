"""Notify, as the platform runs it: SMS, e-mail, push, in-app messages and partners' webhooks."""

from __future__ import annotations

from pathlib import Path

from sila_common.service import ServiceDefinition
from sila_notify import handlers
from sila_notify.api import campaigns, messages, preferences, templates, webhooks
from sila_notify.runtime import NotifyRuntime
from sila_notify.settings import NotifySettings, get_settings
from sila_notify.tables import messaging, metadata
from sila_notify.template_store import seed_defaults
from sila_notify.workers import run_notify_workers


async def on_startup(runtime: NotifyRuntime) -> None:
    await seed_defaults(runtime.session_factory)


definition = ServiceDefinition[NotifySettings](
    name="notify",
    title="Sila notify",
    description="SMS, e-mail, push, in-app messages and partners' webhooks.",
    settings_factory=get_settings,
    metadata=metadata,
    tables=messaging,
    migrations_dir=Path(__file__).parent / "migrations",
    routers=[
        messages.notifications,
        messages.inbox,
        messages.callbacks,
        preferences.router,
        templates.router,
        webhooks.router,
        campaigns.router,
    ],
    consumers=[handlers.MESSAGES, handlers.WEBHOOKS],
    on_startup=on_startup,
    # The dispatcher, webhook deliverer and campaign planner run next to the relay.
    background_jobs=[run_notify_workers],
)
