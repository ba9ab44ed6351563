"""The measuring harness over real HTTP: services in their own uvicorn processes, driven by
wrk in its own process, beside a bare FastAPI + asyncpg app doing the same SQL.

Reusable by any benchmark module::

    async with serve_service(env, "identity", database_url=url) as identity:
        base = identity.url                       # http://127.0.0.1:<port>
    async with serve_bare(env, {"SILA_BARE_IDENTITY_DSN": dsn}) as bare:
        ...
    result = await load(f"{base}/v1/customers", requests=[Request("GET", "/v1/...")],
                        headers={...}, connections=16, seconds=5)
    result.p50_ms, result.p99_ms, result.rate

Each service runs as production runs it (``python -m sila_<name> api``: uvicorn with uvloop
and httptools, access log off, ``SILA_PROFILE=prod``, JSON logs at ERROR). The load
generator is wrk (Debian's ``wrk``, installed with apt-get when missing): it never shares a
process, an event loop or a GIL with what it measures. On a machine shared with other work
the absolute figures move from run to run; the ratio to the bare app measured in the same
run is the figure that holds.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from benchmarks.harness import BenchEnv
from sila_local.processes import Child, free_port, python_command, wait_for_port

LOG_DIR = Path("var/bench")
# Production refuses the development secrets; the bench sets throwaway ones.
# Identity seals one-time codes for notify with it (the bench seals its own OTP events with it).
BENCH_OTP_TRANSPORT_KEY = "bench-only otp transport key, not a secret"
PROD_SECRETS = {
    "SILA_OTP_TRANSPORT_KEY": BENCH_OTP_TRANSPORT_KEY,
    "SILA_NOTIFY_OTP_SEALING_KEY": "bench-only sealing key, not a secret",
    "SILA_IDENTITY_SIGNING_KEY_PASSPHRASE": "bench-only passphrase, not a secret",
    "SILA_IDENTITY_OTP_SECRET": "bench-only otp secret, not a secret",
    # Tickets' and notify's client credentials at identity (production refuses the dev ones).
    "SILA_IDENTITY_SERVICE_CLIENTS": (
        '{"tickets": "bench-only tickets client", "notify": "bench-only notify client"}'
    ),
    "SILA_TICKETS_IDENTITY_CLIENT_SECRET": "bench-only tickets client",
    "SILA_NOTIFY_IDENTITY_CLIENT_SECRET": "bench-only notify client",
}

LUA = r"""
-- Requests from a file (one per line: METHOD<TAB>PATH<TAB>BODY), round robin per thread,
-- each thread starting at its own offset; Idempotency-Key unique per request when asked.
local lines = {}
-- thread_id is a global: setup() sets it in each thread's state (a local declared here
-- would shadow it, and every thread would send the same keys and the same bodies).
local n, index, idem = 0, 0, false
local counter = 0
thread_id = 0
setup_id = 0
function setup(thread)
  setup_id = setup_id + 1
  thread:set("thread_id", setup_id)
end
function init(args)
  for line in io.lines(args[1]) do
    local method, path, body = line:match("^([^\t]*)\t([^\t]*)\t?(.*)$")
    n = n + 1
    lines[n] = {method, path, body}
  end
  idem = args[2] == "idempotent"
  index = (thread_id * 7919) % n
end
function request()
  index = index % n + 1
  local item = lines[index]
  local headers = nil
  if idem then
    -- wrk.format uses the given headers instead of wrk.headers (the -H ones): copy them.
    counter = counter + 1
    headers = {}
    for key, value in pairs(wrk.headers) do headers[key] = value end
    headers["Idempotency-Key"] = string.format("wrk-%d-%d-%d", thread_id, counter, os.time())
  end
  if item[3] ~= "" then
    return wrk.format(item[1], item[2], headers, item[3])
  end
  return wrk.format(item[1], item[2], headers)
