"""Which URLs may be fetched: the scheme rule, and a guard against internal addresses."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from ragstream.errors import SourceError

__all__ = ["URLGuard", "check_scheme", "public_only_guard"]

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


def public_only_guard(url: str) -> None:
    """Refuse URLs whose host is, or resolves to, a non-public address.

    Loopback, private, link-local, multicast, reserved, unspecified and cloud
    metadata (169.254.169.254) addresses are refused, for every address the
    host name resolves to. Use it where the URLs come from people you do not
    trust (a server that loads pages on request)::

        loader = WebBaseLoader(url, url_guard=public_only_guard)

    It resolves the name itself, so it blocks; loaders call it in a worker
    thread. A name resolved again at connect time could in principle answer
    differently (DNS rebinding); the guard narrows, but does not close, that gap.
    """
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
        # the address string may carry an IPv6 zone ("fe80::1%eth0")
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        why = _why_internal(address)
        if why is not None:
            raise SourceError(url, f"refused: host {host!r} is {address}, {why}")
