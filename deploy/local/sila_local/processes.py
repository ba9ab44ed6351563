"""Child processes that die with their parent and stop cleanly: the supervisor's parts."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the child gets SIGTERM if the supervisor dies, so nothing is orphaned."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def python_command(*args: str) -> list[str]:
    return [sys.executable, *args]


@dataclass
class Child:
    """A named child process with its command, environment and log file."""

    name: str
    command: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    log_path: Path | None = None
    # Run as this system user (the supervisor is root and the program refuses root).
    user: str | None = None
    # The signal that asks for a clean stop (SIGKILL follows after the timeout).
    stop_signal: str = "SIGTERM"
    process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        environment = {**os.environ, **self.env}
        stdout: int | object = asyncio.subprocess.DEVNULL
        handle = None
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            handle = self.log_path.open("ab")
            stdout = handle
        self.process = await asyncio.create_subprocess_exec(
            *self.command,
            env=environment,
            stdout=stdout,  # type: ignore[arg-type]
            stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
            user=self.user,
        )
        if handle is not None:
            handle.close()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def stop(self, timeout: float = 10.0) -> None:
        """``stop_signal``, then SIGKILL after ``timeout``; the whole process group."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.Signals[self.stop_signal])
        try:
            await asyncio.wait_for(process.wait(), timeout=timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()

    async def kill(self) -> None:
        """SIGKILL at once: what a crash looks like."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


async def wait_for_port(
    host: str, port: int, deadline_seconds: float, child: Child | None = None
) -> None:
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if port_open(host, port):
            return
        if child is not None and not child.running:
            raise RuntimeError(f"{child.name} exited before listening on {port}")
        await asyncio.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {deadline_seconds}s")
