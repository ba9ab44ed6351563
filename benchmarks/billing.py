"""Billing: payments per second end to end, and the bill run on 1,000,000 lines.

(a) Payments end to end over real HTTP, everything in its own process: identity (tokens,
    JWKS) and billing as production runs them (``python -m sila_<name> api``), billing's
    relay (``python -m sila_billing relay``: the events reach the broker), the SATIM
    simulator (``python -m sila_simulators satim``), and the load generator
    (``benchmarks.payflow``): each chain is initiate → SATIM's page paid → the browser back
    → billing confirms with SATIM, credits the line and records its events. Beside it, in
    the same run and by the same generator, the bare FastAPI + asyncpg anchor recording one
    payment row. After the measure every chain is checked: succeeded rows, one
    ``billing.payment.succeeded`` and one ``billing.subscription.recharged`` each, all
    published by the relay.
(b) The bill run: ``python -m sila_billing.billrun`` (the CLI, its own process) on a fresh
    database of postpaid lines, timed from start to exit.

``SILA_BENCH_QUICK=1``: 2,000 lines to pay, 6 s per measure, a 50,000-line bill run.
Otherwise 20,000 lines, 20 s, and ``SILA_BENCH_BILLRUN_LINES`` (1,000,000) for the bill run.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from benchmarks import identity as identity_bench
from benchmarks.harness import BenchEnv, Row
from benchmarks.served import Served, _children, serve_bare, serve_service, serve_worker
from sila_identity.auth.passwords import hash_password
from sila_local.processes import free_port, python_command

OFFER = "IDOOM_FIBRE_100M"
MILLION = 1_000_000


@dataclass(frozen=True)
class Sizes:
    lines: int
    seconds: float
    clients: tuple[int, ...]
    bill_run_lines: int


def sizes(env: BenchEnv) -> Sizes:
    if env.quick:
        return Sizes(lines=2_000, seconds=6, clients=(1, 16), bill_run_lines=50_000)
    bill_run = int(os.environ.get("SILA_BENCH_BILLRUN_LINES", str(MILLION)))
    return Sizes(lines=20_000, seconds=20, clients=(1, 16), bill_run_lines=bill_run)


def dsn_of(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def add_lines(url: str, count: int, *, billing: str, offer: str) -> list[list[str]]:
    """``count`` lines of ``offer``, one customer each (generated in the database)."""
    conn = await asyncpg.connect(dsn_of(url))
    try:
        technology = "fibre" if billing == "prepaid" else "fixed"
        await conn.execute(
            """
            INSERT INTO subscriptions (
                id, customer_id, contract_id, offer_code, technology, billing, line_number,
                ends_at, suspended, idoomly_owed_centimes, idoomly_period_end, idoomly_ends_at,
                expiring_notice_for, expired_notice_for, created_at, updated_at)
            SELECT md5('line' || n)::uuid::text, md5('customer' || n)::uuid::text,
                   md5('contract' || n)::uuid::text, $2, $3, $4, NULL, NULL, false, 0,
                   NULL, NULL, NULL, NULL, now(), now()
            FROM generate_series(1, $1) AS n
            """,
            count,
            offer,
            technology,
            billing,
        )
        await conn.execute("ANALYZE subscriptions")
        if billing != "prepaid":
            return []
        rows = await conn.fetch("SELECT id, customer_id FROM subscriptions ORDER BY id")
    finally:
        await conn.close()
    return [[r["id"], r["customer_id"]] for r in rows]


async def add_billing_agent(identity_url: str) -> None:
    conn = await asyncpg.connect(dsn_of(identity_url))
    try:
        await conn.execute(
            "INSERT INTO agents (id, username, display_name, password_hash, roles, wilayas, "
            "agency, disabled, created_at) VALUES ($1, 'bench', 'Bench', $2, $3, $4, NULL, "
            "false, now())",
            str(uuid.uuid4()),
            hash_password(identity_bench.PASSWORD),
            json.dumps(["billing"]),
            json.dumps(["*"]),
        )
    finally:
        await conn.close()


@asynccontextmanager
async def serve_satim() -> AsyncIterator[Served]:
    port = free_port()
    command = python_command("-m", "sila_simulators", "satim", "--port", str(port))
    async with _children("satim", [(command, {})], port) as served:
        yield served


async def password_token(identity: Served) -> str:
    async with httpx.AsyncClient(base_url=identity.url) as client:
        answer = await client.post(
            "/v1/oauth/token",
            data={
                "grant_type": "password",
                "username": "bench",
                "password": identity_bench.PASSWORD,
            },
        )
        answer.raise_for_status()
        return str(answer.json()["access_token"])


async def drive(config: dict[str, Any]) -> dict[str, Any]:
    """``benchmarks.payflow`` in its own process."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(config, handle)
        path = handle.name
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "benchmarks.payflow",
            path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await process.communicate()
    finally:
        Path(path).unlink(missing_ok=True)
    text = out.decode()
    marker = next((x for x in text.splitlines() if x.startswith("PAYFLOW_JSON ")), None)
    if marker is None:
        raise RuntimeError(f"the load generator gave no summary: {text[-800:]}")
    result: dict[str, Any] = json.loads(marker.removeprefix("PAYFLOW_JSON "))
    if result["errors"] > max(1, result["chains"] // 100):
        raise RuntimeError(f"{result['errors']} chains failed: {result['first_errors']}")
    return result


async def checked(url: str, timeout: float = 120.0) -> tuple[int, int, int]:
    """(succeeded payments, their events, events still unpublished once the relay is done)."""
    conn = await asyncpg.connect(dsn_of(url))
    try:
        succeeded = int(
            await conn.fetchval("SELECT count(*) FROM payments WHERE state = 'succeeded'")
        )
        events = int(
            await conn.fetchval(
                "SELECT count(*) FROM outbox WHERE event_type IN "
                "('billing.payment.succeeded', 'billing.subscription.recharged')"
            )
        )
        deadline = time.monotonic() + timeout
        while True:
            pending = int(await conn.fetchval("SELECT count(*) FROM outbox_pending"))
            if not pending or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
    finally:
        await conn.close()
    return succeeded, events, pending


async def payments(env: BenchEnv, size: Sizes) -> list[Row]:
    identity_url = await env.database("identity")
    billing_url, bare_url = await env.database("billing"), await env.database("billing")
    await add_billing_agent(identity_url)
    rows: list[Row] = []
    identity_extra = {"SILA_IDENTITY_AGENT_ACCESS_TOKEN_TTL_SECONDS": "3600"}
    async with (
        serve_service(env, "identity", database_url=identity_url, extra=identity_extra) as ident,
        serve_satim() as satim,
        serve_bare({"SILA_BARE_BILLING_DSN": dsn_of(bare_url)}) as bare,
    ):
        port = free_port()
        billing_extra = {
            "SILA_JWKS_URL": f"{ident.url}/.well-known/jwks.json",
            "SILA_BILLING_SATIM_URL": satim.url,
            "SILA_BILLING_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            # Settlement and reconciliation ticks stay out of the measure.
            "SILA_BILLING_JOBS_INTERVAL_SECONDS": "3600",
        }
        async with (
            serve_service(
                env, "billing", database_url=billing_url, extra=billing_extra, port=port
            ) as billing,
            serve_worker(env, "billing", "relay", database_url=billing_url),
        ):
            # The catalogue is seeded by billing's start-up; the lines come after it.
            lines = await add_lines(billing_url, size.lines, billing="prepaid", offer=OFFER)
            token = await password_token(ident)
            base = {"lines": lines, "seconds": size.seconds, "token": token}
            await drive(base | {"mode": "sila", "billing": billing.url, "satim": satim.url,
                                "clients": 4, "seconds": 2})  # fmt: skip
            await drive(base | {"mode": "bare", "billing": bare.url, "clients": 4, "seconds": 2})
            for clients in size.clients:
                sila = await drive(
                    base
                    | {"mode": "sila", "billing": billing.url, "satim": satim.url}
                    | {"clients": clients}
                )
                anchor = await drive(base | {"mode": "bare", "billing": bare.url} | {
                    "clients": clients})  # fmt: skip
                rate = sila["chains"] / sila["seconds"]
                anchor_rate = anchor["chains"] / anchor["seconds"]
                note = (
                    f"{clients} client{'s' if clients > 1 else ''}, {size.lines:,} lines, "
                    "generator in its own process"
                )
                rows += [
                    Row(
                        f"payment end to end @{clients}",
                        rate,
                        "payments/s",
                        note + "; anchor: one payment row",
                        anchor_rate,
                    ),
                    Row(
                        f"payment end to end p50 @{clients}",
                        sila["p50_ms"],
                        "ms",
                        note + "; initiate + page + return",
                        anchor["p50_ms"],
                    ),
                    Row(
                        f"payment end to end p99 @{clients}",
                        sila["p99_ms"],
                        "ms",
                        note,
                        anchor["p99_ms"],
                    ),
                ]
            succeeded, events, pending = await checked(billing_url)
    rows.append(
        Row(
            "payments succeeded (checked)",
            succeeded,
            "payments",
            f"{events:,} payment.succeeded + subscription.recharged events "
            f"(2 each: {events == 2 * succeeded}); unpublished after the run: {pending}",
        )
    )
    return rows


async def bill_run(env: BenchEnv, size: Sizes) -> list[Row]:
    url = await env.database("billing")
    # The catalogue (prices) as billing's start-up seeds it, then the lines.
    from sila_billing.flows.catalogue import seed_catalogue
    from sila_billing.service import definition
    from sila_billing.settings import BillingSettings
    from sila_common.runtime import open_runtime

    settings = BillingSettings(database_url=url)
    async with open_runtime(definition, platform=env.platform, settings=settings) as runtime:
        await seed_catalogue(runtime)
    started = time.monotonic()
    await add_lines(url, size.bill_run_lines, billing="postpaid", offer="IDOOM_FIXE")
    seeded = time.monotonic() - started
    variables = os.environ | {
        "SILA_PROFILE": "prod",
        "SILA_LOG_LEVEL": "ERROR",
        "SILA_KAFKA_BOOTSTRAP": env.platform.kafka_bootstrap,
        "SILA_BILLING_DATABASE_URL": url,
        "OTEL_SDK_DISABLED": "true",
    }
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sila_billing.billrun",
        "2031-07",
        env=variables,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    seconds = time.monotonic() - started
    if process.returncode != 0:
        raise RuntimeError(f"the bill run failed: {out.decode()[-800:]}")
    conn = await asyncpg.connect(dsn_of(url))
    try:
        bills = int(await conn.fetchval("SELECT count(*) FROM invoices"))
        events = int(
            await conn.fetchval(
                "SELECT count(*) FROM outbox WHERE event_type = 'billing.invoice.issued'"
            )
        )
    finally:
        await conn.close()
    if bills != size.bill_run_lines or events != bills:
        raise RuntimeError(f"{bills} bills and {events} events for {size.bill_run_lines} lines")
    rate = bills / seconds
    note = (
        f"{size.bill_run_lines:,} postpaid lines, CLI in its own process, batches of 2,000 "
        f"(lines seeded in {seeded:.0f} s)"
    )
    rows = [
        Row("bill run", seconds, "s", note, goal="< 600 s for 1,000,000 lines"),
        Row("bill run rate", rate, "bills/s", "bill + invoice.issued event in the outbox"),
    ]
    if size.bill_run_lines != MILLION:
        rows.append(
            Row(
                "bill run, 1,000,000 lines (extrapolated)",
                MILLION / rate,
                "s",
                f"from {size.bill_run_lines:,} lines at the measured rate",
                goal="< 600 s",
            )
        )
    return rows


async def run(env: BenchEnv) -> list[Row]:
    size = sizes(env)
    return await payments(env, size) + await bill_run(env, size)
