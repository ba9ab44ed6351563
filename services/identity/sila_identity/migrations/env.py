"""Alembic environment for identity."""

from sila_common.migrations import run_env
from sila_identity.tables import metadata

run_env(metadata)
