"""What tickets consumes: identity's customers and where their contracts are installed, so a
ticket can only name a real one and an incident finds its lines (the use cases are
``flows.directory``).
"""

from __future__ import annotations

from sila_common.events import topic_for
from sila_common.service import ConsumerSpec
from sila_tickets.flows.directory import (
    erase_customer,
    keep_identity_answer,
    remember_customer,
    remember_installation,
)
from sila_tickets.flows.geography import remember_map_change
from sila_tickets.settings import TicketsSettings

__all__ = [
    "CUSTOMER_DIRECTORY",
    "erase_customer",
    "keep_identity_answer",
    "remember_customer",
    "remember_installation",
    "remember_map_change",
]

CUSTOMER_DIRECTORY = ConsumerSpec[TicketsSettings](
    name="tickets.customers",
    topics=[topic_for("identity")],
    handlers={
        "identity.customer.registered": remember_customer,
        "identity.customer.updated": remember_customer,
        "identity.customer.erased": erase_customer,
        "identity.contract.signed": remember_installation,
        "identity.contract.updated": remember_installation,
        # Admins' edits of the map, laid over the shipped reference (flows/geography.py).
        "identity.geography.changed": remember_map_change,
    },
)
