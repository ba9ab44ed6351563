"""Algeria's map in identity: read by anyone logged in, searched in either script,
maintained by admins, and addresses checked against it."""

from __future__ import annotations

from sqlalchemy import select

from sila_identity.tables import messaging, timeline_entries
from tests.integration.identity.conftest import Cast, events_of, register
from tests.support import LiveService, bearer, eventually, problem_of, random_mobile


async def test_anyone_logged_in_reads_the_69_wilayas_with_their_names_and_the_reform_split(
    identity: LiveService, cast: Cast
) -> None:
    answer = await identity.client.get("/v1/wilayas", headers=bearer(cast.partner_no_scope))
    assert answer.status_code == 200
    by_code = {w["code"]: w for w in answer.json()}
    bou_saada = by_code["64"]
    assert (bou_saada["name_fr"], bou_saada["name_ar"], bou_saada["name_en"]) == (
        "Bou Saâda",
        "بوسعادة",
        "Bou Saada",
    )
    assert bou_saada["parent_code"] == "28" and bou_saada["established_on"]
    assert by_code["28"]["parent_code"] is None
    assert by_code["16"]["name_en"] == "Algiers"
    nobody = await identity.client.get("/v1/wilayas")
    assert nobody.status_code == 401


async def test_dairas_and_communes_of_a_wilaya_are_listed_and_found_by_name_in_either_script(
    identity: LiveService, cast: Cast
) -> None:
    dairas = await identity.client.get("/v1/wilayas/64/dairas", headers=bearer(cast.agent_16))
    assert dairas.status_code == 200
    assert "Bousaada" in {d["name_fr"] for d in dairas.json()}
    communes = await identity.client.get("/v1/wilayas/64/communes", headers=bearer(cast.agent_16))
    assert {c["wilaya_code"] for c in communes.json()} == {"64"}
    assert len(communes.json()) == 23
    for query in ("bou saâda", "BOUSAADA", "بوسعادة", "بو سعاده"):
        found = await identity.client.get(
            "/v1/communes", headers=bearer(cast.agent_16), params={"q": query}
        )
        assert found.status_code == 200, found.text
        assert [c["name_fr"] for c in found.json()] == ["Bou Saada"], query
    [bou_saada] = found.json()
    assert bou_saada["former_wilaya_code"] == "28" and bou_saada["postal_code"] == "28001"
    everywhere = await identity.client.get("/v1/communes", headers=bearer(cast.agent_16))
    assert len(everywhere.json()) >= 1541
    unknown = await identity.client.get("/v1/wilayas/70/communes", headers=bearer(cast.agent_16))
    assert unknown.status_code == 404


async def test_a_customers_commune_must_be_a_commune_of_their_wilaya(
    identity: LiveService, cast: Cast
) -> None:
    bou_saada = (
        await identity.client.get(
            "/v1/communes", headers=bearer(cast.admin), params={"q": "Bou Saada"}
        )
    ).json()[0]["code"]
    wrong = await identity.client.post(
        "/v1/customers",
        headers=bearer(cast.admin),
        json={
            "first_name": "Salim",
            "last_name": "Rahmani",
            "phone": random_mobile(),
            "wilaya_code": "28",
            "commune_code": bou_saada,
            "language": "fr",
        },
    )
    assert wrong.status_code == 422
    problem = problem_of(wrong)
    assert "Bou Saâda" in problem["detail"] and "M'Sila" in problem["detail"]
    assert {e["field"] for e in problem["errors"]} == {"body.commune_code", "body.wilaya_code"}
    assert (problem["commune_wilaya_code"], problem["wilaya_code"]) == ("64", "28")

    customer = await register(identity, cast.admin, wilaya_code="64", commune_code=bou_saada)
    assert customer["commune_code"] == bou_saada
    [registered] = await events_of(identity, customer["id"], "identity.customer.registered")
    assert registered["data"]["commune_code"] == bou_saada
    moved = await identity.client.patch(
        f"/v1/customers/{customer['id']}", headers=bearer(cast.admin), json={"wilaya_code": "28"}
    )
    assert moved.status_code == 422 and problem_of(moved)["commune_wilaya_code"] == "64"
    unknown = await identity.client.patch(
        f"/v1/customers/{customer['id']}",
        headers=bearer(cast.admin),
        json={"commune_code": "6499"},
    )
    assert unknown.status_code == 422
    assert problem_of(unknown)["errors"][0]["field"] == "body.commune_code"


