"""Outbound URL checks for targets people configure (webhook endpoints, push services).

An organization admin must not be able to make the server call its own admin ports or
the cloud metadata service (SSRF). Targets must be http(s) and resolve only to public
addresses, unless ``NOTIFY_ALLOW_PRIVATE_TARGETS`` is on (tests, the demo, LAN setups).
The check runs when the URL is saved and again before each send (DNS can change).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit


class UnsafeTarget(ValueError):
    pass


def check_url_syntax(url: str, *, allow_private: bool, require_https: bool = False) -> str:
    """The URL, normalized; ``UnsafeTarget`` with a reason otherwise."""
    url = url.strip()
    if len(url) > 1000:
        raise UnsafeTarget("The URL is too long (1,000 characters at most).")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise UnsafeTarget("This is not a valid URL.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeTarget("Use an http:// or https:// URL with a host name.")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise UnsafeTarget("The URL contains spaces or control characters.")
    if require_https and parts.scheme != "https" and not allow_private:
        raise UnsafeTarget("Use an https:// URL.")
    if parts.username or parts.password:
        raise UnsafeTarget("Credentials in the URL are not allowed; use the signing secret.")
    host = parts.hostname
    if not allow_private:
        if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
            raise UnsafeTarget("The URL points at a private host.")
        try:
            _refuse_private(ipaddress.ip_address(host))
        except ValueError as exc:
            if isinstance(exc, UnsafeTarget):
                raise
    return url


def _refuse_private(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    if not ip.is_global or ip.is_multicast:
        raise UnsafeTarget("The URL points at a private, loopback or reserved address.")


async def check_resolves_public(url: str, *, allow_private: bool) -> None:
    """Before a send: every address the host resolves to must be public."""
    if allow_private:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    # socket.gaierror propagates: a DNS failure is the sender's transient error.
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    for info in infos:
        _refuse_private(ipaddress.ip_address(info[4][0]))
