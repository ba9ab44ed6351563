"""What tickets consumes: identity's customers, so a ticket can only name a real one
(the use cases are ``flows.directory``).
"""

from __future__ import annotations

from sila_common.events import topic_for
from sila_common.service import ConsumerSpec
from sila_tickets.flows.directory import erase_customer, remember_customer
from sila_tickets.settings import TicketsSettings

__all__ = ["CUSTOMER_DIRECTORY", "erase_customer", "remember_customer"]

CUSTOMER_DIRECTORY = ConsumerSpec[TicketsSettings](
    name="tickets.customers",
    topics=[topic_for("identity")],
    handlers={
        "identity.customer.registered": remember_customer,
        "identity.customer.updated": remember_customer,
        "identity.customer.erased": erase_customer,
    },
)
