"""The dev profile's demo data (``make run``): an ``admin`` agent and a few customers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import insert, select

from sila_common.roles import ROLES
from sila_common.settings import Profile
from sila_identity.auth.passwords import hash_password
from sila_identity.directory import registered_payload
from sila_identity.domain.search import customer_name_keys, customer_search_text
from sila_identity.events import CUSTOMER_REGISTERED
from sila_identity.flows.reform import apply_reform
from sila_identity.runtime import IdentityRuntime
from sila_identity.tables import agents, customers

ALL_ROLES = list(ROLES)

DEMO_CUSTOMERS = [
    # (first, last, first_ar, last_ar, phone E.164, wilaya, language)
    ("Karim", "Aït Saïd", "كريم", "آيت سعيد", "+213550123456", "15", "fr"),
    ("Yasmina", "Benali", "ياسمينة", "بن علي", "+213661234567", "16", "ar"),
    ("Mohamed", "Kaci", "محمد", "قاسي", "+213770112233", "15", "fr"),
    # Registered in M'Sila before the 2025 reform, living in Bou Saâda (now wilaya 64):
    # the reform below moves him.
    ("Abdelkader", "Bensalem", "عبد القادر", "بن سالم", "+213662445566", "28", "ar"),
]
# The commune each demo customer typed (free text, as before the reference existed).
DEMO_COMMUNES = {"+213550123456": "Azazga", "+213662445566": "Bou Saâda"}


async def load_demo_data(runtime: IdentityRuntime) -> None:
    if runtime.platform.profile != Profile.DEV:
        raise RuntimeError("demo data is for the dev profile only")
    await _load_accounts(runtime)
    # Idempotent: the demo customers registered before the reform move once.
    for line in (await apply_reform(runtime)).lines():
        print(f"identity reform: {line}")


async def _load_accounts(runtime: IdentityRuntime) -> None:
    now = datetime.now(UTC)
    async with runtime.session_factory() as session, session.begin():
        if await session.scalar(select(agents.c.id).where(agents.c.username == "admin")):
            return
        await session.execute(
            insert(agents).values(
                id=str(uuid.uuid4()),
                username="admin",
                display_name="Administrateur (démo)",
                password_hash=hash_password("admin"),
                roles=ALL_ROLES,
                wilayas=["*"],
                agency=None,
                disabled=False,
                created_at=now,
            )
        )
        for first, last, first_ar, last_ar, phone, wilaya, language in DEMO_CUSTOMERS:
            customer_id = str(uuid.uuid4())
            await session.execute(
                insert(customers).values(
                    id=customer_id,
                    kind="residential",
                    status="active",
                    first_name=first,
                    last_name=last,
                    first_name_ar=first_ar,
                    last_name_ar=last_ar,
                    phone=phone,
                    wilaya_code=wilaya,
                    commune=DEMO_COMMUNES.get(phone),
                    language=language,
                    search_text=customer_search_text(
                        first_name=first,
                        last_name=last,
                        first_name_ar=first_ar,
                        last_name_ar=last_ar,
                    ),
                    name_keys=customer_name_keys(
                        wilaya_code=wilaya,
                        first_name=first,
                        last_name=last,
                        first_name_ar=first_ar,
                        last_name_ar=last_ar,
                    ),
                    version=1,
                    created_at=now,
                    updated_at=now,
                )
            )
            row = (
                await session.execute(select(customers).where(customers.c.id == customer_id))
            ).one()
            await runtime.outbox.record(
                session,
                CUSTOMER_REGISTERED,
                subject=customer_id,
                customer_id=customer_id,
                data=registered_payload(row, "agency"),
            )
