"""Customer lookups and the name search: the read SQL behind ``GET /v1/customers``; and
contracts as they are read (``contracts_as_read``).

By phone (the customer's own, then a contract's line), by contract number, and by name:
on PostgreSQL by the exact and phonetic name keys (GIN), country- or wilaya-scoped, ranked,
bounded by statement timeouts, with a fuzzy trigram pass when the keys find nobody.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Text,
    and_,
    bindparam,
    case,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    union,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from sila_common.auth import Principal
from sila_common.db import pooled_driver
from sila_common.problems import ServiceUnavailable, Unprocessable
from sila_identity.domain.search import (
    COUNTRY,
    QueryWord,
    pair_keys,
    query_words,
    search_scopes,
)
from sila_identity.settings import IdentitySettings
from sila_identity.tables import communes, contracts, customers

# Name search ranks at most this many customers matched by the exact keys per pass: when a
# very common name matches more, the answer is the best of a sample of them (all equally
# good matches on the keys), not the best of the whole country.
CANDIDATES = 200


def _by_phone_statement() -> Any:
    phone = bindparam("phone", type_=customers.c.phone.type)
    ids = union(
        select(customers.c.id).where(customers.c.phone == phone),
        select(contracts.c.customer_id).where(contracts.c.line_number == phone),
    )
    own = customers.c.phone == phone
    return (
        select(customers)
        .where(customers.c.id.in_(ids))
        .order_by(case((own, 0), else_=1), customers.c.id)
    )


# Built once: building the statement per request was 10 % of a look-up's CPU (py-spy).
BY_PHONE = _by_phone_statement()


async def by_phone(session: AsyncSession, e164: str) -> list[Any]:
    """The customer whose phone it is first, then those holding it as a contract's line; one
    statement (two index probes whose ids are joined to customers by primary key).
    """
    return list((await session.execute(BY_PHONE, {"phone": e164})).all())


# The phone lookup of an agent with its audit rows, as one statement (one round trip, one
# implicit transaction): BY_PHONE's two index probes, only the customers in the agent's
# wilayas ($2; "*" = all: Principal.serves_wilaya), one audit row each (flows.audit's
# columns), and the commit made asynchronous as audit.record_reads_in does
# (``set_config(..., true)`` is SET LOCAL: this transaction only). Through SQLAlchemy the
# same work was five round trips (BEGIN, select, SET LOCAL, insert, COMMIT), each paying
# SQLAlchemy's execution path (docs/benchmarks.md, "identity's reads").
# benchmarks/bare.py issues this same statement.
# The columns read are those a customer is rendered with (not the search keys).
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


class RecordRow:
    """An asyncpg record read by attribute, as SQLAlchemy's rows are (``row.wilaya_code``)."""

    __slots__ = ("_record",)

    def __init__(self, record: Mapping[str, Any]) -> None:
        self._record = record

    def __getattr__(self, name: str) -> Any:
        try:
            return self._record[name]
        except KeyError:
            raise AttributeError(name) from None


async def by_phone_audited(
    engine: AsyncEngine,
    e164: str,
    wilayas: Collection[str],
    audit_row: Mapping[str, Any],
) -> list[Any]:
    """BY_PHONE for an agent serving ``wilayas``, each customer found recorded in the audit
    log with ``audit_row``'s values (at, actor_kind, actor_id, action, detail,
    correlation_id), in one statement (``fetch_on_pool``: its own transaction)."""
    records = await fetch_on_pool(
        engine, PHONE_LOOKUP_AUDITED, e164, list(wilayas), *audit_arguments(audit_row)
    )
    return [RecordRow(record) for record in records]


def audit_arguments(audit_row: Mapping[str, Any]) -> tuple[Any, ...]:
    """A read's audit row (flows.audit.read_row) as the six parameters the audited
    statements take in this order: at, actor_kind, actor_id, action, detail, correlation_id."""
    return (
        audit_row["at"],
        audit_row["actor_kind"],
        audit_row["actor_id"],
        audit_row["action"],
        json.dumps(audit_row["detail"]),
        audit_row["correlation_id"],
    )


