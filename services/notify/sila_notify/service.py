"""Notify, as the platform runs it: SMS, e-mail, push, in-app messages and partners' webhooks."""

from __future__ import annotations

from pathlib import Path

from sila_common.service import ServiceDefinition
from sila_notify.settings import get_settings
from sila_notify.tables import messaging, metadata

definition = ServiceDefinition(
    name="notify",
    title="Sila notify",
    description="SMS, e-mail, push, in-app messages and partners' webhooks.",
    settings_factory=get_settings,
    metadata=metadata,
    tables=messaging,
    migrations_dir=Path(__file__).parent / "migrations",
)
