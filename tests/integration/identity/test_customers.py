"""Customers against PostgreSQL: registration rules, updates and status, identification."""

from __future__ import annotations

import random
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import select

from sila_common.auth import Principal
from sila_common.db import make_engine
from sila_identity.directory import load_row, to_read
from sila_identity.flows.audit import read_row
from sila_identity.queries import by_phone_audited
from sila_identity.tables import audit_log
from tests.integration.identity.conftest import Cast, events_of, register
from tests.support import (
    FastApiSolving,
    LiveService,
    bearer,
    drop_the_pools_connection,
    problem_of,
    random_mobile,
    without_correlation,
)


def random_nin() -> str:
    return "1" + "".join(random.choice("0123456789") for _ in range(17))


async def test_a_professional_customer_is_registered_with_company_details_and_normalised_ids(
    identity: LiveService, cast: Cast
) -> None:
    mobile = random_mobile()
    created = await register(
        identity,
        cast.agent_15,
        kind="professional",
        first_name=None,
        last_name=None,
        company_name="SARL Djurdjura Informatique",
        legal_form="SARL",
        trade_register_number="15/00 - 1234567 b 18",
        tax_id="0001 1500 1234 567",
        phone="0" + mobile[4:],
        email="contact@djurdjura.dz",
        commune="Azazga",
        address="Rue Larbi Ben M'hidi",
        language="ar-DZ",
    )
    assert created["kind"] == "professional"
    assert created["display_name"] == "SARL Djurdjura Informatique"
    assert created["trade_register_number"] == "15/00-1234567 B 18"
    assert created["tax_id"] == "000115001234567"
    assert created["phone"] == mobile
    assert created["language"] == "ar"
    assert created["status"] == "active"

    [event] = await events_of(identity, created["id"], "identity.customer.registered")
    data = event["data"]
    assert data["phone"] == mobile
    assert data["email"] == "contact@djurdjura.dz"
    assert data["commune"] == "Azazga"
    assert data["display_name"] == "SARL Djurdjura Informatique"


async def test_a_customer_named_only_in_arabic_is_accepted_and_the_nin_is_masked_on_reads(
    identity: LiveService, cast: Cast
) -> None:
    nin = random_nin()
    spaced = " ".join(nin[i : i + 6] for i in range(0, 18, 6))
    created = await register(
        identity,
        cast.agent_15,
        first_name=None,
        last_name=None,
        first_name_ar="ياسمينة",
        last_name_ar="بن علي",
        national_id=spaced,
    )
    assert created["display_name"] == "ياسمينة بن علي"
    assert created["national_id"] == "*" * 14 + nin[-4:]


async def test_invalid_fields_are_refused_with_the_field_named(
    identity: LiveService, cast: Cast
) -> None:
    cases = {
        "phone": {"phone": "0412 34 56 78"},
        "national_id": {"national_id": "12345"},
        "wilaya_code": {"wilaya_code": "99"},
        "first_name": {"first_name": "كريم"},
        "email": {"email": "not-an-email"},
        "company_name": {"company_name": "SARL X"},
    }
    for field, override in cases.items():
        body = {
            "first_name": "Karim",
            "last_name": "Kaci",
            "phone": random_mobile(),
            "wilaya_code": "15",
        } | override
        answer = await identity.client.post(
            "/v1/customers", headers=bearer(cast.agent_15), json=body
        )
        assert answer.status_code == 422, (field, answer.text)
        problem = problem_of(answer)
        named = " ".join(f"{error['field']} {error['message']}" for error in problem["errors"])
        assert field in named, (field, problem)


async def test_a_wilaya_an_admin_retired_from_the_reference_table_is_refused(
    identity: LiveService, cast: Cast
) -> None:
    admin = bearer(cast.admin)
    retired = await identity.client.patch(
        "/v1/admin/identity/wilayas/54", headers=admin, json={"active": False}
    )
    assert retired.status_code == 200 and retired.json()["active"] is False
    try:
        answer = await identity.client.post(
            "/v1/customers",
            headers=admin,
            json={
                "first_name": "A",
                "last_name": "B",
                "phone": random_mobile(),
                "wilaya_code": "54",
            },
        )
    finally:
        await identity.client.patch(
            "/v1/admin/identity/wilayas/54", headers=admin, json={"active": True}
        )
    assert answer.status_code == 422
    assert problem_of(answer)["errors"][0]["field"] == "body.wilaya_code"