async def fetch_on_pool(engine: AsyncEngine, statement: str, *args: Any) -> list[Any]:
    """The records of ``statement``, run as its own transaction on an asyncpg connection of
    the engine's pool (``pooled_driver``): the hot reads' single statements (the lookup's,
    the timeline page's). The SQLAlchemy ``Connection`` around it (its checkout, greenlet
    and close) was ≈ 8 % of a lookup (docs/benchmarks.md, "identity's request path")."""
    async with pooled_driver(engine) as driver:
        return list(await driver.fetch(statement, *args))


async def by_contract(session: AsyncSession, number: str) -> list[Any]:
    query = select(customers).where(
        customers.c.id
        == select(contracts.c.customer_id).where(contracts.c.number == number).scalar_subquery()
    )
    return list((await session.execute(query)).all())


async def by_name(
    session: AsyncSession,
    settings: IdentitySettings,
    principal: Principal,
    q: str,
    wilaya: str | None,
    limit: int,
) -> list[Any]:
    """Customers whose name matches every word of the query, best first.

    In passes that each stop the search once `limit` customers are found:
    customers having every word as typed (normalised), then every word as typed or by its
    phonetic key (both through the GIN index on name_keys, each pass ranking at most
    CANDIDATES of them; by pair keys first in the whole country, see _key_passes), then,
    when the keys found nobody (or fewer than `limit` with search_fuzzy_fill), the fuzzy
    trigram search under a short statement timeout to catch misspellings the keys miss.
    """
    words = query_words(q)
    if not words:
        reason = "the query has no name in it (at least one word of two letters)"
        raise Unprocessable.at("query.q", reason, kind="name")
    code = f"{int(wilaya):02d}" if wilaya else None
    scopes = search_scopes(code, principal.wilayas)
    if not scopes:
        return []
    await session.execute(text(f"SET LOCAL statement_timeout = {int(settings.search_timeout_ms)}"))
    found: dict[str, Any] = {}
    try:
        for keys in _key_passes(words, scopes):
            if keys is None:
                if found:
                    break  # the pair keys answered
                continue
            for row in await session.execute(_keyed_query(words, keys, limit)):
                found.setdefault(row.id, row)
            if len(found) >= limit:
                return _best(found, limit)
        if found and not settings.search_fuzzy_fill:
            return _best(found, limit)
        await _add_fuzzy(session, settings, principal, words, code, limit, found)
    except DBAPIError as exc:
        if _cancelled(exc):
            raise ServiceUnavailable(
                "The name search took too long; add a word or a wilaya."
            ) from exc
        raise
    return _best(found, limit)


def _key_passes(words: list[QueryWord], scopes: list[str]) -> Iterator[list[list[str]] | None]:
    """The keys each pass asks for (one list of keys per condition), exact spelling first.

    A whole-country query of two words or more first asks for the pair keys of its first two
    words (one short posting list, however common each word is), then, after the None that
    marks the end of the pair passes, for the keys of each word: customers having both
    words inside one simple name, or not re-indexed with pair keys yet, are found there.
    """
    if len(words) >= 2 and scopes == [COUNTRY]:
        for exact in (True, False):
            rest = [word.keys(scopes, exact=exact) for word in words[2:]]
            yield [pair_keys(words[0], words[1], exact=exact), *rest]
        yield None
    for exact in (True, False):
        yield [word.keys(scopes, exact=exact) for word in words]


def _rank(words: list[QueryWord], text_column: Any) -> ColumnElement[Any]:
    scores: list[ColumnElement[Any]] = []
    for word in words:
        score: ColumnElement[Any] = func.word_similarity(word.text, text_column)
        for sound in word.sounds():
            score = func.greatest(score, func.word_similarity(sound, text_column) * 0.9)
        scores.append(score)
    rank = scores[0]
    for score in scores[1:]:
        rank = rank + score
    return rank


