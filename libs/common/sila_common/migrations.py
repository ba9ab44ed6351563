"""Alembic, driven from code: each service's ``env.py`` calls ``run_env``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import sqlalchemy as sa
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


async def upgrade_async(migrations_dir: Path, url: str, revision: str = "head") -> None:
    await asyncio.to_thread(upgrade, migrations_dir, url, revision)


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


# -- shared schema steps (called from each service's migration) ------------------------------
def outbox_pending_table_upgrade() -> None:
    """The outbox's pending rows move to ``outbox_pending`` (sila_common.outbox): the
    outbox row is written once; the relay deletes a narrow entry instead of rewriting it."""
    from alembic import op

    from sila_common.outbox import pending_trigger_ddl

    # The running version may be writing events while this runs (migrate precedes a
    # deployment): its writes wait for this transaction, so none is committed between the
    # carrying over of the pending rows and the trigger (it would have no entry, and never
    # go out).
    op.execute("LOCK TABLE outbox IN SHARE ROW EXCLUSIVE MODE")
    op.create_table(
        "outbox_pending",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_pending")),
    )
    op.create_index("ix_outbox_pending_shard", "outbox_pending", ["shard", "id"], unique=False)
    for statement in pending_trigger_ddl():
        op.execute(statement)
    op.execute(
        "INSERT INTO outbox_pending (id, shard) SELECT id, shard FROM outbox"
        " WHERE published_at IS NULL ON CONFLICT (id) DO NOTHING"
    )
    # Plain CREATE INDEX: the migration runs in a transaction (no CONCURRENTLY).
    op.create_index("ix_outbox_created_at", "outbox", ["created_at"], unique=False)
    op.drop_index("ix_outbox_pending_id", table_name="outbox")
    op.drop_index("ix_outbox_pending", table_name="outbox")
    op.drop_index("ix_outbox_published_at", table_name="outbox")
    op.drop_column("outbox", "published_at")


def outbox_pending_table_downgrade() -> None:
    """Back to ``published_at``: what is not pending counts as published at its creation."""
    from alembic import op

    op.add_column("outbox", sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE outbox SET published_at = created_at"
        " WHERE NOT EXISTS (SELECT 1 FROM outbox_pending p WHERE p.id = outbox.id)"
    )
    op.create_index("ix_outbox_published_at", "outbox", ["published_at"], unique=False)
    op.create_index(
        "ix_outbox_pending",
        "outbox",
        ["shard", "id"],
        unique=False,
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_index(
        "ix_outbox_pending_id",
        "outbox",
        ["id"],
        unique=False,
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.drop_index("ix_outbox_created_at", table_name="outbox")
    op.execute("DROP TRIGGER outbox_pending_on_insert ON outbox")
    op.execute("DROP FUNCTION outbox_pending_on_insert()")
    op.drop_table("outbox_pending")


def outbox_header_columns_upgrade() -> None:
    """The outbox gets the two envelope attributes the relay copies into record headers
    (correlation id, trace context) as columns: the claim reads them instead of looking
    them up in each ``jsonb`` envelope (a claim of 500: 4.1–4.4 ms instead of 5.4–7.4,
    docs/benchmarks.md "Seventh pass"). An expand step: two nullable columns, no rewrite,
    nothing the running version uses changes. Rows written before, or by the version still
    running during the deployment, have them empty and go out without the two header
    copies (their envelopes carry them)."""
    from alembic import op

    op.add_column("outbox", sa.Column("correlationid", sa.Text(), nullable=True))
    op.add_column("outbox", sa.Column("traceparent", sa.Text(), nullable=True))


def outbox_header_columns_downgrade() -> None:
    from alembic import op

    op.drop_column("outbox", "traceparent")
    op.drop_column("outbox", "correlationid")


def outbox_lane_offsets_table_upgrade() -> None:
    """The relay's offset memory gets a row per lane (its first shard), in a table of its
    own: every lane raised the same per-partition rows of ``outbox_partition_offsets``, so
    in a burst each lane's mark waited for the others' commits (``Lock:transactionid``,
    1.4 ms a mark in the SMS burst, docs/benchmarks.md "Seventh pass"). An expand step: the
    version still running keeps writing the old table, which the new one still reads (the
    highest of both counts) and a replay still empties; a later release drops it."""
    from alembic import op

    op.create_table(
        "outbox_lane_offsets",
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("lane", sa.SmallInteger(), nullable=False),
        sa.Column("last_offset", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("topic", "partition", "lane", name=op.f("pk_outbox_lane_offsets")),
    )


def outbox_lane_offsets_table_downgrade() -> None:
    """Back to one row per partition: the old table takes the highest of both."""
    from alembic import op

    op.execute(
        "INSERT INTO outbox_partition_offsets (topic, partition, last_offset, updated_at)"
        " SELECT topic, partition, max(last_offset), max(updated_at) FROM outbox_lane_offsets"
        " GROUP BY topic, partition"
        " ON CONFLICT (topic, partition) DO UPDATE SET"
        " last_offset = greatest(outbox_partition_offsets.last_offset, excluded.last_offset),"
        " updated_at = excluded.updated_at"
    )
    op.drop_table("outbox_lane_offsets")
