"""Where a webhook may go: the URL's shape, then every address its host resolves to.

Checked when a subscription is saved and again before every delivery (a name can be
re-pointed at a private address after it was accepted).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from sila_common.settings import Profile
from sila_notify.domain.webhook_policy import (
    DestinationRefused,
    IpAddress,
    check_addresses,
    check_url_shape,
)


async def resolve(host: str) -> list[IpAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as error:
        raise DestinationRefused(f"{host} does not resolve") from error
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


async def check_destination(url: str, profile: Profile) -> None:
    """Raise DestinationRefused unless ``url`` may receive webhooks in this profile."""
    relaxed = profile in (Profile.DEV, Profile.TEST)
    host = check_url_shape(url, allow_plain_http=relaxed)
    check_addresses(await resolve(host), allow_loopback=relaxed)
