"""The events identity publishes on ``sila.identity`` (keyed by customer id, but for a
partner's changes, keyed by the partner id, and the map's, keyed by ``geography``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from sila_common.events import declare_event

ConsentPurpose = Literal["service", "marketing"]
ConsentChannel = Literal["sms", "email", "push", "in_app", "any"]


class CustomerRegistered(BaseModel):
    customer_id: str
    kind: str
    status: str
    wilaya_code: str
    language: str
    channel: str | None = None
    display_name: str
    phone: str
    email: str | None = None
    commune: str | None = None
    # The commune in the reference (GET /v1/communes/{code}), checked against the wilaya.
    commune_code: str | None = None


class CustomerUpdated(CustomerRegistered):
    """The customer's state after the change; ``changed`` names the fields that moved."""

    changed: list[str] = []
    version: int = 1
    # Why, when it was not an ordinary edit: "reform" (the November 2025 map).
    reason: str | None = None


class CustomerErased(BaseModel):
    customer_id: str
    erased_at: datetime


class ConsentChanged(BaseModel):
    customer_id: str
    purpose: ConsentPurpose
    channel: ConsentChannel
    granted: bool
    captured_via: str


class OtpRequested(BaseModel):
    """A log-in code to send by SMS; notify delivers it. The code lives 5 minutes.

    The code is never in clear here: ``sealed_code`` carries it sealed for notify alone
    (AES-256-GCM under the transport key ``key_id`` names, ``SILA_OTP_TRANSPORT_KEY``, held by
    identity and notify only), bound to ``customer_id`` and ``phone``."""

    customer_id: str
    phone: str
    sealed_code: str = Field(
        description="The code, sealed (AES-256-GCM, `v1.` + base64url of nonce and ciphertext)"
        " for notify alone; bound to customer_id and phone."
    )
    key_id: str = Field(description="Which transport key sealed it (a hash, never the key).")
    expires_at: datetime
    language: str


class InteractionLogged(BaseModel):
    interaction_id: str
    customer_id: str
    channel: str
    direction: str
    reason: str
    outcome: str
    duration_seconds: int | None = None
    agent_id: str
    ticket_id: str | None = None
    social_network: str | None = None


class ContractSigned(BaseModel):
    customer_id: str
    contract_id: str
    number: str
    offer_code: str
    line_number: str | None = None
    status: str = "active"
    installation_wilaya_code: str | None = None
    installation_commune_code: str | None = None


class ContractUpdated(ContractSigned):
    """The contract's state after the change; ``changed`` names the fields that moved."""

    changed: list[str] = []
    reason: str | None = None


class GeographyChanged(BaseModel):
    """An administrator created or changed a place of the map: the place as it is after the
    change (names, daïra and wilaya, postal code, whether it is still a commune). Tickets and
    notify lay it over the reference shipped with their release (sila_common.geography_overlay).
    Keyed by ``geography`` (one key: the edits stay in order); about no customer."""

    kind: Literal["wilaya", "daira", "commune"]
    code: str
    change: Literal["created", "updated"]
    name_fr: str
    name_ar: str
    name_en: str | None
    # A daïra's and a commune's wilaya; a commune's daïra.
    wilaya_code: str | None = None
    daira_code: str | None = None
    postal_code: str | None = None
    former_wilaya_code: str | None = None
    active: bool = True
    # A wilaya carved out of another by a reform: which one, and from when.
    parent_code: str | None = None
    established_on: date | None = None


class PartnerChanged(BaseModel):
    """A partner's scopes or standing, after an administrator changed them (keyed by the
    partner id): notify bounds the partner's webhooks by them."""

    partner_id: str
    scopes: list[str]
    disabled: bool


CUSTOMER_REGISTERED = declare_event(
    "identity.customer.registered",
    CustomerRegistered,
    "A customer was registered (by an agent, the portal or the app).",
)
CUSTOMER_UPDATED = declare_event(
    "identity.customer.updated",
    CustomerUpdated,
    "A customer's details or status changed; carries the whole new state.",
)
CUSTOMER_ERASED = declare_event(
    "identity.customer.erased",
    CustomerErased,
    "A customer's personal data was erased (law 18-07); every service scrubs its copies.",
)
CONSENT_CHANGED = declare_event(
    "identity.consent.changed",
    ConsentChanged,
    "A customer granted or withdrew consent for a purpose on a channel.",
)
OTP_REQUESTED = declare_event(
    "identity.otp.requested",
    OtpRequested,
    "A customer asked for a one-time log-in code; notify sends it by SMS.",
)
INTERACTION_LOGGED = declare_event(
    "identity.interaction.logged",
    InteractionLogged,
    "An agent logged a contact with a customer (call, visit, social network, e-mail, call-back).",
)
CONTRACT_SIGNED = declare_event(
    "identity.contract.signed",
    ContractSigned,
    "A contract (an offer on a line) was added to a customer.",
)
PARTNER_CHANGED = declare_event(
    "identity.partner.changed",
    PartnerChanged,
    "An administrator changed a partner's scopes or disabled it (keyed by the partner id).",
)
GEOGRAPHY_CHANGED = declare_event(
    "identity.geography.changed",
    GeographyChanged,
    "An administrator created or changed a wilaya, daïra or commune (keyed by `geography`).",
)

CONTRACT_UPDATED = declare_event(
    "identity.contract.updated",
    ContractUpdated,
    "A contract's installation place changed (its commune matched, or moved by a reform).",
)
