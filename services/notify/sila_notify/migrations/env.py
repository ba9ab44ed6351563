"""Alembic environment for notify."""

from sila_common.migrations import run_env
from sila_notify.tables import metadata

run_env(metadata)