end
function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, errors.connect, errors.read, errors.write, errors.status, errors.timeout))
end
"""


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: str = ""


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    # CPU time (user + system) the served process spent during the load, when measured.
    cpu_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_request(self) -> float:
        return self.cpu_seconds * 1000 / self.requests if self.requests else 0.0


def cpu_seconds(served: Served) -> float:
    """User + system CPU time of the served process so far (Linux ``/proc/<pid>/stat``); 0
    where it cannot be read."""
    process = served.children[0].process
    if process is None:
        return 0.0
    try:
        fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (AttributeError, OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Served:
    name: str
    url: str
    children: list[Child]


def ensure_wrk() -> str:
    """The wrk binary; installs Debian's package when it is missing (root, apt-get)."""
    found = shutil.which("wrk")
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt is None:
        raise RuntimeError("wrk is not installed and there is no apt-get: install wrk")
    print("installing wrk (apt-get install -y wrk)…", file=sys.stderr)
    subprocess.run([apt, "install", "-y", "-q", "wrk"], check=True, capture_output=True)
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("apt-get install wrk did not install wrk")
    return found


def service_env(env: BenchEnv, name: str, database_url: str, port: int) -> dict[str, str]:
    prefix = f"SILA_{name.upper()}_"
    return {
        "SILA_PROFILE": "prod",
        "SILA_LOG_LEVEL": "ERROR",
        "SILA_LOG_JSON": "true",
        "SILA_KAFKA_BOOTSTRAP": env.platform.kafka_bootstrap,
        f"{prefix}DATABASE_URL": database_url,
        f"{prefix}PORT": str(port),
        **PROD_SECRETS,
    }


@asynccontextmanager
async def _children(
    name: str, commands: Sequence[tuple[list[str], Mapping[str, str]]], port: int
) -> AsyncIterator[Served]:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    children = [
        Child(
            name=f"{name}-{n}", command=command, env=dict(extra), log_path=LOG_DIR / f"{name}.log"
        )
        for n, (command, extra) in enumerate(commands)
    ]
    try:
        for child in children:
            await child.start()
        await wait_for_port("127.0.0.1", port, 60, children[0])
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient() as client:
            for _ in range(600):
                try:
                    if (await client.get(f"{url}/health/live")).status_code < 500:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.05)
        yield Served(name, url, children)
    finally:
        for child in children:
            await child.stop()


@asynccontextmanager
async def serve_service(
    env: BenchEnv,
    name: str,
    *,
    database_url: str,
    extra: Mapping[str, str] | None = None,
    role: str = "api",
    processes: int = 1,
    port: int | None = None,
) -> AsyncIterator[Served]:
    """``python -m sila_<name> api`` with production settings; ``processes`` > 1 runs the
    same app under ``uvicorn --workers`` (one listening socket shared by the processes).
    ``database_url`` may be a SQLAlchemy asyncpg URL or a plain postgresql:// DSN."""
    url = database_url.replace("postgresql://", "postgresql+asyncpg://", 1)
    port = port or free_port()
    variables = {**service_env(env, name, url, port), **(extra or {})}
    if processes == 1:
        command = python_command("-m", f"sila_{name}", role, "--port", str(port))
    else:
        variables["SILA_BENCH_SERVICE"] = name
        command = python_command(
            "-m",
            "uvicorn",
            "--factory",
            "benchmarks.apps:service_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(processes),
            "--log-level",
            "warning",
            "--no-access-log",
        )
    async with _children(name, [(command, variables)], port) as served:
        yield served


@asynccontextmanager
async def serve_worker(
    env: BenchEnv,
    name: str,
    role: str,
    *,
    database_url: str,
    extra: Mapping[str, str] | None = None,
) -> AsyncIterator[Child]:
    """``python -m sila_<name> <role>`` (relay or consume) with production settings; it has no
    port: the caller waits for its effect."""
    url = database_url.replace("postgresql://", "postgresql+asyncpg://", 1)
    variables = {**service_env(env, name, url, free_port()), **(extra or {})}
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    child = Child(
        name=f"{name}-{role}",
        command=python_command("-m", f"sila_{name}", role),
        env=variables,
        log_path=LOG_DIR / f"{name}-{role}.log",
    )
    try:
        await child.start()
        yield child
    finally:
        await child.stop()


