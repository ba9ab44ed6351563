"""Network incidents: customers told, new fault tickets linked, resolution for everyone."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from sila_common.events import CloudEvent
from sila_common.geography_overlay import GEOGRAPHY_CHANGED, GEOGRAPHY_KEY
from sila_tickets.flows.geography import remember_map_change
from sila_tickets.reference import reference_of
from sila_tickets.tables import geography_overlay, known_installations
from tests.integration.identity.conftest import register
from tests.integration.tickets.conftest import MakeCustomer, open_ticket, outbox_events
from tests.support import LiveService, bearer, eventually

# Incidents end in the future, at most 90 days ahead (docs/security.md).
AGENCIES = "/v1/tickets/admin/agencies"
IN_A_WEEK = (datetime.now(UTC) + timedelta(days=7)).isoformat()


async def test_an_incident_tells_its_area_links_new_faults_and_resolves_them_all(
    tickets: LiveService, admin_token: str, make_customer: MakeCustomer
) -> None:
    admin = bearer(admin_token)
    # Zelfana (Ghardaïa): lines installed there; living there is not enough.
    zelfana, metlili = "4710", "4708"
    inside = [await make_customer(wilaya="47", installed_in=zelfana) for _ in range(2)]
    by_address = await make_customer(wilaya="47", commune_code=zelfana)
    living_there_installed_elsewhere = await make_customer(
        wilaya="47", commune_code=zelfana, installed_in=metlili
    )
    outside = await make_customer(wilaya="47", installed_in=metlili)
    end = (datetime.now(UTC) + timedelta(hours=6)).replace(microsecond=0)
    declared = await tickets.client.post(
        "/v1/incidents",
        headers=admin,
        json={
            "service": "adsl",
            "area": {"kind": "commune", "value": "زلفانة", "wilaya_code": "47"},
            "estimated_end_at": end.isoformat(),
        },
    )
    assert declared.status_code == 201, declared.text
    incident = declared.json()
    assert (incident["area_value"], incident["area_label"]) == (zelfana, "Zelfana")
    assert incident["affected_count"] == 2
    told = await outbox_events(tickets, "tickets.incident.customer_affected", incident["id"])
    assert sorted(e["customerid"] for e in told) == sorted(inside)
    assert not {by_address, living_there_installed_elsewhere} & {e["customerid"] for e in told}
    assert told[0]["data"]["i18n"]["area_label"] == {
        "fr": "Zelfana",
        "ar": "زلفانة",
        "en": "Zelfana",
    }
    assert datetime.fromisoformat(told[0]["data"]["estimated_end_at"]) == end

    linked = await open_ticket(tickets, admin, inside[0], service="adsl")
    assert linked["incident_id"] == incident["id"] and linked["assignee_id"] is None
    [opened] = await outbox_events(tickets, "tickets.ticket.opened", linked["id"])
    assert opened["data"]["incident_id"] == incident["id"]
    assert datetime.fromisoformat(opened["data"]["estimated_end_at"]) == end
    other_service = await open_ticket(tickets, admin, inside[1], service="fibre")
    assert other_service["incident_id"] is None
    unrelated = await open_ticket(tickets, admin, outside)
    assert unrelated["incident_id"] is None
    billing = await open_ticket(
        tickets, admin, inside[1], category="administrative", subcategory="billing_dispute"
    )
    assert billing["incident_id"] is None

    resolved = await tickets.client.post(f"/v1/incidents/{incident['id']}/resolve", headers=admin)
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "resolved" and resolved.json()["linked_tickets"] == 1
    ticket = await tickets.client.get(f"/v1/tickets/{linked['id']}", headers=admin)
    assert ticket.json()["status"] == "resolved"
    restored = await outbox_events(tickets, "tickets.incident.customer_restored", incident["id"])
    assert sorted(e["customerid"] for e in restored) == sorted(inside)
    assert restored[0]["data"]["i18n"]["area_label"]["ar"] == "زلفانة"
    again = await tickets.client.post(f"/v1/incidents/{incident['id']}/resolve", headers=admin)
    assert again.status_code == 409
    after = await open_ticket(tickets, admin, inside[0], service="adsl")
    assert after["incident_id"] is None


async def test_an_incident_outside_the_agents_wilayas_is_refused(
    tickets: LiveService, agent_auth
) -> None:
    _, agent = await agent_auth(["agent", "technician"], ["15"])
    answer = await tickets.client.post(
        "/v1/incidents",
        headers=agent,
        json={
            "service": "fibre",
            "area": {"kind": "olt", "value": "OLT-ALG-01", "wilaya_code": "16"},
            "estimated_end_at": IN_A_WEEK,
        },
    )
    assert answer.status_code == 403


async def test_an_exchange_needs_its_wilaya_and_a_customer_cannot_declare(
    tickets: LiveService, admin_token: str, make_customer: MakeCustomer, customer_auth
) -> None:
    body = {
        "service": "fixed",
        "area": {"kind": "exchange", "value": "TO-CENTRAL"},
        "estimated_end_at": IN_A_WEEK,
    }
    answer = await tickets.client.post("/v1/incidents", headers=bearer(admin_token), json=body)
    assert answer.status_code == 422
    mine = await customer_auth(await make_customer())
    refused = await tickets.client.post("/v1/incidents", headers=mine, json=body)
    assert refused.status_code == 403


async def test_an_incident_over_a_place_the_reference_does_not_have_there_is_a_422_naming_it(
    tickets: LiveService, admin_token: str
) -> None:
    admin = bearer(admin_token)
    for area, expected in (
        ({"kind": "commune", "value": "Bou Saada", "wilaya_code": "28"}, "not M'Sila"),
        ({"kind": "commune", "value": "Atlantis", "wilaya_code": "15"}, "Atlantis"),
        ({"kind": "daira", "value": "9999"}, "needs the wilaya_code"),
    ):
        answer = await tickets.client.post(
            "/v1/incidents",
            headers=admin,
            json={"service": "all", "area": area, "estimated_end_at": IN_A_WEEK},
        )
        assert answer.status_code == 422, answer.text
        assert expected in answer.json()["detail"]
        assert answer.json()["errors"][0]["field"] == "body.area.value"


async def test_an_incident_over_a_daira_reaches_the_customers_installed_in_its_communes(
    tickets: LiveService, admin_token: str, make_customer: MakeCustomer
) -> None:
    # Metlili daïra (Ghardaïa): Metlili and Sebseb; Berriane is another daïra.
    in_metlili = await make_customer(wilaya="47", installed_in="4708")
    in_sebseb = await make_customer(wilaya="47", installed_in="4709")
    await make_customer(wilaya="47", installed_in="4701")
    declared = await tickets.client.post(
        "/v1/incidents",
        headers=bearer(admin_token),
        json={
            "service": "fibre",
            "area": {"kind": "daira", "value": "Metlili", "wilaya_code": "47"},
            "estimated_end_at": IN_A_WEEK,
        },
    )
    assert declared.status_code == 201, declared.text
    told = await outbox_events(tickets, "tickets.incident.customer_affected", declared.json()["id"])
    assert {in_metlili, in_sebseb} <= {e["customerid"] for e in told}
    assert len(told) == declared.json()["affected_count"]
    assert all(e["data"]["area_label"] == "Metlili" for e in told)
    await tickets.client.post(
        f"/v1/incidents/{declared.json()['id']}/resolve", headers=bearer(admin_token)
    )


async def test_an_incident_over_a_wilaya_is_labelled_with_its_name_not_its_code(
    tickets: LiveService, admin_token: str, make_customer: MakeCustomer
) -> None:
    customer = await make_customer(wilaya="42")
    declared = await tickets.client.post(
        "/v1/incidents",
        headers=bearer(admin_token),
        json={
            "service": "fibre",
            "area": {"kind": "wilaya", "value": "42"},
            "estimated_end_at": IN_A_WEEK,
        },
    )
    assert declared.status_code == 201, declared.text
    assert declared.json()["area_label"] == "Tipaza"
    told = await outbox_events(tickets, "tickets.incident.customer_affected", declared.json()["id"])
    [mine] = [e for e in told if e["customerid"] == customer]
    assert mine["data"]["i18n"]["area_label"]["ar"] == "تيبازة"
    await tickets.client.post(
        f"/v1/incidents/{declared.json()['id']}/resolve", headers=bearer(admin_token)
    )


async def test_a_commune_an_admin_moves_to_another_daira_takes_its_installations_along(
    identity: LiveService, tickets: LiveService, admin_token: str
) -> None:
    """Identity's admin moves a commune to another daïra; tickets, consuming the edit, places
    the lines installed there in the new daïra at once (not at the contract's next event):
    an incident over the new daïra reaches them, one over the old daïra no longer does."""
    admin = bearer(admin_token)
    dairas = (await identity.client.get("/v1/wilayas/15/dairas", headers=admin)).json()
    old, new = dairas[0], dairas[1]
    created = await identity.client.post(
        "/v1/admin/identity/communes",
        headers=admin,
        json={
            "code": "1597",
            "daira_code": old["code"],
            "name_fr": "Tizi Bouali",
            "name_ar": "تيزي بوعلي",
            "name_en": "Tizi Bouali",
        },
    )
    assert created.status_code == 201, created.text

    async def overlay_daira() -> str | None:
        async with tickets.runtime.session_factory() as session:
            place = await session.scalar(
                select(geography_overlay.c.place).where(
                    geography_overlay.c.kind == "commune", geography_overlay.c.code == "1597"
                )
            )
        return place["daira_code"] if place else None

    await eventually(overlay_daira, timeout=20, what="tickets taking the new commune")
    customer = await register(identity, admin_token, wilaya_code="15")
    signed = await identity.client.post(
        f"/v1/customers/{customer['id']}/contracts",
        headers=admin,
        json={"offer_code": "IDOOM_ADSL_20M", "installation_commune_code": "1597"},
    )
    assert signed.status_code == 201, signed.text
    contract_id = signed.json()["id"]

    async def installed_daira() -> str | None:
        async with tickets.runtime.session_factory() as session:
            daira: str | None = await session.scalar(
                select(known_installations.c.daira_code).where(
                    known_installations.c.contract_id == contract_id
                )
            )
        return daira

    assert (
        await eventually(installed_daira, timeout=20, what="the line in tickets") == (old["code"])
    )

    moved = await identity.client.patch(
        "/v1/admin/identity/communes/1597", headers=admin, json={"daira_code": new["code"]}
    )
    assert moved.status_code == 200, moved.text

    async def followed() -> bool:
        return await installed_daira() == str(new["code"])

    await eventually(followed, timeout=20, what="the line placed in the commune's new daïra")

    async def affected_over(daira: dict[str, str]) -> set[str]:
        declared = await tickets.client.post(
            "/v1/incidents",
            headers=admin,
            json={
                "service": "adsl",
                "area": {"kind": "daira", "value": daira["name_fr"], "wilaya_code": "15"},
                "estimated_end_at": IN_A_WEEK,
            },
        )
        assert declared.status_code == 201, declared.text
        incident = declared.json()["id"]
        told = await outbox_events(tickets, "tickets.incident.customer_affected", incident)
        await tickets.client.post(f"/v1/incidents/{incident}/resolve", headers=admin)
        return {e["customerid"] for e in told}

    assert customer["id"] in await affected_over(new)
    assert customer["id"] not in await affected_over(old)


async def test_a_commune_an_admin_moves_to_another_wilaya_takes_its_agency_and_incident(
    identity: LiveService, tickets: LiveService, admin_token: str
) -> None:
    """Identity's admin moves a commune to a daïra of another wilaya; tickets, consuming the
    edit, moves the agency in it and the active incident over it to that wilaya at once,
    each with its relocation event, so that wilaya's agents see them."""
    admin = bearer(admin_token)
    dairas = (await identity.client.get("/v1/wilayas/15/dairas", headers=admin)).json()
    created = await identity.client.post(
        "/v1/admin/identity/communes",
        headers=admin,
        json={
            "code": "1596",
            "daira_code": dairas[0]["code"],
            "name_fr": "Aït Aggouacha",
            "name_ar": "آيت أقواشة",
            "name_en": "Ait Aggouacha",
        },
    )
    assert created.status_code == 201, created.text

    async def known_to_tickets() -> bool:
        async with tickets.runtime.session_factory() as session:
            return bool(
                await session.scalar(
                    select(geography_overlay.c.code).where(
                        geography_overlay.c.kind == "commune", geography_overlay.c.code == "1596"
                    )
                )
            )

    await eventually(known_to_tickets, timeout=20, what="tickets taking the new commune")
    agency_code = f"15-AA-{uuid.uuid4().hex[:6].upper()}"
    agency = await tickets.client.put(
        AGENCIES,
        headers=admin,
        json={
            "code": agency_code,
            "name": "ACTEL Aït Aggouacha",
            "wilaya_code": "15",
            "commune_code": "1596",
        },
    )
    assert agency.status_code == 200, agency.text
    declared = await tickets.client.post(
        "/v1/incidents",
        headers=admin,
        json={
            "service": "adsl",
            "area": {"kind": "commune", "value": "1596", "wilaya_code": "15"},
            "estimated_end_at": IN_A_WEEK,
        },
    )
    assert declared.status_code == 201, declared.text
    incident_id = declared.json()["id"]

    moved = await identity.client.patch(
        "/v1/admin/identity/communes/1596", headers=admin, json={"daira_code": "0601"}
    )
    assert moved.status_code == 200, moved.text

    async def in_bejaia() -> bool:
        agency = (await tickets.client.get(f"{AGENCIES}/{agency_code}", headers=admin)).json()
        incident = (await tickets.client.get(f"/v1/incidents/{incident_id}", headers=admin)).json()
        return (agency["wilaya_code"], incident["wilaya_code"]) == ("06", "06")

    await eventually(in_bejaia, timeout=20, what="the agency and the incident in Béjaïa")
    relocations = [
        *await outbox_events(tickets, "tickets.agency.relocated", agency_code),
        *await outbox_events(tickets, "tickets.incident.relocated", incident_id),
    ]
    assert [(e["data"]["from_wilaya_code"], e["data"]["reason"]) for e in relocations] == [
        ("15", "map-edit"),
        ("15", "map-edit"),
    ]
    await tickets.client.post(f"/v1/incidents/{incident_id}/resolve", headers=admin)


def commune_edit(code: str, daira_code: str, wilaya_code: str) -> CloudEvent:
    """identity.geography.changed as identity announces an admin's edit of a commune."""
    return CloudEvent(
        id=str(uuid.uuid4()),
        source="/sila/identity",
        type=GEOGRAPHY_CHANGED,
        time=datetime.now(UTC),
        subject=f"commune:{code}",
        dataschema="x",
        customerid=GEOGRAPHY_KEY,
        data={
            "kind": "commune",
            "code": code,
            "change": "updated",
            "name_fr": f"Commune {code}",
            "name_ar": f"بلدية {code}",
            "name_en": f"Commune {code}",
            "daira_code": daira_code,
            "wilaya_code": wilaya_code,
        },
    )


async def test_a_read_while_a_map_edit_moves_an_agency_does_not_keep_its_old_wilaya_cached(
    tickets: LiveService, admin_token: str
) -> None:
    """The consumer drops the process's cached agencies when the move commits, not before: a
    request reading them while the move is still uncommitted caches the old wilaya, and the
    next read after the commit must not get it (for the cache's 30 s)."""
    runtime, context = tickets.runtime, tickets.runtime.handler_context()
    # A commune only tickets hears of (the edits applied as its consumer applies them).
    commune = "1595"
    async with runtime.session_factory() as session, session.begin():
        await remember_map_change(session, commune_edit(commune, "1501", "15"), context)
    agency_code = f"15-RC-{uuid.uuid4().hex[:6].upper()}"
    agency = await tickets.client.put(
        AGENCIES,
        headers=bearer(admin_token),
        json={
            "code": agency_code,
            "name": "ACTEL Commune 1595",
            "wilaya_code": "15",
            "commune_code": commune,
        },
    )
    assert agency.status_code == 200, agency.text
    cached = reference_of(runtime)

    async def cached_wilaya() -> str:
        async with runtime.session_factory() as session:
            return (await cached.agencies(session))[agency_code].wilaya_code

    assert await cached_wilaya() == "15"
    async with runtime.session_factory() as session, session.begin():
        await remember_map_change(session, commune_edit(commune, "0601", "06"), context)
        # A request in between: the move is not committed, it reads (and caches) Tizi Ouzou.
        assert await cached_wilaya() == "15"
    assert await cached_wilaya() == "06"
