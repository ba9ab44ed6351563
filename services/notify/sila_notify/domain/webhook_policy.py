"""Partner webhooks: when to try again, and which destinations a delivery may reach.

The retry schedule (5 s, 5 min, 30 min, 2 h, 5 h, then every 10 h) spans about three days;
each delay gets random jitter so that a partner coming back online is not hit by every
pending delivery at the same second.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterable, Sequence
from typing import Final
from urllib.parse import urlsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

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


class DestinationRefused(ValueError):
    """A webhook URL that Sila will not call."""


def check_url_shape(url: str, *, allow_plain_http: bool) -> str:
    """The URL's host, once its scheme and shape are acceptable."""
    parts = urlsplit(url)
    schemes = {"https", "http"} if allow_plain_http else {"https"}
    if parts.scheme not in schemes:
        raise DestinationRefused(f"the URL must use {' or '.join(sorted(schemes))}")
    if not parts.hostname:
        raise DestinationRefused("the URL has no host")
    if parts.username or parts.password:
        raise DestinationRefused("the URL must not carry credentials")
    return parts.hostname


def check_addresses(addresses: Iterable[IpAddress], *, allow_loopback: bool) -> None:
    """Refuse when any address is not a public one (loopback tolerated in dev and test).

    Every address the name resolves to is checked: a name with one public and one private
    address could otherwise be steered into the private network.
    """
    seen = False
    for address in addresses:
        seen = True
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if address.is_loopback:
            if allow_loopback:
                continue
            raise DestinationRefused(f"{address} is a loopback address")
        if (
            address.is_private
            or address.is_link_local
            or address.is_multicast
            or address.is_reserved
            or address.is_unspecified
            or not address.is_global
        ):
            raise DestinationRefused(f"{address} is not a public address")
    if not seen:
        raise DestinationRefused("the host does not resolve")
