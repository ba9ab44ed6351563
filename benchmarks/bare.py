"""The bare anchor: FastAPI + an asyncpg pool doing the same SQL as Sila's hot paths, with
nothing else (no authentication, no ORM, no pydantic models, ``json.dumps`` straight into
the response). Run by ``benchmarks.served.serve_bare`` under uvicorn like the services.

- ``GET /v1/customers?phone=0…``: identity's agent lookup, one statement: the phone's
  customers (own phone or a contract's line) in the agent's wilayas, the audit row of each,
  the asynchronous commit.
- ``GET /v1/customers/{id}/timeline?limit=50``: identity's one statement: the customer, the
  keyset page and its audit row.
- ``GET /v1/loyalty/accounts/{id}``: loyalty's balance read (the account, the sums of its
  ledger by kind, its running boosts), read-only like loyalty's.
- ``POST /v1/tickets``: the same statements as tickets' creation with automatic
  assignment and an Idempotency-Key (see ``open_ticket``), in one transaction: the ticket
  inserted with its assignee, its two events in one insert.
- ``POST /v1/payments``: records one payment row in billing's ``payments`` table (the anchor
  of billing's payments per second end to end).

Databases: ``SILA_BARE_IDENTITY_DSN``, ``SILA_BARE_TICKETS_DSN``, ``SILA_BARE_BILLING_DSN``
and ``SILA_BARE_LOYALTY_DSN``
(plain postgresql://).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from fastapi import FastAPI, Request, Response

POOL_SIZE = 20  # what sila_common.db gives a service's engine
# Identity's agent lookup (sila_identity.queries.PHONE_LOOKUP_AUDITED, copied: the anchor
# imports nothing of Sila): the phone's customers in the agent's wilayas, one audit row
# each and the asynchronous commit, in one statement.
PHONE_LOOKUP_AUDITED = """
WITH found AS (
    SELECT id, kind, status, first_name, last_name, first_name_ar, last_name_ar, company_name,
           legal_form, trade_register_number, tax_id, national_id, phone, email, wilaya_code,
           commune, commune_code, address, language, version, created_at, updated_at,
           erased_at
    FROM customers
    WHERE id IN (SELECT id FROM customers WHERE phone = $1
                 UNION SELECT customer_id FROM contracts WHERE line_number = $1)
      AND ('*' = ANY($2::text[]) OR wilaya_code = ANY($2::text[]))
), audited AS (
    INSERT INTO audit_log (at, actor_kind, actor_id, action, customer_id, target, detail,
                           correlation_id)
    SELECT $3, $4, $5, $6, id, NULL, $7::jsonb, $8 FROM found
)
SELECT found.* FROM found CROSS JOIN (SELECT set_config('synchronous_commit', 'off', true)) c
ORDER BY CASE WHEN found.phone = $1 THEN 0 ELSE 1 END, found.id
"""
# Identity's timeline page (sila_identity.flows.timeline.PAGE_AUDITED, copied): the customer,
# whether the caller reads them in its wilayas, the audit row of the read with the
# asynchronous commit, and the page with its filters as parameters (NULL: none), in one
# statement.
TIMELINE_AUDITED_SQL = """
WITH customer AS (
    SELECT id, wilaya_code, language FROM customers WHERE id = $1
), in_scope AS (
    SELECT id FROM customer WHERE '*' = ANY($2::text[]) OR wilaya_code = ANY($2::text[])
), read_recorded AS (
    INSERT INTO audit_log (at, actor_kind, actor_id, action, customer_id, target, detail,
                           correlation_id)
    SELECT $3, $4, $5, $6, id, NULL, $7::jsonb, $8 FROM in_scope
    WHERE set_config('synchronous_commit', 'off', true) IS NOT NULL
)
SELECT customer.id, customer.wilaya_code, customer.language,
       in_scope.id IS NOT NULL AS in_scope,
       page.event_id, page.occurred_at, page.event_type, page.source_service, page.channel,
       page.resource, page.data
