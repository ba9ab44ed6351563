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


def outbox_envelope_as_written_upgrade() -> None:
    """The outbox keeps each envelope as the text written (``json``, not ``jsonb``) and its
    correlation id and trace context in columns of their own: the relay's claim reads them
    as they are instead of rendering each ``jsonb`` envelope and looking two attributes up
    in it (a claim of 500: 5.4–7.4 ms against 2.2–3.0, docs/benchmarks.md "Seventh pass"),
    and a writer's envelope is no longer parsed into ``jsonb``'s tree.

    Rows written before keep their attributes (copied into the columns here). The version
    still running while this runs writes ``jsonb`` values (cast on assignment) without the
    columns: its events go out without the two header copies, their envelopes carrying
    them as always."""
    from alembic import op
    from sqlalchemy.dialects import postgresql

    op.add_column("outbox", sa.Column("correlationid", sa.Text(), nullable=True))
    op.add_column("outbox", sa.Column("traceparent", sa.Text(), nullable=True))
    op.execute(
        "UPDATE outbox SET correlationid = envelope ->> 'correlationid',"
        " traceparent = envelope ->> 'traceparent'"
        " WHERE envelope ->> 'correlationid' IS NOT NULL OR envelope ->> 'traceparent' IS NOT NULL"
    )
    _envelope_becomes(postgresql.JSON(), was=postgresql.JSONB())


def _envelope_becomes(kind: sa.types.TypeEngine[Any], *, was: sa.types.TypeEngine[Any]) -> None:
    from alembic import op

    op.alter_column(
        "outbox",
        "envelope",
        type_=kind,
        existing_type=was,
        existing_nullable=False,
        postgresql_using=f"envelope::{kind.compile()}",
    )


def outbox_envelope_as_written_downgrade() -> None:
    from alembic import op
    from sqlalchemy.dialects import postgresql

    _envelope_becomes(postgresql.JSONB(), was=postgresql.JSON())
    op.drop_column("outbox", "traceparent")
    op.drop_column("outbox", "correlationid")


def outbox_offsets_per_lane_upgrade() -> None:
    """The relay's offset memory gets a row per lane (its first shard) instead of one per
    partition that every lane raised: in a burst, each lane's mark waited for the others'
    commits on those rows (``Lock:transactionid``, 1.4 ms a mark in the SMS burst,
    docs/benchmarks.md "Seventh pass"). What the broker handed out is the highest over the
    lanes; the rows kept count as lane 0's."""
    from alembic import op

    # The first migrations made a unique constraint repeating the primary key (not all kept it).
    op.execute(
        "ALTER TABLE outbox_partition_offsets DROP CONSTRAINT IF EXISTS"
        " uq_outbox_partition_offsets_tp"
    )
    op.drop_constraint("pk_outbox_partition_offsets", "outbox_partition_offsets")
    op.add_column(
        "outbox_partition_offsets",
        sa.Column("lane", sa.SmallInteger(), nullable=False, server_default="0"),
    )
    op.alter_column("outbox_partition_offsets", "lane", server_default=None)
    op.create_primary_key(
        "pk_outbox_partition_offsets", "outbox_partition_offsets", ["topic", "partition", "lane"]
    )


def outbox_offsets_per_lane_downgrade() -> None:
    """Back to a row per partition, holding the highest over the lanes."""
    from alembic import op

    op.execute(
        "DELETE FROM outbox_partition_offsets o USING outbox_partition_offsets higher"
        " WHERE higher.topic = o.topic AND higher.partition = o.partition"
        " AND (higher.last_offset, higher.lane) > (o.last_offset, o.lane)"
    )
    op.drop_constraint("pk_outbox_partition_offsets", "outbox_partition_offsets")
    op.drop_column("outbox_partition_offsets", "lane")
    op.create_primary_key(
        "pk_outbox_partition_offsets", "outbox_partition_offsets", ["topic", "partition"]
    )
