"""Alembic environment for billing."""

from sila_billing.tables import metadata
from sila_common.migrations import run_env

run_env(metadata)
