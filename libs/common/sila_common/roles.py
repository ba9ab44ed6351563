"""The one role vocabulary of Sila: the roles an agent may hold, the groups every service
names by what they open, and the partners' scopes. Every service asks here, so a role gets
the same answer everywhere (docs/security.md has the table).

``admin`` holds every role. An agent also needs the customer's wilaya in their token for
anything about one customer.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    TECHNICIAN = "technician"
    BILLING = "billing"
    MARKETING = "marketing"
    AUDIT = "audit"
    ADMIN = "admin"


ROLES: Final[tuple[str, ...]] = tuple(role.value for role in Role)
ADMIN: Final = Role.ADMIN.value

# The groups (aliases). Each names what it opens; services use these, never their own lists.
# Serve a customer at the counter or on the phone: register them, change their details,
# contracts, record their consent (identity's consents or notify's preferences).
FRONT_OFFICE: Final[tuple[str, ...]] = (Role.AGENT, Role.SUPERVISOR)
# Work on customers' cases in their wilayas: identify a customer, read their records
# (customer, tickets with internal notes, interactions, timeline, messages), open and move
# tickets, log contacts. Marketing is not one of them: it works on segments, not people.
CUSTOMER_CARE: Final[tuple[str, ...]] = (
    Role.AGENT,
    Role.SUPERVISOR,
    Role.TECHNICIAN,
    Role.BILLING,
)
# Say what customers are sent: templates and routes.
CONTENT: Final[tuple[str, ...]] = (Role.SUPERVISOR, Role.MARKETING)
# Send campaigns.
CAMPAIGNS: Final[tuple[str, ...]] = (Role.MARKETING,)
# Assign tickets to others, reports, agencies' hours, exports and erasure.
SUPERVISION: Final[tuple[str, ...]] = (Role.SUPERVISOR,)
# Check what others did without changing it: read campaigns and draws, re-run a draw.
AUDITING: Final[tuple[str, ...]] = (Role.AUDIT,)

ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "front_office": FRONT_OFFICE,
    "customer_care": CUSTOMER_CARE,
    "content": CONTENT,
    "campaigns": CAMPAIGNS,
    "supervision": SUPERVISION,
    "auditing": AUDITING,
}


class Scope(StrEnum):
    """What a partner's client-credentials token may carry."""

    CUSTOMERS_READ = "customers:read"
    TIMELINE_READ = "timeline:read"
    TICKETS_READ = "tickets:read"
    TICKETS_WRITE = "tickets:write"
    TMF621_READ = "tmf621:read"
    TMF621_WRITE = "tmf621:write"
    WEBHOOKS_MANAGE = "webhooks:manage"


SCOPES: Final[tuple[str, ...]] = tuple(scope.value for scope in Scope)


def expand(*names: str) -> tuple[str, ...]:
    """Roles and aliases to roles: ``expand("customer_care", "marketing")``."""
    out: list[str] = []
    for name in names:
        out.extend(ALIASES.get(name, (name,)))
    return tuple(dict.fromkeys(out))