FROM customer
LEFT JOIN in_scope ON true
LEFT JOIN LATERAL (
    SELECT event_id, occurred_at, event_type, source_service, channel, resource, data
    FROM timeline_entries
    WHERE customer_id = in_scope.id
      AND (occurred_at, event_id)
          < (coalesce($9::timestamptz, 'infinity'), coalesce($10::text, ''))
      AND occurred_at >= coalesce($11::timestamptz, '-infinity')
      AND occurred_at < coalesce($12::timestamptz, 'infinity')
      AND ($13::text[] IS NULL OR event_type = ANY($13::text[]))
      AND ($14::text[] IS NULL OR source_service = ANY($14::text[]))
      AND ($15::text[] IS NULL OR channel = ANY($15::text[]))
      AND ($16::boolean OR event_type <> 'tickets.note.added'
           OR CAST(data ->> 'public' AS BOOLEAN) IS TRUE)
    ORDER BY occurred_at DESC, event_id DESC
    LIMIT $17::integer
) page ON true
ORDER BY page.occurred_at DESC, page.event_id DESC
"""
TICKET_SQL = (
    "INSERT INTO tickets (id, number, customer_id, category, subcategory, priority, channel, "
    "subject, status, queue, wilaya_code, opened_by, opened_at, first_response_due_at, "
    "due_at, updated_at, commune, service, first_response_kind, first_response_amount, "
    "resolution_kind, resolution_amount, warn_at, reopen_count, assignee_id, assigned_at) "
    "VALUES ($1, $2, $3, $4, $5, 'normal', $6, $7, 'acknowledged', $8, $9, 'agent:bare', $10, "
    "$11, $12, $10, $13, $14, 'business_hours', 4, 'business_hours', 48, $15, 0, $16, $17)"
)
# Tickets' numbering: one sequence per year (sila_tickets.flows.next_number).
SEQUENCE_SQL = "CREATE SEQUENCE IF NOT EXISTS ticket_numbers_{year:04d}"
NUMBER_SQL = "SELECT nextval('ticket_numbers_{year:04d}')"
TRANSITION_SQL = (
    "INSERT INTO ticket_transitions (ticket_id, from_status, to_status, reason, actor, at) "
    "VALUES ($1, NULL, 'acknowledged', 'opened', 'agent:bare', $2)"
)
OUTBOX_SQL = (
    "INSERT INTO outbox (event_id, topic, message_key, event_type, shard, envelope, "
    "created_at) VALUES ($1, 'sila.tickets.ticket', $2, 'tickets.ticket.opened', $3, "
    "$4::jsonb, $5)"
)
QUEUES = {"technical": "technical", "administrative": "billing", "commercial": "commercial"}


def _json(value: Any, status: int = 200) -> Response:
    return Response(json.dumps(value, default=str), status, media_type="application/json")


def _e164(phone: str) -> str:
    digits = "".join(c for c in phone if c.isdigit())
    return "+213" + digits[1:] if digits.startswith("0") else "+" + digits


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    pools: dict[str, asyncpg.Pool] = {}
    for name in ("identity", "tickets", "billing", "loyalty"):
        dsn = os.environ.get(f"SILA_BARE_{name.upper()}_DSN")
        if dsn:
            pools[name] = await asyncpg.create_pool(dsn, min_size=2, max_size=POOL_SIZE)
    if "tickets" in pools:
        for year in (datetime.now(UTC).year, datetime.now(UTC).year + 1):
            await pools["tickets"].execute(SEQUENCE_SQL.format(year=year))
    app.state.pools = pools
    try:
        yield
    finally:
        for pool in pools.values():
            await pool.close()


app = FastAPI(lifespan=lifespan)


@app.get("/health/live")
async def live() -> Response:
    return _json({"status": "ok"})


@app.get("/v1/customers")
async def lookup(request: Request, phone: str) -> Response:
    pool: asyncpg.Pool = request.app.state.pools["identity"]
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            PHONE_LOOKUP_AUDITED,
            _e164(phone),
            ["*"],
            datetime.now(UTC),
            "agent",
            "bare",
            "customer.lookup",
            '{"by": "phone"}',
            None,
        )
    return _json([dict(r) for r in rows])


@app.get("/v1/loyalty/accounts/{customer_id}")
async def loyalty_account(request: Request, customer_id: str) -> Response:
    pool: asyncpg.Pool = request.app.state.pools["loyalty"]
    async with pool.acquire() as conn:
        account = await conn.fetchrow(
            "SELECT * FROM accounts WHERE customer_id = $1 AND erased_at IS NULL", customer_id
        )
        if account is None:
            return _json({"title": "Not found"}, 404)
        sums = await conn.fetch(
            "SELECT kind, coalesce(sum(quantity), 0) AS total FROM ledger_entries "
            "WHERE customer_id = $1 GROUP BY kind",
            customer_id,
        )
        running = await conn.fetch(
            "SELECT speed_mbps, starts_at, ends_at FROM boosts "
            "WHERE customer_id = $1 AND ended_at IS NULL",
            customer_id,
        )
    return _json(
        {
            "customer_id": customer_id,
            "tier": account["tier"],
            "balances": {r["kind"]: int(r["total"]) for r in sums},
            "referral_code": account["referral_code"],
            "wilaya_code": account["wilaya_code"],
            "opened_at": account["opened_at"].isoformat(),
            "active_boosts": [dict(r) for r in running],
        }
    )


@app.get("/v1/customers/{customer_id}/timeline")
async def timeline(request: Request, customer_id: str, limit: int = 50) -> Response:
    pool: asyncpg.Pool = request.app.state.pools["identity"]
    async with pool.acquire() as conn:
        found = await conn.fetch(
            TIMELINE_AUDITED_SQL,
            customer_id,
            ["*"],
            datetime.now(UTC),
            "agent",
            "bare",
            "timeline.read",
            "{}",
            None,
            *(None,) * 7,
            True,
            limit + 1,
        )
    if not found:
        return _json({"title": "Not found"}, 404)
    rows = [] if found[0]["event_id"] is None else found
    items = [
        {
            "event_id": r["event_id"],
            "occurred_at": r["occurred_at"].isoformat(),
            "type": r["event_type"],
            "service": r["source_service"],
            "channel": r["channel"],
            "summary": r["event_type"],
            "resource": r["resource"],
            "data": json.loads(r["data"]),
        }
        for r in rows[:limit]
    ]
    cursor = None
    if len(rows) > limit:
        cursor = f"{rows[limit - 1]['occurred_at'].isoformat()}|{rows[limit - 1]['event_id']}"
    return _json({"items": items, "next_cursor": cursor})


INCIDENT_SQL = (
    "SELECT incidents.* FROM incidents JOIN unnest($1::text[], $2::text[]) AS area(kind, "
    "value) ON area_kind = area.kind AND area_value = area.value WHERE status = 'active' "
    "AND service = ANY($3::text[]) ORDER BY declared_at DESC LIMIT 1"
)
INSTALLATIONS_SQL = (
    "SELECT commune_code, daira_code FROM known_installations WHERE customer_id = $1 "
    "AND commune_code IS NOT NULL"
)
# The queue's strategy, its members serving the wilaya and their open tickets: one statement.
CANDIDATES_SQL = (
    "SELECT queues.strategy, queue_agents.agent_id, queue_agents.last_assigned_at, "
    "(SELECT count(*) FROM tickets WHERE tickets.assignee_id = queue_agents.agent_id AND "
    "tickets.status = ANY($3::text[])) AS open_tickets FROM queues LEFT OUTER JOIN "
    "queue_agents ON queue_agents.queue = queues.code AND queue_agents.wilaya_code = "
    "ANY($2::text[]) WHERE queues.code = $1"
)
STAMP_SQL = (
    "UPDATE queue_agents SET last_assigned_at = greatest(last_assigned_at, $1)"
    " WHERE queue = $2 AND agent_id = $3 "
    "AND wilaya_code = ANY($4::text[])"
)
OUTBOX_TWO_SQL = (
    "INSERT INTO outbox (event_id, topic, message_key, event_type, shard, envelope, "
    "created_at) VALUES ($1, 'sila.tickets.ticket', $2, 'tickets.ticket.opened', $3, "
    "$4::jsonb, $5), ($6, 'sila.tickets.ticket', $2, 'tickets.ticket.assigned', $3, "
    "$7::jsonb, $5)"
)
STORED_SQL = "SELECT * FROM idempotency_keys WHERE principal = 'agent:bare' AND key = $1"
OPEN_STATUSES = ["acknowledged", "in_progress", "pending_customer", "held"]


def _chosen(rows: list[Any], now: datetime) -> str | None:
    """Round-robin (the bench's queues): the member given a ticket longest ago."""
    members = [r for r in rows if r["agent_id"] is not None]
    if not members or rows[0]["strategy"] == "manual":
        return None
    if rows[0]["strategy"] == "least_loaded":
        return str(
            min(members, key=lambda m: (m["open_tickets"], m["last_assigned_at"] or now))[
                "agent_id"
            ]
        )
    return str(
        min(
            members,
            key=lambda m: (
                m["last_assigned_at"] is not None,
                m["last_assigned_at"] or now,
                m["agent_id"],
            ),
        )["agent_id"]
    )


@app.post("/v1/tickets")
async def open_ticket(request: Request) -> Response:
    """Sila's statements for a ticket, in its order (``sila_tickets.flows.opening``): the
    stored answer of the Idempotency-Key, the directory entry, the line's installations and
    the active incident of the area (technical), the number, the queue's strategy, members
    and open loads (one statement), the ticket with its assignee, its first transition, its
    two events (one insert), the stored answer, then the chosen agent's queue rows (last:
    their lock is held until the commit)."""
    body = await request.json()
    key = request.headers.get("idempotency-key")
    pool: asyncpg.Pool = request.app.state.pools["tickets"]
    try:
        return await _open_ticket(pool, body, key)
    except asyncpg.UniqueViolationError:
        # The same key at once: the other request won; answer as it did (as Sila does).
        stored = await pool.fetchrow(STORED_SQL, key)
        return Response(stored["response"], stored["status_code"])


async def _open_ticket(pool: asyncpg.Pool, body: dict[str, Any], key: str | None) -> Response:
    now = datetime.now(UTC)
    ticket_id = str(uuid.uuid4())
    category = body["category"]
    queue = QUEUES[category]
    async with pool.acquire() as conn, conn.transaction():
        if key:
            stored = await conn.fetchrow(STORED_SQL, key)
            if stored is not None:
                return Response(stored["response"], stored["status_code"])
        customer = await conn.fetchrow(
            "SELECT * FROM known_customers WHERE customer_id = $1", body["customer_id"]
        )
        if customer is None:
            return _json({"title": "Unknown customer"}, 422)
        wilayas = ["*", customer["wilaya_code"]]
        incident = None
        if category == "technical":
            await conn.fetch(INSTALLATIONS_SQL, body["customer_id"])
            incident = await conn.fetchrow(
                INCIDENT_SQL, ["wilaya"], [customer["wilaya_code"]], ["*", body.get("service")]
            )
        number = f"TT-{now.year}-{await conn.fetchval(NUMBER_SQL.format(year=now.year)):06d}"
        assignee = None
        if incident is None:
            rows = await conn.fetch(CANDIDATES_SQL, queue, wilayas, OPEN_STATUSES)
            assignee = _chosen(rows, now)
        due = now + timedelta(hours=48)
        await conn.execute(
            TICKET_SQL,
            ticket_id,
            number,
            body["customer_id"],
            category,
            body.get("subcategory"),
            body["channel"],
            body["subject"],
            queue,
            customer["wilaya_code"],
            now,
            now + timedelta(hours=4),
            due,
            customer["commune"],
            body.get("service"),
            now + timedelta(hours=36),
            assignee,
            now if assignee is not None else None,
        )
        await conn.execute(TRANSITION_SQL, ticket_id, now)
        event = {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "type": "tickets.ticket.opened",
            "source": "/sila/tickets",
            "subject": ticket_id,
            "time": now.isoformat(),
            "customerid": body["customer_id"],
            "data": {"ticket_id": ticket_id, "number": number, **body, "due_at": due.isoformat()},
        }
        shard = hash(body["customer_id"]) % 16
        if assignee is None:
            await conn.execute(
                OUTBOX_SQL, event["id"], body["customer_id"], shard, json.dumps(event), now
            )
        else:
            assigned = {**event, "id": str(uuid.uuid4()), "type": "tickets.ticket.assigned"}
            await conn.execute(
                OUTBOX_TWO_SQL,
                event["id"],
                body["customer_id"],
                shard,
                json.dumps(event),
                now,
                assigned["id"],
                json.dumps(assigned),
            )
        answer = {"id": ticket_id, "number": number, "status": "acknowledged", "assignee": assignee}
        if key:
            await conn.execute(
                "INSERT INTO idempotency_keys (principal, key, request_hash, status_code, "
                "response, created_at) VALUES ('agent:bare', $1, $2, 201, $3::jsonb, $4)",
                key,
                "-",
                json.dumps(answer),
                now,
            )
        if assignee is not None:
            await conn.execute(STAMP_SQL, now, queue, assignee, wilayas)
    return _json(answer, 201)


PAYMENT_SQL = (
    "INSERT INTO payments (id, number, customer_id, purpose, invoice_id, subscription_id, "
    "offer_code, price_version, idoomly_centimes, amount_centimes, refunded_centimes, method, "
    "state, provider_order_id, redirect_url, masked_pan, failure_reason, language, created_by, "
    "created_at, updated_at, expires_at, credited_at) VALUES ($1, $2, $3, $4, NULL, $5, NULL, "
    "NULL, 0, $6, 0, $7, 'succeeded', NULL, NULL, NULL, NULL, 'fr', 'bare', $8, $8, $8, $8)"
)


@app.post("/v1/payments")
async def record_payment(request: Request) -> Response:
    """One payment row, nothing else: no provider, no credit, no event."""
    body = await request.json()
    pool: asyncpg.Pool = request.app.state.pools["billing"]
    now = datetime.now(UTC)
    payment_id = str(uuid.uuid4())
    await pool.execute(
        PAYMENT_SQL,
        payment_id,
        uuid.uuid4().hex[:20],
        body["customer_id"],
        body["purpose"],
        body.get("subscription_id"),
        int(body.get("amount_centimes") or 240_000),
        body["method"],
        now,
    )
    return _json({"id": payment_id, "status": "succeeded"}, 201)