async def test_a_commune_typed_as_people_write_it_is_matched_to_the_reference(
    identity: LiveService, cast: Cast
) -> None:
    customer = await register(identity, cast.agent_15, commune="draâ ben khedda")
    assert customer["commune"] == "draâ ben khedda"
    reference = await identity.client.get(
        f"/v1/communes/{customer['commune_code']}", headers=bearer(cast.agent_15)
    )
    assert reference.json()["name_fr"] == "Draa-Ben-Khedda"
    street_only = await register(identity, cast.agent_15, commune="Quartier des Oliviers")
    assert street_only["commune_code"] is None


async def test_admins_add_and_move_a_commune_and_others_may_not(
    identity: LiveService, cast: Cast
) -> None:
    daira = (await identity.client.get("/v1/wilayas/15/dairas", headers=bearer(cast.admin))).json()
    body = {
        "code": "1599",
        "daira_code": daira[0]["code"],
        "name_fr": "Tala Oumadi",
        "name_ar": "تالة أومادي",
        "name_en": "Tala Oumadi",
    }
    refused = await identity.client.post(
        "/v1/admin/identity/communes", headers=bearer(cast.agent_15), json=body
    )
    assert refused.status_code == 403
    created = await identity.client.post(
        "/v1/admin/identity/communes", headers=bearer(cast.admin), json=body
    )
    assert created.status_code == 201, created.text
    again = await identity.client.post(
        "/v1/admin/identity/communes", headers=bearer(cast.admin), json=body
    )
    assert again.status_code == 409
    found = await identity.client.get(
        "/v1/wilayas/15/communes", headers=bearer(cast.agent_15), params={"q": "تالة"}
    )
    assert [c["code"] for c in found.json()] == [body["code"]]
    moved = await identity.client.patch(
        f"/v1/admin/identity/communes/{body['code']}",
        headers=bearer(cast.admin),
        json={"daira_code": "0601"},
    )
    assert moved.status_code == 200, moved.text
    assert (moved.json()["wilaya_code"], moved.json()["former_wilaya_code"]) == ("06", "15")

    # Each edit is an event with the place as it is after it (the refused ones none), keyed
    # by `geography`, for tickets and notify to lay over their shipped copy.
    edits = [
        e
        for e in await events_of(identity, "geography", "identity.geography.changed")
        if e["subject"] == "commune:1599"
    ]
    assert [(e["data"]["change"], e["data"]["wilaya_code"]) for e in edits] == [
        ("created", "15"),
        ("updated", "06"),
    ]
    assert edits[1]["data"]["former_wilaya_code"] == "15"
    assert edits[1]["data"]["name_ar"] == "تالة أومادي"
    assert {e["customerid"] for e in edits} == {"geography"}

    # They are about no customer: identity's timeline consumer takes them and writes nothing.
    inbox = messaging.inbox
    ids = [e["id"] for e in edits]

    async def handled() -> bool:
        async with identity.runtime.session_factory() as session:
            seen = set(
                await session.scalars(
                    select(inbox.c.event_id).where(
                        inbox.c.consumer == "identity.timeline", inbox.c.event_id.in_(ids)
                    )
                )
            )
        return seen == set(ids)

    await eventually(handled, what="the timeline consumer taking the edits")
    async with identity.runtime.session_factory() as session:
        entries = await session.scalar(
            select(timeline_entries.c.id).where(timeline_entries.c.event_id.in_(ids))
        )
    assert entries is None


