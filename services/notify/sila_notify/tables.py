"""Notify's tables."""

from __future__ import annotations

from sila_common.db import new_metadata
from sila_common.outbox import messaging_tables

metadata = new_metadata()
messaging = messaging_tables(metadata)
