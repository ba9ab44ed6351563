"""Notify, as the platform runs it: SMS, e-mail, push, in-app messages and partners' webhooks."""

from __future__ import annotations

from pathlib import Path

from sila_common.service import ServiceDefinition
from sila_common.settings import Profile
from sila_notify import handlers
from sila_notify.api import campaigns, messages, preferences, templates, webhooks
from sila_notify.runtime import NotifyRuntime
from sila_notify.settings import PUBLIC_OTP_SEALING_KEYS, NotifySettings, get_settings
from sila_notify.tables import messaging, metadata
from sila_notify.template_store import seed_defaults
from sila_notify.workers import run_notify_workers


def check_production_secrets(settings: NotifySettings, profile: Profile) -> None:
    """Production refuses the sealing keys anyone can read (this code, the compose file)."""
    if profile == Profile.PROD and (
        settings.otp_sealing_key.get_secret_value() in PUBLIC_OTP_SEALING_KEYS
    ):
        raise RuntimeError("SILA_NOTIFY_OTP_SEALING_KEY must be set in production")


async def on_startup(runtime: NotifyRuntime) -> None:
    check_production_secrets(runtime.settings, runtime.platform.profile)
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
