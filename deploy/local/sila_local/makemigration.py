"""Generate an Alembic revision for a service from its tables.

    python -m sila_local.makemigration tickets "add incidents"

Autogenerates against a scratch database (on a throwaway embedded PostgreSQL) brought to
head first, so the new revision holds only what changed.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from alembic import command
from alembic.script import ScriptDirectory

from sila_common.migrations import alembic_config
from sila_local.postgres import EmbeddedPostgres
from sila_local.processes import free_port
from sila_local.services import SERVICE_NAMES, ServiceRef


def _revision(migrations_dir: Path, url: str, message: str) -> Any:
    config = alembic_config(migrations_dir, url)
    command.upgrade(config, "head")
    heads = ScriptDirectory.from_config(config).get_heads()
    number = 1 + max((int(h) for h in heads if h.isdigit()), default=0)
    return command.revision(config, message=message, autogenerate=True, rev_id=f"{number:04d}")


async def _generate(migrations_dir: Path, message: str) -> Any:
    with tempfile.TemporaryDirectory() as scratch:
        postgres = EmbeddedPostgres(Path(scratch) / "data", free_port(), durable=False)
        await postgres.start()
        try:
            await postgres.ensure_databases(["scratch"])
            url = postgres.url("scratch")
            return await asyncio.to_thread(_revision, migrations_dir, url, message)
        finally:
            await postgres.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("service", choices=SERVICE_NAMES)
    parser.add_argument("message")
    args = parser.parse_args()
    definition = ServiceRef(args.service, 0).definition()
    script = asyncio.run(_generate(definition.migrations_dir, args.message))
    assert script is not None and not isinstance(script, list)
    path = Path(script.path)
    # Autogenerate writes bare Text() inside JSONB variants; qualify it.
    path.write_text(re.sub(r"(?<![\w.])Text\(\)", "sa.Text()", path.read_text()))
    subprocess.run([sys.executable, "-m", "ruff", "format", "-q", str(path)], check=False)
    print(path)


if __name__ == "__main__":
    main()
