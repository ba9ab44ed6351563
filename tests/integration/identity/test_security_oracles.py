"""Security case 4 (docs/security.md): outside their wilayas an agent learns nothing of a
customer, not even that one exists. A duplicate phone or NIN is still refused (409), but
the answer names the existing customer only to an agent who may read them."""

from __future__ import annotations

import uuid

from tests.integration.security_support import new_agent, new_customer
from tests.support import LiveService, problem_of, random_mobile


def random_nin() -> str:
    import random

    return "".join(str(random.randrange(10)) for _ in range(18))


async def test_a_duplicate_outside_the_agents_wilayas_is_refused_without_naming_anyone(
    identity: LiveService, admin_token: str
) -> None:
    tizi = await new_agent(identity, admin_token, ["agent"], ["15"])
    alger = await new_agent(identity, admin_token, ["agent"], ["16"])
    phone, nin = random_mobile(), random_nin()
    existing = await new_customer(identity, alger, wilaya="16", phone=phone, national_id=nin)

    for field, value in (("phone", phone), ("national_id", nin)):
        body = {
            "first_name": "Yacine",
            "last_name": "Hamdi",
            "phone": random_mobile(),
            "wilaya_code": "15",
            field: value,
        }
        refused = await identity.client.post("/v1/customers", headers=tizi.auth, json=body)
        assert refused.status_code == 409, refused.text
        problem = problem_of(refused)
        assert problem["type"].endswith("/duplicate-customer")
        assert "existing_customer_id" not in problem
        assert existing["id"] not in refused.text

    # In scope, the agent is told who it is (to open the existing record instead).
    named = await identity.client.post(
        "/v1/customers",
        headers=alger.auth,
        json={"first_name": "Yacine", "last_name": "Hamdi", "phone": phone, "wilaya_code": "16"},
    )
    assert named.status_code == 409
    assert problem_of(named)["existing_customer_id"] == existing["id"]

    # Changing one's own customer's phone to it: the same refusal, the same silence.
    mine = await new_customer(identity, tizi)
    moved = await identity.client.patch(
        f"/v1/customers/{mine['id']}", headers=tizi.auth, json={"phone": phone}
    )
    assert moved.status_code == 409
    assert existing["id"] not in moved.text

    # Nothing was written by the refused attempts: the number still finds one customer.
    found = await identity.client.get("/v1/customers", headers=alger.auth, params={"phone": phone})
    assert [c["id"] for c in found.json()] == [existing["id"]]
    hidden = await identity.client.get(f"/v1/customers/{existing['id']}", headers=tizi.auth)
    assert hidden.status_code == 404


async def test_an_agent_who_never_reads_customers_cannot_tell_whether_one_exists(
    identity: LiveService, admin_token: str
) -> None:
    """Marketing reads no customer's records: every per-customer read answers it the same
    403 for a customer that exists (in its wilaya or not) and for a made-up id."""
    marketing = await new_agent(identity, admin_token, ["marketing"], ["15"])
    front = await new_agent(identity, admin_token, ["agent"], ["15"])
    existing = await new_customer(identity, front, wilaya="15")
    made_up = str(uuid.uuid4())
    for path in (
        "",
        "/timeline",
        "/contracts",
        f"/contracts/{uuid.uuid4()}",
        "/interactions",
        "/consents",
    ):
        answers = [
            await identity.client.get(f"/v1/customers/{customer}{path}", headers=marketing.auth)
            for customer in (existing["id"], made_up)
        ]
        assert [a.status_code for a in answers] == [403, 403], (path, [a.text for a in answers])
        assert problem_of(answers[0])["detail"] == problem_of(answers[1])["detail"]
