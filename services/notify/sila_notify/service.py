"""Notify, as the platform runs it: SMS, e-mail, push, in-app messages and partners' webhooks."""

from __future__ import annotations

from pathlib import Path

from sila_common.otp_transport import (
    KEY_ENV,
    MIN_KEY_LENGTH,
    PREVIOUS_KEYS_ENV,
    is_public,
    parse_previous_keys,
)
from sila_common.service import ServiceDefinition
from sila_common.settings import Profile
from sila_notify import handlers
from sila_notify.api import campaigns, messages, preferences, templates, webhooks
from sila_notify.flows.delivery.wakeup import wakeups_of
from sila_notify.runtime import NotifyRuntime
from sila_notify.settings import PUBLIC_OTP_SEALING_KEYS, NotifySettings, get_settings
from sila_notify.tables import messaging, metadata
from sila_notify.template_store import seed_defaults
from sila_notify.workers import run_notify_workers


def check_production_secrets(settings: NotifySettings, profile: Profile) -> None:
    """Production refuses the keys anyone can read (this code, the compose file, the
    examples): the sealing key of codes at rest, and the transport key shared with identity
    (and any previous one still accepted)."""
    if profile != Profile.PROD:
        return
    if settings.otp_sealing_key.get_secret_value() in PUBLIC_OTP_SEALING_KEYS:
        raise RuntimeError("SILA_NOTIFY_OTP_SEALING_KEY must be set in production")
    previous = parse_previous_keys(settings.otp_transport_previous_keys.get_secret_value())
    if is_public(settings.otp_transport_key.get_secret_value()):
        raise RuntimeError(
            f"{KEY_ENV} must be set in production to a private value of at least "
            f"{MIN_KEY_LENGTH} characters (the same as identity's)"
        )
    if any(is_public(key) for key in previous):
        raise RuntimeError(f"{PREVIOUS_KEYS_ENV} holds a published or short key")


async def on_startup(runtime: NotifyRuntime) -> None:
    check_production_secrets(runtime.settings, runtime.platform.profile)
    # Before any consumer or request plans a message: its session then wakes the dispatcher.
    wakeups_of(runtime)
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