def _keyed_query(words: list[QueryWord], keys: list[list[str]], limit: int) -> Any:
    """At most CANDIDATES customers having, for every word, one of its keys; the best `limit`.

    Each distinct name among the candidates is ranked once (a common name's candidates
    mostly share their index text, and ranking is most of the query's cost); MATERIALIZED
    keeps PostgreSQL from computing the rank again for every candidate.
    """
    name_keys = customers.c.name_keys
    candidates = (
        select(customers)
        .where(
            *[
                name_keys.op("&&")(bindparam(None, word_keys, type_=ARRAY(Text)))
                for word_keys in keys
            ],
            customers.c.erased_at.is_(None),
        )
        .limit(CANDIDATES)
        .cte("candidates")
    )
    names = select(candidates.c.search_text).distinct().subquery("names")
    ranked = (
        select(names.c.search_text, _rank(words, names.c.search_text).label("rank"))
        .cte("ranked")
        .prefix_with("MATERIALIZED")
    )
    return (
        select(candidates, ranked.c.rank)
        .join(ranked, ranked.c.search_text == candidates.c.search_text)
        .order_by(ranked.c.rank.desc(), candidates.c.id)
        .limit(limit)
    )


async def _add_fuzzy(
    session: AsyncSession,
    settings: IdentitySettings,
    principal: Principal,
    words: list[QueryWord],
    wilaya: str | None,
    limit: int,
    found: dict[str, Any],
) -> None:
    """Completes `found` with trigram (word similarity) matches, if it can in time."""
    search_text = customers.c.search_text
    filters: list[ColumnElement[bool]] = []
    for word in words:
        # <% is word similarity, served by the trigram GIN index.
        options: list[ColumnElement[bool]] = [
            literal(word.text).op("<%", is_comparison=True)(search_text)
        ]
        options.extend(
            literal(sound).op("<%", is_comparison=True)(search_text) for sound in word.sounds()
        )
        filters.append(or_(*options))
    query = select(customers, _rank(words, search_text).label("rank")).where(
        and_(*filters), customers.c.erased_at.is_(None)
    )
    query = _in_scope(query, principal, wilaya)
    query = query.order_by(literal_column("rank").desc(), customers.c.id).limit(limit)
    timeout = int(settings.search_fuzzy_timeout_ms)
    try:
        async with session.begin_nested():
            await session.execute(text(f"SET LOCAL statement_timeout = {timeout}"))
            rows = (await session.execute(query)).all()
    except DBAPIError as exc:
        if not _cancelled(exc):
            raise
        return  # the exact keys' answer stands
    for row in rows:
        found.setdefault(row.id, row)


def _in_scope(query: Any, principal: Principal, wilaya: str | None) -> Any:
    if wilaya:
        query = query.where(customers.c.wilaya_code == wilaya)
    if "*" not in principal.wilayas:
        query = query.where(customers.c.wilaya_code.in_(sorted(principal.wilayas)))
    return query


def _best(found: dict[str, Any], limit: int) -> list[Any]:
    return sorted(found.values(), key=lambda row: (-row.rank, row.id))[:limit]


def _cancelled(exc: DBAPIError) -> bool:
    """True for a statement stopped by statement_timeout (SQLSTATE 57014)."""
    orig = exc.orig
    return (
        getattr(orig, "sqlstate", None) == "57014"
        or "QueryCanceled" in type(orig).__name__
        or ("canceling statement due to statement timeout" in str(orig))
    )


def contracts_as_read() -> Any:
    """Contracts with the installation's commune by its current name: an admin's rename of
    the commune (``PATCH /v1/admin/identity/communes/{code}``) shows at once; the text stored
    at signing is shown only for a contract whose commune is not placed in the reference."""
    current_name = func.coalesce(communes.c.name_fr, contracts.c.installation_commune)
    columns = [
        current_name.label(column.name) if column.name == "installation_commune" else column
        for column in contracts.c
    ]
    placed = contracts.outerjoin(communes, communes.c.code == contracts.c.installation_commune_code)
    return select(*columns).select_from(placed)
