"""WebBaseLoader against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import bs4
import httpx
import pytest

from ragstream.documents import Document
from ragstream.errors import ConfigError, SourceError
from ragstream.loaders import LoadError, WebBaseLoader

from .conftest import BLOG_POST, STATIC, STRAINED_CLASSES, Site

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
    async def guarded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(guarded())


def load_one(url: str, **kwargs: Any) -> Document:
    docs = WebBaseLoader(url, **kwargs).load()
    assert len(docs) == 1
    return docs[0]


def load_error(url: str, **kwargs: Any) -> SourceError:
    """The one failure of loading ``url`` alone."""
    with pytest.raises(LoadError) as info:
        WebBaseLoader(url, **kwargs).load()
    assert info.value.documents == []
    assert len(info.value.failures) == 1
    failure = info.value.failures[0]
    assert failure.source == url
    return failure


# --- the guide's page --------------------------------------------------------------


def test_guide_code_runs_unchanged(site: Site) -> None:
    loader = WebBaseLoader(
        web_paths=(site.url("/posts/agent/"),),
        bs_kwargs=dict(parse_only=bs4.SoupStrainer(class_=STRAINED_CLASSES)),
    )
    docs = loader.load()

    assert len(docs) == 1
    text = docs[0].page_content
    assert "LLM Powered Autonomous Agents" in text  # post-title
    assert "Date: June 23, 2023" in text  # post-header
    assert "Component One: Planning#\nA complicated task" in text  # post-content
    assert "Memory can be defined" in text
    for dropped in ("Site menu", "Powered by Hugo", "Lil'Log"):  # nav, footer, <title>
        assert dropped not in text
    # the strainer drops <head>, so the metadata is the source alone, as in the guide
    assert docs[0].metadata == {"source": site.url("/posts/agent/")}


def test_text_is_what_beautifulsoup_gets_from_the_same_page(site: Site) -> None:
    strainer = bs4.SoupStrainer(class_=STRAINED_CLASSES)
    expected = bs4.BeautifulSoup(BLOG_POST, "html.parser", parse_only=strainer).get_text()
    doc = load_one(site.url("/posts/agent/"), bs_kwargs={"parse_only": strainer})
    assert doc.page_content == expected


def test_whole_page_has_title_description_and_language(site: Site) -> None:
    doc = load_one(site.url("/posts/agent/"))
    assert doc.metadata == {
        "source": site.url("/posts/agent/"),
        "title": "LLM Powered Autonomous Agents | Lil'Log",
        "description": "Building agents with LLM as its core controller.",
        "language": "en",
    }
    assert "Site menu" in doc.page_content
    assert doc.page_content == bs4.BeautifulSoup(BLOG_POST, "html.parser").get_text()


def test_get_text_kwargs_are_passed_on(site: Site) -> None:
    strainer = bs4.SoupStrainer(class_="post-title")
    doc = load_one(
        site.url("/posts/agent/"),
        bs_kwargs={"parse_only": strainer},
        bs_get_text_kwargs={"separator": "|", "strip": True},
    )
    assert doc.page_content == "LLM Powered Autonomous Agents"


def test_single_url_string_and_web_path(site: Site) -> None:
    url = site.url("/posts/agent/")
    assert WebBaseLoader(url).web_paths == [url]
    assert WebBaseLoader(web_paths=url).web_paths == [url]  # a str is one URL, not characters
    assert WebBaseLoader([url, url]).web_paths == [url, url]
    assert WebBaseLoader(url).web_path == url
    with pytest.raises(ConfigError, match="not both"):
        WebBaseLoader(url, web_paths=[url])
    with pytest.raises(ConfigError, match="2 web paths"):
        _ = WebBaseLoader([url, url]).web_path


def test_four_ways_to_load_agree(site: Site) -> None:
    urls = [site.url("/posts/agent/"), site.url("/plain.txt"), site.url("/enc/sjis-meta")]
    loader = WebBaseLoader(web_paths=urls)

    async def async_lazy() -> list[Document]:
        return [doc async for doc in loader.alazy_load()]

    loaded = loader.load()
    assert [d.metadata["source"] for d in loaded] == urls
    assert list(loader.lazy_load()) == loaded
    assert run(loader.aload()) == loaded
    assert run(async_lazy()) == loaded


def test_plain_text_is_not_parsed_as_html(site: Site) -> None:
    doc = load_one(site.url("/plain.txt"))
    assert doc.page_content == "Plain text <not a tag> page.\nSecond line.\n"
    assert doc.metadata == {"source": site.url("/plain.txt")}


def test_page_without_content_type_is_read(site: Site) -> None:
    assert load_one(site.url("/no-type")).page_content == "No content type header"


# --- encodings ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # ISO-8859-1 declared: decoded as browsers do, windows-1252, so “” survive
        ("/enc/latin1-header", "Café crème “quoted” naïve"),
        ("/enc/sjis-meta", "日本語のページエージェントの記憶と計画"),  # <title> is text too
        ("/enc/cp1252-meta", "Price: 5€ — déjà vu"),
        ("/enc/header-beats-meta", "Grüße"),
        ("/enc/undeclared-utf8", "스트리밍 결과 — naïve"),
        ("/enc/undeclared-cp1252", "résumé – façade"),
    ],
)
def test_declared_and_detected_encodings(site: Site, path: str, expected: str) -> None:
    assert load_one(site.url(path)).page_content == expected


def test_title_in_another_encoding(site: Site) -> None:
    assert load_one(site.url("/enc/sjis-meta")).metadata["title"] == "日本語のページ"


def test_forced_encoding_wins(site: Site) -> None:
    # forcing latin-1 on UTF-8 bytes gives mojibake: proof the override was used
    doc = load_one(site.url("/enc/undeclared-utf8"), encoding="latin-1")
    assert "naÃ¯ve" in doc.page_content


# --- redirects ---------------------------------------------------------------------


def test_redirect_is_followed_and_source_is_the_url_asked_for(site: Site) -> None:
    doc = load_one(site.url("/redirect/to-post"))
    assert "Component One: Planning" in doc.page_content
    assert doc.metadata["source"] == site.url("/redirect/to-post")


def test_relative_and_absolute_redirect_chain(site: Site) -> None:
    doc = load_one(site.url("/redirect/chain-1"))
    assert doc.metadata["title"].startswith("LLM Powered")
    assert site.requests == [
        "/redirect/chain-1",
        "/redirect/chain-2",
        "/redirect/chain-3",
        "/posts/agent/",
    ]


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("/redirect/to-file", "file:///etc/passwd"),
        ("/redirect/to-ftp", "ftp://127.0.0.1/pub/file.html"),
        ("/redirect/to-javascript", "javascript:alert(1)"),
    ],
)
def test_redirect_to_another_scheme_is_refused(site: Site, path: str, target: str) -> None:
    failure = load_error(site.url(path))
    assert f"redirected to {target}" in failure.reason
    assert "only http and https" in failure.reason
    assert site.requests == [path]


def test_redirect_loop_stops(site: Site) -> None:
    failure = load_error(site.url("/redirect/loop-a"), max_redirects=5)
    assert failure.reason == "stopped after 5 redirects (a redirect loop)"
    assert len(site.requests) == 6


def test_max_redirects_zero_refuses_any_redirect(site: Site) -> None:
    failure = load_error(site.url("/redirect/to-post"), max_redirects=0)
    assert "stopped after 0 redirects" in failure.reason
    assert site.requests == ["/redirect/to-post"]


# --- bad sources -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "reason"), [(404, "HTTP 404 Not Found"), (403, "HTTP 403 Forbidden"),
                         (500, "HTTP 500 Internal Server Error"), (503, "HTTP 503")]
)
def test_error_status(site: Site, code: int, reason: str) -> None:
    assert load_error(site.url(f"/status/{code}")).reason.startswith(reason)


def test_error_message_names_the_source(site: Site) -> None:
    url = site.url("/status/404")
    with pytest.raises(SourceError) as info:
        WebBaseLoader(url).load()
    assert str(info.value) == f"loaded 0 documents, failed 1 source: {url}: HTTP 404 Not Found"
    assert info.value.source == url


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/binary/png", "not a web page: content type image/png"),
        ("/binary/octet", "not a web page: content type application/octet-stream"),
        ("/binary/mislabelled", "not a web page: binary content (content type text/html)"),
    ],
)
def test_binary_responses(site: Site, path: str, reason: str) -> None:
    assert load_error(site.url(path)).reason == reason


def test_empty_page(site: Site) -> None:
    assert load_error(site.url("/empty")).reason == "no text on the page"


def test_strainer_that_matches_nothing(site: Site) -> None:
    strainer = bs4.SoupStrainer(class_="no-such-class")
    failure = load_error(site.url("/posts/agent/"), bs_kwargs={"parse_only": strainer})
    assert failure.reason == "no text on the page matched bs_kwargs['parse_only']"


def test_page_over_the_cap_by_content_length(site: Site) -> None:
    size = len(STATIC["/huge"][0])
    failure = load_error(site.url("/huge"), max_bytes=100_000)
    assert failure.reason == f"page is {size} bytes, over the 100000-byte limit"
    assert load_one(site.url("/huge"), max_bytes=size).page_content == "x" * 200_000


def test_page_over_the_cap_while_streaming(site: Site) -> None:
    failure = load_error(site.url("/huge-streamed"), max_bytes=100_000)
    assert failure.reason == "page is over the 100000-byte limit"


def test_slow_page_times_out(site: Site) -> None:
    failure = load_error(site.url("/slow"), timeout=0.3)
    assert failure.reason == "timed out after 0.3 s"


def test_deadline_covers_a_body_that_drips(site: Site) -> None:
    # each byte arrives well within the read timeout; only a whole-fetch deadline ends it
    started = time.monotonic()
    failure = load_error(site.url("/drip"), timeout=0.5)
    assert failure.reason == "timed out after 0.5 s"
    assert time.monotonic() - started < 3  # the page would take 10 s


def test_unreachable_host(refused_url: str) -> None:
    failure = load_error(refused_url, timeout=5)
    assert failure.reason.startswith("cannot connect:")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "'file' URLs are not fetched; only http and https are"),
        ("ftp://127.0.0.1/file", "'ftp' URLs are not fetched; only http and https are"),
        ("javascript:alert(1)", "'javascript' URLs are not fetched; only http and https are"),
        ("127.0.0.1/posts/", "URLs without a scheme are not fetched; only http and https are"),
        ("http:///no-host", "the URL has no host"),
    ],
)
def test_only_http_urls_are_fetched(site: Site, url: str, reason: str) -> None:
    assert load_error(url).reason == reason
    assert site.requests == []


# --- batches -----------------------------------------------------------------------


def test_batch_loads_the_good_and_reports_the_bad(site: Site) -> None:
    urls = [
        site.url("/posts/agent/"),
        site.url("/status/404"),
        site.url("/plain.txt"),
        "ftp://127.0.0.1/x",
        site.url("/enc/sjis-meta"),
    ]
    with pytest.raises(LoadError) as info:
        WebBaseLoader(urls).load()
    error = info.value
    assert isinstance(error, SourceError)
    assert [d.metadata["source"] for d in error.documents] == [urls[0], urls[2], urls[4]]
    assert [f.source for f in error.failures] == [urls[1], urls[3]]
    assert error.loaded == 3
    assert str(error).startswith("loaded 3 documents, failed 2 sources: ")
    assert f"{urls[1]}: HTTP 404 Not Found; {urls[3]}: 'ftp' URLs" in str(error)


def test_lazy_batch_yields_the_good_then_raises(site: Site) -> None:
    urls = [site.url("/status/500"), site.url("/posts/agent/"), site.url("/plain.txt")]
    seen: list[str] = []
    with pytest.raises(LoadError) as info:
        for doc in WebBaseLoader(urls).lazy_load():
            seen.append(doc.metadata["source"])
    assert seen == urls[1:]
    assert info.value.loaded == 2
    assert info.value.documents == []  # already yielded
    assert [f.source for f in info.value.failures] == [urls[0]]


def test_continue_on_failure_skips_and_logs(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    urls = [site.url("/status/404"), site.url("/plain.txt")]
    with caplog.at_level(logging.WARNING, logger="ragstream.loaders"):
        docs = WebBaseLoader(urls, continue_on_failure=True).load()
    assert [d.metadata["source"] for d in docs] == [urls[1]]
    assert f"skipped {urls[0]}: HTTP 404 Not Found" in caplog.text


def test_concurrency_is_bounded_and_order_kept(site: Site) -> None:
    urls = [site.url(f"/many/{i}") for i in range(24)]
    docs = WebBaseLoader(urls, max_concurrency=4).load()
    assert [d.page_content for d in docs] == [f"Page number {i}" for i in range(24)]
    assert 2 <= site.peak <= 4


def test_one_at_a_time(site: Site) -> None:
    WebBaseLoader([site.url(f"/many/{i}") for i in range(4)], max_concurrency=1).load()
    assert site.peak == 1


def test_stopping_a_lazy_load_stops_fetching(site: Site) -> None:
    urls = [site.url(f"/many/{i}") for i in range(40)]
    for doc in WebBaseLoader(urls, max_concurrency=2).lazy_load():
        assert doc.page_content == "Page number 0"
        break
    time.sleep(0.2)  # anything still running would show up in the log by now
    assert len(site.requests) < 10


# --- headers, transport, configuration ---------------------------------------------


def test_user_agent_and_extra_headers_are_sent(site: Site) -> None:
    load_one(site.url("/echo-headers"), headers={"X-Team": "docs"})
    sent = {k.lower(): v for k, v in site.headers[0].items()}
    assert sent["user-agent"].startswith("ragstream/")
    assert sent["x-team"] == "docs"
    assert "text/html" in sent["accept"]


def test_user_agent_can_be_replaced(site: Site) -> None:
    load_one(site.url("/echo-headers"), headers={"User-Agent": "my-crawler/2"})
    sent = {k.lower(): v for k, v in site.headers[0].items()}
    assert sent["user-agent"] == "my-crawler/2"


def test_an_httpx_transport_can_be_given() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, html=f"<title>T</title><p>{request.url.path}</p>")

    doc = load_one("https://docs.example/guide", transport=httpx.MockTransport(handler))
    assert doc.page_content == "T/guide"
    assert doc.metadata == {"source": "https://docs.example/guide", "title": "T"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeout": 0}, "timeout must be positive"),
        ({"max_bytes": 0}, "max_bytes must be at least 1"),
        ({"max_concurrency": 0}, "max_concurrency must be at least 1"),
        ({"max_redirects": -1}, "max_redirects must be 0 or more"),
    ],
)
def test_bad_configuration(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        WebBaseLoader("https://example.org/", **kwargs)


def test_non_string_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not int"):
        WebBaseLoader([123])  # type: ignore[list-item]


def test_unknown_parser_is_a_config_error_not_a_source_failure(site: Site) -> None:
    with pytest.raises(ConfigError, match="no parser 'no-such-parser'"):
        WebBaseLoader(site.url("/posts/agent/"), default_parser="no-such-parser").load()


def test_bad_bs_kwargs_is_a_config_error(site: Site) -> None:
    with pytest.raises(ConfigError, match="bad bs_kwargs"):
        WebBaseLoader(site.url("/posts/agent/"), bs_kwargs={"parse_onyl": None}).load()
