"""Notify's runtime and event-handler context, typed with notify's own settings."""

from __future__ import annotations

from sila_common.consumer import HandlerContext
from sila_common.service import Runtime
from sila_notify.settings import NotifySettings

NotifyRuntime = Runtime[NotifySettings]
NotifyContext = HandlerContext[NotifySettings]
