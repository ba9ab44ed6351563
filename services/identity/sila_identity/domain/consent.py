"""Consent (law 18-07): per purpose and channel, with when and how it was captured.

Service messages (a ticket's progress, a bill) are granted by default: they are part of
the contract, and a customer may still withdraw them per channel. Marketing is withheld
until the customer grants it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Purpose(StrEnum):
    SERVICE = "service"
    MARKETING = "marketing"


class ConsentChannel(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    PUSH = "push"
    IN_APP = "in_app"
    ANY = "any"


class CaptureChannel(StrEnum):
    """Where the customer expressed the choice."""

    AGENCY = "agency"
    CALL_CENTRE = "call_centre"
    WEB = "web"
    APP = "app"
    SMS = "sms"
    EMAIL = "email"
    PAPER = "paper"


DEFAULT_GRANTED = {Purpose.SERVICE: True, Purpose.MARKETING: False}


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    purpose: Purpose
    channel: ConsentChannel
    granted: bool
    recorded_at: datetime


def current_consent(
    records: Iterable[ConsentRecord], purpose: Purpose, channel: ConsentChannel
) -> bool:
    """Whether messages of ``purpose`` may go out on ``channel``.

    The newest record for the exact channel wins over one for ``any``; with no record,
    the purpose's default applies.
    """
    exact: ConsentRecord | None = None
    anywhere: ConsentRecord | None = None
    for record in records:
        if record.purpose is not purpose:
            continue
        if record.channel is channel and (exact is None or record.recorded_at >= exact.recorded_at):
            exact = record
        if record.channel is ConsentChannel.ANY and (
            anywhere is None or record.recorded_at >= anywhere.recorded_at
        ):
            anywhere = record
    if exact is not None and (anywhere is None or exact.recorded_at >= anywhere.recorded_at):
        return exact.granted
    if anywhere is not None:
        return anywhere.granted
    return DEFAULT_GRANTED[purpose]
