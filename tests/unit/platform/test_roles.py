"""One role vocabulary (docs/security.md, case 5): every service's groups are the platform's,
and a role gets the same answer from the shared checks whatever the service."""

from __future__ import annotations

import pytest

from sila_common import roles
from sila_common.auth import Principal, ensure_roles, ensure_scope
from sila_common.problems import Forbidden


def agent(*held: str, wilayas: tuple[str, ...] = ("15",)) -> Principal:
    return Principal(subject="a", kind="agent", roles=frozenset(held), wilayas=frozenset(wilayas))


def test_the_services_use_the_platforms_groups_not_their_own() -> None:
    from sila_identity.api import admin as identity_admin
    from sila_notify.api import deps as notify_deps
    from sila_tickets.api import views as tickets_views

    # Identity's admin API validates agents' roles and partners' scopes against these.
    assert getattr(identity_admin, "ROLES") is roles.ROLES  # noqa: B009
    assert getattr(identity_admin, "SCOPES") is roles.SCOPES  # noqa: B009
    assert notify_deps.READERS is roles.CUSTOMER_CARE
    assert notify_deps.WRITERS is roles.FRONT_OFFICE
    assert tickets_views.AGENT_ROLES is roles.CUSTOMER_CARE
    assert roles.FRONT_OFFICE == ("agent", "supervisor")
    assert set(roles.CUSTOMER_CARE) == {"agent", "supervisor", "technician", "billing"}


def test_aliases_expand_to_roles_and_admin_holds_every_role() -> None:
    assert roles.expand("front_office", "marketing") == ("agent", "supervisor", "marketing")
    assert agent("technician").has_role("customer_care")
    assert not agent("marketing").has_role("customer_care")
    assert agent("admin").has_role("front_office", "campaigns")


@pytest.mark.parametrize("role", roles.ROLES)
def test_reading_one_customer_is_customer_care_in_the_customers_wilaya(role: str) -> None:
    expected = role in (*roles.CUSTOMER_CARE, "admin")
    assert agent(role).may_read_customer("c", "15") is expected
    assert agent(role).may_read_customer("c", "16") is False


def test_the_one_scope_check_refuses_agents_and_customers_holding_no_scope() -> None:
    partner = Principal(subject="p", kind="partner", scopes=frozenset({"tickets:write"}))
    ensure_scope(partner, "tickets:write")
    with pytest.raises(Forbidden):
        ensure_scope(partner, "tickets:read")
    with pytest.raises(Forbidden):
        ensure_scope(agent("agent"), "tmf621:read")
    ensure_scope(agent("admin"), "tmf621:read", or_admin=True)
    with pytest.raises(Forbidden):
        ensure_roles(partner, "agent")


def test_loyalty_asks_the_platforms_groups() -> None:
    from sila_loyalty.api import deps as loyalty_deps

    assert loyalty_deps.READERS is roles.CUSTOMER_CARE
    assert loyalty_deps.MARKETING is roles.CAMPAIGNS
    assert loyalty_deps.ADJUSTERS is roles.SUPERVISION
    assert loyalty_deps.AUDIT is roles.AUDITING
    assert set(loyalty_deps.CAMPAIGN_READERS) == {"marketing", "supervisor", "audit"}
    marketing = agent("marketing", wilayas=("*",))
    with pytest.raises(Forbidden):
        loyalty_deps.ensure_reader(marketing)
    with pytest.raises(Forbidden):
        loyalty_deps.ensure_reader(agent("audit", wilayas=("*",)))
    loyalty_deps.ensure_reader(agent("technician"))
