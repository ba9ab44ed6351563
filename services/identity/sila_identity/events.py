"""The events identity publishes on ``sila.identity``."""

from __future__ import annotations

from pydantic import BaseModel

from sila_common.events import declare_event


class CustomerRegistered(BaseModel):
    customer_id: str
    kind: str
    status: str
    wilaya_code: str
    language: str
    channel: str | None = None
    display_name: str


class ContractSigned(BaseModel):
    customer_id: str
    contract_id: str
    number: str
    offer_code: str
    line_number: str | None = None


CUSTOMER_REGISTERED = declare_event(
    "identity.customer.registered",
    CustomerRegistered,
    "A customer was registered (by an agent, the portal or the app).",
)
CONTRACT_SIGNED = declare_event(
    "identity.contract.signed",
    ContractSigned,
    "A contract (an offer on a line) was added to a customer.",
)
