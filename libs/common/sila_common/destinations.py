"""Where Sila may send a request a client chose (partners' webhooks, TMF621 listeners).

One check for every service: the URL's shape, then every address its host resolves to must
be public. Addresses that embed an IPv4 address (IPv4-mapped, 6to4, Teredo, NAT64) are
judged by the IPv4 address they lead to as well. The name is resolved once, and the
connection is made to the address that was checked (``Destination.request_args``): a
name re-pointed at a private address between the check and the connection (DNS
rebinding) is never followed. TLS still verifies the certificate against the name.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sila_common.settings import Profile

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# NAT64 prefixes (RFC 6052 well-known, RFC 8215 local use): the last 32 bits are IPv4.
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
# Deprecated IPv4-compatible addresses (::a.b.c.d).
_COMPATIBLE = ipaddress.ip_network("::/96")


class DestinationRefused(ValueError):
    """A URL that Sila will not call."""


def check_url_shape(url: str, *, allow_plain_http: bool) -> str:
    """The URL's host, once its scheme and shape are acceptable."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise DestinationRefused("the URL is malformed") from error
    schemes = {"https", "http"} if allow_plain_http else {"https"}
    if parts.scheme not in schemes:
        raise DestinationRefused(f"the URL must use {' or '.join(sorted(schemes))}")
    if not parts.hostname:
        raise DestinationRefused("the URL has no host")
    if parts.username or parts.password:
        raise DestinationRefused("the URL must not carry credentials")
    if port == 0:
        raise DestinationRefused("the URL's port is not valid")
    return parts.hostname


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to (mapped, 6to4, Teredo, NAT64...)."""
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    # ::1 and :: sit in the IPv4-compatible range but are loopback and unspecified.
    compatible = address in _COMPATIBLE and int(address) > 1
    if compatible or any(address in network for network in _NAT64):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def _refusal(address: IpAddress, *, allow_loopback: bool) -> str | None:
    if address.is_loopback:
        return None if allow_loopback else f"{address} is a loopback address"
    if (
        address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    ):
        return f"{address} is not a public address"
    return None


def check_addresses(addresses: Iterable[IpAddress], *, allow_loopback: bool) -> None:
    """Refuse when any address is not a public one (loopback tolerated in dev and test).

    Every address the name resolves to is checked: a name with one public and one private
    address could otherwise be steered into the private network.
    """
    seen = False
    for address in addresses:
        seen = True
        judged: list[IpAddress] = [address]
        if isinstance(address, ipaddress.IPv6Address):
            embedded = embedded_ipv4(address)
            # An IPv4-mapped address is the IPv4 one; the other forms are refused when
            # either the IPv6 address or the IPv4 it embeds is not public.
            judged = [*embedded] if address.ipv4_mapped is not None else [address, *embedded]
        for candidate in judged:
            reason = _refusal(candidate, allow_loopback=allow_loopback)
            if reason is not None:
                raise DestinationRefused(reason)
    if not seen:
        raise DestinationRefused("the host does not resolve")


async def resolve(host: str) -> list[IpAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise DestinationRefused(f"{host} does not resolve") from error
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


@dataclass(frozen=True)
class Destination:
    """A URL that passed the check, and the address the connection must go to."""

    url: str
    host: str
    address: IpAddress

    def request_args(self) -> dict[str, Any]:
        """``httpx`` arguments that connect to the checked address, not to a new lookup.

        The URL names the address; the Host header and the TLS server name (SNI, and the
        certificate check) stay the original host's.
        """
        parts = urlsplit(self.url)
        literal = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        netloc = literal if parts.port is None else f"{literal}:{parts.port}"
        host_header = parts.hostname or self.host
        if ":" in host_header:
            host_header = f"[{host_header}]"
        if parts.port is not None:
            host_header = f"{host_header}:{parts.port}"
        return {
            "url": urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")),
            "headers": {"host": host_header},
            "extensions": {"sni_hostname": self.host} if parts.scheme == "https" else {},
        }


async def check_destination(url: str, profile: Profile) -> Destination:
    """The destination if ``url`` may be called in this profile; DestinationRefused otherwise.

    Loopback and plain http are accepted in the dev and test profiles only (partners test
    against a local receiver); private addresses never.
    """
    relaxed = profile in (Profile.DEV, Profile.TEST)
    host = check_url_shape(url, allow_plain_http=relaxed)
    addresses = await resolve(host)
    check_addresses(addresses, allow_loopback=relaxed)
    return Destination(url=url, host=host, address=addresses[0])
