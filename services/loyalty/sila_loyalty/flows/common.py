"""What the use cases share: time helpers and the runtime's loyalty settings."""

from __future__ import annotations

from datetime import UTC, datetime

from sila_common.service import Runtime
from sila_loyalty.settings import LoyaltySettings


def aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def settings_of(runtime: Runtime) -> LoyaltySettings:
    settings = runtime.settings
    return settings if isinstance(settings, LoyaltySettings) else LoyaltySettings()


_current: Runtime | None = None


def use_runtime(runtime: Runtime) -> None:
    """Called at start-up: consumers' handlers receive (session, event) only, and record
    their events through this process's runtime (its outbox and settings)."""
    global _current
    _current = runtime


def current_runtime() -> Runtime:
    if _current is None:
        raise RuntimeError("loyalty's runtime is not started")
    return _current
