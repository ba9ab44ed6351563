"""Alembic environment for tickets."""

from sila_common.migrations import run_env
from sila_tickets.tables import metadata

run_env(metadata)
