"""Where webhooks may post: public internet addresses only, unless the operator allows more.

A webhook URL names a host the platform will connect to from inside the deployment, so a destination that
is (or resolves to) a loopback, private, link-local (cloud metadata), shared, multicast, unspecified or
reserved address is refused, in every spelling: IPv4 in decimal/octal/hex forms (resolved the way the
system resolver reads them), IPv6, and IPv4 embedded in IPv6 (mapped, compatible, 6to4, NAT64, Teredo).
Names that only ever mean an internal host (``localhost``, ``*.internal`` such as
``metadata.google.internal``, ``*.local``, single-label names) are refused even when they do not resolve.

The check runs at registration and again at each delivery: :meth:`DestinationPolicy.vet` resolves the
host, checks every address, and returns the URL to connect with the vetted address in place of the name
(the ``Host`` header and the TLS server name keep the name), so a DNS answer that changes between check and
connection cannot redirect the request. ``EXEML_GATEWAY_WEBHOOK_ALLOWED_DESTINATIONS`` (JSON list of CIDRs
and host names) lets an operator enable internal destinations.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import httpx

from shared.errors import ErrorDetail, InvalidInput

__all__ = ["DestinationPolicy", "DestinationRefused", "VettedDestination", "system_resolver"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]
_INTERNAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".intranet", ".lan", ".corp")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class DestinationRefused(InvalidInput):
    """A webhook destination the platform will not post to (400 at registration; a failed delivery later)."""

    def __init__(self, url: str, rule: str, msg: str) -> None:
        super().__init__(
            f"webhook url {url!r} is refused: {msg}",
            details=[ErrorDetail(rule=rule, msg=msg, field="url", value=url)],
        )
        self.rule = rule


@dataclass(frozen=True)
class VettedDestination:
    """Where to connect (``url`` carries the checked address) and how to present the original host."""

    url: httpx.URL
    host_header: str
    sni_hostname: str | None


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives ``host`` (the same reading a socket connect would use)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    found = [ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())]
    if any(ip in net for net in _NAT64) or int(ip) >> 32 == 0:  # NAT64, or IPv4-compatible ::a.b.c.d
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return [a for a in found if a is not None]


def is_public(ip: IPAddress) -> bool:
    """Whether ``ip`` (and any IPv4 address embedded in it) is a unicast address of the public internet."""
    if isinstance(ip, ipaddress.IPv6Address) and any(not is_public(v4) for v4 in _embedded_ipv4(ip)):
        return False
    return ip.is_global and not (
        ip.is_multicast
        or ip.is_reserved
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_unspecified
    )


def _internal_name(host: str) -> bool:
    """A host name (not an address literal) that only ever means a host inside the network."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost" or "." not in host or host.endswith(_INTERNAL_SUFFIXES)
    return False


class DestinationPolicy:
    """The rule for webhook destinations; ``allowed`` holds the operator's CIDRs and host names."""

    def __init__(self, allowed: Sequence[str] = (), resolver: Resolver = system_resolver) -> None:
        self.networks, self.hosts = [], set()
        for entry in allowed:
            try:
                self.networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                self.hosts.add(entry.strip().lower().rstrip("."))
        self.resolver = resolver

    def _allowed(self, ip: IPAddress) -> bool:
        return is_public(ip) or any(ip in net for net in self.networks)

    async def check(self, url: str, *, require_resolution: bool = False) -> list[str]:
        """The addresses ``url``'s host may be reached at; ``DestinationRefused`` if any is not allowed.

        Without ``require_resolution`` (registration) a name that does not resolve yet is accepted unless
        its form is internal: deliveries check again.
        """
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise DestinationRefused(url, "webhook_url_invalid", str(exc)) from exc
        host = parsed.host.lower().rstrip(".")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        if parsed.scheme not in ("http", "https") or not host:
            raise DestinationRefused(url, "webhook_scheme", "only http:// and https:// URLs with a host")
        try:
            addresses = await self.resolver(host, port)
        except OSError as exc:
            if require_resolution or (_internal_name(host) and host not in self.hosts):
                raise DestinationRefused(
                    url,
                    "webhook_host_unresolved" if require_resolution else "webhook_internal_name",
                    f"{host} does not resolve ({exc})",
                ) from exc
            return []
        self._check_addresses(url, host, addresses)
        return addresses

    def _check_addresses(self, url: str, host: str, addresses: list[str]) -> None:
        if host in self.hosts:
            return
        ips = [ipaddress.ip_address(a.split("%", 1)[0]) for a in addresses]
        refused = [str(ip) for ip in ips if not self._allowed(ip)]
        if refused or not ips:
            raise DestinationRefused(
                url,
                "webhook_internal_address",
                f"{host} is (or resolves to) {', '.join(refused) or 'no address'}: loopback, "
                "private, link-local, multicast, unspecified and reserved addresses are not "
                "webhook destinations (EXEML_GATEWAY_WEBHOOK_ALLOWED_DESTINATIONS allows them)",
            )
        if _internal_name(host) and not all(any(ip in net for net in self.networks) for ip in ips):
            raise DestinationRefused(url, "webhook_internal_name", f"{host} names an internal host")

    async def vet(self, url: str) -> VettedDestination:
        """Resolve and check ``url`` now, and pin the connection to the first checked address."""
        addresses = await self.check(url, require_resolution=True)
        parsed = httpx.URL(url)
        address = addresses[0].split("%", 1)[0]
        return VettedDestination(
            url=parsed.copy_with(host=address),
            host_header=parsed.netloc.decode("ascii"),
            sni_hostname=parsed.host if parsed.scheme == "https" else None,
        )
