"""End to end: the November 2025 reform moves a customer of M'Sila living in Bou Saâda to
wilaya 64, and every service follows; an incident over Bou Saâda reaches exactly the
customers installed there, in their language; the M'Sila agent keeps seeing the customer
until an admin decides otherwise."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from sila_common.auth import JwksKeySource
from sila_common.geography import reference
from sila_common.settings import PlatformSettings, ServiceSettings
from sila_notify.tables import geography_overlay as notify_overlay
from sila_notify.tables import messages, recipients
from sila_tickets.tables import known_customers, known_installations
from sila_tickets.tables import tickets as ticket_rows
from tests.support import LiveService, bearer, eventually, live_service, random_mobile

PASSWORD = "a long enough test password"
BOU_SAADA = next(c for c in reference().communes.values() if c.name_fr == "Bou Saada").code
MSILA = next(c for c in reference().communes.values() if c.name_fr == "M'sila").code


@pytest.fixture(scope="module")
async def notify(
    platform: PlatformSettings,
    settings_for: Callable[..., ServiceSettings],
    identity: LiveService,
) -> AsyncIterator[LiveService]:
    """Notify's consumers (directory and message planning); nothing is sent."""
    from sila_notify.service import definition

    jwks_client = httpx.AsyncClient(transport=httpx.ASGITransport(app=identity.app))
    keys = JwksKeySource("http://identity/.well-known/jwks.json", client=jwks_client)
    async with live_service(
        definition, platform=platform, settings=settings_for("notify"), key_source=keys
    ) as service:
        yield service
    await jwks_client.aclose()


