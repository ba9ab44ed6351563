"""The dev profile's demo data (``make run``): an ``admin`` agent, a few customers, and Karim's
prepaid ADSL line (a contract whose ``identity.contract.signed`` makes billing's subscription,
so the walk-through can recharge it)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import insert, select

from sila_common.roles import ROLES
from sila_common.settings import Profile
from sila_identity.auth.passwords import hash_password
from sila_identity.directory import registered_payload
from sila_identity.domain.search import customer_name_keys, customer_search_text
from sila_identity.events import CONTRACT_SIGNED, CUSTOMER_REGISTERED, ContractSigned
from sila_identity.flows.contracts import ALGIERS, next_contract_number
from sila_identity.flows.geography import commune_for_text
from sila_identity.flows.reform import apply_reform
from sila_identity.runtime import IdentityRuntime
from sila_identity.tables import agents, contracts, customers

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
# (customer's phone, offer code of billing's catalogue, fixed line E.164, access login)
DEMO_CONTRACTS = [
    ("+213550123456", "IDOOM_ADSL_10M", "+21326341234", "karim.aitsaid@idoom.dz"),
]


async def load_demo_data(runtime: IdentityRuntime) -> None:
    if runtime.platform.profile != Profile.DEV:
        raise RuntimeError("demo data is for the dev profile only")
    await _load_accounts(runtime)
    await _load_contracts(runtime)
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


async def _load_contracts(runtime: IdentityRuntime) -> None:
    """Each demo contract once (a customer already holding that offer keeps theirs)."""
    for phone, offer_code, line_number, access_number in DEMO_CONTRACTS:
        async with runtime.session_factory() as session, session.begin():
            customer = (
                await session.execute(select(customers).where(customers.c.phone == phone))
            ).one_or_none()
            if customer is None:
                continue
            held = await session.scalar(
                select(contracts.c.id).where(
                    contracts.c.customer_id == customer.id, contracts.c.offer_code == offer_code
                )
            )
            if held is not None:
                continue
            now = datetime.now(UTC)
            wilaya = customer.wilaya_code
            commune_code = customer.commune_code or await commune_for_text(
                session, wilaya, customer.commune
            )
            contract_id = str(uuid.uuid4())
            number = await next_contract_number(session, wilaya, now.astimezone(ALGIERS).year)
            await session.execute(
                insert(contracts).values(
                    id=contract_id,
                    customer_id=customer.id,
                    number=number,
                    offer_code=offer_code,
                    line_number=line_number,
                    access_number=access_number,
                    installation_address=None,
                    installation_wilaya_code=wilaya,
                    installation_commune=customer.commune,
                    installation_commune_code=commune_code,
                    status="active",
                    starts_on=now,
                    ends_on=None,
                    created_at=now,
                )
            )
            await runtime.outbox.record(
                session,
                CONTRACT_SIGNED,
                subject=contract_id,
                customer_id=customer.id,
                data=ContractSigned(
                    customer_id=customer.id,
                    contract_id=contract_id,
                    number=number,
                    offer_code=offer_code,
                    line_number=line_number,
                    status="active",
                    installation_wilaya_code=wilaya,
                    installation_commune_code=commune_code,
                ),
            )
