"""Who hears what, where: lanes, consent, channel choice and failover, retry delays.

Pure rules; the planner feeds them the customer's directory entry and the event's route.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, Final, Literal

Channel = Literal["sms", "email", "push", "in_app"]
Lane = Literal["otp", "service", "marketing"]
Purpose = Literal["service", "marketing"]

CHANNELS: Final[tuple[Channel, ...]] = ("sms", "email", "push", "in_app")
LANES: Final[tuple[Lane, ...]] = ("otp", "service", "marketing")
# Lower is more urgent; each lane has its own sender, so a backlog in one never blocks another.
LANE_RANK: Final[Mapping[str, int]] = {"otp": 0, "service": 1, "marketing": 2}
DEFAULT_CHANNEL_ORDER: Final[tuple[Channel, ...]] = ("sms", "push", "email", "in_app")
ANY_CHANNEL: Final = "any"


def purpose_of(lane: str) -> Purpose:
    return "marketing" if lane == "marketing" else "service"


def consent_allows(lane: str, channel: str, consents: Mapping[tuple[str, str], bool]) -> bool:
    """May a message of ``lane`` go on ``channel``, given the customer's consent records?

    ``consents`` maps (purpose, channel or "any") to granted. One-time codes always go:
    they answer the customer's own request. Service messages go unless refused; marketing
    only with a grant, and a refusal (for the channel or for any) always wins.
    """
    if lane == "otp":
        return True
    purpose = purpose_of(lane)
    specific = consents.get((purpose, channel))
    general = consents.get((purpose, ANY_CHANNEL))
    if specific is False or (general is False and specific is None):
        return False
    if purpose == "service":
        return True
    return specific is True or (specific is None and general is True)


def choose_channels(
    route_channels: Sequence[str],
    customer_order: Sequence[str],
    reachable: Collection[str],
    allowed: Collection[str],
) -> list[str]:
    """The channels to try, best first: the route's, in the customer's order of preference.

    A channel counts when the customer can be reached on it (a phone, an e-mail address, a
    device) and consent allows it. Channels the customer did not rank come after, in the
    route's order.
    """
    ranked = [c for c in customer_order if c in route_channels]
    ranked += [c for c in route_channels if c not in ranked]
    return [c for c in ranked if c in reachable and c in allowed]


def split_primary(channels: Sequence[str]) -> tuple[list[str], bool]:
    """(the interrupting channels, best first, for one send with failover; inbox copy or not).

    The in-app inbox is a record the customer reads in My Idoom, not an interruption, so it
    gets its copy alongside the one SMS, e-mail or push; the others are tried one at a time.
    """
    return [c for c in channels if c != "in_app"], "in_app" in channels


def matches(condition: Mapping[str, Sequence[Any]], data: Mapping[str, Any]) -> bool:
    """An event speaks when each field named in ``condition`` holds one of its values."""
    return all(data.get(name) in allowed for name, allowed in condition.items())


def retry_delay_seconds(attempt: int, base_seconds: float) -> float:
    """Exponential backoff after the ``attempt``-th failed attempt (1-based): base × 4^(n-1)."""
    if attempt < 1:
        raise ValueError("attempts count from 1")
    return float(base_seconds * 4 ** (attempt - 1))


def newer(incoming: datetime, stored: datetime | None) -> bool:
    """Should an event stamped ``incoming`` replace state written from one stamped ``stored``?"""
    return stored is None or incoming >= stored
