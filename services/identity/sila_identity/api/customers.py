"""Customers: registration, reading, updates and status, identification by phone, contract
number or name.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Response, status
from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator
from sqlalchemy import (
    ColumnElement,
    Text,
    and_,
    bindparam,
    case,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    text,
    union,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.app import RuntimeDep
from sila_common.auth import Principal, ensure_roles
from sila_common.idempotency import run_idempotent
from sila_common.inputs import check_name
from sila_common.problems import (
    Conflict,
    Forbidden,
    NotFound,
    Problem,
    ServiceUnavailable,
    Unprocessable,
)
from sila_common.roles import FRONT_OFFICE
from sila_identity import audit
from sila_identity.api.deps import Caller, FrontOffice, IdentitySettingsDep, LookupAgent
from sila_identity.directory import (
    CustomerRead,
    duplicate_conflict,
    ensure_may_read,
    ensure_wilaya,
    load_row,
    may_read,
    registered_payload,
    to_read,
    updated_payload,
)
from sila_identity.domain.customers import (
    CustomerStatus,
    InvalidStatusTransition,
    Language,
    allowed_transitions,
    clean_name,
    ensure_transition,
    parse_contract_number,
)
from sila_identity.domain.errors import InvalidValue
from sila_identity.domain.national_id import (
    normalize_nif,
    normalize_nin,
    parse_trade_register_number,
)
from sila_identity.domain.phone import normalize_phone
from sila_identity.domain.search import (
    COUNTRY,
    QueryWord,
    customer_name_keys,
    customer_search_text,
    pair_keys,
    query_words,
    search_scopes,
)
from sila_identity.domain.wilayas import format_wilaya_code
from sila_identity.events import CUSTOMER_REGISTERED, CUSTOMER_UPDATED
from sila_identity.flows.geography import commune_for_text, ensure_commune
from sila_identity.settings import IdentitySettings
from sila_identity.tables import contracts, customers

router = APIRouter(prefix="/v1/customers", tags=["customers"])

CustomerKind = Literal["residential", "professional"]
Channel = Literal["agency", "call_centre", "web", "app", "social", "email"]
SEARCH_LIMIT = 50
# Name search ranks at most this many customers matched by the exact keys per pass: when a
# very common name matches more, the answer is the best of a sample of them (all equally
# good matches on the keys), not the best of the whole country.
CANDIDATES = 200
# Derived from the name (and the wilaya, for name_keys): never reported as changed fields.
INDEX_COLUMNS = frozenset({"search_text", "name_keys"})
# Fields a customer may change themselves (My Idoom); the rest goes through an agent.
SELF_SERVICE_FIELDS = frozenset({"email", "language"})
# Changing one of these re-checks the kind's naming rules and re-indexes the name.
IDENTITY_FIELDS = frozenset(
    {
        "first_name",
        "last_name",
        "first_name_ar",
        "last_name_ar",
        "company_name",
        "legal_form",
        "trade_register_number",
        "tax_id",
    }
)


def _domain(check: Any, value: Any) -> Any:
    try:
        return check(value)
    except InvalidValue as exc:
        raise ValueError(exc.reason) from exc


class CustomerFields(BaseModel):
    """Validation shared by registration and updates (every field in its stored form)."""

    model_config = ConfigDict(extra="forbid")

    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    first_name_ar: str | None = Field(default=None, max_length=100)
    last_name_ar: str | None = Field(default=None, max_length=100)
    company_name: str | None = Field(default=None, min_length=2, max_length=200)
    legal_form: str | None = Field(default=None, min_length=2, max_length=50)
    trade_register_number: str | None = Field(default=None, max_length=50)
    tax_id: str | None = Field(default=None, max_length=30)
    national_id: str | None = Field(default=None, max_length=40)
    email: EmailStr | None = Field(default=None, max_length=254)
    # Free text as people say it; the commune itself is commune_code (GET /v1/communes).
    commune: str | None = Field(default=None, min_length=2, max_length=100)
    commune_code: str | None = Field(default=None, pattern=r"^\d{4}$")
    address: str | None = Field(default=None, min_length=3, max_length=500)

    @field_validator("first_name", "last_name")
    @classmethod
    def _latin(cls, value: str | None) -> str | None:
        return (
            None
            if value is None
            else _domain(lambda v: clean_name(check_name(v), script="latin"), value)
        )

    @field_validator("first_name_ar", "last_name_ar")
    @classmethod
    def _arabic(cls, value: str | None) -> str | None:
        return (
            None
            if value is None
            else _domain(lambda v: clean_name(check_name(v), script="arabic"), value)
        )

    @field_validator("national_id")
    @classmethod
    def _nin(cls, value: str | None) -> str | None:
        return None if value is None else _domain(normalize_nin, value)

    @field_validator("trade_register_number")
    @classmethod
    def _rc(cls, value: str | None) -> str | None:
        return None if value is None else str(_domain(parse_trade_register_number, value))

    @field_validator("tax_id")
    @classmethod
    def _nif(cls, value: str | None) -> str | None:
        return None if value is None else _domain(normalize_nif, value)

    @field_validator("commune", "address", "company_name", "legal_form")
    @classmethod
    def _single_spaced(cls, value: str | None) -> str | None:
        return None if value is None else " ".join(check_name(value).split())


def _phone(value: str) -> str:
    return str(_domain(lambda v: normalize_phone(v).e164, value))


def _wilaya(value: str) -> str:
    return str(_domain(format_wilaya_code, value))


def _language(value: Any) -> Any:
    return _domain(Language.from_tag, value) if isinstance(value, str) else value


def check_identity(kind: str, values: dict[str, Any]) -> None:
    """The names and company details a customer of this kind must (and must not) have."""
    if kind == "professional":
        if not values.get("company_name"):
            raise ValueError("a professional customer needs company_name")
        return
    if not (
        (values.get("first_name") and values.get("last_name"))
        or (values.get("first_name_ar") and values.get("last_name_ar"))
    ):
        raise ValueError("a residential customer needs a first and last name (Latin or Arabic)")
    for field in ("company_name", "legal_form", "trade_register_number", "tax_id"):
        if values.get(field):
            raise ValueError(f"{field} is for professional customers")


class CustomerCreate(CustomerFields):
    kind: CustomerKind = "residential"
    phone: str = Field(min_length=6, max_length=40)
    wilaya_code: str = Field(min_length=1, max_length=2)
    language: Language = Language.FRENCH
    channel: Channel = "agency"
    status: Literal["prospect", "active"] = "active"

    @field_validator("phone")
    @classmethod
    def _e164(cls, value: str) -> str:
        return _phone(value)

    @field_validator("wilaya_code")
    @classmethod
    def _code(cls, value: str) -> str:
        return _wilaya(value)

    @field_validator("language", mode="before")
    @classmethod
    def _lang(cls, value: Any) -> Any:
        return _language(value)

    @model_validator(mode="after")
    def _named(self) -> CustomerCreate:
        check_identity(self.kind, self.model_dump())
        return self


class CustomerPatch(CustomerFields):
    """Only the fields sent change; ``null`` clears an optional one."""

    phone: str | None = Field(default=None, min_length=6, max_length=40)
    wilaya_code: str | None = Field(default=None, min_length=1, max_length=2)
    language: Language | None = None
    status: CustomerStatus | None = None
    channel: Channel = "agency"

    @field_validator("phone")
    @classmethod
    def _e164(cls, value: str | None) -> str | None:
        return None if value is None else _phone(value)

    @field_validator("wilaya_code")
    @classmethod
    def _code(cls, value: str | None) -> str | None:
        return None if value is None else _wilaya(value)

    @field_validator("language", mode="before")
    @classmethod
    def _lang(cls, value: Any) -> Any:
        return _language(value)

    @model_validator(mode="after")
    def _required_stay(self) -> CustomerPatch:
        for field in ("phone", "wilaya_code", "language", "status"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be removed")
        return self


def _search_text(values: dict[str, Any]) -> str | None:
    return customer_search_text(
        first_name=values.get("first_name"),
        last_name=values.get("last_name"),
        first_name_ar=values.get("first_name_ar"),
        last_name_ar=values.get("last_name_ar"),
        company_name=values.get("company_name"),
    )


def _name_keys(values: dict[str, Any]) -> list[str] | None:
    return customer_name_keys(
        wilaya_code=values["wilaya_code"],
        first_name=values.get("first_name"),
        last_name=values.get("last_name"),
        first_name_ar=values.get("first_name_ar"),
        last_name_ar=values.get("last_name_ar"),
        company_name=values.get("company_name"),
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CustomerRead,
    summary="Register a customer",
    responses={409: {"description": "Phone number or NIN already registered"}},
)
async def register_customer(
    body: CustomerCreate,
    response: Response,
    runtime: RuntimeDep,
    principal: FrontOffice,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> dict[str, Any]:
    if not principal.serves_wilaya(body.wilaya_code):
        raise Forbidden(f"Your scope does not cover wilaya {body.wilaya_code}.")
    customer_id = str(uuid.uuid4())

    async def work(session: AsyncSession) -> tuple[int, dict[str, Any]]:
        await ensure_wilaya(session, body.wilaya_code, "body.wilaya_code")
        conflict = await duplicate_conflict(
            session, phone=body.phone, national_id=body.national_id, principal=principal
        )
        if conflict is not None:
            raise conflict
        now = datetime.now(UTC)
        values = body.model_dump(exclude={"channel"}, mode="json")
        if values.get("commune_code"):
            await ensure_commune(
                session,
                values["commune_code"],
                body.wilaya_code,
                commune_field="body.commune_code",
                wilaya_field="body.wilaya_code",
            )
        else:
            values["commune_code"] = await commune_for_text(
                session, body.wilaya_code, values.get("commune")
            )
        await session.execute(
            insert(customers).values(
                **values,
                id=customer_id,
                search_text=_search_text(values),
                name_keys=_name_keys(values),
                version=1,
                created_at=now,
                updated_at=now,
            )
        )
        row = await load_row(session, customer_id)
        await runtime.outbox.record(
            session,
            CUSTOMER_REGISTERED,
            subject=customer_id,
            customer_id=customer_id,
            data=registered_payload(row, body.channel),
        )
        await audit.record(session, principal, "customer.create", customer_id=customer_id)
        return 201, to_read(row).model_dump(mode="json")

    try:
        code, payload, replayed = await run_idempotent(
            runtime.session_factory,
            runtime.definition.tables.idempotency_keys,
            key=idempotency_key,
            principal=f"{principal.kind}:{principal.subject}",
            body=body.model_dump(mode="json"),
            work=work,
        )
    except IntegrityError as exc:
        # A concurrent registration took the phone or NIN between the check and the insert.
        async with runtime.session_factory() as session:
            conflict = await duplicate_conflict(
                session, phone=body.phone, national_id=body.national_id, principal=principal
            )
        raise (conflict or Conflict("The customer conflicts with an existing one.")) from exc
    response.status_code = code
    response.headers["Location"] = f"/v1/customers/{payload['id']}"
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return payload


@router.get("/{customer_id}", response_model=CustomerRead, summary="One customer")
async def get_customer(customer_id: str, runtime: RuntimeDep, principal: Caller) -> CustomerRead:
    async with runtime.session_factory() as session:
        row = await load_row(session, customer_id)
    ensure_may_read(principal, row)
    await audit.record_reads(runtime.session_factory, principal, "customer.read", [row.id])
    return to_read(row)


@router.patch(
    "/{customer_id}",
    response_model=CustomerRead,
    summary="Change a customer's details or status",
    responses={409: {"description": "Duplicate phone/NIN, refused status move, erased"}},
)
async def update_customer(
    customer_id: str,
    body: CustomerPatch,
    runtime: RuntimeDep,
    principal: Caller,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> CustomerRead:
    sent = body.model_fields_set - {"channel"}
    if principal.kind == "customer":
        if principal.customer_id != customer_id:
            raise NotFound(f"No customer {customer_id}.")
        if not sent <= SELF_SERVICE_FIELDS:
            raise Forbidden(
                "Customers change their e-mail and language themselves; "
                "the rest goes through an agent."
            )
    else:
        ensure_roles(principal, *FRONT_OFFICE)
    channel = "app" if principal.kind == "customer" else body.channel
    try:
        async with runtime.session_factory() as session, session.begin():
            row = await load_row(session, customer_id, for_update=True)
            ensure_may_read(principal, row)
            if row.erased_at is not None:
                raise Conflict("This customer was erased; nothing about them can change.")
            if if_match is not None and if_match.strip().strip('"') != str(row.version):
                raise Problem(
                    f"The customer is at version {row.version}, not {if_match}.",
                    status=412,
                    slug="version-mismatch",
                    title="Precondition failed",
                    current_version=row.version,
                )
            changes = await _changes(session, principal, row, body, sent)
            if not changes:
                return to_read(row)
            await session.execute(
                update(customers)
                .where(customers.c.id == customer_id)
                .values(**changes, version=row.version + 1, updated_at=datetime.now(UTC))
            )
            row = await load_row(session, customer_id)
            changed = sorted(set(changes) - INDEX_COLUMNS)
            await runtime.outbox.record(
                session,
                CUSTOMER_UPDATED,
                subject=customer_id,
                customer_id=customer_id,
                data=updated_payload(row, channel, changed),
            )
            await audit.record(
                session,
                principal,
                "customer.update",
                customer_id=customer_id,
                detail={"fields": changed},
            )
    except IntegrityError as exc:
        async with runtime.session_factory() as session:
            conflict = await duplicate_conflict(
                session,
                phone=body.phone,
                national_id=body.national_id,
                exclude_id=customer_id,
                principal=principal,
            )
        raise (conflict or Conflict("The change conflicts with another customer.")) from exc
    return to_read(row)


async def _changes(
    session: AsyncSession, principal: Principal, row: Any, body: CustomerPatch, sent: set[str]
) -> dict[str, Any]:
    """The columns to write, after every rule that spans fields or needs the database."""
    wanted = body.model_dump(include=sent, mode="json")
    changes = {k: v for k, v in wanted.items() if getattr(row, k) != v}
    if "wilaya_code" in changes:
        if not principal.serves_wilaya(changes["wilaya_code"]):
            raise Forbidden(f"Your scope does not cover wilaya {changes['wilaya_code']}.")
        await ensure_wilaya(session, changes["wilaya_code"], "body.wilaya_code")
    await _check_commune(session, row, changes, sent)
    if "status" in changes:
        try:
            ensure_transition(CustomerStatus(row.status), CustomerStatus(changes["status"]))
        except InvalidStatusTransition as exc:
            raise Conflict(
                f"A {row.status} customer cannot become {changes['status']}.",
                slug="status-transition-refused",
                allowed_transitions=sorted(allowed_transitions(CustomerStatus(row.status))),
            ) from exc
    if {"phone", "national_id"} & changes.keys():
        conflict = await duplicate_conflict(
            session,
            phone=changes.get("phone"),
            national_id=changes.get("national_id"),
            exclude_id=row.id,
            principal=principal,
        )
        if conflict is not None:
            raise conflict
    merged = (
        {field: getattr(row, field) for field in CustomerFields.model_fields}
        | {"wilaya_code": row.wilaya_code}
        | changes
    )
    if IDENTITY_FIELDS & changes.keys():
        try:
            check_identity(row.kind, merged)
        except ValueError as exc:
            raise Unprocessable(str(exc)) from exc
        changes["search_text"] = _search_text(merged)
    if (IDENTITY_FIELDS | {"wilaya_code"}) & changes.keys():
        changes["name_keys"] = _name_keys(merged)
    return changes


async def _check_commune(
    session: AsyncSession, row: Any, changes: dict[str, Any], sent: set[str]
) -> None:
    """The commune stays a commune of the wilaya: checked when either moves; a commune
    typed without its code is matched to the reference (cleared when nothing matches)."""
    wilaya = changes.get("wilaya_code", row.wilaya_code)
    if "commune_code" not in sent and {"commune", "wilaya_code"} & changes.keys():
        text = changes.get("commune", row.commune)
        matched = await commune_for_text(session, wilaya, text)
        if (matched is not None or "commune" in changes) and matched != row.commune_code:
            changes["commune_code"] = matched
    code = changes.get("commune_code", row.commune_code)
    if code and {"commune_code", "wilaya_code"} & changes.keys():
        await ensure_commune(
            session,
            code,
            wilaya,
            commune_field="body.commune_code",
            wilaya_field="body.wilaya_code",
        )


@router.get(
    "",
    response_model=list[CustomerRead],
    summary="Identify a customer by phone or contract number, or search by name",
    description=(
        "Exactly one of `phone` (any Algerian spelling; matches the customer's phone and "
        "their contracts' line numbers), `contract` (as typed: spaces, no dashes, lower "
        "case are fine; the check digit is verified) or `q` (a name in Latin or Arabic "
        "script, ranked best first). Only customers in the caller's wilayas are returned."
    ),
)
async def find_customers(
    runtime: RuntimeDep,
    settings: IdentitySettingsDep,
    principal: LookupAgent,
    phone: Annotated[str | None, Query(max_length=40)] = None,
    contract: Annotated[str | None, Query(max_length=40)] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    wilaya: Annotated[str | None, Query(pattern=r"^\d{1,2}$")] = None,
    limit: Annotated[int, Query(ge=1, le=SEARCH_LIMIT)] = 20,
) -> list[CustomerRead]:
    given = [name for name, value in (("phone", phone), ("contract", contract), ("q", q)) if value]
    if len(given) != 1:
        raise Unprocessable(
            "Give exactly one of phone, contract or q.",
            errors=[
                {"field": f"query.{f}", "message": "give exactly one", "type": "exclusive"}
                for f in ("phone", "contract", "q")
            ],
        )
    # One transaction reads and audits the read (one connection, one commit).
    async with runtime.session_factory() as session, session.begin():
        if phone:
            rows = await _by_phone(session, _query_value(normalize_phone, phone, "phone").e164)
        elif contract:
            number = str(_query_value(parse_contract_number, contract, "contract"))
            rows = await _by_contract(session, number)
        else:
            rows = await _by_name(session, settings, principal, q or "", wilaya, limit)
        found = [row for row in rows if may_read(principal, row)]
        await audit.record_reads_in(
            session,
            principal,
            "customer.search" if q else "customer.lookup",
            [row.id for row in found],
            detail={"by": given[0]},
        )
    return [to_read(row) for row in found]


def _query_value(parse: Any, value: str, field: str) -> Any:
    try:
        return parse(value)
    except InvalidValue as exc:
        raise Unprocessable(
            exc.reason, errors=[{"field": f"query.{field}", "message": exc.reason, "type": field}]
        ) from exc


async def _by_phone(session: AsyncSession, e164: str) -> list[Any]:
    """The customer whose phone it is first, then those holding it as a contract's line; one
    statement (two index probes whose ids are joined to customers by primary key).
    """
    ids = union(
        select(customers.c.id).where(customers.c.phone == e164),
        select(contracts.c.customer_id).where(contracts.c.line_number == e164),
    )
    own = customers.c.phone == e164
    query = (
        select(customers)
        .where(customers.c.id.in_(ids))
        .order_by(case((own, 0), else_=1), customers.c.id)
    )
    return list((await session.execute(query)).all())


async def _by_contract(session: AsyncSession, number: str) -> list[Any]:
    query = select(customers).where(
        customers.c.id
        == select(contracts.c.customer_id).where(contracts.c.number == number).scalar_subquery()
    )
    return list((await session.execute(query)).all())


async def _by_name(
    session: AsyncSession,
    settings: IdentitySettings,
    principal: Principal,
    q: str,
    wilaya: str | None,
    limit: int,
) -> list[Any]:
    """Customers whose name matches every word of the query, best first.

    On PostgreSQL, in passes that each stop the search once `limit` customers are found:
    customers having every word as typed (normalised), then every word as typed or by its
    phonetic key (both through the GIN index on name_keys, each pass ranking at most
    CANDIDATES of them; by pair keys first in the whole country, see _key_passes), then,
    when the keys found nobody (or fewer than `limit` with search_fuzzy_fill), the fuzzy
    trigram search under a short statement timeout to catch misspellings the keys miss.
    """
    words = query_words(q)
    if not words:
        reason = "the query has no name in it (at least one word of two letters)"
        raise Unprocessable(
            reason, errors=[{"field": "query.q", "message": reason, "type": "name"}]
        )
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
