"""Alembic environment for loyalty."""

from sila_common.migrations import run_env
from sila_loyalty.tables import metadata

run_env(metadata)