async def test_a_duplicate_phone_or_nin_is_a_409_naming_the_existing_customer(
    identity: LiveService, cast: Cast
) -> None:
    nin = random_nin()
    first = await register(identity, cast.agent_15, national_id=nin)
    by_phone = await identity.client.post(
        "/v1/customers",
        headers=bearer(cast.agent_15),
        json={
            "first_name": "Other",
            "last_name": "Person",
            "phone": "00" + first["phone"][1:],
            "wilaya_code": "15",
        },
    )
    assert by_phone.status_code == 409
    assert problem_of(by_phone)["existing_customer_id"] == first["id"]
    by_nin = await identity.client.post(
        "/v1/customers",
        headers=bearer(cast.agent_15),
        json={
            "first_name": "Other",
            "last_name": "Person",
            "phone": random_mobile(),
            "wilaya_code": "15",
            "national_id": nin,
        },
    )
    assert by_nin.status_code == 409
    assert problem_of(by_nin)["existing_customer_id"] == first["id"]


async def test_an_agent_cannot_register_a_customer_outside_their_wilayas(
    identity: LiveService, cast: Cast
) -> None:
    answer = await identity.client.post(
        "/v1/customers",
        headers=bearer(cast.agent_16),
        json={"first_name": "A", "last_name": "B", "phone": random_mobile(), "wilaya_code": "15"},
    )
    assert answer.status_code == 403


async def test_the_same_idempotency_key_registers_once(identity: LiveService, cast: Cast) -> None:
    key = uuid.uuid4().hex
    body = {
        "first_name": "Sami",
        "last_name": "Haddad",
        "phone": random_mobile(),
        "wilaya_code": "15",
    }
    headers = bearer(cast.agent_15) | {"Idempotency-Key": key}
    first = await identity.client.post("/v1/customers", headers=headers, json=body)
    again = await identity.client.post("/v1/customers", headers=headers, json=body)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"


async def test_an_update_changes_the_fields_bumps_the_version_and_emits_the_whole_state(
    identity: LiveService, cast: Cast
) -> None:
    customer = await register(identity, cast.agent_15)
    new_phone = random_mobile()
    answer = await identity.client.patch(
        f"/v1/customers/{customer['id']}",
        headers=bearer(cast.agent_15) | {"If-Match": '"1"'},
        json={"phone": new_phone, "email": "karim@example.dz", "commune": "Draâ Ben Khedda"},
    )
    assert answer.status_code == 200, answer.text
    updated = answer.json()
    assert (updated["phone"], updated["email"], updated["version"]) == (
        new_phone,
        "karim@example.dz",
        2,
    )
    [event] = await events_of(identity, customer["id"], "identity.customer.updated")
    assert event["data"]["changed"] == ["commune", "commune_code", "email", "phone"]
    assert event["data"]["commune_code"] == updated["commune_code"] is not None
    assert event["data"]["phone"] == new_phone
    assert event["data"]["wilaya_code"] == "15"
    assert event["data"]["display_name"] == "Karim Aït Saïd"

    stale = await identity.client.patch(
        f"/v1/customers/{customer['id']}",
        headers=bearer(cast.agent_15) | {"If-Match": '"1"'},
        json={"email": "other@example.dz"},
    )
    assert stale.status_code == 412
    assert problem_of(stale)["current_version"] == 2


