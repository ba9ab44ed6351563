"""Every service's migrations build exactly the schema its tables declare."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from sila_common.db import make_engine
from sila_local.services import SERVICES


@pytest.mark.parametrize("service", [s.name for s in SERVICES])
async def test_the_migrated_database_matches_the_declared_tables(
    service: str, databases: dict[str, str]
) -> None:
    definition = next(s for s in SERVICES if s.name == service).definition()
    engine = make_engine(databases[service])

    def differences(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, definition.metadata))

    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(differences)
    finally:
        await engine.dispose()
    assert diff == [], f"{service}: tables.py and the migrations disagree: {diff}"
