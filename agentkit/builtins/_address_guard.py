"""Which addresses `fetch_url` may reach: public internet sites, never this machine or its network.

The guard against server-side request forgery works in two places:

1. Before any lookup, the URL itself (`check_url`): only http and https; no `localhost`
   names; an IP literal (also in the legacy forms `2130706433`, `0x7f.1`, `0177.0.0.1`,
   `127.1`) must be public, including the IPv4 address inside an IPv4-mapped, 6to4, Teredo
   or NAT64 one.
2. At connection time, names (`VettedResolver`): the session's resolver looks the name up
   once, refuses it if ANY address is not public, and hands exactly those vetted addresses
   to the connector. No second lookup happens, so a name cannot re-bind to a private
   address between check and connect.

The tool runs every redirect through both checks again.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from typing import Union

from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from agentkit.errors import ToolError

__all__ = ["PUBLIC_ONLY", "Refused", "VettedResolver", "address_class", "check_url"]

PUBLIC_ONLY = (
    "This tool only fetches public addresses (internet sites), never this machine or a private network."
)
"""The sentence every refusal ends with."""

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

_METADATA = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NUMERIC_HOST = re.compile(r"(?:0[xX][0-9a-fA-F]*|[0-9]+)(?:\.(?:0[xX][0-9a-fA-F]*|[0-9]+)){0,3}")


class Refused(ToolError):
    """A URL or address the guard refuses; raised from inside the resolver too."""


def address_class(ip: IPAddress) -> str | None:
    """Why `ip` is not a public address (e.g. "a loopback address"), or None when it is."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            form, inner = embedded
            reason = address_class(inner)
            if reason is not None:
                return f"{reason} ({form} form of {inner})"
            if form == "IPv4-mapped":
                return None
    if ip in _METADATA:
        return "a link-local address (the cloud metadata service)"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private-network address"
    if not ip.is_global:
        return "a special-purpose (non-public) address"
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """The IPv4 address an IPv6 address stands for, with the name of the form."""
    if ip.ipv4_mapped is not None:
        return "IPv4-mapped", ip.ipv4_mapped
    if ip.sixtofour is not None:
        return "6to4", ip.sixtofour
    if ip.teredo is not None:
        return "Teredo", ip.teredo[1]
    if ip in _NAT64:
        return "NAT64", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """A host in the numeric forms browsers and `inet_aton` accept (`2130706433`, `0x7f.1`,
    `0177.0.0.1`, `127.1`) as the address it means; None if it is not such a form.

    Only hosts made of one to four numbers pass to `inet_aton`: the C function would also
    take `1.2.3.4 anything`, reading up to the first space.
    """
    if not _NUMERIC_HOST.fullmatch(host):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:  # a part too large, 8 or 9 in an octal part, or `0x` with no digits
        raise Refused(f"the host {host!r} is not a valid IPv4 address; write the address in full") from None


def _check_host(host: str, allow_private: bool, what: str) -> None:
    """Refuse `localhost` names and IP literals that are not public (before any lookup).

    Args:
        host: The URL's host, as the connection will use it (IDNA-decoded, no brackets).
        allow_private: Skip the address checks.
        what: How the refusal names the URL (e.g. "http://x/" or "the redirect to http://x/").
    """
    bare = host.rstrip(".").lower()
    try:
        literal: IPAddress | None = ipaddress.ip_address(bare)
        legacy = False
    except ValueError:
        literal = _legacy_ipv4(bare)
        legacy = literal is not None
    if not allow_private:
        if bare == "localhost" or bare.endswith(".localhost"):
            raise Refused(
                f"{what} is refused: {host!r} names this machine (a loopback address). {PUBLIC_ONLY}"
            )
        reason = address_class(literal) if literal is not None else None
        if reason is not None:
            spelled = str(literal) if bare == str(literal) else f"{host} (that is {literal})"
            raise Refused(f"{what} is refused: {spelled} is {reason}. {PUBLIC_ONLY}")
    if legacy:
        raise ToolError(
            f"{what} writes the address {literal} in an unusual numeric form ({host}); "
            f"use the usual dotted form, e.g. http://{literal}/"
        )


def check_url(text: str, allow_private: bool, what: str) -> URL:
    """The URL `text` if the guard lets it through (see the module docstring).

    Args:
        text: The URL as given.
        allow_private: Let non-public addresses through (other schemes stay refused).
        what: How errors name the URL (e.g. the URL itself, or "the redirect from A to B").

    Raises:
        Refused: A scheme other than http(s), or a host that names a non-public address.
        ToolError: Not a usable URL: no scheme, no host, or an address in a legacy numeric form.
    """
    try:
        url = URL(text.strip())
    except (ValueError, TypeError):
        raise ToolError(
            f"{what} is not a valid URL; give a full address such as https://example.com/page"
        ) from None
    if not url.scheme:
        raise ToolError(
            f"{what} has no scheme; write the full address, e.g. https://{text.strip().lstrip('/')}"
        )
    if url.scheme not in ("http", "https"):
        raise Refused(
            f"{what} uses {url.scheme}:, which is refused: fetch_url only reads http:// and https:// "
            "addresses of public web sites."
        )
    if not url.host:
        raise ToolError(f"{what} has no host name; give a full address such as https://example.com/page")
    _check_host(url.host, allow_private, what)
    return url


async def _getaddrinfo(host: str, port: int, family: int) -> list[tuple[int, str, int]]:
    """The (family, address, scope id) of every address `host` resolves to."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, family=family, type=socket.SOCK_STREAM)
    found = []
    for info_family, _, _, _, sockaddr in infos:
        scope = int(sockaddr[3]) if info_family == socket.AF_INET6 and len(sockaddr) > 3 else 0
        found.append((int(info_family), str(sockaddr[0]), scope))
    return found


class VettedResolver(AbstractResolver):
    """Looks a name up once, refuses it if any address is not public, and gives the connector
    exactly the addresses it checked."""

    def __init__(self, allow_private: bool) -> None:
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Every address of `host`, each checked; `Refused` if any is not public."""
        addresses = list(dict.fromkeys(await _getaddrinfo(host, port, family)))
        if not addresses:
            raise OSError(f"{host} has no addresses")
        results: list[ResolveResult] = []
        for address_family, address, scope in addresses:
            if not self._allow_private:
                reason = address_class(ipaddress.ip_address(address.split("%")[0]))
                if reason is not None:
                    raise Refused(f"{host} resolves to {address}, {reason}. {PUBLIC_ONLY}")
            results.append(
                ResolveResult(
                    hostname=host,
                    host=f"{address}%{scope}" if scope else address,
                    port=port,
                    family=address_family,
                    proto=0,
                    flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
                )
            )
        return results

    async def close(self) -> None:
        """Nothing to release: no cache, no connections."""
        return None