async def apply_reform(databases: dict[str, str], broker: str) -> str:
    """`python -m sila_identity apply-reform`, as an operator (and make run's demo) runs it."""
    env = os.environ | {
        "SILA_PROFILE": "test",
        "SILA_KAFKA_BOOTSTRAP": broker,
        "SILA_IDENTITY_DATABASE_URL": databases["identity"],
        "OTEL_SDK_DISABLED": "true",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sila_identity",
        "apply-reform",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_the_reform_moves_a_customer_of_msila_to_bou_saada_and_every_service_follows(
    identity: LiveService,
    tickets: LiveService,
    notify: LiveService,
    admin_token: str,
    databases: dict[str, str],
    broker: str,
) -> None:
    admin = bearer(admin_token)
    username = f"msila.{uuid.uuid4().hex[:6]}"
    made = await identity.client.post(
        "/v1/admin/identity/agents",
        headers=admin,
        json={
            "username": username,
            "display_name": "Agent de M'Sila",
            "password": PASSWORD,
            "roles": ["agent", "supervisor"],
            "wilayas": ["28"],
        },
    )
    assert made.status_code == 201, made.text
    agent_id = made.json()["id"]

    async def agent_token() -> dict[str, str]:
        answer = await identity.client.post(
            "/v1/oauth/token",
            data={"grant_type": "password", "username": username, "password": PASSWORD},
        )
        assert answer.status_code == 200, answer.text
        return bearer(answer.json()["access_token"])

    msila_agent = await agent_token()

    async def register(first: str, language: str, commune: str, installed: str) -> str:
        created = await identity.client.post(
            "/v1/customers",
            headers=msila_agent,
            json={
                "first_name": first,
                "last_name": "Bensalem",
                "phone": random_mobile(),
                "wilaya_code": "28",
                "commune": commune,
                "address": "12 rue de l'Oasis",
                "language": language,
            },
        )
        assert created.status_code == 201, created.text
        contract = await identity.client.post(
            f"/v1/customers/{created.json()['id']}/contracts",
            headers=msila_agent,
            json={"offer_code": "IDOOM_ADSL_20M", "installation_commune": installed},
        )
        assert contract.status_code == 201, contract.text
        return str(created.json()["id"])

    # Registered in M'Sila as before the reform, the commune typed as people write it.
    arabic = await register("Abdelkader", "ar", "بوسعادة", "Bou-Saâda")
    french = await register("Yacine", "fr", "Bousaada", "bou saada")
    stays = await register("Omar", "fr", "M'Sila", "Msila")
    created = await identity.client.get(f"/v1/customers/{arabic}", headers=msila_agent)
    assert (created.json()["wilaya_code"], created.json()["commune_code"]) == ("28", None)

    async def directory_row() -> Any:
        async with tickets.runtime.session_factory() as session:
            return (
                await session.execute(
                    select(known_customers).where(known_customers.c.customer_id == arabic)
                )
            ).one_or_none()

    await eventually(directory_row, what="tickets knowing the customer")
    opened = await tickets.client.post(
        "/v1/tickets",
        headers=msila_agent,
        json={
            "customer_id": arabic,
            "category": "technical",
            "subcategory": "no_connection",
            "channel": "agency",
            "subject": "Pas de connexion depuis hier",
        },
    )
    assert opened.status_code == 201, opened.text
    ticket_id = opened.json()["id"]

    report = await apply_reform(databases, broker)
    assert f"agent {username} ({agent_id}) scoped to 28 now also serves 64" in report
    again = await apply_reform(databases, broker)
    assert "customers moved to a new wilaya: 0" in again and username not in again

    # Identity: moved, its commune a reference now; the contract too.
    moved = await identity.client.get(f"/v1/customers/{arabic}", headers=admin)
    assert (moved.json()["wilaya_code"], moved.json()["commune_code"]) == ("64", BOU_SAADA)
    assert moved.json()["commune"] == "بوسعادة" and moved.json()["version"] == 2
    [contract] = (
        await identity.client.get(f"/v1/customers/{arabic}/contracts", headers=admin)
    ).json()
    assert (contract["installation_wilaya_code"], contract["installation_commune_code"]) == (
        "64",
        BOU_SAADA,
    )
    kept = (await identity.client.get(f"/v1/customers/{stays}", headers=admin)).json()
    assert (kept["wilaya_code"], kept["commune_code"]) == ("28", MSILA)
    audit = await identity.client.get(
        "/v1/admin/identity/audit", headers=admin, params={"customer_id": arabic}
    )
    reform_entries = [e for e in audit.json()["items"] if e["actor_id"] == "identity.reform"]
    assert {e["action"] for e in reform_entries} == {"customer.update", "contract.update"}

    # Tickets' directory and the open ticket follow, and so does notify's directory.
    async def tickets_follow() -> Any:
        async with tickets.runtime.session_factory() as session:
            wilaya = await session.scalar(
                select(known_customers.c.wilaya_code).where(known_customers.c.customer_id == arabic)
            )
            ticket = await session.scalar(
                select(ticket_rows.c.wilaya_code).where(ticket_rows.c.id == ticket_id)
            )
            installed = await session.scalar(
                select(known_installations.c.commune_code).where(
                    known_installations.c.customer_id == french
                )
            )
        return (wilaya, ticket, installed) == ("64", "64", BOU_SAADA)

    await eventually(tickets_follow, what="tickets following the reform")

    async def notify_follows() -> Any:
        async with notify.runtime.session_factory() as session:
            return (
                await session.scalar(
                    select(recipients.c.wilaya_code).where(recipients.c.customer_id == arabic)
                )
                == "64"
            )

    await eventually(notify_follows, what="notify's directory following the reform")

    # The timeline says where, by name, in the reader's language.
    async def timeline(language: str) -> list[str] | None:
        page = await identity.client.get(
            f"/v1/customers/{arabic}/timeline", headers=admin, params={"lang": language}
        )
        summaries = [item["summary"] for item in page.json()["items"]]
        types = {item["type"] for item in page.json()["items"]}
        wanted = {"identity.customer.updated", "tickets.ticket.relocated"}
        return summaries if wanted <= types else None

    french_lines = await eventually(lambda: timeline("fr"), what="the move on the timeline")
    assert any("Bou Saâda" in s and "2025" in s for s in french_lines), french_lines
    assert not any("wilaya 64" in s for s in french_lines)
    arabic_lines = await timeline("ar")
    assert arabic_lines and any("بوسعادة" in s for s in arabic_lines), arabic_lines

    # The M'Sila agent still sees the customer (a new token carries the new scope)...
    msila_agent = await agent_token()
    seen = await identity.client.get(f"/v1/customers/{arabic}", headers=msila_agent)
    assert seen.status_code == 200
    grants = await identity.client.get("/v1/admin/identity/reform/scope-grants", headers=admin)
    [grant] = [g for g in grants.json() if g["agent_id"] == agent_id]
    assert (grant["wilaya_code"], grant["parent_code"], grant["still_granted"]) == (
        "64",
        "28",
        True,
    )
    # ...until an admin decides otherwise; a later run does not give it back.
    narrowed = await identity.client.patch(
        f"/v1/admin/identity/agents/{agent_id}", headers=admin, json={"wilayas": ["28"]}
    )
    assert narrowed.status_code == 200, narrowed.text
    await apply_reform(databases, broker)
    msila_agent = await agent_token()
    hidden = await identity.client.get(f"/v1/customers/{arabic}", headers=msila_agent)
    assert hidden.status_code == 404
    still = await identity.client.get(f"/v1/customers/{stays}", headers=msila_agent)
    assert still.status_code == 200

    # An incident over the commune of Bou Saâda reaches exactly the lines installed there.
    async def installed_known() -> bool:
        async with tickets.runtime.session_factory() as session:
            rows = (
                await session.scalars(
                    select(known_installations.c.customer_id).where(
                        known_installations.c.commune_code.in_([BOU_SAADA, MSILA])
                    )
                )
            ).all()
        return {arabic, french, stays} <= set(rows)

    await eventually(installed_known, what="tickets knowing where the lines are")
    declared = await tickets.client.post(
        "/v1/incidents",
        headers=admin,
        json={
            "service": "adsl",
            "area": {"kind": "commune", "value": BOU_SAADA},
            "estimated_end_at": (datetime.now(UTC) + timedelta(hours=4)).isoformat(),
        },
    )
    assert declared.status_code == 201, declared.text
    assert declared.json()["wilaya_code"] == "64"
    # Exactly the lines installed in Bou Saâda: this test's two, and any other test's that
    # installed one there in the same database (the count is the directory's, not a guess).
    async with tickets.runtime.session_factory() as session:
        installed_there = set(
            await session.scalars(
                select(known_installations.c.customer_id).where(
                    known_installations.c.commune_code == BOU_SAADA
                )
            )
        )
    assert {arabic, french} <= installed_there and stays not in installed_there
    assert declared.json()["affected_count"] == len(installed_there)

    async def incident_messages() -> dict[str, str] | None:
        async with notify.runtime.session_factory() as session:
            rows = (
                await session.execute(
                    select(messages.c.customer_id, messages.c.body).where(
                        messages.c.event_type == "tickets.incident.customer_affected",
                        messages.c.customer_id.in_([arabic, french, stays]),
                    )
                )
            ).all()
        bodies = {row.customer_id: row.body for row in rows}
        return bodies if {arabic, french} <= bodies.keys() else None

    bodies = await eventually(incident_messages, what="the incident's messages")
    assert stays not in bodies
    assert "à Bou Saada" in bodies[french] and "wilaya" not in bodies[french]
    assert "في بوسعادة" in bodies[arabic] and BOU_SAADA not in bodies[arabic]
    await tickets.client.post(f"/v1/incidents/{declared.json()['id']}/resolve", headers=admin)


async def test_an_admins_edits_of_the_map_reach_tickets_and_notify_at_once(
    identity: LiveService,
    tickets: LiveService,
    notify: LiveService,
    admin_token: str,
) -> None:
    """A commune renamed and one created through identity's admin API, by an administrator
    logged in with the password grant: tickets accepts the new commune and names the renamed
    one in the incident, notify's messages say its new name, in French and in Arabic."""
    username = f"cartographe.{uuid.uuid4().hex[:6]}"
    made = await identity.client.post(
        "/v1/admin/identity/agents",
        headers=bearer(admin_token),
        json={
            "username": username,
            "display_name": "Administratrice du référentiel",
            "password": PASSWORD,
            "roles": ["agent", "supervisor", "admin"],
            "wilayas": ["*"],
        },
    )
    assert made.status_code == 201, made.text
    granted = await identity.client.post(
        "/v1/oauth/token",
        data={"grant_type": "password", "username": username, "password": PASSWORD},
    )
    assert granted.status_code == 200, granted.text
    admin = bearer(granted.json()["access_token"])

    # A customer of Illizi whose line is installed in Debdeb (3303), before any edit.
    debdeb = "3303"
    created = await identity.client.post(
        "/v1/customers",
        headers=admin,
        json={
            "first_name": "Moussa",
            "last_name": "Ag Amastane",
            "phone": random_mobile(),
            "wilaya_code": "33",
            "commune_code": debdeb,
            "address": "Cité des palmiers",
            "language": "ar",
        },
    )
    assert created.status_code == 201, created.text
    customer = created.json()["id"]
    contract = await identity.client.post(
        f"/v1/customers/{customer}/contracts",
        headers=admin,
        json={"offer_code": "IDOOM_ADSL_20M", "installation_commune_code": debdeb},
    )
    assert contract.status_code == 201, contract.text

    # The admin renames Debdeb and adds a commune to the daïra of Illizi.
    renamed = await identity.client.patch(
        f"/v1/admin/identity/communes/{debdeb}",
        headers=admin,
        json={"name_fr": "Debdeb Nord", "name_ar": "دبداب الشمالية", "name_en": "North Debdeb"},
    )
    assert renamed.status_code == 200, renamed.text
    new_code = f"33{uuid.uuid4().int % 40 + 60}"
    added = await identity.client.post(
        "/v1/admin/identity/communes",
        headers=admin,
        json={
            "code": new_code,
            "daira_code": "3301",
            "name_fr": "Tin Tarabine",
            "name_ar": "تين ترابين",
            "name_en": "Tin Tarabine",
            "postal_code": "33010",
        },
    )
    assert added.status_code == 201, added.text

    # Tickets: an agency in the new commune is accepted once the edit has arrived (a 422
    # "no commune has the code" before).
    agency = {"code": f"33-TT-{uuid.uuid4().hex[:4].upper()}", "name": "ACTEL Tin Tarabine"}

    async def agency_accepted() -> dict[str, Any] | None:
        answer = await tickets.client.put(
            "/v1/tickets/admin/agencies",
            headers=admin,
            json=agency | {"wilaya_code": "33", "commune_code": new_code},
        )
        if answer.status_code == 422:
            return None
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    accepted = await eventually(agency_accepted, what="tickets knowing the new commune")
    assert accepted["commune_code"] == new_code
    # The new commune is a place of wilaya 33 only.
    elsewhere = await tickets.client.put(
        "/v1/tickets/admin/agencies",
        headers=admin,
        json=agency | {"wilaya_code": "11", "commune_code": new_code},
    )
    assert elsewhere.status_code == 422, elsewhere.text

    # A line installed in the new commune is found by an incident over it.
    newcomer = await identity.client.post(
        "/v1/customers",
        headers=admin,
        json={
            "first_name": "Tahar",
            "last_name": "Ag Sidi",
            "phone": random_mobile(),
            "wilaya_code": "33",
            "commune_code": new_code,
            "address": "Quartier de l'oued",
            "language": "fr",
        },
    )
    assert newcomer.status_code == 201, newcomer.text
    installed = await identity.client.post(
        f"/v1/customers/{newcomer.json()['id']}/contracts",
        headers=admin,
        json={"offer_code": "IDOOM_ADSL_20M", "installation_commune_code": new_code},
    )
    assert installed.status_code == 201, installed.text

    async def placed_in_new_commune() -> bool:
        async with tickets.runtime.session_factory() as session:
            row = (
                await session.execute(
                    select(known_installations).where(
                        known_installations.c.customer_id == newcomer.json()["id"]
                    )
                )
            ).one_or_none()
        return row is not None and (row.commune_code, row.daira_code) == (new_code, "3301")

    await eventually(placed_in_new_commune, what="tickets placing the line in the new commune")
    outage = await tickets.client.post(
        "/v1/incidents",
        headers=admin,
        json={
            "service": "adsl",
            "area": {"kind": "commune", "value": new_code},
            "estimated_end_at": (datetime.now(UTC) + timedelta(hours=3)).isoformat(),
        },
    )
    assert outage.status_code == 201, outage.text
    assert (outage.json()["area_label"], outage.json()["affected_count"]) == ("Tin Tarabine", 1)
    await tickets.client.post(f"/v1/incidents/{outage.json()['id']}/resolve", headers=admin)

    # An incident over the renamed commune is named by its new name and reaches the line.
    async def line_known() -> bool:
        async with tickets.runtime.session_factory() as session:
            return (
                await session.scalar(
                    select(known_installations.c.customer_id).where(
                        known_installations.c.customer_id == customer,
                        known_installations.c.commune_code == debdeb,
                    )
                )
                is not None
            )

    await eventually(line_known, what="tickets knowing where the line is")

    # Identity's edits share one message key: the rename arrived before the new commune.
    declared = await tickets.client.post(
        "/v1/incidents",
        headers=admin,
        json={
            "service": "fibre",
            "area": {"kind": "commune", "value": debdeb},
            "estimated_end_at": (datetime.now(UTC) + timedelta(hours=3)).isoformat(),
        },
    )
    assert declared.status_code == 201, declared.text
    incident = declared.json()
    assert incident["area_label"] == "Debdeb Nord"
    assert incident["affected_count"] == 1

    async def message() -> str | None:
        async with notify.runtime.session_factory() as session:
            body = await session.scalar(
                select(messages.c.body).where(
                    messages.c.event_type == "tickets.incident.customer_affected",
                    messages.c.customer_id == customer,
                )
            )
        return str(body) if body else None

    body = await eventually(message, what="notify's message to the customer")
    assert "دبداب الشمالية" in body and debdeb not in body
    # The service by its name in the customer's language, never its code.
    assert "الألياف البصرية" in body and "fibre" not in body
    await tickets.client.post(f"/v1/incidents/{incident['id']}/resolve", headers=admin)

    # Notify keeps the edits too (its own overlay), and identity's timeline names the
    # incident's place by its new name.
    async def notify_knows() -> bool:
        async with notify.runtime.session_factory() as session:
            rows = (
                await session.execute(
                    select(notify_overlay.c.code).where(notify_overlay.c.kind == "commune")
                )
            ).all()
        return {debdeb, new_code} <= {row.code for row in rows}

    await eventually(notify_knows, what="notify keeping the edits")

    async def timeline_line() -> list[str] | None:
        page = await identity.client.get(
            f"/v1/customers/{customer}/timeline", headers=admin, params={"lang": "fr"}
        )
        lines = [
            item["summary"]
            for item in page.json()["items"]
            if item["type"] == "tickets.incident.customer_affected"
        ]
        return lines or None

    lines = await eventually(timeline_line, what="the incident on the timeline")
    assert any("Debdeb Nord" in line for line in lines), lines