@asynccontextmanager
async def serve_factory(
    factory: str, variables: Mapping[str, str] | None = None
) -> AsyncIterator[Served]:
    """Any ASGI app factory (``module:function``) under uvicorn in its own process."""
    port = free_port()
    command = python_command(
        "-m",
        "uvicorn",
        "--factory",
        factory,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    )
    async with _children(factory.rsplit(":", 1)[-1], [(command, dict(variables or {}))], port) as s:
        yield s


@asynccontextmanager
async def serve_bare(variables: Mapping[str, str], processes: int = 1) -> AsyncIterator[Served]:
    """The bare anchor (``benchmarks.bare``): FastAPI + an asyncpg pool, raw SQL, no auth."""
    port = free_port()
    command = python_command(
        "-m",
        "uvicorn",
        "benchmarks.bare:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(processes),
        "--log-level",
        "warning",
        "--no-access-log",
    )
    async with _children("bare", [(command, dict(variables))], port) as served:
        yield served


async def load(
    base_url: str,
    requests: Sequence[Request],
    *,
    connections: int,
    seconds: float,
    headers: Mapping[str, str] | None = None,
    idempotent: bool = False,
    profile: tuple[Served, str] | None = None,
) -> LoadResult:
    """wrk with ``connections`` closed-loop clients for ``seconds``, cycling ``requests``."""
    wrk = ensure_wrk()
    threads = min(connections, 2)
    with tempfile.TemporaryDirectory(prefix="sila-wrk-") as tmp:
        script, lines = Path(tmp) / "requests.lua", Path(tmp) / "requests.tsv"
        script.write_text(LUA)
        lines.write_text("".join(f"{r.method}\t{r.path}\t{r.body}\n" for r in requests))
        command = [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{seconds:.0f}s"]
        command += ["--timeout", "10s", "-s", str(script)]
        for key, value in (headers or {}).items():
            command += ["-H", f"{key}: {value}"]
        command += [base_url, "--", str(lines), "idempotent" if idempotent else "-"]
        spy = await profiled(*profile, seconds) if profile else None
        process = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        out, _ = await process.communicate()
        if spy is not None:
            await spy
    text = out.decode()
    marker = next((line for line in text.splitlines() if line.startswith("WRK_JSON ")), None)
    if marker is None:
        raise RuntimeError(f"wrk gave no summary: {text[-500:]}")
    data = json.loads(marker.removeprefix("WRK_JSON "))
    errors = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
    if errors > max(1, data["requests"] // 100):
        raise RuntimeError(f"{errors} of {data['requests']} requests failed: {data}")
    return LoadResult(
        requests=int(data["requests"]),
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        errors=int(errors),
    )


def profile_dir() -> Path | None:
    """``SILA_BENCH_PROFILE=<dir>``: py-spy records each profiled measure there."""
    value = os.environ.get("SILA_BENCH_PROFILE")
    return Path(value) if value else None


async def profiled(served: Served, label: str, seconds: float) -> asyncio.Task[None] | None:
    """When profiling is on, py-spy samples the served process (its Python children too)
    for ``seconds`` into ``<dir>/<label>.txt`` (collapsed stacks) and ``.svg`` (flame graph).
    Returns the task to await after the measure, or None."""
    process = served.children[0].process
    return profile_pid(process.pid if process else None, label, seconds)


def profile_pid(pid: int | None, label: str, seconds: float) -> asyncio.Task[None] | None:
    """``profiled`` for any process id (a worker: relay, consumer)."""
    target = profile_dir()
    if target is None or pid is None:
        return None
    target.mkdir(parents=True, exist_ok=True)
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")

    async def record() -> None:
        for fmt, suffix in (("raw", "txt"),):
            proc = await asyncio.create_subprocess_exec(
                spy, "record", "--pid", str(pid), "--subprocesses", "--rate", "200",
                "--duration", str(int(seconds)), "--format", fmt, "--nonblocking",
                "--output", str(target / f"{label}.{suffix}"),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            await proc.wait()

    return asyncio.create_task(record())
