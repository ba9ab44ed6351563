"""Whose timeline a caller reads: the page's statement reads and audits a customer only in
the wilayas ``readable_wilayas`` gives it, the decision ``ensure_may_read_timeline`` makes
for a customer in hand (the answer given when the statement read nothing)."""

from __future__ import annotations

from itertools import product
from types import SimpleNamespace

from sila_common.auth import Principal
from sila_common.problems import Problem
from sila_identity.api.timeline import ensure_may_read_timeline, readable_wilayas

CUSTOMER = "customer-1"
CALLERS = [
    *(
        Principal(f"agent-{i}", "agent", roles=frozenset(roles), wilayas=frozenset(wilayas))
        for i, (roles, wilayas) in enumerate(
            product(
                [{"agent"}, {"technician", "billing"}, {"marketing"}, {"audit"}, {"admin"}],
                [set(), {"15"}, {"16", "05"}, {"*"}],
            )
        )
    ),
    Principal(CUSTOMER, "customer", customer_id=CUSTOMER),
    Principal("customer-2", "customer", customer_id="customer-2"),
    Principal("partner", "partner", scopes=frozenset({"timeline:read"})),
    Principal("partner", "partner", scopes=frozenset({"timeline:read", "customers:read"})),
    Principal("service", "service"),
]
# A customer of 15, of 16, and one of no wilaya.
CUSTOMERS = [SimpleNamespace(id=CUSTOMER, wilaya_code=code) for code in ("15", "16", None)]


def in_scope(wilayas: list[str], customer: SimpleNamespace) -> bool:
    """The statement's test: ``'*' = ANY($2) OR wilaya_code = ANY($2)``."""
    return "*" in wilayas or customer.wilaya_code in wilayas


def may_read(principal: Principal, customer: SimpleNamespace) -> bool:
    try:
        ensure_may_read_timeline(principal, customer)
    except Problem:
        return False
    return True


def test_the_statement_reads_exactly_the_customers_the_caller_may_read() -> None:
    for principal, customer in product(CALLERS, CUSTOMERS):
        scope = readable_wilayas(principal, customer.id)
        assert in_scope(scope, customer) == may_read(principal, customer), (principal, customer)


def test_only_care_agents_of_the_customers_wilaya_customers_themselves_and_partners_read() -> None:
    [of_15, of_16, _] = CUSTOMERS
    agent_15 = Principal("a", "agent", roles=frozenset({"agent"}), wilayas=frozenset({"15"}))
    marketing = Principal("m", "agent", roles=frozenset({"marketing"}), wilayas=frozenset({"*"}))
    readers = [principal for principal in CALLERS if may_read(principal, of_15)]
    assert may_read(agent_15, of_15) and not may_read(agent_15, of_16)
    assert not may_read(marketing, of_15)
    assert {p.kind for p in readers} == {"agent", "customer", "partner", "service"}
    assert [p.customer_id for p in readers if p.kind == "customer"] == [CUSTOMER]
