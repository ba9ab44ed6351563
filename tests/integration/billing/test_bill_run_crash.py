"""The bill run killed by SIGKILL mid-run, then run again: every line billed exactly once.

``python -m sila_billing.billrun`` runs as its own process on a fresh database holding many
postpaid lines; once some bills are committed it is killed with ``kill -9`` (no handler, no
cleanup), then started again and left to finish. Each batch commits its bills, their
``billing.invoice.issued`` events and the run's keyset progress in one transaction, so the
second process resumes where the first stopped: no line is billed twice, none is missed, and
no event is doubled.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

import asyncpg

from tests.support import eventually

LINES = 40_000
PERIOD = "2031-06"


def plain_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def add_postpaid_lines(dsn: str, count: int) -> None:
    """``count`` fixed lines (half residential, half professional), as contracts would make."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            """
            INSERT INTO subscriptions (
                id, customer_id, contract_id, offer_code, technology, billing, line_number,
                ends_at, suspended, idoomly_owed_centimes, idoomly_period_end, idoomly_ends_at,
                expiring_notice_for, expired_notice_for, created_at, updated_at)
            SELECT md5('line' || n)::uuid::text, md5('customer' || (n / 3))::uuid::text,
                   md5('contract' || n)::uuid::text,
                   CASE WHEN n % 2 = 0 THEN 'IDOOM_FIXE' ELSE 'IDOOM_FIXE_PRO' END,
                   'fixed', 'postpaid', NULL, NULL, false, 0, NULL, NULL, NULL, NULL,
                   now(), now()
            FROM generate_series(1, $1) AS n
            """,
            count,
        )
    finally:
        await conn.close()


async def one_value(dsn: str, query: str, *args: Any) -> Any:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


async def start_bill_run(url: str, broker: str, batch_size: int) -> asyncio.subprocess.Process:
    env = os.environ | {
        "SILA_PROFILE": "test",
        "SILA_KAFKA_BOOTSTRAP": broker,
        "SILA_BILLING_DATABASE_URL": url,
        "SILA_LOG_LEVEL": "WARNING",
        "OTEL_SDK_DISABLED": "true",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sila_billing.billrun",
        PERIOD,
        "--batch-size",
        str(batch_size),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_a_bill_run_killed_mid_run_and_run_again_bills_every_line_once(
    scratch_database: Callable[[str], Any], broker: str
) -> None:
    url = await scratch_database("billing")
    dsn = plain_dsn(url)
    await add_postpaid_lines(dsn, LINES)

    first = await start_bill_run(url, broker, batch_size=200)

    async def some_bills() -> int:
        count = int(await one_value(dsn, "SELECT count(*) FROM invoices"))
        return count if count >= 2_000 else 0

    try:
        await eventually(some_bills, timeout=120, interval=0.02, what="some bills committed")
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()
    assert first.returncode == -signal.SIGKILL
    written = int(await one_value(dsn, "SELECT count(*) FROM invoices"))
    assert 2_000 <= written < LINES, "killed mid-run"
    assert await one_value(dsn, "SELECT status FROM bill_runs WHERE period = $1", PERIOD) == (
        "running"
    )

    second = await start_bill_run(url, broker, batch_size=1_000)
    out, err = await asyncio.wait_for(second.communicate(), 300)
    assert second.returncode == 0, err.decode()
    assert f"{PERIOD}: {LINES} bills, run finished" in out.decode()

    assert int(await one_value(dsn, "SELECT count(*) FROM invoices")) == LINES
    assert (
        await one_value(
            dsn,
            "SELECT count(*) FROM subscriptions s WHERE NOT EXISTS "
            "(SELECT 1 FROM invoices i WHERE i.subscription_id = s.id AND i.period = $1)",
            PERIOD,
        )
        == 0
    )
    assert (
        await one_value(
            dsn,
            "SELECT count(*) FROM (SELECT subscription_id FROM invoices "
            "GROUP BY subscription_id, period HAVING count(*) > 1) AS doubled",
        )
        == 0
    )
    assert int(await one_value(dsn, "SELECT count(DISTINCT number) FROM invoices")) == LINES
    # One event per bill: none lost with the killed process, none written twice.
    events = int(
        await one_value(
            dsn, "SELECT count(*) FROM outbox WHERE event_type = 'billing.invoice.issued'"
        )
    )
    distinct = int(
        await one_value(
            dsn,
            "SELECT count(DISTINCT envelope->>'subject') FROM outbox "
            "WHERE event_type = 'billing.invoice.issued'",
        )
    )
    assert events == distinct == LINES
    assert (
        await one_value(
            dsn,
            "SELECT count(*) FROM invoices i WHERE NOT EXISTS (SELECT 1 FROM outbox o "
            "WHERE o.event_type = 'billing.invoice.issued' AND o.envelope->>'subject' = i.id)",
        )
        == 0
    )
    assert await one_value(dsn, "SELECT issued FROM bill_runs WHERE period = $1", PERIOD) == LINES
    # Amounts from the catalogue: 1,000 DZD residential, 2,500 DZD professional.
    assert int(await one_value(dsn, "SELECT sum(amount_centimes) FROM invoices")) == (
        LINES // 2 * 100_000 + LINES // 2 * 250_000
    )
