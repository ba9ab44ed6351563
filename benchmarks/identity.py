"""Identity: identification by phone and contract number and name search on a seeded
customer base, and timeline paging for a customer with 50,000 entries against one with 5.

Seeding uses COPY (asyncpg), name keys included, and builds the indexes after. Sizes:
SILA_BENCH_QUICK=1 gives 100,000 customers; otherwise SILA_BENCH_IDENTITY_CUSTOMERS
(default 1,000,000; 5,000,000 is the issue's target and takes long to seed on two cores).
Latencies are measured through the HTTP API, in process (token verification, the query,
the audit row), and for lookups also as the bare SQL the API runs.

Every name search is bounded: the API cuts a search statement off after
SILA_IDENTITY_SEARCH_TIMEOUT_MS (2 s; a 503, counted, never a runaway query) and the bench
gives up on a request after SEARCH_DEADLINE seconds. The previous trigram-only query is
measured as bare SQL on a few samples, cut off at TRIGRAM_TIMEOUT_MS, for comparison.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from benchmarks.harness import BenchEnv, Row, median, percentile
from sila_common.app import create_app
from sila_common.geography import reference as geography
from sila_common.settings import Profile
from sila_identity.auth.passwords import hash_password
from sila_identity.domain.customers import make_contract_number
from sila_identity.domain.search import (
    COUNTRY,
    QueryWord,
    customer_name_keys,
    customer_search_text,
    pair_keys,
    query_words,
)

FIRST = [
    ("Mohamed", "محمد"),
    ("Karim", "كريم"),
    ("Yasmina", "ياسمينة"),
    ("Amine", "أمين"),
    ("Fatima", "فاطمة"),
    ("Sofiane", "سفيان"),
    ("Nadia", "نادية"),
    ("Rachid", "رشيد"),
    ("Samira", "سميرة"),
    ("Walid", "وليد"),
    ("Lynda", "ليندة"),
    ("Hocine", "حسين"),
    ("Amel", "أمل"),
    ("Yacine", "ياسين"),
    ("Meriem", "مريم"),
    ("Omar", "عمر"),
    ("Khadidja", "خديجة"),
    ("Bilal", "بلال"),
    ("Sarah", "سارة"),
    ("Nassim", "نسيم"),
]
LAST = [
    ("Benali", "بن علي"),
    ("Aït Saïd", "آيت سعيد"),
    ("Kaci", "قاسي"),
    ("Bouzid", "بوزيد"),
    ("Haddad", "حداد"),
    ("Mansouri", "منصوري"),
    ("Belkacem", "بلقاسم"),
    ("Amrani", "عمراني"),
    ("Cherif", "شريف"),
    ("Boudiaf", "بوضياف"),
    ("Khelifi", "خليفي"),
    ("Meziane", "مزيان"),
    ("Hamidi", "حميدي"),
    ("Ouali", "والي"),
    ("Saadi", "سعدي"),
    ("Zerrouki", "زروقي"),
    ("Brahimi", "براهيمي"),
    ("Djebbar", "جبار"),
    ("Ferhat", "فرحات"),
    ("Lounis", "لونيس"),
]
# The wilayas of the geography reference (69 since the 2025 reform; figures in
# docs/benchmarks.md before it were measured over 58).
WILAYAS = sorted(geography().wilayas)
PASSWORD = "benchmark agent password"  # noqa: S105 - throwaway database
SAMPLES = 300
SEARCH_DEADLINE = 10.0  # seconds per search request, whatever happens
TRIGRAM_TIMEOUT_MS = 5000
TRIGRAM_SAMPLES = 5


def _rng(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 - reproducible benchmark data, not secrets


def customer_count(env: BenchEnv) -> int:
    if env.quick:
        return 100_000
    return int(os.environ.get("SILA_BENCH_IDENTITY_CUSTOMERS", "1000000"))


async def run(env: BenchEnv) -> list[Row]:
    from sila_identity.service import definition

    url = await env.database("identity")
    dsn = url.replace("postgresql+asyncpg", "postgresql")
    count = customer_count(env)
    rows: list[Row] = []
    conn = await asyncpg.connect(dsn)
    try:
        seeded, sample = await _seed(conn, count)
        rows.append(
            Row(
                "seed customers + contracts (COPY, indexes rebuilt)",
                seeded,
                "s",
                f"{count:,} customers",
            )
        )
        hot, cold = await _seed_timeline(conn)
        await conn.execute("ANALYZE")
        rows += await _sql_lookups(conn, sample, count)
        rows += await _keyed_sql_figures(conn, count)
        rows += await _trigram_figures(conn, count)
    finally:
        await conn.close()

    settings = definition.settings_factory().model_copy(update={"database_url": url})
    platform = env.platform.model_copy(update={"profile": Profile.TEST})
    app = create_app(definition, platform=platform, settings=settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://identity"
        ) as client,
    ):
        token = await _agent_token(app, client)
        auth = {"Authorization": f"Bearer {token}"}
        rows += await _api_figures(client, auth, sample, count, hot, cold)
    return rows


async def _seed(conn: asyncpg.Connection, count: int) -> tuple[float, list[tuple[str, str, str]]]:
    """Customers with one contract each; returns the time and a sample of (id, phone, number)."""
    started = time.perf_counter()
    rng = _rng(7)
    texts = {
        (f, n): customer_search_text(
            first_name=f[0], last_name=n[0], first_name_ar=f[1], last_name_ar=n[1]
        )
        for f in FIRST
        for n in LAST
    }
    keys: dict[tuple[Any, Any, str], list[str] | None] = {
        (f, n, wilaya): customer_name_keys(
            wilaya_code=wilaya,
            first_name=f[0],
            last_name=n[0],
            first_name_ar=f[1],
            last_name_ar=n[1],
        )
        for f in FIRST
        for n in LAST
        for wilaya in WILAYAS
    }
    now = datetime.now(UTC)
    await conn.execute("SET maintenance_work_mem = '512MB'")
    await conn.execute("DROP INDEX IF EXISTS ix_customers_search_text_trgm")
    await conn.execute("DROP INDEX IF EXISTS ix_customers_name_keys")
    await conn.execute("DROP INDEX IF EXISTS ix_contracts_line_number")
    counters: dict[str, int] = {}
    sample: list[tuple[str, str, str]] = []
    chunk = 100_000
    for start in range(0, count, chunk):
        customers_chunk: list[tuple[Any, ...]] = []
        contracts_chunk: list[tuple[Any, ...]] = []
        for i in range(start, min(start + chunk, count)):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            wilaya = rng.choice(WILAYAS)
            customer_id = str(uuid.UUID(int=rng.getrandbits(128)))
            phone = f"+213{(55, 66, 77)[i % 3]}{i:07d}"
            counters[wilaya] = counters.get(wilaya, 0) + 1
            number = make_contract_number(wilaya, 2026, counters[wilaya])
            customers_chunk.append(
                (
                    customer_id,
                    "residential",
                    "active",
                    first[0],
                    last[0],
                    first[1],
                    last[1],
                    phone,
                    wilaya,
                    "fr",
                    texts[(first, last)],
                    keys[(first, last, wilaya)],
                    1,
                    now,
                    now,
                )
            )
            contracts_chunk.append(
                (
                    str(uuid.UUID(int=rng.getrandbits(128))),
                    customer_id,
                    number,
                    "IDOOM_ADSL_20M",
                    f"+21326{i % 1_000_000:06d}" if i % 4 == 0 else None,
                    "active",
                    now,
                )
            )
            if i % max(count // SAMPLES, 1) == 0:
                sample.append((customer_id, phone, number))
        await conn.copy_records_to_table(
            "customers",
            records=customers_chunk,
            columns=[
                "id",
                "kind",
                "status",
                "first_name",
                "last_name",
                "first_name_ar",
                "last_name_ar",
                "phone",
                "wilaya_code",
                "language",
                "search_text",
                "name_keys",
                "version",
                "created_at",
                "updated_at",
            ],
        )
        await conn.copy_records_to_table(
            "contracts",
            records=contracts_chunk,
            columns=[
                "id",
                "customer_id",
                "number",
                "offer_code",
                "line_number",
                "status",
                "created_at",
            ],
        )
    await conn.execute("CREATE INDEX ix_contracts_line_number ON contracts (line_number)")
    await conn.execute(
        "CREATE INDEX ix_customers_search_text_trgm ON customers "
        "USING gin (search_text gin_trgm_ops)"
    )
    await conn.execute("CREATE INDEX ix_customers_name_keys ON customers USING gin (name_keys)")
    return time.perf_counter() - started, sample


async def _seed_timeline(conn: asyncpg.Connection) -> tuple[str, str]:
    """A customer with 50,000 timeline entries and one with 5 (both registered above)."""
    hot, cold = await conn.fetch("SELECT id FROM customers ORDER BY id LIMIT 2")
    base = datetime(2020, 1, 1, tzinfo=UTC)
    for customer_id, size in ((hot["id"], 50_000), (cold["id"], 5)):
        await conn.copy_records_to_table(
            "timeline_entries",
            records=[
                (
                    customer_id,
                    str(uuid.uuid4()),
                    base + timedelta(minutes=37 * i),
                    "notify.message.sent",
                    "notify",
                    "sms",
                    str(uuid.uuid4()),
                    None,
                    '{"channel": "sms"}',
                    base,
                )
                for i in range(size)
            ],
            columns=[
                "customer_id",
                "event_id",
                "occurred_at",
                "event_type",
                "source_service",
                "channel",
                "subject",
                "resource",
                "data",
                "recorded_at",
            ],
        )
    return str(hot["id"]), str(cold["id"])


async def _timed(action: Callable[[], Awaitable[Any]], samples: int = SAMPLES) -> list[float]:
    for _ in range(10):
        await action()  # warm the caches and the pool
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        await action()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def _figures(name: str, timings: list[float], note: str) -> list[Row]:
    return [
        Row(f"{name} p50", median(timings), "ms", note),
        Row(f"{name} p95", percentile(timings, 95), "ms", note),
    ]


async def _sql_lookups(
    conn: asyncpg.Connection, sample: list[tuple[str, str, str]], count: int
) -> list[Row]:
    note = f"{count:,} customers, SQL only"
    picks = iter(_rng(1).choices(sample, k=SAMPLES + 10))

    async def by_phone() -> None:
        # The API's statement: the customer's own phone or a contract's line number.
        await conn.fetch(
            "SELECT * FROM customers WHERE id IN (SELECT id FROM customers WHERE phone = $1 "
            "UNION SELECT customer_id FROM contracts WHERE line_number = $1) "
            "ORDER BY CASE WHEN phone = $1 THEN 0 ELSE 1 END, id",
            next(picks)[1],
        )

    picks_c = iter(_rng(2).choices(sample, k=SAMPLES + 10))

    async def by_contract() -> None:
        await conn.fetch(
            "SELECT * FROM customers WHERE id = "
            "(SELECT customer_id FROM contracts WHERE number = $1)",
            next(picks_c)[2],
        )

    return _figures("lookup by phone", await _timed(by_phone), note) + _figures(
        "lookup by contract number", await _timed(by_contract), note
    )


async def _agent_token(app: Any, client: httpx.AsyncClient) -> str:
    from sila_identity.tables import agents

    runtime = app.state.runtime
    async with runtime.session_factory() as session, session.begin():
        await session.execute(
            agents.insert().values(
                id=str(uuid.uuid4()),
                username="bench",
                display_name="Bench",
                password_hash=hash_password(PASSWORD),
                roles=["agent", "supervisor", "admin"],
                wilayas=["*"],
                agency=None,
                disabled=False,
                created_at=datetime.now(UTC),
            )
        )
    answer = await client.post(
        "/v1/oauth/token",
        data={"grant_type": "password", "username": "bench", "password": PASSWORD},
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


async def _api_figures(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    sample: list[tuple[str, str, str]],
    count: int,
    hot: str,
    cold: str,
) -> list[Row]:
    note = f"{count:,} customers, HTTP in process (auth, query, audit row)"
    rng = _rng(3)

    def getter(path: str, params: Callable[[], dict[str, Any]]) -> Callable[[], Awaitable[Any]]:
        async def get() -> None:
            answer = await client.get(path, headers=auth, params=params())
            answer.raise_for_status()

        return get

    rows: list[Row] = []
    rows += _figures(
        "API lookup by phone",
        await _timed(getter("/v1/customers", lambda: {"phone": "0" + rng.choice(sample)[1][4:]})),
        note,
    )
    rows += _figures(
        "API lookup by contract number",
        await _timed(getter("/v1/customers", lambda: {"contract": rng.choice(sample)[2]})),
        note,
    )
    rows += await _search_figures(client, auth, count)
    for label, customer_id in (("50,000-entry", hot), ("5-entry", cold)):
        path = f"/v1/customers/{customer_id}/timeline"
        rows += _figures(
            f"timeline first page, {label} customer",
            await _timed(getter(path, lambda: {"limit": 50})),
            "50 entries per page",
        )
    deep = await _deep_cursor(client, auth, f"/v1/customers/{hot}/timeline")
    rows += _figures(
        "timeline page after 40,000 entries, 50,000-entry customer",
        await _timed(
            getter(f"/v1/customers/{hot}/timeline", lambda: {"limit": 50, "cursor": deep})
        ),
        "keyset cursor",
    )
    return rows


VARIANTS = ["Mohammed", "Muhammad", "Mouhamed", "Rachide", "Hocin", "Omer", "محمّد", "أمينة"]


async def _search_figures(client: httpx.AsyncClient, auth: dict[str, str], count: int) -> list[Row]:
    """Name search through the API; each request bounded, refusals (503) counted."""
    note = f"{count:,} customers, HTTP in process (auth, query, audit row)"
    rng = _rng(4)
    names = [f"{f[0]} {n[0]}" for f in FIRST for n in LAST] + [
        f"{f[1]} {n[1]}" for f in FIRST for n in LAST
    ]
    variants = [f"{v} {n[0]}" for v in VARIANTS for n in LAST]
    cases: list[tuple[str, Callable[[], dict[str, Any]], int, str]] = [
        (
            "API name search (first + last, Latin or Arabic), one wilaya",
            lambda: {"q": rng.choice(names), "wilaya": rng.choice(WILAYAS)},
            100,
            "top 20",
        ),
        (
            "API name search (first + last), whole country",
            lambda: {"q": rng.choice(names)},
            100,
            "top 20",
        ),
        (
            "API name search, another spelling (Mohammed Benali...), whole country",
            lambda: {"q": rng.choice(variants)},
            50,
            "nobody has the spelling: the phonetic-key pass answers",
        ),
        (
            "API name search, first name only, whole country",
            lambda: {"q": rng.choice(FIRST)[rng.randrange(2)]},
            50,
            f"~{count // len(FIRST):,} customers per first name",
        ),
        (
            "API name search, surname nobody has, whole country",
            lambda: {"q": f"{rng.choice(FIRST)[0]} Zerqouxa"},
            20,
            "keys find nothing: fuzzy trigram pass under its 150 ms timeout",
        ),
    ]
    rows: list[Row] = []
    for name, params, samples, conditions in cases:
        refused = 0

        async def get(params: Callable[[], dict[str, Any]] = params) -> None:
            nonlocal refused
            try:
                answer = await asyncio.wait_for(
                    client.get("/v1/customers", headers=auth, params=params()), SEARCH_DEADLINE
                )
            except TimeoutError:
                refused += 1
                return
            if answer.status_code == 503:
                refused += 1
                return
            answer.raise_for_status()

        rows += _figures(name, await _timed(get, samples=samples), f"{note}; {conditions}")
        if refused:
            rows.append(Row(f"{name}: refused or timed out", refused, "requests", note))
    return rows


async def _keyed_sql_figures(conn: asyncpg.Connection, count: int) -> list[Row]:
    """The exact-spelling key pass alone (first + last name, whole country), bare SQL: by
    the pair keys the API asks for first, and by the keys of each word (the intersection of
    two posting lists the pair keys avoid).
    """
    # The API's shape (api/customers.py _keyed_query): 200 candidates, each distinct name
    # ranked once.
    candidates = (
        "WITH candidates AS (SELECT * FROM customers WHERE {filters} AND erased_at IS NULL "
        "LIMIT 200), ranked AS MATERIALIZED (SELECT search_text, word_similarity($1, "
        "search_text) + word_similarity($2, search_text) AS rank FROM (SELECT DISTINCT "
        "search_text FROM candidates) AS names) SELECT candidates.*, rank FROM candidates "
        "JOIN ranked USING (search_text) ORDER BY rank DESC, id LIMIT 20"
    )
    by_pair = candidates.format(filters="name_keys && $3")
    by_words = candidates.format(filters="name_keys && $3 AND name_keys && $4")
    rng = _rng(6)

    def typed() -> list[QueryWord]:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        script = rng.randrange(2)
        words = query_words(f"{first[script]} {last[script]}")
        return [words[0], words[-1]]

    async def paired() -> None:
        first, last = typed()
        await conn.fetch(by_pair, first.text, last.text, pair_keys(first, last, exact=True))

    async def intersected() -> None:
        first, last = typed()
        await conn.fetch(
            by_words,
            first.text,
            last.text,
            first.keys([COUNTRY], exact=True),
            last.keys([COUNTRY], exact=True),
        )

    note = f"{count:,} customers, SQL only; {count // 400:,} per full name"
    return _figures(
        "name-keys pass by pair keys, first + last, whole country", await _timed(paired), note
    ) + _figures(
        "name-keys pass by each word's keys, first + last, whole country",
        await _timed(intersected),
        f"{note}; {count // len(FIRST):,} per first name (the pair keys avoid this)",
    )


async def _trigram_figures(conn: asyncpg.Connection, count: int) -> list[Row]:
    """The previous query (trigram similarity only), bare SQL, a few samples, bounded."""
    query = (
        "SELECT id FROM customers WHERE ($1 <% search_text OR $2 <% search_text) "
        "AND ($3 <% search_text OR $4 <% search_text) AND erased_at IS NULL "
        "ORDER BY greatest(word_similarity($1, search_text), "
        "word_similarity($2, search_text) * 0.9) + greatest(word_similarity($3, search_text), "
        "word_similarity($4, search_text) * 0.9) DESC, id LIMIT 20"
    )
    rng = _rng(5)
    timings: list[float] = []
    timed_out = 0
    await conn.execute(f"SET statement_timeout = {TRIGRAM_TIMEOUT_MS}")
    try:
        for _ in range(TRIGRAM_SAMPLES):
            first, last = rng.choice(FIRST)[0], rng.choice(LAST)[0]
            words = query_words(f"{first} {last}")
            started = time.perf_counter()
            try:
                await conn.fetch(query, words[0].text, words[0].key, words[-1].text, words[-1].key)
            except asyncpg.QueryCanceledError:
                timed_out += 1
            timings.append((time.perf_counter() - started) * 1000)
    finally:
        await conn.execute("RESET statement_timeout")
    note = f"{count:,} customers, SQL only, {TRIGRAM_SAMPLES} samples"
    rows = [
        Row("previous trigram-only search, whole country, median", median(timings), "ms", note),
    ]
    if timed_out:
        rows.append(
            Row(
                f"previous trigram-only search: cut off at {TRIGRAM_TIMEOUT_MS} ms",
                timed_out,
                "queries",
                note,
            )
        )
    return rows


async def _deep_cursor(client: httpx.AsyncClient, auth: dict[str, str], path: str) -> str:
    cursor: str | None = None
    for _ in range(4):
        params: dict[str, Any] = {"limit": 200}
        if cursor:
            params["cursor"] = cursor
        cursor = (await client.get(path, headers=auth, params=params)).json()["next_cursor"]
    for _ in range(196):
        cursor = (
            await client.get(path, headers=auth, params={"limit": 200, "cursor": cursor})
        ).json()["next_cursor"]
    assert cursor is not None
    return cursor