async def test_status_moves_follow_the_lifecycle_and_a_refused_move_lists_the_allowed_ones(
    identity: LiveService, cast: Cast
) -> None:
    customer = await register(identity, cast.agent_15, status="prospect")
    url = f"/v1/customers/{customer['id']}"
    refused = await identity.client.patch(
        url, headers=bearer(cast.agent_15), json={"status": "suspended"}
    )
    assert refused.status_code == 409
    assert problem_of(refused)["allowed_transitions"] == ["active", "closed"]
    for target in ("active", "suspended", "active", "closed"):
        moved = await identity.client.patch(
            url, headers=bearer(cast.agent_15), json={"status": target}
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["status"] == target


async def test_a_customer_changes_their_own_email_and_language_but_not_their_name(
    identity: LiveService, cast: Cast
) -> None:
    from tests.integration.identity.conftest import customer_token

    customer = await register(identity, cast.agent_15)
    token = await customer_token(identity, customer["id"])
    url = f"/v1/customers/{customer['id']}"
    ok = await identity.client.patch(
        url, headers=bearer(token), json={"language": "en", "email": "me@example.dz"}
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["language"] == "en"
    refused = await identity.client.patch(url, headers=bearer(token), json={"last_name": "X"})
    assert refused.status_code == 403


async def test_a_customer_is_identified_by_any_spelling_of_their_phone_or_line_number(
    identity: LiveService, cast: Cast
) -> None:
    customer = await register(identity, cast.agent_15)
    national = "0" + customer["phone"][4:]
    spaced = f"{national[:4]} {national[4:6]} {national[6:8]} {national[8:]}"
    found = await identity.client.get(
        "/v1/customers", headers=bearer(cast.agent_15), params={"phone": spaced}
    )
    assert [c["id"] for c in found.json()] == [customer["id"]]

    line = f"+21326{random.randrange(100000, 999999)}"  # a Tizi-Ouzou fixed line
    contract = await identity.client.post(
        f"/v1/customers/{customer['id']}/contracts",
        headers=bearer(cast.agent_15),
        json={"offer_code": "IDOOM_FIXE", "line_number": "0" + line[4:]},
    )
    assert contract.status_code == 201, contract.text
    by_line = await identity.client.get(
        "/v1/customers", headers=bearer(cast.agent_15), params={"phone": line}
    )
    assert [c["id"] for c in by_line.json()] == [customer["id"]]


async def test_a_customer_is_identified_by_a_contract_number_typed_loosely(
    identity: LiveService, cast: Cast
) -> None:
    customer = await register(identity, cast.agent_15)
    contract = await identity.client.post(
        f"/v1/customers/{customer['id']}/contracts",
        headers=bearer(cast.agent_15),
        json={"offer_code": "IDOOM_FIBRE_100M"},
    )
    number = contract.json()["number"]
    loose = number.replace("-", " ").lower()
    found = await identity.client.get(
        "/v1/customers", headers=bearer(cast.agent_15), params={"contract": loose}
    )
    assert [c["id"] for c in found.json()] == [customer["id"]]

    digits = list(number)
    digits[-1] = str((int(digits[-1]) + 1) % 10)
    mistyped = await identity.client.get(
        "/v1/customers", headers=bearer(cast.agent_15), params={"contract": "".join(digits)}
    )
    assert mistyped.status_code == 422
    assert "check digit" in problem_of(mistyped)["detail"]


async def test_lookups_need_exactly_one_criterion_and_stay_within_the_agents_wilayas(
    identity: LiveService, cast: Cast
) -> None:
    customer = await register(identity, cast.agent_15)
    none = await identity.client.get("/v1/customers", headers=bearer(cast.agent_15))
    assert none.status_code == 422
    elsewhere = await identity.client.get(
        "/v1/customers", headers=bearer(cast.agent_16), params={"phone": customer["phone"]}
    )
    assert elsewhere.status_code == 200
    assert elsewhere.json() == []


async def test_name_search_crosses_scripts_and_spellings_and_ranks_the_closest_first(
    identity: LiveService, cast: Cast
) -> None:
    tag = uuid.uuid4().hex[:4]
    wilaya = "06"
    mohamed = await register(
        identity,
        cast.admin,
        first_name="Mohamed",
        last_name="Bouzid",
        first_name_ar="محمد",
        last_name_ar="بوزيد",
        wilaya_code=wilaya,
        address=tag,
    )
    mouhamed = await register(
        identity, cast.admin, first_name="Mouhamed", last_name="Bouzide", wilaya_code=wilaya
    )
    other = await register(
        identity, cast.admin, first_name="Mohamed", last_name="Khelifi", wilaya_code=wilaya
    )

    async def search(q: str) -> list[str]:
        answer = await identity.client.get(
            "/v1/customers", headers=bearer(cast.admin), params={"q": q, "wilaya": wilaya}
        )
        assert answer.status_code == 200, answer.text
        return [c["id"] for c in answer.json()]

    latin = await search("mohamed bouzid")
    assert latin[0] == mohamed["id"]
    assert mouhamed["id"] in latin
    assert other["id"] not in latin
    arabic = await search("محمد بوزيد")
    assert arabic[0] == mohamed["id"]
    assert mouhamed["id"] in arabic
    assert other["id"] not in arabic
    accents = await search("BOUZÎD")
    assert {mohamed["id"], mouhamed["id"]} <= set(accents)


async def test_a_phone_lookup_audits_each_customer_it_shows_and_no_other(
    identity: LiveService, cast: Cast
) -> None:
    # One number: the own phone of a customer of Tizi Ouzou (15), and the line of another
    # customer's contract in Algiers (16). Agent 15 sees, and is audited for, the first only.
    phone = random_mobile()
    holder = await register(identity, cast.agent_15, phone=phone)
    elsewhere = await register(identity, cast.admin, wilaya_code="16")
    contract = await identity.client.post(
        f"/v1/customers/{elsewhere['id']}/contracts",
        headers=bearer(cast.admin),
        json={"offer_code": "IDOOM_FIXE", "line_number": phone},
    )
    assert contract.status_code == 201, contract.text
    correlation = f"lookup-{uuid.uuid4().hex}"

    by_agent = await identity.client.get(
        "/v1/customers",
        headers=bearer(cast.agent_15) | {"X-Request-ID": correlation},
        params={"phone": "0" + phone[4:]},
    )
    by_admin = await identity.client.get(
        "/v1/customers",
        headers=bearer(cast.admin) | {"X-Request-ID": f"{correlation}-admin"},
        params={"phone": phone},
    )

    assert by_agent.status_code == 200, by_agent.text
    assert [c["id"] for c in by_agent.json()] == [holder["id"]]
    assert [c["id"] for c in by_admin.json()] == [holder["id"], elsewhere["id"]], "own first"
    lookups = await lookup_audit(identity, [holder["id"], elsewhere["id"]])
    admin = by_admin_id(lookups, cast.agent_15_id)
    assert sorted(lookups) == sorted(
        [
            (holder["id"], cast.agent_15_id, {"by": "phone"}, correlation),
            (holder["id"], admin, {"by": "phone"}, f"{correlation}-admin"),
            (elsewhere["id"], admin, {"by": "phone"}, f"{correlation}-admin"),
        ],
        key=str,
    )


async def test_a_lookup_by_phone_alone_answers_as_the_same_lookup_solved_by_fastapi(
    identity: LiveService, cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ``?phone=`` alone is given its arguments directly (PhoneLookupRoute); with any other
    # parameter (here the default limit, spelled out) FastAPI solves them. Same answers,
    # same problems, same audit.
    customer = await register(identity, cast.agent_15)
    solving = FastApiSolving(monkeypatch)

    async def both(token: str | None, phone: str) -> tuple[httpx.Response, httpx.Response]:
        headers = bearer(token) if token else {}
        before = solving.count
        plain = await identity.client.get("/v1/customers", headers=headers, params={"phone": phone})
        assert solving.count == before, "a lookup by phone alone is not solved by FastAPI"
        general = await identity.client.get(
            "/v1/customers", headers=headers, params={"phone": phone, "limit": "20"}
        )
        assert solving.count == before + 1
        return plain, general

    plain, general = await both(cast.agent_15, "0" + customer["phone"][4:])
    assert plain.status_code == general.status_code == 200
    assert plain.json() == general.json() == [await customer_read(identity, customer["id"])]
    lookups = await lookup_audit(identity, [customer["id"]])
    assert [(row[0], row[1], row[2]) for row in lookups] == 2 * [
        (customer["id"], cast.agent_15_id, {"by": "phone"})
    ]
    for token, phone, status in (
        (cast.agent_15, "0123", 422),  # not a number
        (cast.agent_15, "+33 1 23 45 67 89", 422),  # not Algerian
        (None, customer["phone"], 401),
        (cast.marketing_15, customer["phone"], 403),
    ):
        plain, general = await both(token, phone)
        assert plain.status_code == general.status_code == status
        assert without_correlation(problem_of(plain)) == without_correlation(problem_of(general))
    long = await identity.client.get(
        "/v1/customers", headers=bearer(cast.agent_15), params={"phone": "0" * 41}
    )
    assert long.status_code == 422
    assert problem_of(long)["errors"][0]["field"] == "query.phone"


async def customer_read(identity: LiveService, customer_id: str) -> dict[str, Any]:
    """The customer as GET /v1/customers/{id} shows them to the administrator."""
    async with identity.runtime.session_factory() as session:
        return to_read(await load_row(session, customer_id)).model_dump(mode="json")


async def lookup_audit(identity: LiveService, customer_ids: list[str]) -> list[tuple[Any, ...]]:
    """(customer, actor, detail, correlation id) of every customer.lookup row of these."""
    log = audit_log
    async with identity.runtime.session_factory() as session:
        rows = await session.execute(
            select(log.c.customer_id, log.c.actor_id, log.c.detail, log.c.correlation_id).where(
                log.c.customer_id.in_(customer_ids), log.c.action == "customer.lookup"
            )
        )
    return [tuple(row) for row in rows]


def by_admin_id(rows: list[tuple[Any, ...]], agent_id: str) -> str:
    """The other actor of the rows: the administrator (whose id the cast does not keep)."""
    [admin] = {row[1] for row in rows} - {agent_id}
    return str(admin)


async def test_a_lookup_on_a_connection_the_server_dropped_fails_once_then_reconnects(
    identity: LiveService, cast: Cast
) -> None:
    customer = await register(identity, cast.agent_15)
    url = identity.runtime.engine.url.render_as_string(hide_password=False)
    engine = make_engine(url, pool_size=1)
    audit_row = read_row(agent_15_principal(cast), "customer.lookup", {"by": "phone"})
    try:
        [found] = await by_phone_audited(engine, customer["phone"], ["15"], audit_row)
        await drop_the_pools_connection(engine, identity.runtime.engine)
        # The driver's own error, once ("connection was closed" / the server's FATAL).
        # (Or "another operation is in progress" when the drop lands mid-protocol.)
        with pytest.raises(
            (asyncpg.InterfaceError, asyncpg.InternalClientError, asyncpg.PostgresError)
        ):
            await by_phone_audited(engine, customer["phone"], ["15"], audit_row)
        [again] = await by_phone_audited(engine, customer["phone"], ["15"], audit_row)
        assert found.id == again.id == customer["id"]
    finally:
        await engine.dispose()


def agent_15_principal(cast: Cast) -> Principal:
    return Principal(
        subject=cast.agent_15_id,
        kind="agent",
        roles=frozenset({"agent"}),
        wilayas=frozenset({"15"}),
    )


async def test_a_contract_names_an_offer_of_the_catalogue_or_is_refused_naming_the_field(
    identity: LiveService, cast: Cast
) -> None:
    customer = await register(identity, cast.agent_15)
    path = f"/v1/customers/{customer['id']}/contracts"
    for code in ("IDOOM_MYSTERY", "IDOOM_ADSL", "FIBRE_100"):
        refused = await identity.client.post(
            path, headers=bearer(cast.agent_15), json={"offer_code": code}
        )
        assert refused.status_code == 422, (code, refused.text)
        problem = problem_of(refused)
        assert [e["field"] for e in problem["errors"]] == ["body.offer_code"], code
        assert "IDOOM_ADSL_10M" in problem["errors"][0]["message"]
    assert (await events_of(identity, customer["id"], "identity.contract.signed")) == []
    signed = await identity.client.post(
        path, headers=bearer(cast.agent_15), json={"offer_code": "IDOOM_ADSL_10M"}
    )
    assert signed.status_code == 201, signed.text
    assert signed.json()["offer_code"] == "IDOOM_ADSL_10M"
