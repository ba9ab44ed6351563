"""Every identity endpoint against every kind of caller: the status each one gets.

Callers: anonymous, customer A (the customer the paths name), customer B (another
customer), an agent serving A's wilaya, an agent serving another wilaya, a supervisor
of A's wilaya, an admin, and a partner with no scope. A customer or an out-of-scope
agent asking for someone else's data gets 404 (existence is not revealed); a caller
lacking the role or scope for a whole endpoint gets 403.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.conftest import create_agent
from tests.integration.identity.conftest import PASSWORD, Cast, customer_token, register
from tests.support import LiveService, bearer, random_mobile

CALLERS = (
    "anonymous",
    "customer_a",
    "customer_b",
    "agent_in",
    "agent_out",
    "supervisor",
    "admin",
    "partner",
)


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    body: Callable[[], Any] | None
    # anonymous, customer A, customer B, agent in scope, agent out of scope, supervisor,
    # admin, partner without scope
    expected: tuple[int, int, int, int, int, int, int, int]
    form: bool = False


def new_customer() -> dict[str, Any]:
    return {
        "first_name": "Lyes",
        "last_name": "Amrani",
        "phone": random_mobile(),
        "wilaya_code": "15",
    }


def a_call() -> dict[str, Any]:
    return {
        "channel": "call_centre",
        "direction": "inbound",
        "reason": "information",
        "outcome": "information_given",
        "duration_seconds": 42,
    }


def consent() -> dict[str, Any]:
    return {"purpose": "marketing", "channel": "sms", "granted": True, "captured_via": "app"}


def cases(a: str, contract: str, interaction: str, erasable: str, agent: str) -> list[Case]:
    customer = f"/v1/customers/{a}"
    return [
        # Customers
        Case("POST", "/v1/customers", new_customer, (401, 403, 403, 201, 403, 201, 201, 403)),
        Case("GET", customer, None, (401, 200, 404, 200, 404, 200, 200, 403)),
        Case(
            "PATCH",
            customer,
            lambda: {"email": f"{uuid.uuid4().hex[:8]}@example.dz"},
            (401, 200, 404, 200, 404, 200, 200, 403),
        ),
        Case(
            "GET", "/v1/customers?phone=0550000001", None, (401, 403, 403, 200, 200, 200, 200, 403)
        ),
        Case("GET", "/v1/customers?q=amrani", None, (401, 403, 403, 200, 200, 200, 200, 403)),
        # Contracts
        Case(
            "POST",
            f"{customer}/contracts",
            lambda: {"offer_code": "IDOOM_ADSL_20M"},
            (401, 403, 403, 201, 404, 201, 201, 403),
        ),
        Case("GET", f"{customer}/contracts", None, (401, 200, 404, 200, 404, 200, 200, 403)),
        Case(
            "PATCH",
            f"{customer}/contracts/{contract}",
            lambda: {"installation_commune_code": "1505"},
            (401, 403, 403, 200, 404, 200, 200, 403),
        ),
        Case(
            "GET",
            f"{customer}/contracts/{contract}",
            None,
            (401, 200, 404, 200, 404, 200, 200, 403),
        ),
        # Interactions
        Case("POST", f"{customer}/interactions", a_call, (401, 403, 403, 201, 404, 201, 201, 403)),
        Case("GET", f"{customer}/interactions", None, (401, 403, 403, 200, 404, 200, 200, 403)),
        Case(
            "GET",
            f"{customer}/interactions/{interaction}",
            None,
            (401, 403, 403, 200, 404, 200, 200, 403),
        ),
        # Timeline
        Case("GET", f"{customer}/timeline", None, (401, 200, 404, 200, 404, 200, 200, 403)),
        # Personal data
        Case("POST", f"{customer}/consents", consent, (401, 201, 404, 201, 404, 201, 201, 403)),
        Case("GET", f"{customer}/consents", None, (401, 200, 404, 200, 404, 200, 200, 403)),
        Case("GET", f"{customer}/export", None, (401, 200, 404, 403, 403, 200, 200, 403)),
        Case(
            "POST",
            f"/v1/customers/{erasable}/erasure",
            None,
            (401, 403, 403, 403, 403, 200, 200, 403),
        ),
        # Log-in
        Case(
            "POST",
            "/v1/auth/otp",
            lambda: {"phone": random_mobile()},
            (202, 202, 202, 202, 202, 202, 202, 202),
        ),
        Case("GET", "/.well-known/jwks.json", None, (200,) * 8),
        Case("POST", "/v1/oauth/revoke", lambda: {"token": "unknown"}, (200,) * 8, form=True),
        Case(
            "POST",
            "/v1/auth/logout",
            lambda: {"everywhere": False},
            (401, 204, 204, 204, 204, 204, 204, 204),
        ),
        # Reference data and administration
        Case("GET", "/v1/wilayas", None, (401, 200, 200, 200, 200, 200, 200, 200)),
        Case("GET", "/v1/wilayas/64/dairas", None, (401, 200, 200, 200, 200, 200, 200, 200)),
        Case("GET", "/v1/communes?q=azazga", None, (401, 200, 200, 200, 200, 200, 200, 200)),
        Case(
            "GET",
            "/v1/admin/identity/communes/unmatched",
            None,
            (401, 403, 403, 200, 200, 200, 200, 403),
        ),
        Case(
            "GET",
            "/v1/admin/identity/reform/scope-grants",
            None,
            (401, 403, 403, 403, 403, 403, 200, 403),
        ),
        Case(
            "PATCH",
            "/v1/admin/identity/wilayas/64",
            lambda: {"name_en": "Bou Saada"},
            (401, 403, 403, 403, 403, 403, 200, 403),
        ),
        Case("GET", "/v1/admin/identity/agents", None, (401, 403, 403, 403, 403, 403, 200, 403)),
        Case(
            "GET",
            f"/v1/admin/identity/agents/{agent}",
            None,
            (401, 403, 403, 403, 403, 403, 200, 403),
        ),
        Case(
            "PATCH",
            f"/v1/admin/identity/agents/{agent}",
            lambda: {"agency": "ACTEL Azazga"},
            (401, 403, 403, 403, 403, 403, 200, 403),
        ),
        Case(
            "POST",
            "/v1/admin/identity/agents",
            lambda: {
                "username": f"m{uuid.uuid4().hex[:8]}",
                "display_name": "Matrix",
                "password": PASSWORD,
                "roles": ["agent"],
                "wilayas": ["15"],
            },
            (401, 403, 403, 403, 403, 403, 201, 403),
        ),
        Case("GET", "/v1/admin/identity/partners", None, (401, 403, 403, 403, 403, 403, 200, 403)),
        Case(
            "POST",
            "/v1/admin/identity/partners",
            lambda: {"name": "Matrix partner"},
            (401, 403, 403, 403, 403, 403, 201, 403),
        ),
        Case(
            "GET",
            f"/v1/admin/identity/audit?customer_id={a}",
            None,
            (401, 403, 403, 403, 403, 403, 200, 403),
        ),
        Case("GET", "/v1/admin/identity/keys", None, (401, 403, 403, 403, 403, 403, 200, 403)),
    ]


async def test_every_endpoint_answers_every_kind_of_caller_as_the_matrix_says(
    identity: LiveService, cast: Cast
) -> None:
    a = await register(identity, cast.agent_15)
    b = await register(identity, cast.agent_15)
    erasable = await register(identity, cast.agent_15)
    contract = (
        await identity.client.post(
            f"/v1/customers/{a['id']}/contracts",
            headers=bearer(cast.agent_15),
            json={"offer_code": "IDOOM_FIXE"},
        )
    ).json()["id"]
    interaction = (
        await identity.client.post(
            f"/v1/customers/{a['id']}/interactions", headers=bearer(cast.agent_15), json=a_call()
        )
    ).json()["id"]
    agent = await create_agent(
        identity, f"target-{uuid.uuid4().hex[:6]}", PASSWORD, ["agent"], ["15"]
    )
    tokens: dict[str, str | None] = {
        "anonymous": None,
        "customer_a": await customer_token(identity, a["id"]),
        "customer_b": await customer_token(identity, b["id"]),
        "agent_in": cast.agent_15,
        "agent_out": cast.agent_16,
        "supervisor": cast.supervisor_15,
        "admin": cast.admin,
        "partner": cast.partner_no_scope,
    }
    mismatches: list[str] = []
    checked = 0
    for case in cases(a["id"], contract, interaction, erasable["id"], agent):
        for caller, expected in zip(CALLERS, case.expected, strict=True):
            token = tokens[caller]
            headers = bearer(token) if token else {}
            body = case.body() if case.body else None
            answer = await identity.client.request(
                case.method,
                case.path,
                headers=headers,
                **({"data": body} if case.form else {"json": body} if body is not None else {}),
            )
            checked += 1
            if answer.status_code != expected:
                mismatches.append(
                    f"{case.method} {case.path} as {caller}: {answer.status_code} "
                    f"(expected {expected}) {answer.text[:160]}"
                )
            elif answer.status_code >= 400:
                assert answer.headers["content-type"].startswith("application/problem+json")
    assert not mismatches, "\n".join(mismatches)
    assert checked == len(CALLERS) * len(cases("a", "c", "i", "e", "g"))
