"""The admin API: agents, partners, wilayas, and the audit log of customer reads."""

from __future__ import annotations

import uuid

import jwt

from tests.integration.identity.conftest import PASSWORD, Cast, register
from tests.support import LiveService, bearer, problem_of


async def test_an_admin_creates_an_agent_who_logs_in_with_the_roles_and_scope_given(
    identity: LiveService, cast: Cast
) -> None:
    username = f"nadia.{uuid.uuid4().hex[:6]}"
    created = await identity.client.post(
        "/v1/admin/identity/agents",
        headers=bearer(cast.admin),
        json={
            "username": username,
            "display_name": "Nadia Ouali",
            "password": PASSWORD,
            "roles": ["agent", "supervisor"],
            "wilayas": ["15", "6"],
            "agency": "ACTEL Tizi Ouzou centre",
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["wilayas"] == ["06", "15"]
    login = await identity.client.post(
        "/v1/oauth/token",
        data={"grant_type": "password", "username": username, "password": PASSWORD},
    )
    claims = jwt.decode(login.json()["access_token"], options={"verify_signature": False})
    assert claims["roles"] == ["agent", "supervisor"]
    assert claims["wilayas"] == ["06", "15"]
    assert claims["agency"] == "ACTEL Tizi Ouzou centre"

    duplicate = await identity.client.post(
        "/v1/admin/identity/agents",
        headers=bearer(cast.admin),
        json={
            "username": username,
            "display_name": "Other",
            "password": PASSWORD,
            "roles": ["agent"],
            "wilayas": ["15"],
        },
    )
    assert duplicate.status_code == 409


async def test_agent_roles_and_wilayas_are_checked_against_what_exists(
    identity: LiveService, cast: Cast
) -> None:
    for field, value in (("roles", ["wizard"]), ("wilayas", ["70"])):
        body = {
            "username": f"x{uuid.uuid4().hex[:6]}",
            "display_name": "Xavier",
            "password": PASSWORD,
            "roles": ["agent"],
            "wilayas": ["15"],
        } | {field: value}
        answer = await identity.client.post(
            "/v1/admin/identity/agents", headers=bearer(cast.admin), json=body
        )
        assert answer.status_code == 422, (field, answer.text)
        assert field in str(problem_of(answer)["errors"])


async def test_the_wilayas_of_the_2025_reform_are_known_and_a_law_adds_more_through_the_api(
    identity: LiveService, cast: Cast
) -> None:
    listed = await identity.client.get("/v1/wilayas", headers=bearer(cast.agent_15))
    codes = [w["code"] for w in listed.json()]
    assert codes[:69] == [f"{code:02d}" for code in range(1, 70)]
    again = await identity.client.post(
        "/v1/admin/identity/wilayas",
        headers=bearer(cast.admin),
        json={"code": "60", "name_fr": "Wilaya 60", "name_ar": "الولاية 60"},
    )
    assert again.status_code == 409
    customer = await register(identity, cast.admin, wilaya_code="60")
    assert customer["wilaya_code"] == "60"


async def test_reading_a_customer_is_audited_with_who_and_what_but_no_values(
    identity: LiveService, cast: Cast
) -> None:
    customer = await register(identity, cast.agent_15)
    await identity.client.get(f"/v1/customers/{customer['id']}", headers=bearer(cast.agent_15))
    await identity.client.get(
        "/v1/customers", headers=bearer(cast.agent_15), params={"phone": customer["phone"]}
    )
    await identity.client.get(
        f"/v1/customers/{customer['id']}/timeline", headers=bearer(cast.agent_15)
    )
    answer = await identity.client.get(
        "/v1/admin/identity/audit",
        headers=bearer(cast.admin),
        params={"customer_id": customer["id"]},
    )
    assert answer.status_code == 200
    entries = answer.json()["items"]
    assert [e["action"] for e in entries] == [
        "timeline.read",
        "customer.lookup",
        "customer.read",
        "customer.create",
    ]
    assert {e["actor_id"] for e in entries} == {cast.agent_15_id}
    assert customer["phone"] not in answer.text

    page = await identity.client.get(
        "/v1/admin/identity/audit",
        headers=bearer(cast.admin),
        params={"customer_id": customer["id"], "limit": 3},
    )
    rest = await identity.client.get(
        "/v1/admin/identity/audit",
        headers=bearer(cast.admin),
        params={"customer_id": customer["id"], "cursor": page.json()["next_cursor"]},
    )
    assert [e["action"] for e in rest.json()["items"]] == ["customer.create"]


async def test_a_disabled_partner_gets_no_token_and_its_old_token_is_refused(
    identity: LiveService, cast: Cast
) -> None:
    created = (
        await identity.client.post(
            "/v1/admin/identity/partners",
            headers=bearer(cast.admin),
            json={"name": "Ex-partner", "scopes": ["timeline:read"]},
        )
    ).json()
    form = {
        "grant_type": "client_credentials",
        "client_id": created["client_id"],
        "client_secret": created["client_secret"],
    }
    token = (await identity.client.post("/v1/oauth/token", data=form)).json()["access_token"]
    customer = await register(identity, cast.agent_15)
    url = f"/v1/customers/{customer['id']}/timeline"
    assert (await identity.client.get(url, headers=bearer(token))).status_code == 200
    await identity.client.patch(
        f"/v1/admin/identity/partners/{created['id']}",
        headers=bearer(cast.admin),
        json={"disabled": True},
    )
    assert (await identity.client.get(url, headers=bearer(token))).status_code == 401
    assert (await identity.client.post("/v1/oauth/token", data=form)).status_code == 401
    rotated = await identity.client.post(
        f"/v1/admin/identity/partners/{created['id']}/secret", headers=bearer(cast.admin)
    )
    assert rotated.json()["client_secret"] != created["client_secret"]
