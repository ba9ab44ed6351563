"""Alembic, driven from code: each service's ``env.py`` calls ``run_env``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine


def alembic_config(migrations_dir: Path, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(migrations_dir: Path, url: str, revision: str = "head") -> None:
    """Bring a database to ``revision``; call from a thread when a loop is running."""
    command.upgrade(alembic_config(migrations_dir, url), revision)


async def upgrade_async(migrations_dir: Path, url: str) -> None:
    await asyncio.to_thread(upgrade, migrations_dir, url)


def _include(obj: Any, _name: str | None, type_: str, reflected: bool, _compare_to: Any) -> bool:
    """Skip a reflected unique constraint that only repeats the primary key (the first
    migrations made some): redundant, not worth a migration."""
    if type_ == "unique_constraint" and reflected:
        table = obj.table
        primary = {c.name for c in table.primary_key.columns}
        return {c.name for c in obj.columns} != primary
    return True


def run_env(metadata: MetaData) -> None:
    """The body of every service's ``env.py``."""
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL given to the migration")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return

    def migrate(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            include_object=_include,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(migrate)
        await engine.dispose()

    asyncio.run(run())
