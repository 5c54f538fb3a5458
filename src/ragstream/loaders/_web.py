"""``WebBaseLoader``: web pages to documents, with the reference loader's signature."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ragstream.documents import Document
from ragstream.errors import ConfigError, SourceError
from ragstream.loaders._base import BaseLoader
from ragstream.loaders._fetch import DEFAULT_HEADERS, Fetcher, Page
from ragstream.loaders._guard import URLGuard
from ragstream.loaders._html import decode_html, page_metadata, parse_html

if TYPE_CHECKING:
    import httpx

__all__ = ["WebBaseLoader"]


def _paths(web_path: str | Sequence[str], web_paths: Sequence[str] | str) -> list[str]:
    if web_path and web_paths:
        raise ConfigError("give web_path or web_paths, not both")
    given = web_paths or web_path
    paths = [given] if isinstance(given, str) else list(given)
    for path in paths:
        if not isinstance(path, str):
            raise ConfigError(f"web paths must be URL strings, not {type(path).__name__}")
    return paths


class WebBaseLoader(BaseLoader):
    """Load web pages as documents: one ``Document`` per URL, in the order given.

    Pages are fetched with httpx, at most ``max_concurrency`` at a time, each
    within ``timeout`` seconds and ``max_bytes`` bytes; only ``http``/``https``
    URLs are fetched and only HTML, XML or plain text is read. Each page is
    decoded by its declared encoding (HTTP header, then ``<meta charset>``,
    then detection), parsed with BeautifulSoup (``bs_kwargs`` such as
    ``parse_only`` are passed on) and its text taken with
    ``soup.get_text(**bs_get_text_kwargs)``. Metadata holds ``source`` (the
    URL asked for) and, where the parsed page has them, ``title``,
    ``description`` and ``language``.

    ``url_guard`` is called with the URL, and with every redirect target,
    before connecting; it refuses a URL by raising (see ``public_only_guard``).
    If some pages fail, the others are still loaded and a ``LoadError`` is
    raised at the end carrying both; ``continue_on_failure=True`` logs and
    skips failures instead.

    >>> import bs4
    >>> loader = WebBaseLoader(
    ...     web_paths=("https://lilianweng.github.io/posts/2023-06-23-agent/",),
    ...     bs_kwargs=dict(parse_only=bs4.SoupStrainer(class_=("post-content", "post-title"))),
    ... )
    >>> docs = loader.load()
    >>> docs[0].metadata
    {'source': 'https://lilianweng.github.io/posts/2023-06-23-agent/'}
    """

    def __init__(
        self,
        web_path: str | Sequence[str] = (),
        *,
        web_paths: Sequence[str] = (),
        bs_kwargs: Mapping[str, Any] | None = None,
        bs_get_text_kwargs: Mapping[str, Any] | None = None,
        default_parser: str = "html.parser",
        encoding: str | None = None,
        timeout: float = 30.0,
        max_bytes: int = 10 * 1024 * 1024,
        max_concurrency: int = 8,
        max_redirects: int = 10,
        headers: Mapping[str, str] | None = None,
        url_guard: URLGuard | None = None,
        verify_ssl: bool = True,
        continue_on_failure: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.web_paths = _paths(web_path, web_paths)
        if not timeout > 0:
            raise ConfigError(f"timeout must be positive, not {timeout!r}")
        if max_bytes < 1:
            raise ConfigError(f"max_bytes must be at least 1, not {max_bytes!r}")
        if max_concurrency < 1:
            raise ConfigError(f"max_concurrency must be at least 1, not {max_concurrency!r}")
        if max_redirects < 0:
            raise ConfigError(f"max_redirects must be 0 or more, not {max_redirects!r}")
        self.bs_kwargs = dict(bs_kwargs or {})
        self.bs_get_text_kwargs = dict(bs_get_text_kwargs or {})
        self.default_parser = default_parser
        self.encoding = encoding
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_concurrency = max_concurrency
        self.max_redirects = max_redirects
        self.headers = {**DEFAULT_HEADERS, **(headers or {})}
        self.url_guard = url_guard
        self.verify_ssl = verify_ssl
        self.continue_on_failure = continue_on_failure
        self.transport = transport

    @property
    def web_path(self) -> str:
        """The one URL of a single-page loader."""
        if len(self.web_paths) != 1:
            raise ConfigError(f"this loader has {len(self.web_paths)} web paths, not one")
        return self.web_paths[0]

    def __repr__(self) -> str:
        return f"WebBaseLoader(web_paths={self.web_paths!r})"

    async def _aresults(self) -> AsyncIterator[Document | SourceError]:
        fetcher = Fetcher(
            timeout=self.timeout,
            max_bytes=self.max_bytes,
            max_redirects=self.max_redirects,
            max_connections=self.max_concurrency,
            headers=self.headers,
            url_guard=self.url_guard,
            verify=self.verify_ssl,
            transport=self.transport,
        )
        async with fetcher:
            slots = asyncio.Semaphore(self.max_concurrency)

            async def one(url: str) -> Document | SourceError:
                try:
                    async with slots:
                        page = await fetcher.fetch(url)
                    # parsing is CPU work; off the loop, other fetches keep flowing
                    return await asyncio.to_thread(self._document, url, page)
                except SourceError as exc:
                    return exc

            # results come out in input order; a bounded window of tasks runs
            # ahead so that one slow page does not stall the others for long
            urls = iter(self.web_paths)
            window: deque[asyncio.Task[Document | SourceError]] = deque()

            def fill() -> None:
                while len(window) < 2 * self.max_concurrency:
                    url = next(urls, None)
                    if url is None:
                        return
                    window.append(asyncio.ensure_future(one(url)))

            fill()
            try:
                while window:
                    result = await window.popleft()
                    fill()
                    yield result
            finally:
                for task in window:
                    task.cancel()
                await asyncio.gather(*window, return_exceptions=True)

    def _document(self, url: str, page: Page) -> Document:
        text, _ = decode_html(page.content, http_charset=page.charset, forced=self.encoding)
        if page.media_type == "text/plain":
            if not text.strip():
                raise SourceError(url, "the page is empty")
            return Document(page_content=text, metadata={"source": url})
        soup = parse_html(text, source=url, parser=self.default_parser, bs_kwargs=self.bs_kwargs)
        content = soup.get_text(**self.bs_get_text_kwargs)
        if not content.strip():
            if "parse_only" in self.bs_kwargs:
                raise SourceError(url, "no text on the page matched bs_kwargs['parse_only']")
            raise SourceError(url, "no text on the page")
        return Document(page_content=content, metadata=page_metadata(soup, url))