async def test_communes_the_reference_cannot_place_are_listed_for_an_agent_who_fixes_them(
    identity: LiveService, cast: Cast
) -> None:
    customer = await register(identity, cast.agent_15, commune="Village Agouni Boufal")
    assert customer["commune_code"] is None

    contract = await identity.client.post(
        f"/v1/customers/{customer['id']}/contracts",
        headers=bearer(cast.agent_15),
        json={"offer_code": "IDOOM_FIBRE_100M", "installation_commune": "Agouni Boufal"},
    )
    assert contract.status_code == 201 and contract.json()["installation_commune_code"] is None

    async def listed(token: str, kind: str = "customer") -> list[dict[str, object]]:
        items: list[dict[str, object]] = []
        cursor: str | None = None
        while True:
            page = await identity.client.get(
                "/v1/admin/identity/communes/unmatched",
                headers=bearer(token),
                params={"limit": "200", "kind": kind} | ({"cursor": cursor} if cursor else {}),
            )
            assert page.status_code == 200, page.text
            items += page.json()["items"]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                return items

    [entry] = [e for e in await listed(cast.agent_15) if e["customer_id"] == customer["id"]]
    assert (entry["kind"], entry["text"], entry["wilaya_code"]) == (
        "customer",
        "Village Agouni Boufal",
        "15",
    )
    assert customer["id"] not in {e["customer_id"] for e in await listed(cast.agent_16)}
    [installation] = [
        e for e in await listed(cast.agent_15, "contract") if e["customer_id"] == customer["id"]
    ]
    assert (installation["id"], installation["text"]) == (contract.json()["id"], "Agouni Boufal")
    tizi = (
        await identity.client.get(
            "/v1/wilayas/15/communes", headers=bearer(cast.agent_15), params={"q": "tizi ouzou"}
        )
    ).json()[0]["code"]
    fixed = await identity.client.patch(
        f"/v1/customers/{customer['id']}",
        headers=bearer(cast.agent_15),
        json={"commune_code": tizi},
    )
    assert fixed.status_code == 200 and fixed.json()["commune_code"] == tizi
    assert fixed.json()["commune"] == "Village Agouni Boufal"
    assert customer["id"] not in {e["customer_id"] for e in await listed(cast.agent_15)}
    placed = await identity.client.patch(
        f"/v1/customers/{customer['id']}/contracts/{contract.json()['id']}",
        headers=bearer(cast.agent_15),
        json={"installation_commune_code": tizi},
    )
    assert placed.status_code == 200, placed.text
    assert placed.json()["installation_commune_code"] == tizi
    assert contract.json()["id"] not in {e["id"] for e in await listed(cast.agent_15, "contract")}
    [updated] = await events_of(identity, customer["id"], "identity.contract.updated")
    assert updated["data"]["changed"] == ["installation_commune_code"]


async def test_a_contract_reads_its_installation_commune_by_the_name_an_admin_gave_it_last(
    identity: LiveService, cast: Cast
) -> None:
    daira = (await identity.client.get("/v1/wilayas/15/dairas", headers=bearer(cast.admin))).json()
    commune = {
        "code": "1598",
        "daira_code": daira[0]["code"],
        "name_fr": "Ighil Bouzel",
        "name_ar": "إغيل بوزل",
        "name_en": "Ighil Bouzel",
    }
    created = await identity.client.post(
        "/v1/admin/identity/communes", headers=bearer(cast.admin), json=commune
    )
    assert created.status_code == 201, created.text
    customer = await register(identity, cast.agent_15)
    contracts_path = f"/v1/customers/{customer['id']}/contracts"
    signed = await identity.client.post(
        contracts_path,
        headers=bearer(cast.agent_15),
        json={
            "offer_code": "IDOOM_FIXE",
            "installation_commune": "ighil bouzel",
            "installation_commune_code": "1598",
        },
    )
    assert signed.status_code == 201, signed.text
    contract = signed.json()
    assert contract["installation_commune"] == "Ighil Bouzel"

    renamed = await identity.client.patch(
        "/v1/admin/identity/communes/1598",
        headers=bearer(cast.admin),
        json={"name_fr": "Ighil Bouzel Centre", "name_en": "Ighil Bouzel Centre"},
    )
    assert renamed.status_code == 200, renamed.text

    one = await identity.client.get(
        f"{contracts_path}/{contract['id']}", headers=bearer(cast.agent_15)
    )
    assert one.status_code == 200, one.text
    assert one.json()["installation_commune"] == "Ighil Bouzel Centre"
    assert one.json()["installation_commune_code"] == "1598"
    listed = await identity.client.get(contracts_path, headers=bearer(cast.agent_15))
    assert [c["installation_commune"] for c in listed.json()] == ["Ighil Bouzel Centre"]
    # Placing the installation again (the address only) answers the current name too.
    placed = await identity.client.patch(
        f"{contracts_path}/{contract['id']}",
        headers=bearer(cast.agent_15),
        json={"installation_commune_code": "1598", "installation_address": "Village Ighil"},
    )
    assert placed.status_code == 200, placed.text
    assert placed.json()["installation_commune"] == "Ighil Bouzel Centre"
