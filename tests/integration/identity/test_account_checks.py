"""Identity remembers whether an account is usable for a few seconds, and forgets at once
when this process changes it."""

from __future__ import annotations

import uuid

from sqlalchemy import update

from sila_common.auth import Principal
from sila_identity.auth.accounts import AccountChecks
from sila_identity.tables import agents
from tests.conftest import create_agent
from tests.support import LiveService


async def disable_elsewhere(identity: LiveService, agent_id: str) -> None:
    """What another identity process does: the row changes, this process is not told."""
    async with identity.runtime.session_factory() as session, session.begin():
        await session.execute(update(agents).where(agents.c.id == agent_id).values(disabled=True))


async def test_an_answer_is_remembered_until_forgotten_and_not_past_its_time(
    identity: LiveService,
) -> None:
    agent_id = await create_agent(
        identity, f"checked-{uuid.uuid4().hex[:6]}", "a long enough password", ["agent"], ["16"]
    )
    agent = Principal(subject=agent_id, kind="agent", roles=frozenset({"agent"}))
    factory = identity.runtime.session_factory
    remembering, asking = AccountChecks(ttl_seconds=3600), AccountChecks(ttl_seconds=0)
    assert await remembering.usable(factory, agent)
    assert await asking.usable(factory, agent)

    await disable_elsewhere(identity, agent_id)

    assert await remembering.usable(factory, agent), "remembered within its time"
    assert not await asking.usable(factory, agent), "asked again once its time is up"
    remembering.forget(agent_id)
    assert not await remembering.usable(factory, agent), "asked again once forgotten"


async def test_unknown_accounts_and_erased_customers_are_not_usable(
    identity: LiveService,
) -> None:
    checks = AccountChecks(ttl_seconds=0)
    factory = identity.runtime.session_factory
    nobody = Principal(subject=str(uuid.uuid4()), kind="agent")
    stranger = Principal(subject="x", kind="customer", customer_id=str(uuid.uuid4()))
    assert not await checks.usable(factory, nobody)
    assert not await checks.usable(factory, stranger)
    assert await checks.usable(factory, Principal(subject="svc", kind="service"))
