"""Partner webhooks: when to try again, and which destinations a delivery may reach.

The retry schedule (5 s, 5 min, 30 min, 2 h, 5 h, then every 10 h) spans about three days;
each delay gets random jitter so that a partner coming back online is not hit by every
pending delivery at the same second.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from typing import Final

# The destination check is shared with tickets' TMF621 hub (one rule for every service).
from sila_common.destinations import (
    DestinationRefused as DestinationRefused,
)
from sila_common.destinations import (
    IpAddress as IpAddress,
)
from sila_common.destinations import (
    check_addresses as check_addresses,
)
from sila_common.destinations import (
    check_url_shape as check_url_shape,
)

# Event types no partner ever receives: they carry secrets (a one-time code).
NEVER_DELIVERED: Final = frozenset({"identity.otp.requested"})


def next_retry_delay(
    failed_attempts: int,
    schedule: Sequence[float],
    *,
    jitter_ratio: float = 0.1,
    rng: random.Random | None = None,
) -> float | None:
    """Seconds until the next attempt after ``failed_attempts`` failures; None when exhausted."""
    if failed_attempts < 1:
        raise ValueError("failed_attempts counts from 1")
    if failed_attempts > len(schedule):
        return None
    base = schedule[failed_attempts - 1]
    spread = base * jitter_ratio
    return max(0.0, base + (rng or random).uniform(-spread, spread))


def type_matches(patterns: Iterable[str], event_type: str) -> bool:
    """``tickets.ticket.opened`` matches itself, ``tickets.*`` and ``*``."""
    if event_type in NEVER_DELIVERED:
        return False
    for pattern in patterns:
        if pattern == "*" or pattern == event_type:
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False
