"""What the use cases share: who acts, the clock, row helpers."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sila_common.auth import Principal
from sila_common.roles import Role

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def order_number() -> str:
    """A 16-digit order number, unique with overwhelming probability (checked by a unique key)."""
    return f"{secrets.randbelow(10**16):016d}"


@dataclass(frozen=True)
class Caller:
    kind: str
    subject: str
    customer_id: str | None
    is_billing_agent: bool

    @classmethod
    def of(cls, principal: Principal) -> Caller:
        return cls(
            principal.kind,
            principal.subject,
            principal.customer_id,
            principal.kind == "agent" and principal.has_role(Role.BILLING),
        )

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.subject}"

    def may_see(self, customer_id: str) -> bool:
        if self.kind == "customer":
            return self.customer_id == customer_id
        return self.kind == "agent" or self.kind == "service"


SYSTEM = Caller("system", "billing", None, True)


def as_dict(row: Any) -> dict[str, Any]:
    return dict(row._mapping)


# Renders a use case's row as the API answers it (the API's view, passed in by the API).
Render = Callable[[Any], dict[str, Any]]
