"""Fetching one web page safely: schemes, guard, redirects, status, type and size.

Redirects are followed here, hop by hop, rather than by httpx, so that every
hop is checked (``http``/``https`` only, the URL guard) before connecting.
With a guard that checks addresses (``check_address``), the address each
connection actually reached is checked too, before the body is read: httpx
resolves the host name again when it connects, and that second answer is the
one that counts.
The body is streamed and abandoned as soon as it passes the size cap, and one
deadline covers the whole fetch, redirects included, so a server that drips
bytes cannot hold a worker forever.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from ragstream import __version__
from ragstream.errors import SourceError
from ragstream.loaders._guard import IPAddress, URLGuard, check_scheme, parse_address
from ragstream.loaders._html import looks_binary

if TYPE_CHECKING:
    import httpx

__all__ = ["DEFAULT_HEADERS", "Fetcher", "Page", "peer_address"]

DEFAULT_HEADERS = {
    "User-Agent": f"ragstream/{__version__} (document loader; +https://pypi.org/project/ragstream/)",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,text/plain;q=0.8,*/*;q=0.5",
}
# media types whose body is markup or text; anything else is refused unread
TEXT_TYPES = frozenset(
    {"text/html", "application/xhtml+xml", "text/xml", "application/xml", "text/plain"}
)


@dataclass(frozen=True, slots=True)
class Page:
    """The body of a fetched page and what its headers said about it."""

    url: str
    content: bytes
    media_type: str
    charset: str | None


class Fetcher:
    """An httpx client and the rules every fetch obeys; use as ``async with``."""

    def __init__(
        self,
        *,
        timeout: float,
        max_bytes: int,
        max_redirects: int,
        max_connections: int,
        headers: dict[str, str],
        url_guard: URLGuard | None,
        verify: bool,
        transport: httpx.AsyncBaseTransport | None,
    ) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.max_connections = max_connections
        self.headers = headers
        self.url_guard = url_guard
        self.verify = verify
        self.transport = transport
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Fetcher:
        import httpx

        self._client = httpx.AsyncClient(
            headers=self.headers,
            timeout=httpx.Timeout(self.timeout),
            limits=httpx.Limits(max_connections=self.max_connections),
            follow_redirects=False,
            verify=self.verify,
            transport=self.transport,
            # httpx parses a redirect target before handing the response back,
            # and fails on targets like "javascript:..."; check it first
            event_hooks={"response": [_check_redirect_target]},
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def fetch(self, url: str) -> Page:
        """The page at ``url``, or a ``SourceError`` naming ``url`` and what went wrong."""
        import httpx

        check_scheme(url)
        try:
            async with asyncio.timeout(self.timeout):
                return await self._follow(url)
        except TimeoutError as exc:
            raise SourceError(url, f"timed out after {self.timeout:g} s") from exc
        except httpx.TimeoutException as exc:
            raise SourceError(url, f"timed out after {self.timeout:g} s") from exc
        except httpx.ConnectError as exc:
            raise SourceError(url, f"cannot connect: {exc or type(exc).__name__}") from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise SourceError(url, f"{type(exc).__name__}: {exc}") from exc

    async def _follow(self, url: str) -> Page:
        assert self._client is not None, "use the Fetcher as 'async with'"
        current = url
        visited: list[str] = []
        while True:
            await self._check_guard(url, current)
            visited.append(current)
            request = self._client.build_request("GET", current)
            try:
                response = await self._client.send(request, stream=True)
            except _RefusedRedirect as exc:
                raise SourceError(url, f"redirected to {exc.target}: {exc.reason}") from None
            try:
                self._check_peer(url, current, response)
                if not response.is_redirect:
                    return await self._read(url, response)
                target = _redirect_target(response)
            finally:
                await response.aclose()
            if len(visited) > self.max_redirects:
                loop = " (a redirect loop)" if target in visited else ""
                raise SourceError(url, f"stopped after {self.max_redirects} redirects{loop}")
            current = target

    async def _check_guard(self, url: str, current: str) -> None:
        if self.url_guard is None:
            return
        hop = "" if current == url else f"redirect to {current}: "
        try:
            # guards may resolve host names, which blocks
            await asyncio.to_thread(self.url_guard, current)
        except SourceError as exc:
            raise SourceError(url, f"{hop}{exc.reason}") from exc
        except Exception as exc:
            raise SourceError(url, f"{hop}refused by the URL guard: {exc}") from exc

    def _check_peer(self, url: str, current: str, response: httpx.Response) -> None:
        check_address = getattr(self.url_guard, "check_address", None)
        if check_address is None or self._proxied(response):
            return
        hop = "" if current == url else f"redirect to {current}: "
        address = peer_address(response)
        if address is None:
            raise SourceError(
                url, f"{hop}refused: the URL guard checks addresses, and the transport does "
                     "not tell which address it connected to",
            )
        try:
            check_address(address)
        except SourceError as exc:
            raise SourceError(url, f"{hop}{exc.reason}") from exc
        except Exception as exc:
            raise SourceError(
                url, f"{hop}connected to {address}, refused by the URL guard: {exc}"
            ) from exc

    def _proxied(self, response: httpx.Response) -> bool:
        # through a proxy the connection reaches the proxy, which resolves the
        # name itself; httpx picks the proxy per URL from the environment
        client = self._client
        if client is None or self.transport is not None:
            return False
        try:
            chosen = client._transport_for_url(response.request.url)
            return chosen is not client._transport
        except AttributeError:  # another httpx: check the address, to be safe
            return False

    async def _read(self, url: str, response: httpx.Response) -> Page:
        if not 200 <= response.status_code < 300:
            phrase = f" {response.reason_phrase}" if response.reason_phrase else ""
            raise SourceError(url, f"HTTP {response.status_code}{phrase}")
        content_type = response.headers.get("content-type", "")
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type and media_type not in TEXT_TYPES:
            raise SourceError(url, f"not a web page: content type {media_type}")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise SourceError(
                url, f"page is {int(declared)} bytes, over the {self.max_bytes}-byte limit"
            )
        chunks: list[bytes] = []
        size = 0
        # decoded (decompressed) bytes are counted, so compression cannot dodge the cap
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise SourceError(url, f"page is over the {self.max_bytes}-byte limit")
            chunks.append(chunk)
        content = b"".join(chunks)
        if looks_binary(content):
            shown = media_type or "none declared"
            raise SourceError(url, f"not a web page: binary content (content type {shown})")
        return Page(
            url=str(response.url),
            content=content,
            media_type=media_type or "text/html",
            charset=response.charset_encoding,
        )


class _RefusedRedirect(Exception):
    def __init__(self, target: str, reason: str) -> None:
        super().__init__(target, reason)
        self.target = target
        self.reason = reason


def peer_address(response: httpx.Response) -> IPAddress | None:
    """The address the response's connection reached, when the transport tells."""
    stream = response.extensions.get("network_stream")
    get_extra_info = getattr(stream, "get_extra_info", None)
    if get_extra_info is None:
        return None
    peer = get_extra_info("server_addr")  # (host, port), or 4 items for IPv6
    if not isinstance(peer, tuple) or not peer:
        return None
    try:
        return parse_address(str(peer[0]))
    except ValueError:
        return None


def _redirect_target(response: httpx.Response) -> str:
    # urljoin keeps a foreign target as written, for the check and the message
    return urljoin(str(response.url), response.headers["location"])


async def _check_redirect_target(response: httpx.Response) -> None:
    if not response.is_redirect:
        return
    target = _redirect_target(response)
    try:
        check_scheme(target)
    except SourceError as exc:
        raise _RefusedRedirect(target, exc.reason) from None
