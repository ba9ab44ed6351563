"""Customers: registration, reading, updates and status, identification by phone, contract
number or name.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response, status
from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    TypeAdapter,
    field_validator,
    model_validator,
)
from starlette.datastructures import QueryParams

from sila_common.auth import ensure_roles
from sila_common.direct import DirectRoute
from sila_common.inputs import check_name
from sila_common.problems import (
    Forbidden,
    NotFound,
    Unprocessable,
)
from sila_common.roles import FRONT_OFFICE
from sila_identity.api.deps import (
    Caller,
    FrontOffice,
    LookupAgent,
    RuntimeDep,
    get_identity_runtime,
    lookup_agent,
)
from sila_identity.directory import (
    CustomerRead,
    load_row,
    to_read,
)
from sila_identity.domain.customers import (
    CustomerStatus,
    Language,
    check_identity,
    clean_name,
    parse_contract_number,
)
from sila_identity.domain.errors import InvalidValue
from sila_identity.domain.national_id import (
    normalize_nif,
    normalize_nin,
    parse_trade_register_number,
)
from sila_identity.domain.phone import normalize_phone
from sila_identity.domain.wilayas import format_wilaya_code
from sila_identity.flows import audit
from sila_identity.flows import customers as flows

router = APIRouter(prefix="/v1/customers", tags=["customers"])

CustomerKind = Literal["residential", "professional"]
Channel = Literal["agency", "call_centre", "web", "app", "social", "email"]
SEARCH_LIMIT = 50
PHONE_MAX_LENGTH = 40
CUSTOMER_LIST = TypeAdapter(list[CustomerRead])
# Fields a customer may change themselves (My Idoom); the rest goes through an agent.
SELF_SERVICE_FIELDS = frozenset({"email", "language"})


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


# The agents' lookup is the router's first route: routes are matched in their order, and
# this one is identity's most frequent request (docs/benchmarks.md, "identity's request
# path").
async def find_customers(
    runtime: RuntimeDep,
    principal: LookupAgent,
    phone: Annotated[str | None, Query(max_length=PHONE_MAX_LENGTH)] = None,
    contract: Annotated[str | None, Query(max_length=40)] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    wilaya: Annotated[str | None, Query(pattern=r"^\d{1,2}$")] = None,
    limit: Annotated[int, Query(ge=1, le=SEARCH_LIMIT)] = 20,
) -> Response:
    given = [name for name, value in (("phone", phone), ("contract", contract), ("q", q)) if value]
    if len(given) != 1:
        raise Unprocessable(
            "Give exactly one of phone, contract or q.",
            errors=[
                {"field": f"query.{f}", "message": "give exactly one", "type": "exclusive"}
                for f in ("phone", "contract", "q")
            ],
        )
    found = await flows.find_customers(
        runtime,
        principal,
        phone=_query_value(normalize_phone, phone, "phone").e164 if phone else None,
        contract=str(_query_value(parse_contract_number, contract, "contract"))
        if contract
        else None,
        q=q,
        wilaya=wilaya,
        limit=limit,
    )
    # Rendered once (the response model documents it): FastAPI validating the list again
    # and re-encoding it showed in the lookup's profile (docs/benchmarks.md, "identity's
    # reads").
    return Response(
        CUSTOMER_LIST.dump_json([to_read(row) for row in found]), media_type="application/json"
    )


class PhoneLookupRoute(DirectRoute):
    """``GET /v1/customers`` with the agents' lookup, ``?phone=…`` and nothing else (the
    phone within its declared length), given its arguments directly: the runtime, the caller
    through the same dependency, the phone as FastAPI would pass it."""

    async def direct_arguments(self, request: Request) -> dict[str, Any] | None:
        phone = _phone_alone(request.query_params)
        if phone is None:
            return None
        runtime = await get_identity_runtime(request)
        return {"runtime": runtime, "principal": await lookup_agent(request), "phone": phone}


def _phone_alone(query: QueryParams) -> str | None:
    """The phone of a query that is one ``phone`` within its declared length, else None."""
    items = query.multi_items()
    if len(items) != 1:
        return None
    name, value = items[0]
    return value if name == "phone" and 0 < len(value) <= PHONE_MAX_LENGTH else None


router.add_api_route(
    "",
    find_customers,
    methods=["GET"],
    route_class_override=PhoneLookupRoute,
    response_model=list[CustomerRead],
    summary="Identify a customer by phone or contract number, or search by name",
    description=(
        "Exactly one of `phone` (any Algerian spelling; matches the customer's phone and "
        "their contracts' line numbers), `contract` (as typed: spaces, no dashes, lower "
        "case are fine; the check digit is verified) or `q` (a name in Latin or Arabic "
        "script, ranked best first). Only customers in the caller's wilayas are returned."
    ),
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
    created = await flows.register_customer(
        runtime,
        principal,
        body.model_dump(exclude={"channel"}, mode="json"),
        channel=body.channel,
        idempotency_key=idempotency_key,
        request=body.model_dump(mode="json"),
    )
    return created.render(response, location=f"/v1/customers/{created.body['id']}")


@router.get("/{customer_id}", response_model=CustomerRead, summary="One customer")
async def get_customer(customer_id: str, runtime: RuntimeDep, principal: Caller) -> CustomerRead:
    async with runtime.session_factory() as session:
        row = await load_row(session, customer_id, reader=principal)
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
    row = await flows.update_customer(
        runtime,
        principal,
        customer_id,
        body.model_dump(include=sent, mode="json"),
        channel=channel,
        if_match=if_match,
    )
    return to_read(row)


def _query_value(parse: Any, value: str, field: str) -> Any:
    try:
        return parse(value)
    except InvalidValue as exc:
        raise Unprocessable.at(f"query.{field}", exc.reason, kind=field) from exc
