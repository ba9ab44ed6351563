"""Contacts agents log with a customer, ticket or not: what makes a well-formed one.

A call (centre 12, or a call-back, "rappel client", which is always outbound) has a
duration; an agency visit may have one; a social-network message or an e-mail has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from sila_identity.domain.errors import InvalidValue

MAX_CALL_SECONDS: Final = 4 * 3600


class InteractionChannel(StrEnum):
    CALL_CENTRE = "call_centre"
    AGENCY = "agency"
    SOCIAL = "social"
    EMAIL = "email"
    CALLBACK = "callback"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class InteractionReason(StrEnum):
    """The thesis's three request classes, plus the contacts that are not requests."""

    COMMERCIAL = "commercial"
    TECHNICAL = "technical"
    ADMINISTRATIVE = "administrative"
    INFORMATION = "information"
    COMPLAINT_FOLLOW_UP = "complaint_follow_up"
    SATISFACTION_CHECK = "satisfaction_check"


class InteractionOutcome(StrEnum):
    RESOLVED = "resolved"
    INFORMATION_GIVEN = "information_given"
    TICKET_OPENED = "ticket_opened"
    FOLLOW_UP_NEEDED = "follow_up_needed"
    TRANSFERRED = "transferred"
    NO_ANSWER = "no_answer"


class SocialNetwork(StrEnum):
    FACEBOOK = "facebook"
    X = "x"
    INSTAGRAM = "instagram"


class InvalidInteraction(InvalidValue):
    """The contact as described cannot have happened (e.g. an inbound call-back)."""

    def __init__(self, reason: str, field: str) -> None:
        super().__init__(reason)
        self.field = field


@dataclass(frozen=True, slots=True)
class Interaction:
    channel: InteractionChannel
    direction: Direction
    reason: InteractionReason
    outcome: InteractionOutcome
    duration_seconds: int | None = None
    social_network: SocialNetwork | None = None
    ticket_id: str | None = None


_CALLS: Final = frozenset({InteractionChannel.CALL_CENTRE, InteractionChannel.CALLBACK})
_WITHOUT_DURATION: Final = frozenset({InteractionChannel.SOCIAL, InteractionChannel.EMAIL})


def validate_interaction(interaction: Interaction) -> Interaction:
    """Return the interaction if its parts fit together, else raise InvalidInteraction."""
    channel, duration = interaction.channel, interaction.duration_seconds
    if channel is InteractionChannel.CALLBACK and interaction.direction is Direction.INBOUND:
        raise InvalidInteraction("a call-back is a call the agent makes: outbound", "direction")
    if channel in _CALLS and duration is None:
        raise InvalidInteraction("a call needs its duration in seconds", "duration_seconds")
    if channel in _WITHOUT_DURATION and duration is not None:
        raise InvalidInteraction(f"a {channel} contact has no duration", "duration_seconds")
    if duration is not None and not 0 <= duration <= MAX_CALL_SECONDS:
        raise InvalidInteraction(
            f"the duration must be 0 to {MAX_CALL_SECONDS} seconds", "duration_seconds"
        )
    if (interaction.social_network is None) != (channel is not InteractionChannel.SOCIAL):
        raise InvalidInteraction(
            "social_network is given for social-network contacts, and only for them",
            "social_network",
        )
    if (
        channel in _CALLS
        and duration == 0
        and interaction.outcome is not InteractionOutcome.NO_ANSWER
    ):
        raise InvalidInteraction(
            "a call of 0 seconds went unanswered: outcome no_answer", "outcome"
        )
    if interaction.outcome is InteractionOutcome.TICKET_OPENED and not interaction.ticket_id:
        raise InvalidInteraction("outcome ticket_opened needs the ticket_id", "ticket_id")
    return interaction
