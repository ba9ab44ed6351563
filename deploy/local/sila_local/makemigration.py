"""Generate an Alembic revision for a service from its tables.

    python -m sila_local.makemigration tickets "add incidents"

Autogenerates against a scratch SQLite database brought to head first, so the new
revision holds only what changed.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory

from sila_common.migrations import alembic_config
from sila_local.services import SERVICE_NAMES, ServiceRef


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("service", choices=SERVICE_NAMES)
    parser.add_argument("message")
    args = parser.parse_args()
    definition = ServiceRef(args.service, 0).definition()
    with tempfile.TemporaryDirectory() as scratch:
        config = alembic_config(
            definition.migrations_dir, f"sqlite+aiosqlite:///{Path(scratch) / 'scratch.db'}"
        )
        command.upgrade(config, "head")
        heads = ScriptDirectory.from_config(config).get_heads()
        number = 1 + max((int(h) for h in heads if h.isdigit()), default=0)
        script = command.revision(
            config, message=args.message, autogenerate=True, rev_id=f"{number:04d}"
        )
    assert script is not None and not isinstance(script, list)
    path = Path(script.path)
    # Autogenerate writes bare Text() inside JSONB variants; qualify it.
    path.write_text(re.sub(r"(?<![\w.])Text\(\)", "sa.Text()", path.read_text()))
    subprocess.run([sys.executable, "-m", "ruff", "format", "-q", str(path)], check=False)
    print(path)


if __name__ == "__main__":
    main()
