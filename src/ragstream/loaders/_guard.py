"""Which URLs may be fetched: the scheme rule, and a guard against internal addresses.

A guard is any callable that raises to refuse a URL; the loaders call it
before every connection (the first URL and each redirect hop). A guard that
also has a ``check_address(address)`` method is asked, after each connection
is made and before its body is read, about the address the connection
actually reached, so a host name that resolves to one address for the guard
and to another for the connection (DNS rebinding) is caught.
``public_only_guard`` is such a guard.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Protocol
from urllib.parse import urlsplit

from ragstream.errors import SourceError

__all__ = [
    "AddressGuard", "IPAddress", "PublicOnlyGuard", "URLGuard", "check_scheme", "parse_address",
    "public_only_guard",
]

URLGuard = Callable[[str], None]
"""A callable that raises to refuse a URL; it is called before every connection."""

_SCHEMES = ("http", "https")
# cloud metadata services; link-local already covers the IPv4 one, the AWS
# IPv6 one sits in a range Python calls private, but name them to be sure
_METADATA = (
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("fd00:ec2::254"),
)

_KINDS = (
    ("loopback", "a loopback address"),
    ("link_local", "a link-local address"),
    ("multicast", "a multicast address"),
    ("unspecified", "an unspecified address"),
    ("reserved", "a reserved address"),
    ("private", "a private address"),
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def check_scheme(url: str, *, source: str | None = None) -> None:
    """Refuse anything but an ``http``/``https`` URL with a host, before any I/O."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise SourceError(source or url, f"not a valid URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        shown = f"{scheme!r} URLs" if scheme else "URLs without a scheme"
        raise SourceError(source or url, f"{shown} are not fetched; only http and https are")
    if not parts.hostname:
        raise SourceError(source or url, "the URL has no host")


def _why_internal(address: IPAddress) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _why_internal(address.ipv4_mapped)
    if address in _METADATA:
        return "a cloud metadata address"
    for kind, what in _KINDS:
        if getattr(address, f"is_{kind}"):
            return what
    if not address.is_global:  # shared (100.64/10), documentation and the like
        return "not a public address"
    return None


class AddressGuard(Protocol):
    """A URL guard that also checks the address each connection reached.

    ``check_address`` raises to refuse the address (a ``SourceError`` whose
    reason is shown as it is, or any exception, shown as the guard's refusal);
    it must not block: it runs in the event loop, once per response.
    """

    def __call__(self, url: str) -> None: ...

    def check_address(self, address: IPAddress) -> None: ...


class PublicOnlyGuard:
    """Refuse URLs whose host is, or resolves to, a non-public address, and
    connections that reach one.

    Loopback, private, link-local, multicast, reserved, unspecified and cloud
    metadata (169.254.169.254) addresses are refused: for every address the
    host name resolves to, before connecting, and again for the address each
    connection actually reached, before the response is read. The second
    check closes DNS rebinding (a name that answers a public address to the
    guard and an internal one to the connection). Use it where the URLs come
    from people you do not trust (a server that loads pages on request)::

        loader = WebBaseLoader(url, url_guard=public_only_guard)

    Calling it resolves the name, so it blocks; loaders call it in a worker
    thread. Through a proxy (``HTTP_PROXY`` and the like) the proxy resolves
    the name and connects, so only the name is checked.
    """

    def __repr__(self) -> str:
        return "public_only_guard"

    def __call__(self, url: str) -> None:
        check_scheme(url)
        parts = urlsplit(url)
        host = parts.hostname or ""
        try:
            port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        except ValueError as exc:
            raise SourceError(url, f"not a valid URL: {exc}") from exc
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise SourceError(url, f"cannot resolve host {host!r}: {exc}") from exc
        for info in infos:
            address = parse_address(str(info[4][0]))
            why = _why_internal(address)
            if why is not None:
                raise SourceError(url, f"refused: host {host!r} is {address}, {why}")

    def check_address(self, address: IPAddress) -> None:
        """Refuse a connection that reached a non-public ``address``."""
        why = _why_internal(address)
        if why is not None:
            raise SourceError(str(address), f"refused: connected to {address}, {why}")


public_only_guard = PublicOnlyGuard()
"""The ready-made ``PublicOnlyGuard``: ``WebBaseLoader(url, url_guard=public_only_guard)``."""


def parse_address(text: str) -> IPAddress:
    """An address as sockets give it, without an IPv6 zone (``fe80::1%eth0``)."""
    return ipaddress.ip_address(text.split("%", 1)[0])
