"""The settings event handlers use.

A handler receives only (session, event); the planner needs notify's settings (caps, retry
timings), so start-up puts the process's settings here before any consumer runs.
"""

from __future__ import annotations

from sila_notify.settings import NotifySettings, get_settings

_current: NotifySettings | None = None


def use_settings(settings: NotifySettings) -> None:
    global _current
    _current = settings


def current_settings() -> NotifySettings:
    return _current or get_settings()
